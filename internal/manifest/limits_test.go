package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/minikubelet/minikubelet/internal/manifest/manifesttest"
)

// allocated returns the bytes f allocates on the heap, freed or not.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// docs joins YAML documents with "---".
func docs(n int, doc []byte) []byte {
	return bytes.Repeat(append([]byte("---\n"), doc...), n)
}

// TestParseAliasBombBoundedMemory checks review finding #1: a small file
// whose aliases expand past MaxExpandedSize gets a problem naming it, and
// parsing it allocates in proportion to the limit, not to the expansion
// (which was GiBs): a few MiB when one document is over it, a few times
// the limit when documents under it add up (each is decoded and checked).
func TestParseAliasBombBoundedMemory(t *testing.T) {
	for _, tc := range []struct {
		name  string
		data  []byte
		limit uint64
	}{
		// 100 MiB of JSON from 100 KiB.
		{"large scalar", manifesttest.AliasBomb("bomb", 100<<10, 1000), 16 << 20},
		// 10^5 strings of 1 KiB: 100 MiB.
		{"nested", manifesttest.NestedAliasBomb(1<<10, 10, 5), 16 << 20},
		// 10 MiB of JSON in each of 30 documents: each fits the limit,
		// the file does not.
		{"across documents", docs(30, manifesttest.AliasBomb("b", 10<<10, 1000)), 10 * MaxExpandedSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var problems []Problem
			n := allocated(func() { _, problems = ParseFile("/m/bomb.yaml", tc.data, node) })
			t.Logf("%d byte file: %d MiB allocated, problems %v", len(tc.data), n>>20, problems)
			if n > tc.limit {
				t.Errorf("parsing allocated %d MiB, want at most %d MiB", n>>20, tc.limit>>20)
			}
			if len(problems) == 0 {
				t.Fatal("no problem")
			}
			last := problems[len(problems)-1]
			if last.File != "/m/bomb.yaml" || !strings.Contains(last.Reason, "expand to more than 20 MiB of JSON") {
				t.Fatalf("want a problem naming the file and the limit, got %v", problems)
			}
		})
	}
}

// TestParseExpansionLimit checks where the limit falls: documents before
// it are parsed (and good ones run), the one that crosses it gets the
// problem, the rest are not read.
func TestParseExpansionLimit(t *testing.T) {
	// A valid pod whose JSON is about 1 MiB: 1000 uses of a 1 KiB argument.
	pod := fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: p%%d}\nspec:\n  containers:\n  - name: c\n    image: busybox\n    command: [&a %q]\n    args: [%s]\n",
		strings.Repeat("a", 1<<10), strings.TrimSuffix(strings.Repeat("*a,", 1000), ","))
	var b strings.Builder
	const total = 30
	for i := 0; i < total; i++ {
		fmt.Fprintf(&b, "---\n"+pod, i)
	}
	pods, problems := parse(t, "args.yaml", b.String())
	if len(pods) < 15 || len(pods) >= total || len(problems) != 1 {
		t.Fatalf("got %d pods and problems %v; want some pods, then one problem", len(pods), problems)
	}
	p := problems[0]
	want := fmt.Sprintf("more than 20 MiB of JSON, the limit for one file (YAML aliases count at every use); this document and the %d after it were not read", total-len(pods)-1)
	if p.Doc != len(pods) || !strings.Contains(p.Reason, want) {
		t.Errorf("problem %q, want document %d and reason containing %q", p.Error(), len(pods)+1, want)
	}
}

// TestParseDocumentTooBig checks that a document over MaxDocumentSize is
// refused before the YAML parser builds its tree (some hundred times the
// size of `[0,0,...]`), and that the other documents still count.
func TestParseDocumentTooBig(t *testing.T) {
	dense := "x: [0" + strings.Repeat(",0", MaxDocumentSize/2) + "]\n"
	var (
		pods     []Pod
		problems []Problem
	)
	n := allocated(func() {
		pods, problems = ParseFile("/m/dense.yaml", []byte(minimalPod+"---\n"+dense), node)
	})
	if n > 16<<20 {
		t.Errorf("allocated %d MiB, want at most 16 MiB", n>>20)
	}
	if len(pods) != 1 || len(problems) != 1 || problems[0].Doc != 1 || !strings.Contains(problems[0].Reason, "over the 512 KiB limit for one document") {
		t.Errorf("pods %v problems %v", pods, problems)
	}
}

