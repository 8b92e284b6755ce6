package prober

import "testing"

// TestHostOf: httpGet.host and tcpSocket.host win over the pod IP, which
// wins over loopback (a pod without a pod IP is probed in its netns).
func TestHostOf(t *testing.T) {
	for _, tt := range []struct{ host, podIP, want string }{
		{"10.1.2.3", "10.0.0.5", "10.1.2.3"},
		{"", "10.0.0.5", "10.0.0.5"},
		{"", "", "127.0.0.1"},
	} {
		if got := hostOf(tt.host, Target{PodIP: tt.podIP}); got != tt.want {
			t.Errorf("hostOf(%q, pod IP %q) = %q, want %q", tt.host, tt.podIP, got, tt.want)
		}
	}
}
