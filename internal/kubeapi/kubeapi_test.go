package kubeapi

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func TestPKI(t *testing.T) {
	dir := t.TempDir()
	now := func() time.Time { return t0 }
	p, err := LoadPKI(dir, "edge-1", "192.0.2.7:10443", now)
	if err != nil {
		t.Fatal(err)
	}
	leaf := p.Serving.Leaf
	if got := strings.Join(leaf.DNSNames, ","); got != "localhost,edge-1" {
		t.Errorf("DNS SANs = %s", got)
	}
	if len(leaf.IPAddresses) != 2 || !leaf.IPAddresses[1].Equal(net.ParseIP("192.0.2.7")) {
		t.Errorf("IP SANs = %v", leaf.IPAddresses)
	}
	// A second start keeps the CA (kubeconfigs stay valid).
	p2, err := LoadPKI(dir, "edge-1", "192.0.2.7:10443", now)
	if err != nil {
		t.Fatal(err)
	}
	if string(p2.CAPEM()) != string(p.CAPEM()) {
		t.Error("CA changed on restart")
	}
	cc, err := p.IssueClient("view@edge-1", "view", ClientLifetime)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(cc.CertPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.Organization[0] != OrgView || !cert.NotAfter.Equal(t0.Add(ClientLifetime)) {
		t.Errorf("org %v, notAfter %s", cert.Subject.Organization, cert.NotAfter)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: p2.CertPool(), CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client cert does not verify against the CA: %v", err)
	}
	for _, bad := range []struct {
		role string
		life time.Duration
	}{{"root", time.Hour}, {"admin", MaxClientLifetime + time.Second}, {"admin", 0}} {
		if _, err := p.IssueClient("x", bad.role, bad.life); err == nil {
			t.Errorf("IssueClient(%q, %s) succeeded", bad.role, bad.life)
		}
	}
	if _, err := p.Kubeconfig("edge-1", "127.0.0.1:10443", "admin", "http://plain"); err == nil {
		t.Error("kubeconfig with an http:// server succeeded")
	}
}

func TestRequireClientRole(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := RequireClientRole(ok)
	certWith := func(org string) *tls.ConnectionState {
		c := &x509.Certificate{}
		c.Subject.CommonName = "u"
		c.Subject.Organization = []string{org}
		return &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{c}}}
	}
	tests := []struct {
		name   string
		tls    *tls.ConnectionState
		method string
		want   int
	}{
		{"no TLS", nil, "GET", http.StatusUnauthorized},
		{"no verified chain", &tls.ConnectionState{}, "GET", http.StatusUnauthorized},
		{"view get", certWith(OrgView), "GET", http.StatusTeapot},
		{"view delete", certWith(OrgView), "DELETE", http.StatusForbidden},
		{"admin delete", certWith(OrgAdmin), "DELETE", http.StatusTeapot},
		{"other org", certWith("system:masters"), "GET", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/api/v1/pods", nil)
			r.TLS = tt.tls
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Errorf("code %d, want %d: %s", w.Code, tt.want, w.Body)
			}
		})
	}
}

type fakeBackend struct{ pods []v1.Pod }

func (f fakeBackend) ListPods() []v1.Pod { return f.pods }
func (f fakeBackend) GetPod(ns, name string) (*v1.Pod, bool) {
	for i := range f.pods {
		if f.pods[i].Namespace == ns && f.pods[i].Name == name {
			return &f.pods[i], true
		}
	}
	return nil, false
}
func (fakeBackend) Events(string, string) []v1.Event { return nil }
func (f fakeBackend) ManifestFile(ns, name string) string {
	if _, ok := f.GetPod(ns, name); ok {
		return "/etc/minikubelet/manifests/" + name + ".yaml"
	}
	return ""
}

func TestHandler(t *testing.T) {
	pod := v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", ResourceVersion: "7",
		CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour)), Labels: map[string]string{"app": "web"}},
		Spec:   v1.PodSpec{NodeName: "edge-1", Containers: []v1.Container{{Name: "c"}}},
		Status: v1.PodStatus{Phase: v1.PodRunning, PodIP: "10.0.0.2", PodIPs: []v1.PodIP{{IP: "10.0.0.2"}}}}
	a := New(Options{Backend: fakeBackend{pods: []v1.Pod{pod}}, ManifestDir: "/etc/minikubelet/manifests",
		Clock: clocktesting.NewFakePassiveClock(t0)})
	h := a.Handler()
	do := func(method, path, accept string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, nil)
		r.Header.Set("Accept", accept)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := do("GET", "/api/v1/namespaces/default/pods", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
	var table metav1.Table
	if err := json.Unmarshal(w.Body.Bytes(), &table); err != nil || table.Kind != "Table" || len(table.Rows) != 1 {
		t.Fatalf("table: %v %s", err, w.Body)
	}
	if got := table.Rows[0].Cells; got[0] != "web" || got[1] != "0/1" || got[2] != "Running" || got[4] != "60m" || got[5] != "10.0.0.2" {
		t.Errorf("cells = %v", got)
	}
	if w := do("GET", "/api/v1/pods?labelSelector=app%3Dother", "application/json"); !strings.Contains(w.Body.String(), `"items":[]`) {
		t.Errorf("label selector: %s", w.Body)
	}
	for _, tt := range []struct {
		method, path string
		code         int
		want         string
	}{
		{"GET", "/api/v1/pods?labelSelector=a%20in", 400, "labelSelector"},
		{"GET", "/api/v1/pods?fieldSelector=spec.bogus%3D1", 400, "spec.bogus"},
		{"GET", "/api/v1/namespaces/default/pods/nope", 404, `pods \"nope\" not found`},
		{"DELETE", "/api/v1/namespaces/default/pods/web", 405, "/etc/minikubelet/manifests/web.yaml"},
		{"PATCH", "/api/v1/namespaces/default/pods/web", 405, "web.yaml"},
		{"POST", "/api/v1/namespaces/default/pods", 405, "/etc/minikubelet/manifests"},
		{"GET", "/api/v1/secrets", 404, "could not find"},
	} {
		w := do(tt.method, tt.path, "application/json")
		if w.Code != tt.code || !strings.Contains(w.Body.String(), tt.want) {
			t.Errorf("%s %s: %d %s, want %d with %q", tt.method, tt.path, w.Code, w.Body, tt.code, tt.want)
		}
	}
	w = do("GET", "/api", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json")
	if ct := w.Header().Get("Content-Type"); ct != aggregatedV2 || !strings.Contains(w.Body.String(), `"resource":"pods"`) {
		t.Errorf("aggregated /api: %s %s", ct, w.Body)
	}
	if w := do("GET", "/api", "application/json"); !strings.Contains(w.Body.String(), `"kind":"APIVersions"`) {
		t.Errorf("legacy /api: %s", w.Body)
	}
}
