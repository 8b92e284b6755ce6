package manifest

import (
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func validPod() *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"app": "web"}},
		Spec: v1.PodSpec{
			Containers: []v1.Container{{
				Name:  "app",
				Image: "nginx:1.27",
				Ports: []v1.ContainerPort{{Name: "http", ContainerPort: 80}},
			}},
		},
	}
}

func c0(p *v1.Pod) *v1.Container { return &p.Spec.Containers[0] }

func httpProbe(port intstr.IntOrString) *v1.Probe {
	return &v1.Probe{ProbeHandler: v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Port: port}}}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name       string
		mutate     func(p *v1.Pod)
		wantField  string
		wantReason string // substring; empty with wantField "" means valid
	}{
		{"valid", func(p *v1.Pod) {}, "", ""},
		{"everything allowed", func(p *v1.Pod) {
			p.Namespace = "prod"
			p.Annotations = map[string]string{"example.com/Owner": "me"}
			p.Spec.ServiceAccountName = "default"
			p.Spec.OS = &v1.PodOS{Name: v1.Linux}
			p.Spec.ActiveDeadlineSeconds = ptr[int64](60)
			p.Spec.TerminationGracePeriodSeconds = ptr[int64](0)
			p.Spec.Volumes = []v1.Volume{
				{Name: "data", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: "/srv/data"}}},
				{Name: "scratch"},
				{Name: "info", VolumeSource: v1.VolumeSource{DownwardAPI: &v1.DownwardAPIVolumeSource{Items: []v1.DownwardAPIVolumeFile{
					{Path: "labels", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
					{Path: "team", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.labels['team']"}},
				}}}},
				{Name: "proj", VolumeSource: v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{Sources: []v1.VolumeProjection{
					{DownwardAPI: &v1.DownwardAPIProjection{Items: []v1.DownwardAPIVolumeFile{{Path: "name", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}},
				}}}},
			}
			p.Spec.InitContainers = []v1.Container{{Name: "init", Image: "busybox"}}
			c := c0(p)
			c.VolumeMounts = []v1.VolumeMount{{Name: "data", MountPath: "/data"}, {Name: "info", MountPath: "/etc/podinfo"}}
			c.Env = []v1.EnvVar{{Name: "A", Value: "1"}}
			for i, fp := range EnvFieldPaths {
				c.Env = append(c.Env, v1.EnvVar{Name: "F" + string(rune('A'+i)), ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: fp}}})
			}
			c.Resources = v1.ResourceRequirements{
				Limits:   v1.ResourceList{"cpu": resource.MustParse("500m"), "memory": resource.MustParse("128Mi")},
				Requests: v1.ResourceList{"cpu": resource.MustParse("250m")},
			}
			c.LivenessProbe = httpProbe(intstr.FromString("http"))
			c.ReadinessProbe = &v1.Probe{ProbeHandler: v1.ProbeHandler{TCPSocket: &v1.TCPSocketAction{Port: intstr.FromInt32(80)}}, SuccessThreshold: 2}
			c.StartupProbe = &v1.Probe{ProbeHandler: v1.ProbeHandler{Exec: &v1.ExecAction{Command: []string{"true"}}}}
			c.Lifecycle = &v1.Lifecycle{
				PostStart: &v1.LifecycleHandler{Exec: &v1.ExecAction{Command: []string{"true"}}},
				PreStop:   &v1.LifecycleHandler{Sleep: &v1.SleepAction{Seconds: 5}},
			}
		}, "", ""},

		// metadata
		{"name required", func(p *v1.Pod) { p.Name = "" }, "metadata.name", "required"},
		{"generateName", func(p *v1.Pod) { p.Name, p.GenerateName = "", "web-" }, "metadata.name", "generateName is not supported"},
		{"name not a subdomain", func(p *v1.Pod) { p.Name = "Web_1" }, "metadata.name", "RFC 1123"},
		{"namespace not a label", func(p *v1.Pod) { p.Namespace = "prod.eu" }, "metadata.namespace", "must not contain dots"},
		{"label key", func(p *v1.Pod) { p.Labels = map[string]string{"bad key": "x"} }, "metadata.labels[bad key]", "name part must consist"},
		{"label value", func(p *v1.Pod) { p.Labels = map[string]string{"app": "not valid!"} }, "metadata.labels[app]", "a valid label must be"},
		{"annotation key", func(p *v1.Pod) { p.Annotations = map[string]string{"/x": "y"} }, "metadata.annotations[/x]", "prefix part"},

		// containers
		{"no containers", func(p *v1.Pod) { p.Spec.Containers = nil }, "spec.containers", "at least one container"},
		{"container name required", func(p *v1.Pod) { c0(p).Name = "" }, "spec.containers[0].name", "required"},
		{"container name not a label", func(p *v1.Pod) { c0(p).Name = "App" }, "spec.containers[0].name", "RFC 1123"},
		{"container name duplicate", func(p *v1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, v1.Container{Name: "app", Image: "busybox"})
		}, "spec.containers[1].name", `duplicate container name "app" (already used by spec.containers[0])`},
		{"container name duplicate with init", func(p *v1.Pod) {
			p.Spec.InitContainers = []v1.Container{{Name: "app", Image: "busybox"}}
		}, "spec.containers[0].name", "already used by spec.initContainers[0]"},
		{"ephemeral containers", func(p *v1.Pod) {
			p.Spec.EphemeralContainers = []v1.EphemeralContainer{{EphemeralContainerCommon: v1.EphemeralContainerCommon{Name: "dbg", Image: "busybox"}}}
		}, "spec.ephemeralContainers", "no API server"},
		{"image required", func(p *v1.Pod) { c0(p).Image = "" }, "spec.containers[0].image", "required"},
		{"image whitespace", func(p *v1.Pod) { c0(p).Image = "nginx :1.27" }, "spec.containers[0].image", "whitespace"},
		{"imagePullPolicy", func(p *v1.Pod) { c0(p).ImagePullPolicy = "Sometimes" }, "spec.containers[0].imagePullPolicy", `"Always", "IfNotPresent" or "Never"`},
		{"terminationMessagePolicy", func(p *v1.Pod) { c0(p).TerminationMessagePolicy = "Log" }, "spec.containers[0].terminationMessagePolicy", "unsupported"},
		{"container restartPolicy on regular container", func(p *v1.Pod) { c0(p).RestartPolicy = ptr(v1.ContainerRestartPolicyAlways) }, "spec.containers[0].restartPolicy", "spec.restartPolicy"},
		{"init container probe", func(p *v1.Pod) {
			p.Spec.InitContainers = []v1.Container{{Name: "init", Image: "busybox", ReadinessProbe: httpProbe(intstr.FromInt32(80))}}
		}, "spec.initContainers[0].readinessProbe", "not allowed on init containers"},

		// ports
		{"containerPort 0", func(p *v1.Pod) { c0(p).Ports[0].ContainerPort = 0 }, "spec.containers[0].ports[0].containerPort", "between 1 and 65535"},
		{"containerPort too big", func(p *v1.Pod) { c0(p).Ports[0].ContainerPort = 70000 }, "spec.containers[0].ports[0].containerPort", "between 1 and 65535"},
		{"hostPort too big", func(p *v1.Pod) { c0(p).Ports[0].HostPort = 70000 }, "spec.containers[0].ports[0].hostPort", "between 1 and 65535"},
		{"hostPort differs with hostNetwork", func(p *v1.Pod) { p.Spec.HostNetwork = true; c0(p).Ports[0].HostPort = 8080 }, "spec.containers[0].ports[0].hostPort", "must match containerPort"},
		{"port name invalid", func(p *v1.Pod) { c0(p).Ports[0].Name = "http_alt" }, "spec.containers[0].ports[0].name", "alpha-numeric"},
		{"port name too long", func(p *v1.Pod) { c0(p).Ports[0].Name = "a-very-long-port-name" }, "spec.containers[0].ports[0].name", "no more than 15"},
		{"port name duplicate", func(p *v1.Pod) {
			c0(p).Ports = append(c0(p).Ports, v1.ContainerPort{Name: "http", ContainerPort: 81})
		}, "spec.containers[0].ports[1].name", "duplicate port name"},
		{"protocol", func(p *v1.Pod) { c0(p).Ports[0].Protocol = "ICMP" }, "spec.containers[0].ports[0].protocol", `"TCP", "UDP" or "SCTP"`},
		{"hostIP", func(p *v1.Pod) { c0(p).Ports[0].HostIP = "localhost" }, "spec.containers[0].ports[0].hostIP", "IP address"},

		// pod-level fields
		{"restartPolicy", func(p *v1.Pod) { p.Spec.RestartPolicy = "Sometimes" }, "spec.restartPolicy", `"Always", "OnFailure" or "Never"`},
		{"dnsPolicy", func(p *v1.Pod) { p.Spec.DNSPolicy = "Google" }, "spec.dnsPolicy", "unsupported"},
		{"dnsPolicy None needs dnsConfig", func(p *v1.Pod) { p.Spec.DNSPolicy = v1.DNSNone }, "spec.dnsConfig", "required"},
		{"terminationGracePeriodSeconds", func(p *v1.Pod) { p.Spec.TerminationGracePeriodSeconds = ptr[int64](-1) }, "spec.terminationGracePeriodSeconds", ">= 0"},
		{"activeDeadlineSeconds", func(p *v1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr[int64](0) }, "spec.activeDeadlineSeconds", "greater than 0"},
		{"os windows", func(p *v1.Pod) { p.Spec.OS = &v1.PodOS{Name: v1.Windows} }, "spec.os.name", "linux"},
		{"hostname", func(p *v1.Pod) { p.Spec.Hostname = "my_host" }, "spec.hostname", "RFC 1123"},
		{"serviceAccountName", func(p *v1.Pod) { p.Spec.ServiceAccountName = "builder" }, "spec.serviceAccountName", "minikubelet has no API server to mint service account tokens"},
		{"deprecated serviceAccount", func(p *v1.Pod) { p.Spec.DeprecatedServiceAccount = "builder" }, "spec.serviceAccount", "mint"},
		{"imagePullSecrets", func(p *v1.Pod) { p.Spec.ImagePullSecrets = []v1.LocalObjectReference{{Name: "regcred"}} }, "spec.imagePullSecrets", "node's Docker config"},
		{"resourceClaims", func(p *v1.Pod) { p.Spec.ResourceClaims = []v1.PodResourceClaim{{Name: "gpu"}} }, "spec.resourceClaims", "API server"},

		// resources
		{"requests over limits", func(p *v1.Pod) {
			c0(p).Resources = v1.ResourceRequirements{Limits: v1.ResourceList{"cpu": resource.MustParse("500m")}, Requests: v1.ResourceList{"cpu": resource.MustParse("1")}}
		}, "spec.containers[0].resources.requests[cpu]", "less than or equal to the cpu limit of 500m"},
		{"negative quantity", func(p *v1.Pod) {
			c0(p).Resources = v1.ResourceRequirements{Requests: v1.ResourceList{"memory": resource.MustParse("-1Mi")}}
		}, "spec.containers[0].resources.requests[memory]", "greater than or equal to 0"},
		{"unknown resource", func(p *v1.Pod) {
			c0(p).Resources = v1.ResourceRequirements{Limits: v1.ResourceList{"gpu": resource.MustParse("1")}}
		}, "spec.containers[0].resources.limits[gpu]", "unsupported resource"},
		{"pod-level resources", func(p *v1.Pod) {
			p.Spec.Resources = &v1.ResourceRequirements{Limits: v1.ResourceList{"memory": resource.MustParse("1Gi")}}
		}, "spec.resources", "not supported yet: pod-level resources"},
		{"hugepages", func(p *v1.Pod) {
			c0(p).Resources = v1.ResourceRequirements{Limits: v1.ResourceList{"hugepages-2Mi": resource.MustParse("4Mi")}}
		}, "spec.containers[0].resources.limits[hugepages-2Mi]", "does not limit huge pages"},
		{"extended resource", func(p *v1.Pod) {
			c0(p).Resources = v1.ResourceRequirements{Limits: v1.ResourceList{"example.com/gpu": resource.MustParse("1")}}
		}, "spec.containers[0].resources.limits[example.com/gpu]", "no device plugins"},
		{"hostUsers false", func(p *v1.Pod) { p.Spec.HostUsers = ptr(false) }, "spec.hostUsers", "not supported yet: user namespaces"},
		{"hostUsers true", func(p *v1.Pod) { p.Spec.HostUsers = ptr(true) }, "", ""},
		{"scheduling gates", func(p *v1.Pod) { p.Spec.SchedulingGates = []v1.PodSchedulingGate{{Name: "x"}} }, "spec.schedulingGates", "never start"},
		{"readiness gates", func(p *v1.Pod) { p.Spec.ReadinessGates = []v1.PodReadinessGate{{ConditionType: "x"}} }, "spec.readinessGates", "use a readinessProbe"},
		{"runtime class", func(p *v1.Pod) { p.Spec.RuntimeClassName = ptr("kata") }, "spec.runtimeClassName", "runc"},
		{"token automount", func(p *v1.Pod) { p.Spec.AutomountServiceAccountToken = ptr(true) }, "spec.automountServiceAccountToken", "service account tokens"},
		{"no token automount", func(p *v1.Pod) { p.Spec.AutomountServiceAccountToken = ptr(false) }, "", ""},
		{"fqdn hostname", func(p *v1.Pod) { p.Spec.SetHostnameAsFQDN = ptr(true) }, "spec.setHostnameAsFQDN", "no cluster domain"},
		{"resize policy", func(p *v1.Pod) {
			c0(p).ResizePolicy = []v1.ContainerResizePolicy{{ResourceName: "cpu", RestartPolicy: v1.NotRequired}}
		}, "spec.containers[0].resizePolicy", "in-place resizes"},
		{"tty", func(p *v1.Pod) { c0(p).TTY = true }, "spec.containers[0].tty", "no stdin and no terminal"},
		{"stdin", func(p *v1.Pod) { c0(p).Stdin = true }, "spec.containers[0].stdin", "no stdin and no terminal"},
		{"selinux", func(p *v1.Pod) {
			c0(p).SecurityContext = &v1.SecurityContext{SELinuxOptions: &v1.SELinuxOptions{Level: "s0:c1"}}
		}, "spec.containers[0].securityContext.seLinuxOptions", "no SELinux labels"},
		{"windows options", func(p *v1.Pod) {
			p.Spec.SecurityContext = &v1.PodSecurityContext{WindowsOptions: &v1.WindowsSecurityContextOptions{RunAsUserName: ptr("me")}}
		}, "spec.securityContext.windowsOptions", "Linux containers only"},
		{"apparmor runtime default", func(p *v1.Pod) {
			p.Spec.SecurityContext = &v1.PodSecurityContext{AppArmorProfile: &v1.AppArmorProfile{Type: v1.AppArmorProfileTypeRuntimeDefault}}
		}, "spec.securityContext.appArmorProfile.type", "loads no AppArmor profile"},

		// env
		{"env name", func(p *v1.Pod) { c0(p).Env = []v1.EnvVar{{Name: "1BAD", Value: "x"}} }, "spec.containers[0].env[0].name", "environment variable name"},
		{"env name required", func(p *v1.Pod) { c0(p).Env = []v1.EnvVar{{Value: "x"}} }, "spec.containers[0].env[0].name", "required"},
		{"env fieldRef unsupported path", func(p *v1.Pod) {
			c0(p).Env = []v1.EnvVar{{Name: "L", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.labels"}}}}
		}, "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath", `unsupported value "metadata.labels"`},
		{"env fieldRef apiVersion", func(p *v1.Pod) {
			c0(p).Env = []v1.EnvVar{{Name: "N", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{APIVersion: "v2", FieldPath: "metadata.name"}}}}
		}, "spec.containers[0].env[0].valueFrom.fieldRef.apiVersion", `must be "v1"`},
		{"env secretKeyRef", func(p *v1.Pod) {
			c0(p).Env = []v1.EnvVar{{Name: "S", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{Key: "k"}}}}
		}, "spec.containers[0].env[0].valueFrom.secretKeyRef", "Secrets are read from an API server"},
		{"env configMapKeyRef", func(p *v1.Pod) {
			c0(p).Env = []v1.EnvVar{{Name: "C", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{Key: "k"}}}}
		}, "spec.containers[0].env[0].valueFrom.configMapKeyRef", "ConfigMaps are read from an API server"},
		{"env resourceFieldRef unknown resource", func(p *v1.Pod) {
			c0(p).Env = []v1.EnvVar{{Name: "R", ValueFrom: &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{Resource: "limits.gpu"}}}}
		}, "spec.containers[0].env[0].valueFrom.resourceFieldRef.resource", "unsupported value"},
		{"env resourceFieldRef bad cpu divisor", func(p *v1.Pod) {
			c0(p).Env = []v1.EnvVar{{Name: "R", ValueFrom: &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{Resource: "limits.cpu", Divisor: resource.MustParse("1Mi")}}}}
		}, "spec.containers[0].env[0].valueFrom.resourceFieldRef.divisor", "must be 1m or 1"},
		{"env value and valueFrom", func(p *v1.Pod) {
			c0(p).Env = []v1.EnvVar{{Name: "N", Value: "x", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}
		}, "spec.containers[0].env[0].value", "together with valueFrom"},
		{"envFrom", func(p *v1.Pod) {
			c0(p).EnvFrom = []v1.EnvFromSource{{ConfigMapRef: &v1.ConfigMapEnvSource{}}}
		}, "spec.containers[0].envFrom", "no API server"},

		// volumes
		{"configMap volume", func(p *v1.Pod) {
			p.Spec.Volumes = []v1.Volume{{Name: "cfg", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{}}}}
		}, "spec.volumes[0].configMap", "no API server"},
		{"secret volume", func(p *v1.Pod) {
			p.Spec.Volumes = []v1.Volume{{Name: "s", VolumeSource: v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "x"}}}}
		}, "spec.volumes[0].secret", "Secrets are read from an API server"},
		{"pvc volume", func(p *v1.Pod) {
			p.Spec.Volumes = []v1.Volume{{Name: "d", VolumeSource: v1.VolumeSource{PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: "x"}}}}
		}, "spec.volumes[0].persistentVolumeClaim", "persistent volume claims"},
		{"projected token", func(p *v1.Pod) {
			p.Spec.Volumes = []v1.Volume{{Name: "t", VolumeSource: v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{Sources: []v1.VolumeProjection{{ServiceAccountToken: &v1.ServiceAccountTokenProjection{Path: "token"}}}}}}}
		}, "spec.volumes[0].projected.sources[0].serviceAccountToken", "mint service account tokens"},
		{"projected secret", func(p *v1.Pod) {
			p.Spec.Volumes = []v1.Volume{{Name: "t", VolumeSource: v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{Sources: []v1.VolumeProjection{{Secret: &v1.SecretProjection{}}}}}}}
		}, "spec.volumes[0].projected.sources[0].secret", "Secrets"},
		{"projected configMap", func(p *v1.Pod) {
			p.Spec.Volumes = []v1.Volume{{Name: "t", VolumeSource: v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{Sources: []v1.VolumeProjection{{ConfigMap: &v1.ConfigMapProjection{}}}}}}}
		}, "spec.volumes[0].projected.sources[0].configMap", "ConfigMaps"},
		{"nfs unsupported", func(p *v1.Pod) {
			p.Spec.Volumes = []v1.Volume{{Name: "n", VolumeSource: v1.VolumeSource{NFS: &v1.NFSVolumeSource{Server: "s", Path: "/"}}}}
		}, "spec.volumes[0].nfs", "not supported by minikubelet"},
		{"two volume types", func(p *v1.Pod) {
			p.Spec.Volumes = []v1.Volume{{Name: "n", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}, HostPath: &v1.HostPathVolumeSource{Path: "/x"}}}}
		}, "spec.volumes[0]", "more than one volume type"},
		{"duplicate volume", func(p *v1.Pod) { p.Spec.Volumes = []v1.Volume{{Name: "a"}, {Name: "a"}} }, "spec.volumes[1].name", "duplicate volume name"},
		{"hostPath relative", func(p *v1.Pod) {
			p.Spec.Volumes = []v1.Volume{{Name: "h", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: "srv"}}}}
		}, "spec.volumes[0].hostPath.path", "absolute"},
		{"downwardAPI bad field", func(p *v1.Pod) {
			p.Spec.Volumes = []v1.Volume{{Name: "d", VolumeSource: v1.VolumeSource{DownwardAPI: &v1.DownwardAPIVolumeSource{Items: []v1.DownwardAPIVolumeFile{{Path: "ip", FieldRef: &v1.ObjectFieldSelector{FieldPath: "status.podIP"}}}}}}}
		}, "spec.volumes[0].downwardAPI.items[0].fieldRef.fieldPath", "unsupported value"},
		{"downwardAPI path escapes", func(p *v1.Pod) {
			p.Spec.Volumes = []v1.Volume{{Name: "d", VolumeSource: v1.VolumeSource{DownwardAPI: &v1.DownwardAPIVolumeSource{Items: []v1.DownwardAPIVolumeFile{{Path: "../x", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}}}}
		}, "spec.volumes[0].downwardAPI.items[0].path", "relative path"},
		{"mount of unknown volume", func(p *v1.Pod) { c0(p).VolumeMounts = []v1.VolumeMount{{Name: "nope", MountPath: "/x"}} }, "spec.containers[0].volumeMounts[0].name", `no volume named "nope"`},
		{"relative mountPath", func(p *v1.Pod) {
			p.Spec.Volumes = []v1.Volume{{Name: "a"}}
			c0(p).VolumeMounts = []v1.VolumeMount{{Name: "a", MountPath: "data"}}
		}, "spec.containers[0].volumeMounts[0].mountPath", "absolute"},
		{"volumeDevices", func(p *v1.Pod) { c0(p).VolumeDevices = []v1.VolumeDevice{{Name: "b", DevicePath: "/dev/xvda"}} }, "spec.containers[0].volumeDevices", "API server"},

		// probes and hooks
		{"probe without handler", func(p *v1.Pod) { c0(p).LivenessProbe = &v1.Probe{} }, "spec.containers[0].livenessProbe", "exactly one handler"},
		{"probe with two handlers", func(p *v1.Pod) {
			pr := httpProbe(intstr.FromInt32(80))
			pr.Exec = &v1.ExecAction{Command: []string{"true"}}
			c0(p).ReadinessProbe = pr
		}, "spec.containers[0].readinessProbe", "exactly one handler"},
		{"liveness successThreshold", func(p *v1.Pod) {
			pr := httpProbe(intstr.FromInt32(80))
			pr.SuccessThreshold = 2
			c0(p).LivenessProbe = pr
		}, "spec.containers[0].livenessProbe.successThreshold", "must be 1 for livenessProbes"},
		{"negative period", func(p *v1.Pod) {
			pr := httpProbe(intstr.FromInt32(80))
			pr.PeriodSeconds = -1
			c0(p).StartupProbe = pr
		}, "spec.containers[0].startupProbe.periodSeconds", ">= 0"},
		{"probe named port unknown", func(p *v1.Pod) { c0(p).LivenessProbe = httpProbe(intstr.FromString("admin")) }, "spec.containers[0].livenessProbe.httpGet.port", `no port named "admin"`},
		{"probe port number", func(p *v1.Pod) { c0(p).LivenessProbe = httpProbe(intstr.FromInt32(0)) }, "spec.containers[0].livenessProbe.httpGet.port", "between 1 and 65535"},
		{"probe scheme", func(p *v1.Pod) {
			pr := httpProbe(intstr.FromInt32(80))
			pr.HTTPGet.Scheme = "FTP"
			c0(p).LivenessProbe = pr
		}, "spec.containers[0].livenessProbe.httpGet.scheme", "HTTPS"},
		{"readiness probe grace period", func(p *v1.Pod) {
			pr := httpProbe(intstr.FromInt32(80))
			pr.TerminationGracePeriodSeconds = ptr[int64](5)
			c0(p).ReadinessProbe = pr
		}, "spec.containers[0].readinessProbe.terminationGracePeriodSeconds", "readiness"},
		{"exec probe without command", func(p *v1.Pod) {
			c0(p).LivenessProbe = &v1.Probe{ProbeHandler: v1.ProbeHandler{Exec: &v1.ExecAction{}}}
		}, "spec.containers[0].livenessProbe.exec.command", "required"},
		{"lifecycle tcpSocket", func(p *v1.Pod) {
			c0(p).Lifecycle = &v1.Lifecycle{PreStop: &v1.LifecycleHandler{TCPSocket: &v1.TCPSocketAction{Port: intstr.FromInt32(80)}}}
		}, "spec.containers[0].lifecycle.preStop.tcpSocket", "not supported as a lifecycle handler"},
		{"lifecycle without handler", func(p *v1.Pod) {
			c0(p).Lifecycle = &v1.Lifecycle{PostStart: &v1.LifecycleHandler{}}
		}, "spec.containers[0].lifecycle.postStart", "exactly one handler"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := validPod()
			tc.mutate(pod)
			issues := validatePod(pod)
			if tc.wantField == "" && tc.wantReason == "" {
				if len(issues) != 0 {
					t.Fatalf("want no issues, got %v", issues)
				}
				return
			}
			if len(issues) != 1 {
				t.Fatalf("want exactly one issue, got %v", issues)
			}
			// ">= 0" in the table is shorthand for the longer message.
			want := strings.ReplaceAll(tc.wantReason, ">= 0", "greater than or equal to 0")
			if issues[0].field != tc.wantField || !strings.Contains(issues[0].reason, want) {
				t.Errorf("got %s: %s\nwant %s: ...%s...", issues[0].field, issues[0].reason, tc.wantField, want)
			}
		})
	}
}

// TestValidateThroughParseFile checks that validation problems come out of
// ParseFile with the file and field, and that every issue is reported.
func TestValidateThroughParseFile(t *testing.T) {
	content := `apiVersion: v1
kind: Pod
metadata:
  name: Bad_Name
spec:
  serviceAccountName: builder
  containers:
  - name: a
    image: busybox
  - name: a
`
	pods, problems := parse(t, "bad.yaml", content)
	if len(pods) != 0 {
		t.Fatalf("want no pods, got %v", pods)
	}
	var got []string
	for _, p := range problems {
		got = append(got, p.Field)
	}
	want := []string{"metadata.name", "spec.containers[1].name", "spec.containers[1].image", "spec.serviceAccountName"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("fields = %v, want %v", got, want)
	}
	if !strings.HasPrefix(problems[0].Error(), "/etc/minikubelet/manifests/bad.yaml: metadata.name: invalid value \"Bad_Name\"") {
		t.Errorf("Error() = %q", problems[0].Error())
	}
}
