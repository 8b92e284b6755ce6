package manifest

import (
	"regexp"
	"strings"
	"testing"
)

var uuidShape = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func uidOf(t *testing.T, path, content, nodeName string) string {
	t.Helper()
	pods, problems := ParseFile(path, []byte(content), nodeName)
	if len(problems) != 0 || len(pods) != 1 {
		t.Fatalf("problems %v", problems)
	}
	return string(pods[0].Pod.UID)
}

func TestUID(t *testing.T) {
	base := uidOf(t, "/m/web.yaml", minimalPod, node)
	if !uuidShape.MatchString(base) {
		t.Errorf("UID %q is not UUID-shaped", base)
	}
	if again := uidOf(t, "/m/web.yaml", minimalPod, node); again != base {
		t.Errorf("same input gave %q then %q", base, again)
	}
	// A golden value: the UID must not change between releases for the same
	// input, or every pod restarts when the daemon is upgraded.
	if got := DeriveUID("/m/web.yaml", []byte(`{"a":1}`), "node-1"); got != "9102c0b4-8c5a-8f52-bed1-3608ce859245" {
		t.Errorf("DeriveUID golden = %s", got)
	}

	for _, tc := range []struct {
		name, path, content, node string
		same                      bool
	}{
		{"comment added", "/m/web.yaml", "# serves the site\n" + minimalPod, node, true},
		{"reformatted", "/m/web.yaml", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"image":"nginx:1.27","name":"app"}]}}`, node, true},
		{"uid in file ignored but part of the document", "/m/web.yaml", strings.Replace(minimalPod, "  name: web\n", "  name: web\n  uid: x\n", 1), node, false},
		{"image changed", "/m/web.yaml", strings.Replace(minimalPod, "1.27", "1.28", 1), node, false},
		{"other file", "/m/web2.yaml", minimalPod, node, false},
		{"other node", "/m/web.yaml", minimalPod, "node-2", false},
	} {
		got := uidOf(t, tc.path, tc.content, tc.node)
		if (got == base) != tc.same {
			t.Errorf("%s: UID %s vs %s, want same=%v", tc.name, got, base, tc.same)
		}
	}
}

func TestUIDRelativePathIsAbsolute(t *testing.T) {
	t.Chdir(t.TempDir())
	rel := uidOf(t, "web.yaml", minimalPod, node)
	pods, _ := ParseFile("web.yaml", []byte(minimalPod), node)
	if !strings.HasPrefix(pods[0].File, "/") {
		t.Errorf("Pod.File = %q, want absolute", pods[0].File)
	}
	if abs := uidOf(t, pods[0].File, minimalPod, node); abs != rel {
		t.Errorf("relative and absolute path give different UIDs: %s %s", rel, abs)
	}
}
