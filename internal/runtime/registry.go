package runtime

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// dockerConfig is the part of a Docker config.json that holds registry
// credentials ("docker login" writes it).
type dockerConfig struct {
	Auths map[string]struct {
		Auth     string `json:"auth"`
		Username string `json:"username"`
		Password string `json:"password"`
	} `json:"auths"`
}

// registryKey reduces a config.json key ("https://index.docker.io/v1/",
// "registry.example:5000") to the host a pull asks credentials for.
func registryKey(k string) string {
	k = strings.TrimPrefix(strings.TrimPrefix(k, "https://"), "http://")
	k, _, _ = strings.Cut(k, "/")
	switch k {
	case "index.docker.io", "docker.io":
		return "registry-1.docker.io"
	}
	return k
}

// DockerCredentials returns a credentials lookup for registry hosts from a
// Docker config.json. The file is read at each pull, so a new `docker
// login` needs no daemon restart; a missing file means no credentials.
func DockerCredentials(path string) func(host string) (string, string, error) {
	return func(host string) (string, string, error) {
		if path == "" {
			return "", "", nil
		}
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			return "", "", nil
		}
		if err != nil {
			return "", "", fmt.Errorf("read registry credentials: %w", err)
		}
		var cfg dockerConfig
		if err := json.Unmarshal(b, &cfg); err != nil {
			return "", "", fmt.Errorf("registry credentials %s: %w", path, err)
		}
		for k, a := range cfg.Auths {
			if registryKey(k) != host {
				continue
			}
			if a.Auth != "" {
				raw, err := base64.StdEncoding.DecodeString(a.Auth)
				if err != nil {
					return "", "", fmt.Errorf("registry credentials %s: auth of %s: %w", path, k, err)
				}
				user, pass, ok := strings.Cut(string(raw), ":")
				if !ok {
					return "", "", fmt.Errorf("registry credentials %s: auth of %s is not user:password", path, k)
				}
				return user, pass, nil
			}
			return a.Username, a.Password, nil
		}
		return "", "", nil
	}
}
