// Command minikubelet-logger writes one container's stdout and stderr to
// its CRI-format log file. The containerd shim starts it for every
// container (binary logging), so it is kept apart from the daemon's binary:
// a few MB per container instead of the daemon's tens.
package main

import (
	"fmt"
	"os"

	"github.com/minikubelet/minikubelet/internal/containerlog"
)

func main() {
	if len(os.Args) != 3 || os.Args[1] != containerlog.LoggerArg {
		fmt.Fprintf(os.Stderr, "usage: %s %s SPEC (started by the containerd shim, not by hand)\n", os.Args[0], containerlog.LoggerArg)
		os.Exit(2)
	}
	if err := containerlog.RunLogger(os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "minikubelet-logger:", err)
		os.Exit(1)
	}
}