// TestParseAliasesStillWork checks that anchors, aliases and merge keys of
// an ordinary manifest still parse.
func TestParseAliasesStillWork(t *testing.T) {
	content := `apiVersion: v1
kind: Pod
metadata: {name: web, labels: &l {app: web}, annotations: *l}
spec:
  containers:
  - {name: a, image: busybox, command: &cmd [sleep, "3600"], securityContext: &sc {runAsUser: 1000}}
  - name: b
    image: busybox
    command: *cmd
    securityContext: {<<: *sc, runAsGroup: 1000}
`
	pods, problems := parse(t, "anchors.yaml", content)
	if len(problems) != 0 || len(pods) != 1 {
		t.Fatalf("pods %v problems %v", pods, problems)
	}
	p := pods[0].Pod
	b := p.Spec.Containers[1]
	if b.Command[1] != "3600" || *b.SecurityContext.RunAsUser != 1000 || *b.SecurityContext.RunAsGroup != 1000 || p.Annotations["app"] != "web" {
		t.Errorf("aliases not resolved: %+v %+v", p.ObjectMeta, p.Spec.Containers)
	}
}

// yamlCases are documents whose conversion to JSON must match
// sigs.k8s.io/yaml's, including its quirks.
var yamlCases = []string{
	minimalPod,
	"1: a\n2.5: b\ntrue: c\n-3: d\n0x1F: e\n1e3: f\n.inf: g\n",
	"a: 2001-02-03\nb: !!timestamp 2001-02-03T04:05:06Z\nc: !!binary aGVsbG8=\n",
	"a: .nan\n",
	"a: 18446744073709551615\nb: -9223372036854775808\nc: 9223372036854775808\nd: 1.5\ne: 1e400\n",
	"a: ~\nb: null\nc:\nd: []\ne: {}\n",
	"~: a\n",
	"? [a]\n: b\n",
	"a: \"<>&\\u2028\\x01\\t\\n\\\"\\\\\\xff\"\n",
	"a: yes\nb: off\nc: 0o17\nd: 017\n",
	"a: 1\na: 2\n",
	"a: &x {b: [1, 2]}\nc: *x\nd: {<<: *x, e: 3}\n",
	"- 1\n- a\n",
	"just a string\n",
	"a: [",
}

// TestYAMLToJSONMatchesLibrary keeps yamlToJSON the same conversion as
// sigs.k8s.io/yaml's YAMLToJSONStrict, which it replaces.
func TestYAMLToJSONMatchesLibrary(t *testing.T) {
	for _, doc := range yamlCases {
		sameAsLibrary(t, []byte(doc))
	}
}

// TestQuotedLen checks that quotedLen never counts less than json.Marshal
// writes.
func TestQuotedLen(t *testing.T) {
	for _, s := range []string{"", "abc", "<a href=\"x\">&amp;</a>", "\x00\x01\x1f\b\f\n\r\t", "\u2028\u2029", "\xff\xfe", "é漢字🙂", `\"`} {
		b, _ := json.Marshal(s)
		if n := quotedLen(s); n < len(b) {
			t.Errorf("quotedLen(%q) = %d, json.Marshal writes %d bytes", s, n, len(b))
		}
	}
}

// TestParseDocumentFlood checks review finding #4: a file of a great many
// tiny documents is refused whole, with one problem, after reading only
// the first MaxDocuments+1 of them.
func TestParseDocumentFlood(t *testing.T) {
	const size = 10_000_000
	for _, tc := range []struct {
		file string
		data []byte
	}{
		{"flood.yaml", manifesttest.DocumentFlood(size)},
		{"flood.json", manifesttest.JSONFlood(size)},
		{"flood-json.yaml", manifesttest.JSONFlood(size)},
		{"nulls.yaml", docs(MaxDocuments+1, []byte("null\n"))},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var (
				pods     []Pod
				problems []Problem
			)
			n := allocated(func() { pods, problems = ParseFile("/m/"+tc.file, tc.data, node) })
			if n > 16<<20 {
				t.Errorf("allocated %d MiB, want at most 16 MiB", n>>20)
			}
			p := onlyProblem(t, pods, problems)
			if p.File != "/m/"+tc.file || !strings.Contains(p.Reason, "more than 1000 documents in one file") {
				t.Errorf("got %q", p.Error())
			}
		})
	}
	// MaxDocuments itself is allowed.
	pods, problems := parse(t, "many.yaml", string(docs(MaxDocuments, []byte("null\n"))))
	if len(pods) != 0 || len(problems) != 0 {
		t.Errorf("%d empty documents: pods %v problems %v", MaxDocuments, pods, problems)
	}
}

