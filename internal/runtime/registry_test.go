package runtime

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
)

func TestDockerCredentials(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	auth := base64.StdEncoding.EncodeToString([]byte("alice:s3cret:with:colons"))
	if err := os.WriteFile(path, []byte(`{"auths":{
		"https://index.docker.io/v1/": {"auth": "`+auth+`"},
		"127.0.0.1:5000": {"username": "bob", "password": "pw"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	creds := DockerCredentials(path)
	tests := []struct{ host, user, pass string }{
		{"registry-1.docker.io", "alice", "s3cret:with:colons"},
		{"127.0.0.1:5000", "bob", "pw"},
		{"other.example", "", ""},
	}
	for _, tt := range tests {
		u, p, err := creds(tt.host)
		if err != nil || u != tt.user || p != tt.pass {
			t.Errorf("%s: %q %q %v", tt.host, u, p, err)
		}
	}
	if u, _, err := DockerCredentials(filepath.Join(t.TempDir(), "none.json"))("x"); err != nil || u != "" {
		t.Errorf("a missing file: %q %v", u, err)
	}
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := creds("x"); err == nil {
		t.Error("a broken file must be an error")
	}
}
