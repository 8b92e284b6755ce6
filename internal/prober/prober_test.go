package prober

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// fakeExecer answers exec probes from a per-command script: each call takes
// the next step, and the last step repeats. A command with no script exits 0.
type fakeExecer struct {
	mu      sync.Mutex
	script  map[string][]execStep
	calls   map[string]int
	lastCtr string
	lastTO  time.Duration
	// block, if set, makes Exec wait for ctx to end (a probe in flight).
	block    bool
	inFlight int
}

type execStep struct {
	code int
	out  string
	err  error
}

func newFakeExecer() *fakeExecer {
	return &fakeExecer{script: map[string][]execStep{}, calls: map[string]int{}}
}

// set replaces a command's script.
func (f *fakeExecer) set(cmd string, steps ...execStep) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script[cmd] = steps
}

// codes scripts a command by exit codes alone.
func (f *fakeExecer) codes(cmd string, codes ...int) {
	steps := make([]execStep, len(codes))
	for i, c := range codes {
		steps[i] = execStep{code: c}
	}
	f.set(cmd, steps...)
}

func (f *fakeExecer) count(cmd string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[cmd]
}

func (f *fakeExecer) Exec(ctx context.Context, id string, cmd []string, timeout time.Duration) ([]byte, int, error) {
	name := strings.Join(cmd, " ")
	f.mu.Lock()
	f.calls[name]++
	f.lastCtr, f.lastTO = id, timeout
	var s execStep
	if steps := f.script[name]; len(steps) > 0 {
		s = steps[0]
		if len(steps) > 1 {
			f.script[name] = steps[1:]
		}
	}
	block := f.block
	if block {
		f.inFlight++
	}
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
		return nil, -1, ctx.Err()
	}
	return []byte(s.out), s.code, s.err
}

// waitFor polls cond for up to 5 s of real time: workers run on their own
// goroutines even though their clock is fake.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func execProbe(cmd string) *v1.Probe {
	return &v1.Probe{ProbeHandler: v1.ProbeHandler{Exec: &v1.ExecAction{Command: strings.Fields(cmd)}}}
}

// testTarget returns a target for container c of a one-container pod.
func testTarget(c v1.Container, podIP string) Target {
	pod := &v1.Pod{Spec: v1.PodSpec{Containers: []v1.Container{c}}}
	pod.Namespace, pod.Name, pod.UID = "default", "web", "uid-1"
	return Target{
		PodUID:      pod.UID,
		Namespace:   pod.Namespace,
		PodName:     pod.Name,
		Container:   &pod.Spec.Containers[0],
		Pod:         pod,
		ContainerID: "ctr-1",
		PodIP:       podIP,
	}
}

// portOf returns the port of a listener's address ("127.0.0.1:4242").
func portOf(t testing.TB, addr string) int32 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return int32(n)
}

func TestStrings(t *testing.T) {
	for v, want := range map[interface{ String() string }]string{
		Liveness: "Liveness", Readiness: "Readiness", Startup: "Startup", Kind(7): "Kind(7)",
		Unknown: "Unknown", Success: "Success", Failure: "Failure",
	} {
		if got := v.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
	if DefaultKubeVersion != "1.37" {
		t.Errorf("DefaultKubeVersion = %q", DefaultKubeVersion)
	}
}

func TestParamsDefaults(t *testing.T) {
	tests := []struct {
		name  string
		probe v1.Probe
		want  params
	}{
		{"zero", v1.Probe{}, params{0, 10 * time.Second, time.Second, 1, 3}},
		{"negative means default", v1.Probe{PeriodSeconds: -1, TimeoutSeconds: -1, FailureThreshold: -2}, params{0, 10 * time.Second, time.Second, 1, 3}},
		{"all set", v1.Probe{InitialDelaySeconds: 5, PeriodSeconds: 2, TimeoutSeconds: 3, SuccessThreshold: 2, FailureThreshold: 7},
			params{5 * time.Second, 2 * time.Second, 3 * time.Second, 2, 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := paramsOf(&tt.probe); got != tt.want {
				t.Errorf("paramsOf = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestResolvePort(t *testing.T) {
	pod := &v1.Pod{Spec: v1.PodSpec{
		InitContainers: []v1.Container{{Name: "sidecar", Ports: []v1.ContainerPort{{Name: "metrics", ContainerPort: 9090}}}},
		Containers: []v1.Container{
			{Name: "app", Ports: []v1.ContainerPort{{Name: "http", ContainerPort: 8080}}},
			{Name: "other", Ports: []v1.ContainerPort{{Name: "http", ContainerPort: 9999}, {Name: "admin", ContainerPort: 7070}}},
		},
	}}
	tg := Target{Container: &pod.Spec.Containers[0], Pod: pod}
	tests := []struct {
		port    intstr.IntOrString
		want    int
		wantErr string
	}{
		{intstr.FromInt32(80), 80, ""},
		{intstr.FromString("http"), 8080, ""}, // own container first
		{intstr.FromString("admin"), 7070, ""},
		{intstr.FromString("metrics"), 9090, ""},
		{intstr.FromString("nope"), 0, `no container port named "nope"`},
		{intstr.FromInt32(0), 0, "out of range"},
		{intstr.FromInt32(65536), 0, "out of range"},
	}
	for _, tt := range tests {
		got, err := resolvePort(tt.port, tg)
		if got != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("resolvePort(%v) = %d, %v; want %d, %q", tt.port.String(), got, err, tt.want, tt.wantErr)
		}
	}
}

func TestRunNoHandler(t *testing.T) {
	if r, msg := Run(context.Background(), &v1.Probe{}, testTarget(v1.Container{Name: "c"}, "127.0.0.1"), nil, nil); r != Unknown || msg == "" {
		t.Errorf("Run = %v, %q; want Unknown with a reason", r, msg)
	}
}
