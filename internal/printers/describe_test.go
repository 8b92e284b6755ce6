package printers

import (
	"bytes"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// nginxPod is the seed article's nginx pod, running for five minutes,
// with every probe mechanism.
func nginxPod() *v1.Pod {
	prio := int32(0)
	grpcService := "health"
	start := ago(5 * time.Minute)
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "nginx", Namespace: "default", CreationTimestamp: start,
			Labels:      map[string]string{"app": "nginx", "tier": "web"},
			Annotations: map[string]string{"team": "edge", lastAppliedAnnotation: "{}"},
		},
		Spec: v1.PodSpec{
			NodeName: "edge-1", Priority: &prio,
			InitContainers: []v1.Container{{Name: "setup", Image: "busybox", Command: []string{"sh", "-c", "echo hi"}}},
			Containers: []v1.Container{{
				Name: "nginx", Image: "nginx:1.25",
				Ports: []v1.ContainerPort{{ContainerPort: 80, Protocol: v1.ProtocolTCP}},
				Args:  []string{"-g", "daemon off;"},
				Resources: v1.ResourceRequirements{
					Limits:   v1.ResourceList{v1.ResourceCPU: resource.MustParse("500m"), v1.ResourceMemory: resource.MustParse("128Mi")},
					Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("250m"), v1.ResourceMemory: resource.MustParse("64Mi")},
				},
				LivenessProbe: &v1.Probe{ProbeHandler: v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080), Scheme: v1.URISchemeHTTP}},
					TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3},
				ReadinessProbe: &v1.Probe{ProbeHandler: v1.ProbeHandler{Exec: &v1.ExecAction{Command: []string{"cat", "/tmp/healthy"}}}, InitialDelaySeconds: 5},
				StartupProbe:   &v1.Probe{ProbeHandler: v1.ProbeHandler{TCPSocket: &v1.TCPSocketAction{Port: intstr.FromInt32(8080)}}, FailureThreshold: 30},
				Env:            []v1.EnvVar{{Name: "MODE", Value: "prod"}, {Name: "POD_NAME", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}}},
				VolumeMounts:   []v1.VolumeMount{{Name: "html", MountPath: "/usr/share/nginx/html", ReadOnly: true}, {Name: "cache", MountPath: "/cache"}},
			}, {
				Name: "grpc", Image: "grpc-app",
				LivenessProbe: &v1.Probe{ProbeHandler: v1.ProbeHandler{GRPC: &v1.GRPCAction{Port: 9000, Service: &grpcService}}},
			}},
			Volumes: []v1.Volume{
				{Name: "html", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: "/srv/html"}}},
				{Name: "cache", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}},
			},
			Tolerations: []v1.Toleration{{Key: "node.kubernetes.io/not-ready", Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoExecute, TolerationSeconds: ptr(int64(300))}},
		},
		Status: v1.PodStatus{
			Phase: v1.PodRunning, HostIP: "192.168.1.10", PodIP: "10.88.0.9", PodIPs: []v1.PodIP{{IP: "10.88.0.9"}},
			StartTime: &start,
			Conditions: []v1.PodCondition{
				{Type: v1.PodReadyToStartContainers, Status: v1.ConditionTrue},
				{Type: v1.PodInitialized, Status: v1.ConditionTrue},
				{Type: v1.PodReady, Status: v1.ConditionFalse},
				{Type: v1.ContainersReady, Status: v1.ConditionFalse},
				{Type: v1.PodScheduled, Status: v1.ConditionTrue},
			},
			InitContainerStatuses: []v1.ContainerStatus{{Name: "setup", ContainerID: "containerd://aaa", ImageID: "docker.io/library/busybox@sha256:1",
				State: v1.ContainerState{Terminated: &v1.ContainerStateTerminated{Reason: "Completed", StartedAt: start, FinishedAt: start}}}},
			ContainerStatuses: []v1.ContainerStatus{
				{Name: "nginx", ContainerID: "containerd://bbb", ImageID: "docker.io/library/nginx@sha256:2", Ready: true, RestartCount: 1,
					State:                v1.ContainerState{Running: &v1.ContainerStateRunning{StartedAt: ago(2 * time.Minute)}},
					LastTerminationState: v1.ContainerState{Terminated: &v1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137, StartedAt: start, FinishedAt: ago(2 * time.Minute)}}},
				{Name: "grpc", State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}},
			},
		},
	}
}

