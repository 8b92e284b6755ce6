package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/minikubelet/minikubelet/internal/api"
)

// Kubeconfig asks the daemon for a kubeconfig with a new client
// certificate for role and writes it to out.
func Kubeconfig(ctx context.Context, socket, role, server string, out io.Writer) error {
	if role != "admin" && role != "view" {
		return fmt.Errorf("--role %q: must be admin or view", role)
	}
	cfg, err := api.NewClient(socket).Kubeconfig(ctx, role, server)
	if err != nil {
		return err
	}
	if _, err := out.Write(cfg); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}