// TestParseProblemsCapped checks that a file reports at most
// MaxProblemsPerFile problems and then how many more there were.
func TestParseProblemsCapped(t *testing.T) {
	// Each document lacks kind and apiVersion: two problems.
	_, problems := parse(t, "bad.yaml", string(docs(MaxDocuments, []byte("a: 1\n"))))
	if len(problems) != MaxProblemsPerFile+1 {
		t.Fatalf("%d problems, want %d", len(problems), MaxProblemsPerFile+1)
	}
	last := problems[MaxProblemsPerFile]
	if want := fmt.Sprintf("... and %d more problems in this file", 2*MaxDocuments-MaxProblemsPerFile); last.Reason != want || last.File != "/etc/minikubelet/manifests/bad.yaml" {
		t.Errorf("last problem %q, want reason %q", last.Error(), want)
	}
}

// TestProblemExcerpts checks review finding #14's second half: a problem
// quotes at most maxExcerpt bytes of any value, nothing of a document that
// is not an object, and stays short however long the keys are.
func TestProblemExcerpts(t *testing.T) {
	long := strings.Repeat("x", 1000)
	for _, tc := range []struct {
		name, content string
		want          string // in Reason
	}{
		{"scalar document", "s3cr3t-t0k3n\n", "must be a Pod object, got a string"},
		{"number document", "12345678901\n", "got a number"},
		{"validation value", minimalPod + "  restartPolicy: " + long + "\n", `unsupported value "xxxx`},
		{"wrong type", minimalPod + "    ports: [{containerPort: " + long + "}]\n", `got string "xxx`},
		{"kind", strings.Replace(minimalPod, "kind: Pod", "kind: "+long, 1), `must be "Pod", got "xxx`},
		{"unknown field", minimalPod + "  " + long + ": 1\n", "unknown field"},
		{"label key", strings.Replace(minimalPod, "  name: web\n", "  name: web\n  labels: {"+long+": a}\n", 1), ""},
		{"duplicate key", "apiVersion: v1\nkind: Pod\n" + long + ": 1\n" + long + ": 2\n", "already set"},
		{"quantity", minimalPod + "    resources: {limits: {cpu: [" + strings.Repeat("1,", 500) + "1]}}\n", "invalid value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, problems := parse(t, "p.yaml", tc.content)
			if len(problems) == 0 {
				t.Fatal("no problem")
			}
			for _, p := range problems {
				if strings.Contains(p.Error(), "s3cr3t") || strings.Contains(p.Error(), "12345678901") {
					t.Errorf("the document's content is quoted: %q", p.Error())
				}
				if strings.Contains(p.Reason, strings.Repeat("x", maxExcerpt+1)) || strings.Contains(p.Reason, strings.Repeat("1,", maxExcerpt)) {
					t.Errorf("more than %d bytes of a value quoted: %q", maxExcerpt, p.Reason)
				}
				if len(p.Reason) > maxReasonLen || len(p.Field) > maxFieldLen {
					t.Errorf("reason of %d bytes, field of %d", len(p.Reason), len(p.Field))
				}
			}
			if !strings.Contains(problems[0].Reason, tc.want) {
				t.Errorf("reason %q, want it to contain %q", problems[0].Reason, tc.want)
			}
		})
	}
}

