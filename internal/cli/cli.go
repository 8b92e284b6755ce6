// Package cli implements the client commands (get, describe, logs,
// validate, version, images, kubeconfig): each takes an options struct and writers, talks to
// the daemon's socket through the api client, and prints as kubectl does.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/api"
	"github.com/minikubelet/minikubelet/internal/manifest"
	"github.com/minikubelet/minikubelet/internal/printers"
	"github.com/minikubelet/minikubelet/internal/version"
)

// DefaultSocket is used when neither --socket nor MINIKUBELET_SOCKET is set.
const DefaultSocket = "/run/minikubelet/minikubelet.sock"

// Socket resolves the socket path: the flag, else the environment, else
// the default.
func Socket(flag string) string {
	if flag != "" {
		return flag
	}
	if s := os.Getenv("MINIKUBELET_SOCKET"); s != "" {
		return s
	}
	return DefaultSocket
}

// GetOptions are the options of `get pods` and `get pod NAME`.
type GetOptions struct {
	Socket        string
	Namespace     string
	AllNamespaces bool
	Output        string // "", wide, json, yaml, name
	Name          string // one pod; empty lists
}

// notFound renders a 404 the way kubectl does.
func notFound(name string) error {
	return fmt.Errorf("Error from server (NotFound): pods %q not found", name)
}

// Get prints pods.
func Get(ctx context.Context, o GetOptions, out, errOut io.Writer) error {
	switch o.Output {
	case "", "wide", "json", "yaml", "name":
	default:
		return fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: json,name,wide,yaml", o.Output)
	}
	c := api.NewClient(o.Socket)
	ns := o.Namespace
	if ns == "" {
		ns = "default"
	}
	var pods []v1.Pod
	if o.Name != "" {
		p, err := c.GetPod(ctx, ns, o.Name)
		if errors.Is(err, api.ErrNotFound) {
			return notFound(o.Name)
		}
		if err != nil {
			return err
		}
		if o.Output == "json" || o.Output == "yaml" {
			return printers.PrintObject(out, p, o.Output)
		}
		pods = []v1.Pod{*p}
	} else {
		list, err := c.ListPods(ctx)
		if err != nil {
			return err
		}
		for _, p := range list.Items {
			if o.AllNamespaces || p.Namespace == ns {
				pods = append(pods, p)
			}
		}
		if o.Output == "json" || o.Output == "yaml" {
			return printers.PrintObject(out, pods, o.Output)
		}
	}
	if o.Output == "name" {
		return printers.PrintNames(out, pods)
	}
	_, err := printers.PrintPodsOrNone(out, errOut, pods, ns, o.Output == "wide", o.AllNamespaces, time.Now())
	return err
}

// DescribeOptions are the options of `describe pod`.
type DescribeOptions struct {
	Socket, Namespace, Name string
}

// Describe prints one pod with its events, as kubectl describe does.
func Describe(ctx context.Context, o DescribeOptions, out io.Writer) error {
	c := api.NewClient(o.Socket)
	ns := o.Namespace
	if ns == "" {
		ns = "default"
	}
	p, err := c.GetPod(ctx, ns, o.Name)
	if errors.Is(err, api.ErrNotFound) {
		return notFound(o.Name)
	}
	if err != nil {
		return err
	}
	evs, err := c.Events(ctx, ns, o.Name)
	if err != nil {
		return err
	}
	var events []v1.Event
	for _, e := range evs.Items {
		// Events of an earlier pod of the same name are not this pod's.
		if e.InvolvedObject.UID == "" || e.InvolvedObject.UID == p.UID {
			events = append(events, e)
		}
	}
	return printers.DescribePod(out, p, events, time.Now())
}

// LogsOptions are the options of `logs`.
type LogsOptions struct {
	Socket, Namespace, Pod, Container string
	Follow, Previous, Timestamps      bool
	Tail                              int64 // -1: all
}

// Logs prints a container's log. Without -c, a pod with one container
// needs none; with more, kubectl's rule applies (the default-container
// annotation, else the first container, said on stderr).
func Logs(ctx context.Context, o LogsOptions, out, errOut io.Writer) error {
	c := api.NewClient(o.Socket)
	ns := o.Namespace
	if ns == "" {
		ns = "default"
	}
	container := o.Container
	if container == "" {
		p, err := c.GetPod(ctx, ns, o.Pod)
		if errors.Is(err, api.ErrNotFound) {
			return notFound(o.Pod)
		}
		if err != nil {
			return err
		}
		container = p.Annotations["kubectl.kubernetes.io/default-container"]
		if container == "" && len(p.Spec.Containers) > 0 {
			container = p.Spec.Containers[0].Name
			if len(p.Spec.Containers) > 1 {
				fmt.Fprintf(errOut, "Defaulted container %q out of: %s\n", container, containerNames(p))
			}
		}
	}
	lo := api.LogOptions{Follow: o.Follow, Previous: o.Previous, Timestamps: o.Timestamps}
	if o.Tail >= 0 {
		t := o.Tail
		lo.TailLines = &t
	}
	return c.Logs(ctx, ns, o.Pod, container, lo, out)
}

func containerNames(p *v1.Pod) string {
	s := ""
	for i, c := range p.Spec.Containers {
		if i > 0 {
			s += ", "
		}
		s += c.Name
	}
	return s
}

// Validate checks manifest files offline with the daemon's own parser and
// prints one line per problem. It reports whether every file was valid.
func Validate(files []string, nodeName string, out, errOut io.Writer) bool {
	ok := true
	for _, f := range files {
		if fi, err := os.Stat(f); err != nil {
			fmt.Fprintf(errOut, "%s: %v\n", f, err)
			ok = false
			continue
		} else if fi.IsDir() {
			fmt.Fprintf(errOut, "%s: is a directory; give the manifest files\n", f)
			ok = false
			continue
		}
		pods, problems := manifest.LoadFile(f, nodeName)
		for _, p := range problems {
			fmt.Fprintln(errOut, p.Error())
			ok = false
		}
		for _, p := range pods {
			fmt.Fprintf(out, "%s: pod %s/%s is valid\n", f, p.Pod.Namespace, p.Pod.Name)
		}
		if len(pods) == 0 && len(problems) == 0 {
			fmt.Fprintf(errOut, "%s: no Pod documents\n", f)
			ok = false
		}
	}
	return ok
}

// Version prints the client's version and the version of kubelet
// semantics it follows. It does not ask the daemon.
func Version(out io.Writer) {
	fmt.Fprintf(out, "minikubelet %s (kubelet semantics %s)\n", version.Version, version.KubeletVersion)
}
