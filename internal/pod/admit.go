package pod

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
	v1 "k8s.io/api/core/v1"
)

// podFailure ends a pod as a whole: it is Failed with this reason, its
// containers are stopped and nothing of it starts again.
type podFailure struct {
	Reason, Message string
	// Grace bounds the stop of its containers; 0: the pod's grace period.
	Grace time.Duration
}

// SafeSysctls are the sysctls the kubelet allows every pod: namespaced,
// and unable to hurt the node or other pods.
var SafeSysctls = []string{
	"kernel.shm_rmid_forced",
	"net.ipv4.ip_local_port_range",
	"net.ipv4.tcp_syncookies",
	"net.ipv4.ping_group_range",
	"net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.ip_local_reserved_ports",
	"net.ipv4.tcp_keepalive_time",
	"net.ipv4.tcp_fin_timeout",
	"net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes",
	"net.ipv4.tcp_rmem",
	"net.ipv4.tcp_wmem",
}

// sysctlAllowed reports whether a sysctl is safe or matches the node's
// allowed unsafe ones (an entry ending in "*" is a prefix).
func sysctlAllowed(name string, allowedUnsafe []string) bool {
	for _, s := range SafeSysctls {
		if name == s {
			return true
		}
	}
	for _, a := range allowedUnsafe {
		if a == name || strings.HasSuffix(a, "*") && strings.HasPrefix(name, strings.TrimSuffix(a, "*")) {
			return true
		}
	}
	return false
}

// admit decides whether the node may run the pod at all, as the kubelet's
// admission does; a refusal fails the pod before anything runs.
func admit(pod *v1.Pod, allowedUnsafe []string) *podFailure {
	sc := pod.Spec.SecurityContext
	if sc == nil {
		return nil
	}
	for _, s := range sc.Sysctls {
		if !sysctlAllowed(s.Name, allowedUnsafe) {
			return &podFailure{Reason: "SysctlForbidden", Message: fmt.Sprintf("Pod forbidden sysctl: %q not allowlisted", s.Name)}
		}
		if pod.Spec.HostNetwork && strings.HasPrefix(s.Name, "net.") {
			return &podFailure{Reason: "SysctlForbidden", Message: fmt.Sprintf("Pod forbidden sysctl: %q is a network sysctl, not allowed with hostNetwork", s.Name)}
		}
		if pod.Spec.HostIPC && (strings.HasPrefix(s.Name, "kernel.shm") || strings.HasPrefix(s.Name, "kernel.msg") || strings.HasPrefix(s.Name, "kernel.sem") || strings.HasPrefix(s.Name, "fs.mqueue.")) {
			return &podFailure{Reason: "SysctlForbidden", Message: fmt.Sprintf("Pod forbidden sysctl: %q is an IPC sysctl, not allowed with hostIPC", s.Name)}
		}
	}
	return nil
}

// checkFailure admits the pod on its first sync and watches its
// activeDeadlineSeconds; it returns when the deadline falls (zero: none).
func (s *syncer) checkFailure(started time.Time) time.Time {
	if s.failed != nil {
		return time.Time{}
	}
	if f := admit(s.pod, s.allowedUnsafeSysctls); f != nil {
		s.failed = f
		s.event("", v1.EventTypeWarning, f.Reason, f.Message)
		return time.Time{}
	}
	if d := s.pod.Spec.ActiveDeadlineSeconds; d != nil && !started.IsZero() {
		deadline := started.Add(time.Duration(*d) * time.Second)
		if s.clock.Now().Before(deadline) {
			return deadline
		}
		s.failed = &podFailure{Reason: "DeadlineExceeded", Message: "Pod was active on the node longer than the specified deadline"}
		s.event("", v1.EventTypeNormal, "DeadlineExceeded", s.failed.Message)
	}
	return time.Time{}
}

// stopAll stops whatever of the pod still runs (a failed pod, or one whose
// sandbox died), each container through its preStop hook and the pod's
// grace period, and ends its probes.
func (s *syncer) stopAll(ctx context.Context, obs observed) {
	s.unprobeAll()
	names := make([]string, 0, len(obs.containers))
	for name := range obs.containers {
		names = append(names, name)
	}
	grace := s.gracePeriod()
	if s.failed != nil && s.failed.Grace > 0 && s.failed.Grace < grace {
		grace = s.failed.Grace
	}
	if err := s.stopGroup(ctx, obs, names, grace); err != nil {
		s.log.Warn("stop the pod's containers", zap.Error(err))
	}
}
