package api

import "testing"

func TestAllowedPeer(t *testing.T) {
	tests := []struct {
		name string
		p    peer
		gid  int
		want bool
	}{
		{"root", peer{uid: 0, gid: 0}, -1, true},
		{"the daemon's own user", peer{uid: 1000, gid: 1000}, -1, true},
		{"stranger, root-only socket", peer{uid: 1001, gid: 1001}, 0, false},
		{"primary group", peer{uid: 1001, gid: 50}, 50, true},
		{"supplementary group", peer{uid: 1001, gid: 1001, groups: []uint32{10, 50}}, 50, true},
		{"other groups", peer{uid: 1001, gid: 1001, groups: []uint32{10}}, 50, false},
	}
	for _, tt := range tests {
		if got := allowedPeer(tt.p, 1000, tt.gid); got != tt.want {
			t.Errorf("%s: allowed=%v, want %v", tt.name, got, tt.want)
		}
	}
}
