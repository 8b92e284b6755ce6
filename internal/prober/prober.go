// Package prober owns container probes: startup, liveness and readiness
// with the exec, httpGet, tcpSocket and grpc mechanisms, and the kubelet's
// semantics for them.
//
// There is one worker goroutine per (pod UID, container attempt, probe
// kind). Each is a loop around a single-step doProbe that tests drive
// directly with a fake clock. Workers write their results to a store that
// publishes only changes on Manager.Updates; the pod worker acts on them
// (kills a container whose liveness or startup probe failed, rebuilds status
// when readiness flips). This package never touches the runtime itself: exec
// goes through an Execer and dials without a pod IP go through a Dialer, both
// implemented by the caller.
package prober

import (
	"context"
	"errors"
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/minikubelet/minikubelet/internal/httpget"
	"github.com/minikubelet/minikubelet/internal/spec"
)

// DefaultKubeVersion is the "<major>.<minor>" that Run and a Manager without
// Options.KubeVersion put in the User-Agent (kube-probe/<major>.<minor>).
var DefaultKubeVersion = httpget.DefaultKubeVersion

// Kind is the kind of a probe.
type Kind int

// The probe kinds.
const (
	Liveness Kind = iota
	Readiness
	Startup
)

// kinds lists every Kind, in the order workers are started.
var kinds = [...]Kind{Startup, Liveness, Readiness}

// String returns "Liveness", "Readiness" or "Startup", as events say it.
func (k Kind) String() string {
	switch k {
	case Liveness:
		return "Liveness"
	case Readiness:
		return "Readiness"
	case Startup:
		return "Startup"
	default:
		return fmt.Sprintf("Kind(%d)", int(k))
	}
}

// probe returns the container's probe of kind k, or nil.
func (k Kind) probe(c *v1.Container) *v1.Probe {
	switch k {
	case Liveness:
		return c.LivenessProbe
	case Readiness:
		return c.ReadinessProbe
	case Startup:
		return c.StartupProbe
	}
	return nil
}

// initial is the result a worker of kind k reports before its first
// verdict, as the kubelet does: a container is alive until proven dead, not
// ready until proven ready, and not started until proven started.
func (k Kind) initial() Result {
	switch k {
	case Liveness:
		return Success
	case Readiness:
		return Failure
	default:
		return Unknown
	}
}

// Result is the outcome of a probe attempt, or a probe's current verdict.
//
// Run returns Unknown when the probe could not be run at all (a port name
// nobody declares, no Execer, a canceled context, an exec that failed to
// start); workers throw such attempts away instead of counting them, as the
// kubelet does with prober errors.
type Result int

// The results.
const (
	Unknown Result = iota
	Success
	Failure
)

// String returns "Unknown", "Success" or "Failure".
func (r Result) String() string {
	switch r {
	case Success:
		return "Success"
	case Failure:
		return "Failure"
	default:
		return "Unknown"
	}
}

// Target says where a container's probes go.
type Target struct {
	PodUID    types.UID
	Namespace string
	PodName   string
	// Container holds the probes and is the first place a named port is
	// looked up; the rest of Pod's containers come next.
	Container *v1.Container
	Pod       *v1.Pod
	// ContainerID is the runtime's id of this container attempt.
	ContainerID string
	// StartedAt is when the attempt's process started; initialDelaySeconds
	// counts from it.
	StartedAt time.Time
	// PodIP is where tcpSocket, httpGet and grpc probes connect. Empty means
	// the pod has no network the daemon can route to: every connection then
	// goes through the Dialer (inside the pod's network namespace) and the
	// default host is 127.0.0.1.
	PodIP string
}

// Execer runs a command in a running container. The implementation enforces
// timeout by killing and reaping the exec'd process, returning an error that
// satisfies errors.Is(err, context.DeadlineExceeded); output is stdout and
// stderr together, capped at 10 KiB. A non-zero exit is reported through
// exitCode with a nil error; err is for failures to run the command at all.
type Execer interface {
	Exec(ctx context.Context, containerID string, cmd []string, timeout time.Duration) (output []byte, exitCode int, err error)
}

// Dialer dials from inside a pod's network namespace. Run uses it for every
// connection when the target has no PodIP.
type Dialer = httpget.Dialer

// The kubelet's defaults for probe fields left at zero.
const (
	defaultPeriod           = 10 * time.Second
	defaultTimeout          = 1 * time.Second
	defaultSuccessThreshold = 1
	defaultFailureThreshold = 3
)

// params are a probe's timing fields with the defaults applied. Validation
// rejects negative values; here anything not positive means the default.
type params struct {
	delay, period, timeout time.Duration
	success, failure       int
}

func paramsOf(p *v1.Probe) params {
	o := params{
		period:  defaultPeriod,
		timeout: defaultTimeout,
		success: defaultSuccessThreshold,
		failure: defaultFailureThreshold,
	}
	if p.InitialDelaySeconds > 0 {
		o.delay = time.Duration(p.InitialDelaySeconds) * time.Second
	}
	if p.PeriodSeconds > 0 {
		o.period = time.Duration(p.PeriodSeconds) * time.Second
	}
	if p.TimeoutSeconds > 0 {
		o.timeout = time.Duration(p.TimeoutSeconds) * time.Second
	}
	if p.SuccessThreshold > 0 {
		o.success = int(p.SuccessThreshold)
	}
	if p.FailureThreshold > 0 {
		o.failure = int(p.FailureThreshold)
	}
	return o
}

// Run runs one attempt of probe p against t and returns the result and a
// message for events: the exec output, the error, or for a Success a
// warning (an httpGet redirect to another host). It sends
// User-Agent kube-probe/DefaultKubeVersion; a Manager uses its own version.
//
// dial is used for every connection when t.PodIP is empty; it may be nil
// when t.PodIP is set. ex may be nil when p is not an exec probe.
func Run(ctx context.Context, p *v1.Probe, t Target, ex Execer, dial Dialer) (Result, string) {
	return run(ctx, p, t, ex, dial, DefaultKubeVersion)
}

func run(ctx context.Context, p *v1.Probe, t Target, ex Execer, dial Dialer, kubeVersion string) (Result, string) {
	timeout := paramsOf(p).timeout
	switch {
	case p.Exec != nil:
		return runExec(ctx, p.Exec, t, ex, timeout)
	case p.HTTPGet != nil:
		return runHTTP(ctx, p.HTTPGet, t, dial, timeout, kubeVersion)
	case p.TCPSocket != nil:
		return runTCP(ctx, p.TCPSocket, t, dial, timeout)
	case p.GRPC != nil:
		return runGRPC(ctx, p.GRPC, t, dial, timeout, kubeVersion)
	}
	return Unknown, "probe has no handler (exec, httpGet, tcpSocket or grpc)"
}

// route returns where a network probe of t connects and how
// (httpget.Route: the kubelet's choice, shared with lifecycle hooks).
func route(host string, t Target, dial Dialer) (string, Dialer, error) {
	h, d, err := httpget.Route(host, t.PodIP, dial)
	return h, d, routeError(err, t)
}

// routeError names the pod in httpget.ErrNoRoute.
func routeError(err error, t Target) error {
	if errors.Is(err, httpget.ErrNoRoute) {
		return fmt.Errorf("pod %s/%s has no IP and no dialer into its network namespace", t.Namespace, t.PodName)
	}
	return err
}

// resolvePort turns a probe port into a number (spec.ResolvePort: names
// are looked up in the container, then in its siblings).
func resolvePort(port intstr.IntOrString, t Target) (int, error) {
	return spec.ResolvePort(port, t.Container, t.Pod)
}
