// Command minikubelet is a node-local kubelet: `minikubelet daemon` runs
// Pod manifests from a directory on containerd; the other commands talk to
// the daemon's socket.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/minikubelet/minikubelet/internal/containerlog"
)

func main() {
	// The containerd shim runs this binary as each container's log writer
	// (`minikubelet __logger SPEC`); that path must not touch cobra or the
	// config.
	if len(os.Args) == 3 && os.Args[1] == containerlog.LoggerArg {
		if err := containerlog.RunLogger(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "minikubelet logger:", err)
			os.Exit(1)
		}
		return
	}
	if err := newRoot().Execute(); err != nil {
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	var socket string
	root := &cobra.Command{
		Use:           "minikubelet",
		Short:         "A node-local kubelet: runs Pod manifests from a directory on containerd",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.PersistentFlags().StringVar(&socket, "socket", "", "daemon socket (default $MINIKUBELET_SOCKET or /run/minikubelet/minikubelet.sock)")
	root.AddCommand(newDaemonCmd(), newGetCmd(&socket), newDescribeCmd(&socket), newLogsCmd(&socket),
		newImagesCmd(&socket), newKubeconfigCmd(&socket), newValidateCmd(), newVersionCmd())
	return root
}
