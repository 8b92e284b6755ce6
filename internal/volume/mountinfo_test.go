package volume

import (
	"reflect"
	"strings"
	"testing"
)

const sampleMountInfo = `22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 253:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
30 27 0:40 / /srv/shared rw,relatime shared:7 - tmpfs tmpfs rw
31 27 0:41 / /srv/slave rw,relatime master:7 - tmpfs tmpfs rw
32 27 0:42 / /srv/private rw,relatime - tmpfs tmpfs rw
33 32 0:43 / /srv/private/with\040space rw - tmpfs tmpfs rw
34 32 0:44 / /srv/private/a/b rw - tmpfs tmpfs rw
`

func TestParseMountInfo(t *testing.T) {
	ms, err := parseMountInfo(strings.NewReader(sampleMountInfo))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 7 {
		t.Fatalf("%d mounts", len(ms))
	}
	if ms[1].MountPoint != "/" || !reflect.DeepEqual(ms[1].Optional, []string{"shared:1"}) {
		t.Errorf("root mount %+v", ms[1])
	}
	if ms[5].MountPoint != "/srv/private/with space" || ms[5].Optional != nil {
		t.Errorf("escaped mount %+v", ms[5])
	}
}

func TestCheckPropagation(t *testing.T) {
	ms, _ := parseMountInfo(strings.NewReader(sampleMountInfo))
	tests := []struct {
		src           string
		bidirectional bool
		wantErr       string
	}{
		{"/srv/shared/x", false, ""},
		{"/srv/shared", true, ""},
		{"/srv/slave/x", false, ""},
		{"/srv/slave/x", true, `is mounted on "/srv/slave" but it is not a shared mount`},
		{"/srv/private/x", false, `is mounted on "/srv/private" but it is not a shared or slave mount`},
		{"/srv/privatex", false, ""}, // on /, which is shared
		{"/home", true, ""},
	}
	for _, tt := range tests {
		err := checkPropagation(ms, tt.src, tt.bidirectional)
		if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("checkPropagation(%s, %v) = %v, want %q", tt.src, tt.bidirectional, err, tt.wantErr)
		}
	}
}

func TestMountsUnder(t *testing.T) {
	ms, _ := parseMountInfo(strings.NewReader(sampleMountInfo))
	got := mountsUnder(ms, "/srv/private")
	want := []string{"/srv/private/with space", "/srv/private/a/b", "/srv/private"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q (deepest first)", got, want)
	}
	if got := mountsUnder(ms, "/srv/priv"); got != nil {
		t.Fatalf("a prefix that is not a parent matched: %q", got)
	}
}