func ptr[T any](v T) *T { return &v }

func describe(t *testing.T, pod *v1.Pod, events []v1.Event) string {
	t.Helper()
	var buf bytes.Buffer
	if err := DescribePod(&buf, pod, events, now); err != nil {
		t.Fatalf("DescribePod: %v", err)
	}
	return buf.String()
}

func TestDescribePodSections(t *testing.T) {
	out := describe(t, nginxPod(), []v1.Event{
		{Type: "Warning", Reason: "BackOff", Message: "Back-off restarting failed container", Source: v1.EventSource{Component: "minikubelet"},
			FirstTimestamp: ago(4 * time.Minute), LastTimestamp: ago(10 * time.Second), Count: 3},
		{Type: "Normal", Reason: "Pulled", Message: "Successfully pulled image\n", Source: v1.EventSource{Component: "minikubelet"},
			FirstTimestamp: ago(5 * time.Minute), LastTimestamp: ago(5 * time.Minute), Count: 1},
	})

	head := "Name:         nginx\n" +
		"Namespace:    default\n" +
		"Priority:     0\n" +
		"Node:         edge-1/192.168.1.10\n" +
		"Start Time:   Wed, 01 May 2024 11:55:00 +0000\n" +
		"Labels:       app=nginx\n" +
		"              tier=web\n" +
		"Annotations:  team: edge\n" +
		"Status:       Running\n" +
		"IP:           10.88.0.9\n" +
		"IPs:\n" +
		"  IP:  10.88.0.9\n" +
		"Init Containers:\n"
	if !strings.HasPrefix(out, head) {
		t.Errorf("head mismatch:\n%s", out)
	}
	events := "Events:\n" +
		"  Type     Reason   Age               From         Message\n" +
		"  ----     ------   ----              ----         -------\n" +
		"  Normal   Pulled   5m                minikubelet  Successfully pulled image\n" +
		"  Warning  BackOff  10s (x3 over 4m)  minikubelet  Back-off restarting failed container\n"
	if !strings.HasSuffix(out, events) {
		t.Errorf("events table mismatch:\n%s", out)
	}
	for _, want := range []string{
		"\nContainers:\n  nginx:\n    Container ID:  containerd://bbb\n",
		"    Port:          80/TCP\n    Host Port:     0/TCP\n",
		"    Command:\n      sh\n      -c\n      echo hi\n",
		"    Args:\n      -g\n      daemon off;\n",
		"    State:          Running\n      Started:      Wed, 01 May 2024 11:58:00 +0000\n",
		"    Last State:     Terminated\n      Reason:       OOMKilled\n      Exit Code:    137\n",
		"      Finished:     Wed, 01 May 2024 11:58:00 +0000\n",
		"    Ready:          True\n    Restart Count:  1\n",
		"    Limits:\n      cpu:     500m\n      memory:  128Mi\n",
		"    Requests:\n      cpu:      250m\n      memory:   64Mi\n",
		"    Liveness:   http-get http://:8080/healthz delay=0s timeout=1s period=10s #success=1 #failure=3\n",
		"    Readiness:  exec [cat /tmp/healthy] delay=5s timeout=1s period=10s #success=1 #failure=3\n",
		"    Startup:    tcp-socket :8080 delay=0s timeout=1s period=10s #success=1 #failure=30\n",
		"grpc <pod>:9000 health delay=0s timeout=1s period=10s #success=1 #failure=3\n",
		"    Environment:\n      MODE:      prod\n      POD_NAME:  nginx (v1:metadata.name)\n",
		"    Mounts:\n      /cache from cache (rw)\n      /usr/share/nginx/html from html (ro)\n",
		"      Reason:       CrashLoopBackOff\n",
		"    Environment:    <none>\n    Mounts:         <none>\n",
		"Conditions:\n  Type                        Status\n  PodReadyToStartContainers   True \n  Initialized                 True \n",
		"Volumes:\n  html:\n    Type:          HostPath (bare host directory volume)\n    Path:          /srv/html\n",
		"    Type:        EmptyDir (a temporary directory that shares a pod's lifetime)\n",
		"QoS Class:       Burstable\nNode-Selectors:  <none>\n",
		"Tolerations:     node.kubernetes.io/not-ready:NoExecute op=Exists for 300s\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, unwanted := range []string{lastAppliedAnnotation, "Service Account:", "Termination Grace Period"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("output has %q:\n%s", unwanted, out)
		}
	}
}

