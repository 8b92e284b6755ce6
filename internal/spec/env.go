package spec

import (
	"fmt"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// Env returns the container's environment: the image's, then the pod's in
// order (later names override earlier ones, and $(VAR) refers to variables
// defined before), then HOSTNAME.
func Env(c Container) ([]string, error) {
	var order []string
	vals := map[string]string{}
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	for _, kv := range c.Image.Env {
		k, v, _ := strings.Cut(kv, "=")
		set(k, v)
	}
	for _, e := range c.Container.Env {
		v := e.Value
		if e.ValueFrom != nil {
			var err error
			if v, err = fieldValue(c, e); err != nil {
				return nil, err
			}
		} else {
			v = Expand(v, func(name string) (string, bool) { s, ok := vals[name]; return s, ok })
		}
		set(e.Name, v)
	}
	if _, ok := vals["HOSTNAME"]; !ok && !c.Pod.Spec.HostNetwork {
		set("HOSTNAME", Hostname(c.Pod))
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+vals[k])
	}
	return out, nil
}

func fieldValue(c Container, e v1.EnvVar) (string, error) {
	if rf := e.ValueFrom.ResourceFieldRef; rf != nil {
		v, err := ResourceFieldValue(c.Pod, c.Container, rf)
		if err != nil {
			return "", fmt.Errorf("env %q: %w", e.Name, err)
		}
		return v, nil
	}
	ref := e.ValueFrom.FieldRef
	if ref == nil {
		return "", fmt.Errorf("env %q: only fieldRef and resourceFieldRef are supported in valueFrom", e.Name)
	}
	p := c.Pod
	switch ref.FieldPath {
	case "metadata.name":
		return p.Name, nil
	case "metadata.namespace":
		return p.Namespace, nil
	case "metadata.uid":
		return string(p.UID), nil
	case "spec.nodeName":
		return p.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return p.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return c.PodIP, nil
	case "status.hostIP", "status.hostIPs":
		return c.HostIP, nil
	}
	if k, ok := strings.CutPrefix(ref.FieldPath, "metadata.labels['"); ok {
		return p.Labels[strings.TrimSuffix(k, "']")], nil
	}
	if k, ok := strings.CutPrefix(ref.FieldPath, "metadata.annotations['"); ok {
		return p.Annotations[strings.TrimSuffix(k, "']")], nil
	}
	return "", fmt.Errorf("env %q: fieldRef %q is not supported", e.Name, ref.FieldPath)
}

// Args combines command and args with the image as Kubernetes does: command
// replaces the entrypoint (and drops the image's cmd), args replace the
// cmd; $(VAR) references expand from env.
func Args(c *v1.Container, img ImageConfig, env []string) []string {
	var out []string
	switch {
	case len(c.Command) > 0:
		out = append(append(out, c.Command...), c.Args...)
	case len(c.Args) > 0:
		out = append(append(out, img.Entrypoint...), c.Args...)
	default:
		out = append(append(out, img.Entrypoint...), img.Cmd...)
	}
	vals := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vals[k] = v
	}
	lookup := func(name string) (string, bool) { s, ok := vals[name]; return s, ok }
	// Only the pod's own command and args are expanded; the image's are
	// taken literally, as in the kubelet.
	n := len(c.Command) + len(c.Args)
	for i := len(out) - n; i < len(out); i++ {
		out[i] = Expand(out[i], lookup)
	}
	return out
}

// Expand replaces $(NAME) with the value lookup gives; unknown names stay
// as written and $$ escapes a $, matching Kubernetes' expansion rules.
func Expand(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}
