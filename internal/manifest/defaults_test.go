package manifest

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestDefaults(t *testing.T) {
	content := `apiVersion: v1
kind: Pod
metadata:
  name: web
  annotations:
    team: edge
spec:
  hostNetwork: true
  volumes:
  - name: scratch
  - name: host
    hostPath: {path: /srv}
  - name: info
    downwardAPI:
      items:
      - path: name
        fieldRef: {fieldPath: metadata.name}
  initContainers:
  - name: init
    image: busybox
  containers:
  - name: app
    image: nginx
    ports:
    - containerPort: 80
    env:
    - name: POD
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    resources:
      limits: {cpu: 500m, memory: 128Mi}
      requests: {cpu: 100m}
    livenessProbe:
      httpGet: {port: 80}
    readinessProbe:
      tcpSocket: {port: 80}
      periodSeconds: 5
    lifecycle:
      preStop:
        httpGet: {port: 80, path: /quit}
`
	pods, problems := parse(t, "web.yaml", content)
	if len(problems) != 0 || len(pods) != 1 {
		t.Fatalf("problems: %v", problems)
	}
	pod := pods[0].Pod
	s := pod.Spec
	c := s.Containers[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"namespace", pod.Namespace, "default"},
		{"nodeName", s.NodeName, node},
		{"restartPolicy", s.RestartPolicy, v1.RestartPolicyAlways},
		{"dnsPolicy", s.DNSPolicy, v1.DNSClusterFirst},
		{"terminationGracePeriodSeconds", *s.TerminationGracePeriodSeconds, int64(30)},
		{"schedulerName", s.SchedulerName, "default-scheduler"},
		{"enableServiceLinks", *s.EnableServiceLinks, true},
		{"securityContext set", s.SecurityContext != nil, true},
		{"config.source", pod.Annotations[ConfigSourceAnnotation], "file"},
		{"config.hash", pod.Annotations[ConfigHashAnnotation], string(pod.UID)},
		{"own annotation kept", pod.Annotations["team"], "edge"},
		{"no labels added", len(pod.Labels), 0},
		{"uid set", pod.UID != "", true},
		{"volume without source is emptyDir", s.Volumes[0].EmptyDir != nil, true},
		{"hostPath type", *s.Volumes[1].HostPath.Type, v1.HostPathUnset},
		{"downwardAPI mode", *s.Volumes[2].DownwardAPI.DefaultMode, int32(0o644)},
		{"downwardAPI fieldRef apiVersion", s.Volumes[2].DownwardAPI.Items[0].FieldRef.APIVersion, "v1"},
		{"init pull policy", s.InitContainers[0].ImagePullPolicy, v1.PullAlways},
		{"init termination path", s.InitContainers[0].TerminationMessagePath, "/dev/termination-log"},
		{"pull policy", c.ImagePullPolicy, v1.PullAlways},
		{"termination path", c.TerminationMessagePath, "/dev/termination-log"},
		{"termination policy", c.TerminationMessagePolicy, v1.TerminationMessageReadFile},
		{"protocol", c.Ports[0].Protocol, v1.ProtocolTCP},
		{"hostPort with hostNetwork", c.Ports[0].HostPort, int32(80)},
		{"env fieldRef apiVersion", c.Env[0].ValueFrom.FieldRef.APIVersion, "v1"},
		{"memory request from limit", c.Resources.Requests.Memory().String(), "128Mi"},
		{"cpu request kept", c.Resources.Requests.Cpu().String(), "100m"},
		{"liveness timeout", c.LivenessProbe.TimeoutSeconds, int32(1)},
		{"liveness period", c.LivenessProbe.PeriodSeconds, int32(10)},
		{"liveness success", c.LivenessProbe.SuccessThreshold, int32(1)},
		{"liveness failure", c.LivenessProbe.FailureThreshold, int32(3)},
		{"liveness scheme", c.LivenessProbe.HTTPGet.Scheme, v1.URISchemeHTTP},
		{"liveness path", c.LivenessProbe.HTTPGet.Path, "/"},
		{"readiness period kept", c.ReadinessProbe.PeriodSeconds, int32(5)},
		{"preStop scheme", c.Lifecycle.PreStop.HTTPGet.Scheme, v1.URISchemeHTTP},
		{"preStop path kept", c.Lifecycle.PreStop.HTTPGet.Path, "/quit"},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
}

func TestDefaultsKeepExplicitValues(t *testing.T) {
	grace := int64(5)
	pod := &v1.Pod{Spec: v1.PodSpec{
		RestartPolicy:                 v1.RestartPolicyNever,
		TerminationGracePeriodSeconds: &grace,
		EnableServiceLinks:            ptr(false),
		NodeName:                      "elsewhere",
		Containers: []v1.Container{{
			Name: "a", Image: "busybox", ImagePullPolicy: v1.PullNever,
			Resources: v1.ResourceRequirements{Limits: v1.ResourceList{"cpu": resource.MustParse("1")}},
		}},
	}}
	pod.Namespace = "prod"
	Default(pod, node, "uid-1")
	if pod.Namespace != "prod" || pod.Spec.RestartPolicy != v1.RestartPolicyNever || *pod.Spec.TerminationGracePeriodSeconds != 5 ||
		*pod.Spec.EnableServiceLinks || pod.Spec.Containers[0].ImagePullPolicy != v1.PullNever {
		t.Errorf("explicit values overwritten: %+v", pod.Spec)
	}
	if pod.Spec.NodeName != node {
		t.Errorf("nodeName = %q, want the node's own name", pod.Spec.NodeName)
	}
	// The request copied from the limit must not share memory with it.
	req := pod.Spec.Containers[0].Resources.Requests[v1.ResourceCPU]
	req.Add(resource.MustParse("1"))
	if got := pod.Spec.Containers[0].Resources.Limits.Cpu().String(); got != "1" {
		t.Errorf("limit changed to %s through the defaulted request", got)
	}
}

func TestDefaultPullPolicy(t *testing.T) {
	for _, tc := range []struct {
		image string
		want  v1.PullPolicy
	}{
		{"busybox", v1.PullAlways},
		{"busybox:latest", v1.PullAlways},
		{"busybox:1.36", v1.PullIfNotPresent},
		{"docker.io/library/busybox", v1.PullAlways},
		{"localhost:5000/busybox", v1.PullAlways},
		{"localhost:5000/busybox:latest", v1.PullAlways},
		{"localhost:5000/team/busybox:1.0", v1.PullIfNotPresent},
		{"busybox@sha256:1ff6c18fbef2045af6b9c16bf034cc421a29027b800e4f9b68ae9b1cb3e9ae07", v1.PullIfNotPresent},
		{"busybox:latest@sha256:1ff6c18fbef2045af6b9c16bf034cc421a29027b800e4f9b68ae9b1cb3e9ae07", v1.PullIfNotPresent},
		{"localhost:5000/busybox@sha256:1ff6c18fbef2045af6b9c16bf034cc421a29027b800e4f9b68ae9b1cb3e9ae07", v1.PullIfNotPresent},
		{"BusyBox:1.0", v1.PullIfNotPresent}, // invalid, but that is the runtime's InvalidImageName
	} {
		if got := DefaultPullPolicy(tc.image); got != tc.want {
			t.Errorf("DefaultPullPolicy(%q) = %s, want %s", tc.image, got, tc.want)
		}
	}
}
