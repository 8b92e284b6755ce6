package ocibuild

import "fmt"

// PauseUser is the user the sandbox process runs as: it needs no
// privilege, and 65535 is outside the ids images usually assign.
const PauseUser = "65535:65535"

// PauseFiles returns the files and config of the pod sandbox image: the
// static pause binary at pauseBinary as /pause, run as its entrypoint by
// PauseUser. The stop signal stays unset (SIGTERM), which the binary
// handles by exiting 0.
//
// The daemon builds its sandbox image from the pause binary installed next
// to it, so the image is available offline and matches the daemon's
// version.
func PauseFiles(pauseBinary string) ([]File, Config, error) {
	bin, err := readStaticBinary(pauseBinary)
	if err != nil {
		return nil, Config{}, fmt.Errorf("pause: %w", err)
	}
	files := []File{{Path: "/pause", Mode: 0o755, Data: bin}}
	cfg := Config{
		Entrypoint: []string{"/pause"},
		User:       PauseUser,
	}
	return files, cfg, nil
}