func TestDescribePodMinimal(t *testing.T) {
	p := mkPod(v1.PodPending, []string{"app"}, nil)
	out := describe(t, p, nil)
	want := "Name:         web\n" +
		"Namespace:    default\n" +
		"Node:         <none>\n" +
		"Labels:       <none>\n" +
		"Annotations:  <none>\n" +
		"Status:       Pending\n" +
		"IP:           \n" +
		"IPs:          <none>\n" +
		"Containers:\n" +
		"  app:\n" +
		"    Image:        nginx\n" +
		"    Port:         <none>\n" +
		"    Host Port:    <none>\n" +
		"    Environment:  <none>\n" +
		"    Mounts:       <none>\n" +
		"Volumes:          <none>\n" +
		"QoS Class:        BestEffort\n" +
		"Node-Selectors:   <none>\n" +
		"Tolerations:      <none>\n" +
		"Events:           <none>\n"
	if out != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
}

func TestDescribePodTerminating(t *testing.T) {
	p := deleting(mkPod(v1.PodRunning, []string{"app"}, nil))
	p.DeletionGracePeriodSeconds = ptr(int64(30))
	p.Spec.ServiceAccountName = "default"
	p.Status.Reason = "Evicted"
	p.Status.Message = "The node was low on resource: memory."
	out := describe(t, p, nil)
	for _, want := range []string{
		"Service Account:           default\n",
		"Status:                    Terminating (lasts 20s)\n",
		"Termination Grace Period:  30s\n",
		"Reason:                    Evicted\n",
		"Message:                   The node was low on resource: memory.\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestDescribePodDoesNotMutate(t *testing.T) {
	p := nginxPod()
	before := p.DeepCopy()
	events := []v1.Event{{Reason: "B", LastTimestamp: ago(time.Second)}, {Reason: "A", LastTimestamp: ago(time.Hour)}}
	describe(t, p, events)
	if p.Spec.Containers[0].VolumeMounts[0].Name != before.Spec.Containers[0].VolumeMounts[0].Name {
		t.Error("volume mounts were reordered in place")
	}
	if events[0].Reason != "B" {
		t.Error("events were reordered in place")
	}
}

func TestDescribeProbe(t *testing.T) {
	svc := "grpc.health.v1.Health"
	tests := []struct {
		name  string
		probe v1.Probe
		want  string
	}{
		{"http defaults", v1.Probe{ProbeHandler: v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}}},
			"http-get http://:8080/healthz delay=0s timeout=1s period=10s #success=1 #failure=3"},
		{"https named port host", v1.Probe{ProbeHandler: v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Host: "10.0.0.1", Path: "/ready", Port: intstr.FromString("web"), Scheme: v1.URISchemeHTTPS}},
			InitialDelaySeconds: 3, TimeoutSeconds: 2, PeriodSeconds: 5, SuccessThreshold: 2, FailureThreshold: 6},
			"http-get https://10.0.0.1:web/ready delay=3s timeout=2s period=5s #success=2 #failure=6"},
		{"exec", v1.Probe{ProbeHandler: v1.ProbeHandler{Exec: &v1.ExecAction{Command: []string{"cat", "/tmp/healthy"}}}},
			"exec [cat /tmp/healthy] delay=0s timeout=1s period=10s #success=1 #failure=3"},
		{"tcp", v1.Probe{ProbeHandler: v1.ProbeHandler{TCPSocket: &v1.TCPSocketAction{Port: intstr.FromInt32(3306)}}},
			"tcp-socket :3306 delay=0s timeout=1s period=10s #success=1 #failure=3"},
		{"grpc", v1.Probe{ProbeHandler: v1.ProbeHandler{GRPC: &v1.GRPCAction{Port: 9000, Service: &svc}}},
			"grpc <pod>:9000 grpc.health.v1.Health delay=0s timeout=1s period=10s #success=1 #failure=3"},
		{"grpc without service", v1.Probe{ProbeHandler: v1.ProbeHandler{GRPC: &v1.GRPCAction{Port: 9000}}},
			"grpc <pod>:9000 delay=0s timeout=1s period=10s #success=1 #failure=3"},
		{"no handler", v1.Probe{}, "unknown delay=0s timeout=1s period=10s #success=1 #failure=3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DescribeProbe(&tt.probe); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestEventAge(t *testing.T) {
	tests := []struct {
		name string
		ev   v1.Event
		want string
	}{
		{"single", v1.Event{FirstTimestamp: ago(10 * time.Second), LastTimestamp: ago(10 * time.Second), Count: 1}, "10s"},
		{"counted", v1.Event{FirstTimestamp: ago(2 * time.Minute), LastTimestamp: ago(5 * time.Second), Count: 3}, "5s (x3 over 2m)"},
		{"series", v1.Event{EventTime: metav1.NewMicroTime(now.Add(-time.Hour)),
			Series: &v1.EventSeries{Count: 7, LastObservedTime: metav1.NewMicroTime(now.Add(-30 * time.Second))}}, "30s (x7 over 60m)"},
		{"no time", v1.Event{}, "<unknown>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EventAge(&tt.ev, now); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestQOSClass(t *testing.T) {
	res := func(cpuReq, memReq, cpuLim, memLim string) v1.ResourceRequirements {
		r := v1.ResourceRequirements{Requests: v1.ResourceList{}, Limits: v1.ResourceList{}}
		for _, q := range []struct {
			list v1.ResourceList
			name v1.ResourceName
			val  string
		}{{r.Requests, v1.ResourceCPU, cpuReq}, {r.Requests, v1.ResourceMemory, memReq}, {r.Limits, v1.ResourceCPU, cpuLim}, {r.Limits, v1.ResourceMemory, memLim}} {
			if q.val != "" {
				q.list[q.name] = resource.MustParse(q.val)
			}
		}
		return r
	}
	pod := func(rs ...v1.ResourceRequirements) *v1.Pod {
		p := &v1.Pod{}
		for _, r := range rs {
			p.Spec.Containers = append(p.Spec.Containers, v1.Container{Resources: r})
		}
		return p
	}
	tests := []struct {
		name string
		pod  *v1.Pod
		want v1.PodQOSClass
	}{
		{"nothing", pod(v1.ResourceRequirements{}), v1.PodQOSBestEffort},
		{"equal", pod(res("1", "1Gi", "1", "1Gi")), v1.PodQOSGuaranteed},
		{"equal, different spelling", pod(res("1000m", "1024Mi", "1", "1Gi")), v1.PodQOSGuaranteed},
		{"limits only", pod(res("", "", "1", "1Gi")), v1.PodQOSGuaranteed},
		{"requests below limits", pod(res("500m", "1Gi", "1", "1Gi")), v1.PodQOSBurstable},
		{"memory limit missing", pod(res("1", "1Gi", "1", "")), v1.PodQOSBurstable},
		{"one container best effort", pod(res("1", "1Gi", "1", "1Gi"), v1.ResourceRequirements{}), v1.PodQOSBurstable},
		{"status wins", func() *v1.Pod { p := pod(); p.Status.QOSClass = v1.PodQOSGuaranteed; return p }(), v1.PodQOSGuaranteed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := QOSClass(tt.pod); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}
