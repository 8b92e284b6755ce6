// Command mkimage writes an OCI image archive for minikubelet's test and
// sandbox images, with no registry and no Docker:
//
//	go run ./hack/mkimage -busybox /bin/busybox -ref localhost/minikubelet/busybox:e2e -o busybox.tar
//	go run ./hack/mkimage -pause bin/minikubelet-pause -ref localhost/minikubelet/pause:dev -o pause.tar
//
// The archive imports with `ctr -n NS images import FILE` or containerd's
// client Import, under the name given by -ref. The manifest digest goes to
// stdout so scripts can pin it.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/minikubelet/minikubelet/internal/ocibuild"
)

// errUsage marks errors that are the caller's flags, for exit status 2.
var errUsage = errors.New("usage")

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fsFlags := flag.NewFlagSet("mkimage", flag.ContinueOnError)
	fsFlags.SetOutput(stderr)
	busybox := fsFlags.String("busybox", "", "build a busybox image from this static busybox binary")
	pause := fsFlags.String("pause", "", "build the pod sandbox image from this static pause binary (e.g. bin/minikubelet-pause)")
	ref := fsFlags.String("ref", "", "image reference to name the image, fully qualified and tagged (e.g. localhost/minikubelet/busybox:e2e)")
	out := fsFlags.String("o", "", "output archive file (\"-\" for stdout)")
	var adds addFlag
	fsFlags.Var(&adds, "add", "HOST_FILE:IMAGE_PATH to add an executable to a busybox image (repeatable)")
	fsFlags.Usage = func() {
		fmt.Fprintln(stderr, "usage: mkimage (-busybox BINARY | -pause BINARY) -ref REF -o FILE")
		fsFlags.PrintDefaults()
	}
	if err := fsFlags.Parse(args); err != nil {
		return err
	}
	switch {
	case fsFlags.NArg() > 0:
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fsFlags.Arg(0))
	case (*busybox == "") == (*pause == ""):
		return fmt.Errorf("%w: give exactly one of -busybox or -pause", errUsage)
	case *ref == "":
		return fmt.Errorf("%w: -ref is required", errUsage)
	case *out == "":
		return fmt.Errorf("%w: -o is required", errUsage)
	}

	var (
		files []ocibuild.File
		cfg   ocibuild.Config
		err   error
	)
	if *busybox != "" {
		files, err = ocibuild.BusyboxFiles(*busybox)
		cfg = ocibuild.Config{Cmd: []string{"sh"}, Env: []string{ocibuild.DefaultPathEnv}}
		for _, a := range adds {
			if err != nil {
				break
			}
			var data []byte
			if data, err = os.ReadFile(a.src); err == nil {
				files = append(files, ocibuild.File{Path: a.dst, Mode: 0o755, Data: data})
			}
		}
	} else {
		files, cfg, err = ocibuild.PauseFiles(*pause)
	}
	if err != nil {
		return err
	}

	if *out == "-" {
		dgst, err := ocibuild.WriteArchive(stdout, *ref, files, cfg)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "%s@%s\n", *ref, dgst)
		return nil
	}
	dgst, err := writeFile(*out, *ref, files, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s@%s\n", *ref, dgst)
	return nil
}

// addFlag collects -add HOST:IMAGE pairs.
type addFlag []struct{ src, dst string }

func (a *addFlag) String() string { return fmt.Sprint(*a) }

func (a *addFlag) Set(v string) error {
	src, dst, ok := strings.Cut(v, ":")
	if !ok || src == "" || !strings.HasPrefix(dst, "/") {
		return fmt.Errorf("want HOST_FILE:/IMAGE_PATH, got %q", v)
	}
	*a = append(*a, struct{ src, dst string }{src, dst})
	return nil
}

// writeFile writes the archive next to path and renames it into place, so
// a failed run never leaves a truncated archive that would import as a
// confusing error later.
func writeFile(path, ref string, files []ocibuild.File, cfg ocibuild.Config) (string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	dgst, err := ocibuild.WriteArchive(tmp, ref, files, cfg)
	if err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	return dgst.String(), nil
}