func TestShorten(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"abc", 3, "abc"},
		{"abcdef", 5, "ab…"},
		{"ééé", 5, "é…"}, // never half a rune
	} {
		if got := shorten(tc.s, tc.n); got != tc.want || len(got) > tc.n {
			t.Errorf("shorten(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
	if got := boundReason(`unsupported value "` + strings.Repeat("y", 100) + `": must be "Always"`); got != `unsupported value "`+strings.Repeat("y", maxExcerpt-len("…"))+`…": must be "Always"` {
		t.Errorf("boundReason: %q", got)
	}
}

func TestSummarize(t *testing.T) {
	a := []Problem{
		{File: "/m/a.yaml", Field: "kind", Reason: "missing"},
		{File: "/m/b.yaml", Reason: "not a text file"},
		{File: "/m/a.yaml", Doc: 1, Field: "apiVersion", Reason: "missing"},
	}
	got := Summarize(a)
	if len(got) != 2 || got[0].File != "/m/a.yaml" || len(got[0].Problems) != 2 || got[1].File != "/m/b.yaml" {
		t.Fatalf("groups %+v", got)
	}
	if want := "/m/a.yaml: 2 problems: kind: missing; (document 2): apiVersion: missing"; got[0].Message != want {
		t.Errorf("message %q, want %q", got[0].Message, want)
	}
	if want := "/m/b.yaml: not a text file"; got[1].Message != want {
		t.Errorf("message %q, want %q", got[1].Message, want)
	}
	var many []Problem
	for i := 0; i < 100; i++ {
		many = append(many, Problem{File: "/m/c.yaml", Doc: i, Field: "spec.containers[0].image", Reason: "required"})
	}
	if s := Summarize(many); len(s) != 1 || len(s[0].Message) > MaxSummaryLen || !strings.HasPrefix(s[0].Message, "/m/c.yaml: 100 problems: spec.containers[0].image: required; (document 2)") {
		t.Errorf("long summary (%d bytes): %q", len(s[0].Message), s[0].Message)
	}
}

// inotifyOpens watches path for IN_OPEN and returns a function that
// reports whether the file was opened since (not counting O_PATH opens,
// which this kernel must not report: the test skips if it does).
func inotifyOpens(t *testing.T, path string) func() bool {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Skipf("no inotify: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if _, err := unix.InotifyAddWatch(fd, path, unix.IN_OPEN); err != nil {
		t.Fatal(err)
	}
	opened := func() bool {
		buf := make([]byte, 4096)
		n, _ := unix.Read(fd, buf)
		return n > 0
	}
	pfd, err := unix.Open(path, unix.O_PATH, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(pfd)
	if opened() {
		t.Skip("this kernel reports O_PATH opens to inotify")
	}
	return opened
}

// TestLoadFileNeverOpensNonRegular checks review finding #14: what is not a
// regular file once symlinks are followed is refused without being opened
// (opening /dev/watchdog arms it), and the refusal says what it is.
func TestLoadFileNeverOpensNonRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.yaml")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	devLink := filepath.Join(dir, "null.yaml")
	if err := os.Symlink("/dev/null", devLink); err != nil {
		t.Fatal(err)
	}
	opened := inotifyOpens(t, fifo)
	for _, tc := range []struct{ path, want string }{
		{fifo, "not a regular file (a named pipe); it was not opened"},
		{link, "not a regular file (a named pipe); it was not opened"},
		{devLink, "not a regular file (a character device); it was not opened"},
	} {
		pods, problems := LoadFile(tc.path, node)
		if p := onlyProblem(t, pods, problems); p.Reason != tc.want {
			t.Errorf("%s: %q, want reason %q", tc.path, p.Error(), tc.want)
		}
		if maybeBeingWritten(tc.path) != true {
			t.Errorf("%s: maybeBeingWritten is false", tc.path)
		}
	}
	if opened() {
		t.Error("the FIFO was opened")
	}
}

// TestParseCache checks that the rescan's cache serves an unchanged file
// without parsing it, and that any change, even one that keeps the size
// and the mtime, is parsed again.
func TestParseCache(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "web.yaml", minimalPod)
	c := newParseCache()
	c.now = func() time.Time { return time.Now().Add(time.Minute) } // the file has settled
	scanOnce := func() []Pod {
		t.Helper()
		pods, problems, err := scan(dir, node, c)
		if err != nil || len(problems) != 0 || len(pods) != 1 {
			t.Fatalf("scan: pods %v problems %v err %v", pods, problems, err)
		}
		return pods
	}
	first := scanOnce()
	second := scanOnce()
	if c.hits != 1 {
		t.Fatalf("%d cache hits, want 1", c.hits)
	}
	if second[0].Pod == first[0].Pod || second[0].Pod.UID != first[0].Pod.UID {
		t.Error("the cache must hand out equal copies")
	}
	second[0].Pod.Name = "changed"
	if third := scanOnce(); third[0].Pod.Name != "web" {
		t.Error("a caller's change reached the cache")
	}

	// Same size, same mtime: only the ctime tells.
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(minimalPod, "name: web", "name: wex", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	if got := scanOnce(); got[0].Pod.Name != "wex" {
		t.Errorf("pod %q after the file changed, want wex", got[0].Pod.Name)
	}

	// A file that has just changed is not cached: a second change in the
	// same timestamp tick could leave its key as it was.
	c.now = time.Now
	writeFile(t, dir, "web.yaml", minimalPod)
	hits := c.hits
	scanOnce()
	scanOnce()
	if c.hits != hits {
		t.Error("a file changed a moment ago was served from the cache")
	}
}
