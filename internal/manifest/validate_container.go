package manifest

import (
	"net"
	"path"
	"strings"
	"unicode"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// EnvFieldPaths are the pod fields an env var may take through
// valueFrom.fieldRef. The kubelet knows a few more (labels, annotations,
// serviceAccountName); these are the ones minikubelet resolves.
var EnvFieldPaths = []string{
	"metadata.name", "metadata.namespace", "metadata.uid",
	"spec.nodeName", "status.podIP", "status.hostIP", "status.podIPs",
}

// container checks one container. names maps every container name seen so
// far (init containers first) to where it was declared, because names must
// be unique across both lists: they share the pod's log and status space.
func (c *checker) container(ctr *v1.Container, p *field.Path, spec *v1.PodSpec, volumes map[string]bool, names map[string]string, init bool) {
	switch {
	case ctr.Name == "":
		c.add(p.Child("name"), "required")
	case names[ctr.Name] != "":
		c.add(p.Child("name"), "duplicate container name %q (already used by %s)", ctr.Name, names[ctr.Name])
	default:
		c.addMsgs(p.Child("name"), ctr.Name, validation.IsDNS1123Label(ctr.Name))
		names[ctr.Name] = p.String()
	}

	switch {
	case ctr.Image == "":
		c.add(p.Child("image"), "required")
	case strings.IndexFunc(ctr.Image, unicode.IsSpace) >= 0:
		c.add(p.Child("image"), "invalid value %q: must not contain whitespace", ctr.Image)
	}
	switch ctr.ImagePullPolicy {
	case "", v1.PullAlways, v1.PullIfNotPresent, v1.PullNever:
	default:
		c.add(p.Child("imagePullPolicy"), `unsupported value %q: must be "Always", "IfNotPresent" or "Never"`, ctr.ImagePullPolicy)
	}
	switch ctr.TerminationMessagePolicy {
	case "", v1.TerminationMessageReadFile, v1.TerminationMessageFallbackToLogsOnError:
	default:
		c.add(p.Child("terminationMessagePolicy"), `unsupported value %q: must be "File" or "FallbackToLogsOnError"`, ctr.TerminationMessagePolicy)
	}

	sidecar := init && ctr.RestartPolicy != nil && *ctr.RestartPolicy == v1.ContainerRestartPolicyAlways
	switch {
	case ctr.RestartPolicy == nil:
	case init && *ctr.RestartPolicy != v1.ContainerRestartPolicyAlways:
		c.add(p.Child("restartPolicy"), `unsupported value %q: only "Always" (a sidecar) is allowed on init containers`, *ctr.RestartPolicy)
	case !init:
		c.add(p.Child("restartPolicy"), "not supported on regular containers; use spec.restartPolicy")
	}
	if len(ctr.RestartPolicyRules) > 0 {
		c.add(p.Child("restartPolicyRules"), "not supported by minikubelet; use spec.restartPolicy")
	}

	c.ports(ctr.Ports, p.Child("ports"), spec.HostNetwork)
	if len(ctr.EnvFrom) > 0 {
		c.add(p.Child("envFrom"), "not allowed: envFrom reads ConfigMaps or Secrets from an API server and %s; list the variables under env instead", noAPIServer)
	}
	c.env(ctr.Env, p.Child("env"))
	c.resources(&ctr.Resources, p.Child("resources"))
	if len(ctr.ResizePolicy) > 0 {
		c.add(p.Child("resizePolicy"), "not allowed: in-place resizes are requested through an API server and %s; change the manifest to change resources", noAPIServer)
	}
	if ctr.Stdin || ctr.StdinOnce || ctr.TTY {
		c.add(p.Child(firstSet([]string{"stdin", "stdinOnce", "tty"}, ctr.Stdin, ctr.StdinOnce, ctr.TTY)), "%s: minikubelet gives containers no stdin and no terminal; remove stdin, stdinOnce and tty", notYet)
	}
	c.volumeMounts(ctr.VolumeMounts, p.Child("volumeMounts"), volumes)
	c.mountOptions(ctr, p.Child("volumeMounts"))
	c.containerSecurity(ctr, p, spec)
	if len(ctr.VolumeDevices) > 0 {
		c.add(p.Child("volumeDevices"), "not allowed: block devices come from persistent volume claims, which need an API server; %s", noAPIServer)
	}

	probes := []struct {
		name  string
		probe *v1.Probe
	}{{"livenessProbe", ctr.LivenessProbe}, {"readinessProbe", ctr.ReadinessProbe}, {"startupProbe", ctr.StartupProbe}}
	for _, pr := range probes {
		if pr.probe == nil {
			continue
		}
		if init && !sidecar {
			c.add(p.Child(pr.name), "not allowed on init containers (unless restartPolicy is Always, which makes it a sidecar): they run to completion before the pod is ready")
			continue
		}
		c.probe(pr.probe, p.Child(pr.name), ctr, pr.name)
	}
	if lc := ctr.Lifecycle; lc != nil {
		if init && !sidecar {
			c.add(p.Child("lifecycle"), "not allowed on init containers (unless restartPolicy is Always, which makes it a sidecar)")
		} else {
			c.lifecycle(lc, p.Child("lifecycle"), ctr)
		}
	}
}

func (c *checker) ports(ports []v1.ContainerPort, p *field.Path, hostNetwork bool) {
	names := map[string]bool{}
	for i, port := range ports {
		pp := p.Index(i)
		c.portNumber(pp.Child("containerPort"), port.ContainerPort)
		if port.HostPort != 0 {
			c.portNumber(pp.Child("hostPort"), port.HostPort)
			if hostNetwork && port.HostPort != port.ContainerPort {
				c.add(pp.Child("hostPort"), "must match containerPort (%d) when hostNetwork is true, got %d", port.ContainerPort, port.HostPort)
			}
		}
		switch port.Protocol {
		case "", v1.ProtocolTCP, v1.ProtocolUDP, v1.ProtocolSCTP:
		default:
			c.add(pp.Child("protocol"), `unsupported value %q: must be "TCP", "UDP" or "SCTP"`, port.Protocol)
		}
		if port.Name != "" {
			c.addMsgs(pp.Child("name"), port.Name, validation.IsValidPortName(port.Name))
			if names[port.Name] {
				c.add(pp.Child("name"), "duplicate port name %q in this container", port.Name)
			}
			names[port.Name] = true
		}
		if port.HostIP != "" && net.ParseIP(port.HostIP) == nil {
			c.add(pp.Child("hostIP"), "invalid value %q: must be an IP address", port.HostIP)
		}
	}
}

func (c *checker) portNumber(p *field.Path, n int32) {
	if n < 1 || n > 65535 {
		c.add(p, "must be between 1 and 65535, inclusive, got %d", n)
	}
}

func (c *checker) env(env []v1.EnvVar, p *field.Path) {
	for i, e := range env {
		ep := p.Index(i)
		if e.Name == "" {
			c.add(ep.Child("name"), "required")
		} else {
			c.addMsgs(ep.Child("name"), e.Name, validation.IsEnvVarName(e.Name))
		}
		vf := e.ValueFrom
		if vf == nil {
			continue
		}
		vp := ep.Child("valueFrom")
		if e.Value != "" {
			c.add(ep.Child("value"), "may not be set together with valueFrom")
		}
		if n := countSet(vf.FieldRef != nil, vf.ResourceFieldRef != nil, vf.ConfigMapKeyRef != nil, vf.SecretKeyRef != nil, vf.FileKeyRef != nil); n != 1 {
			c.add(vp, "must specify exactly one of fieldRef, resourceFieldRef, configMapKeyRef, secretKeyRef, fileKeyRef; got %d", n)
			continue
		}
		switch {
		case vf.ConfigMapKeyRef != nil:
			c.add(vp.Child("configMapKeyRef"), "not allowed: ConfigMaps are read from an API server and %s; put the value in env[].value instead", noAPIServer)
		case vf.SecretKeyRef != nil:
			c.add(vp.Child("secretKeyRef"), "not allowed: Secrets are read from an API server and %s; put the value in env[].value or read it from a hostPath file", noAPIServer)
		case vf.ResourceFieldRef != nil:
			c.resourceFieldRef(vf.ResourceFieldRef, vp.Child("resourceFieldRef"))
		case vf.FileKeyRef != nil:
			c.add(vp.Child("fileKeyRef"), "not supported by minikubelet; supported: fieldRef to %s", strings.Join(EnvFieldPaths, ", "))
		case vf.FieldRef != nil:
			ok := false
			for _, allowed := range EnvFieldPaths {
				ok = ok || vf.FieldRef.FieldPath == allowed
			}
			if !ok {
				c.add(vp.Child("fieldRef", "fieldPath"), "unsupported value %q: supported: %s", vf.FieldRef.FieldPath, strings.Join(EnvFieldPaths, ", "))
			}
			c.fieldRefAPIVersion(vf.FieldRef, vp.Child("fieldRef"))
		}
	}
}

// resources checks quantities and requests <= limits; used for containers
// and for pod-level spec.resources.
func (c *checker) resources(r *v1.ResourceRequirements, p *field.Path) {
	for _, list := range []struct {
		name string
		rl   v1.ResourceList
	}{{"limits", r.Limits}, {"requests", r.Requests}} {
		for _, name := range sortedMapKeys(list.rl) {
			rp := p.Child(list.name).Key(name)
			c.resourceName(rp, name)
			q := list.rl[v1.ResourceName(name)]
			if q.Sign() < 0 {
				c.add(rp, "must be greater than or equal to 0, got %s", q.String())
			}
			if list.name != "requests" {
				continue
			}
			if limit, ok := r.Limits[v1.ResourceName(name)]; ok && q.Cmp(limit) > 0 {
				c.add(rp, "must be less than or equal to the %s limit of %s, got %s", name, limit.String(), q.String())
			}
		}
	}
	if len(r.Claims) > 0 {
		c.add(p.Child("claims"), "not allowed: resource claims are allocated through an API server; %s", noAPIServer)
	}
}

func (c *checker) resourceName(p *field.Path, name string) {
	switch {
	case name == string(v1.ResourceCPU), name == string(v1.ResourceMemory), name == string(v1.ResourceEphemeralStorage):
	case strings.HasPrefix(name, v1.ResourceHugePagesPrefix):
		c.add(p, "%s: minikubelet does not limit huge pages (%q); remove it", notYet, name)
	case strings.Contains(name, "/"):
		// Extended resources (example.com/gpu) come from device plugins,
		// which the kubelet would also need to admit the pod.
		c.add(p, "not supported: minikubelet has no device plugins to provide the extended resource %q; remove it", name)
	default:
		c.add(p, "unsupported resource %q: must be cpu, memory or ephemeral-storage", name)
	}
}

// firstSet returns the name of the first true value.
func firstSet(names []string, set ...bool) string {
	for i, s := range set {
		if s {
			return names[i]
		}
	}
	return ""
}

func (c *checker) volumeMounts(mounts []v1.VolumeMount, p *field.Path, volumes map[string]bool) {
	paths := map[string]bool{}
	for i, m := range mounts {
		mp := p.Index(i)
		switch {
		case m.Name == "":
			c.add(mp.Child("name"), "required")
		case !volumes[m.Name]:
			c.add(mp.Child("name"), "no volume named %q in spec.volumes", m.Name)
		}
		switch {
		case m.MountPath == "":
			c.add(mp.Child("mountPath"), "required")
		case !path.IsAbs(m.MountPath):
			c.add(mp.Child("mountPath"), "must be an absolute path, got %q", m.MountPath)
		case paths[path.Clean(m.MountPath)]:
			c.add(mp.Child("mountPath"), "duplicate mount path %q in this container", m.MountPath)
		}
		paths[path.Clean(m.MountPath)] = true
		if m.SubPath != "" && (path.IsAbs(m.SubPath) || hasBackstep(m.SubPath)) {
			c.add(mp.Child("subPath"), "must be a relative path inside the volume, got %q", m.SubPath)
		}
	}
}

func (c *checker) probe(pr *v1.Probe, p *field.Path, ctr *v1.Container, kind string) {
	h := pr.ProbeHandler
	if countSet(h.Exec != nil, h.HTTPGet != nil, h.TCPSocket != nil, h.GRPC != nil) != 1 {
		c.add(p, "must specify exactly one handler: exec, httpGet, tcpSocket or grpc")
	}
	for _, f := range []struct {
		name string
		v    int32
	}{
		{"initialDelaySeconds", pr.InitialDelaySeconds}, {"timeoutSeconds", pr.TimeoutSeconds},
		{"periodSeconds", pr.PeriodSeconds}, {"successThreshold", pr.SuccessThreshold},
		{"failureThreshold", pr.FailureThreshold},
	} {
		if f.v < 0 {
			c.add(p.Child(f.name), "must be greater than or equal to 0, got %d", f.v)
		}
	}
	if kind != "readinessProbe" && pr.SuccessThreshold > 1 {
		c.add(p.Child("successThreshold"), "must be 1 for %ss, got %d", kind, pr.SuccessThreshold)
	}
	if t := pr.TerminationGracePeriodSeconds; t != nil {
		if kind == "readinessProbe" {
			c.add(p.Child("terminationGracePeriodSeconds"), "not allowed on readiness probes: they never kill the container")
		} else if *t <= 0 {
			c.add(p.Child("terminationGracePeriodSeconds"), "must be greater than 0, got %d", *t)
		}
	}
	switch {
	case h.Exec != nil:
		if len(h.Exec.Command) == 0 {
			c.add(p.Child("exec", "command"), "required")
		}
	case h.HTTPGet != nil:
		c.httpGet(h.HTTPGet, p.Child("httpGet"), ctr)
	case h.TCPSocket != nil:
		c.handlerPort(h.TCPSocket.Port, p.Child("tcpSocket", "port"), ctr)
	case h.GRPC != nil:
		c.portNumber(p.Child("grpc", "port"), h.GRPC.Port)
		if h.GRPC.Mode != nil {
			c.add(p.Child("grpc", "mode"), "%s: grpc probes use the standard health check (grpc.health.v1.Health/Check); remove the field", notYet)
		}
	}
}

func (c *checker) lifecycle(lc *v1.Lifecycle, p *field.Path, ctr *v1.Container) {
	for _, hk := range []struct {
		name string
		h    *v1.LifecycleHandler
	}{{"postStart", lc.PostStart}, {"preStop", lc.PreStop}} {
		if hk.h == nil {
			continue
		}
		hp := p.Child(hk.name)
		h := hk.h
		if countSet(h.Exec != nil, h.HTTPGet != nil, h.TCPSocket != nil, h.Sleep != nil) != 1 {
			c.add(hp, "must specify exactly one handler: exec, httpGet or sleep")
			continue
		}
		switch {
		case h.TCPSocket != nil:
			// The kubelet accepts it and silently does nothing; say so.
			c.add(hp.Child("tcpSocket"), "not supported as a lifecycle handler (it would do nothing); use exec, httpGet or sleep")
		case h.Exec != nil:
			if len(h.Exec.Command) == 0 {
				c.add(hp.Child("exec", "command"), "required")
			}
		case h.HTTPGet != nil:
			c.httpGet(h.HTTPGet, hp.Child("httpGet"), ctr)
		case h.Sleep != nil:
			if h.Sleep.Seconds < 0 {
				c.add(hp.Child("sleep", "seconds"), "must be greater than or equal to 0, got %d", h.Sleep.Seconds)
			}
		}
	}
	if lc.StopSignal != nil {
		c.add(p.Child("stopSignal"), "%s: containers stop with their image's STOPSIGNAL (else SIGTERM); set it in the image", notYet)
	}
}

func (c *checker) httpGet(g *v1.HTTPGetAction, p *field.Path, ctr *v1.Container) {
	c.handlerPort(g.Port, p.Child("port"), ctr)
	switch g.Scheme {
	case "", v1.URISchemeHTTP, v1.URISchemeHTTPS:
	default:
		c.add(p.Child("scheme"), `unsupported value %q: must be "HTTP" or "HTTPS"`, g.Scheme)
	}
	if g.Protocol != nil {
		c.add(p.Child("protocol"), "%s: the HTTP protocol of probes and hooks is not selectable; remove the field", notYet)
	}
	for i, hdr := range g.HTTPHeaders {
		c.addMsgs(p.Child("httpHeaders").Index(i).Child("name"), hdr.Name, validation.IsHTTPHeaderName(hdr.Name))
	}
}

// handlerPort checks a probe or hook port: a number, or the name of one of
// the container's ports. The kubelet only finds a bad name when the probe
// first runs; it costs nothing to say so now.
func (c *checker) handlerPort(port intstr.IntOrString, p *field.Path, ctr *v1.Container) {
	if port.Type == intstr.Int {
		c.portNumber(p, port.IntVal)
		return
	}
	if msgs := validation.IsValidPortName(port.StrVal); len(msgs) > 0 {
		c.addMsgs(p, port.StrVal, msgs)
		return
	}
	for _, cp := range ctr.Ports {
		if cp.Name == port.StrVal {
			return
		}
	}
	c.add(p, "no port named %q in this container's ports", port.StrVal)
}

func countSet(set ...bool) int {
	n := 0
	for _, s := range set {
		if s {
			n++
		}
	}
	return n
}

// resourceFieldRef checks an env resourceFieldRef: a known resource and a
// divisor the API server would accept for it.
func (c *checker) resourceFieldRef(r *v1.ResourceFieldSelector, p *field.Path) {
	switch r.Resource {
	case "limits.cpu", "requests.cpu":
		if !r.Divisor.IsZero() && r.Divisor.Cmp(resource.MustParse("1m")) != 0 && r.Divisor.Cmp(resource.MustParse("1")) != 0 {
			c.add(p.Child("divisor"), "must be 1m or 1 for cpu, got %s", r.Divisor.String())
		}
	case "limits.memory", "requests.memory", "limits.ephemeral-storage", "requests.ephemeral-storage":
		if !r.Divisor.IsZero() {
			ok := false
			for _, d := range []string{"1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"} {
				ok = ok || r.Divisor.Cmp(resource.MustParse(d)) == 0
			}
			if !ok {
				c.add(p.Child("divisor"), "must be 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi or 1Ei, got %s", r.Divisor.String())
			}
		}
	default:
		c.add(p.Child("resource"), "unsupported value %q: supported: limits.cpu, limits.memory, limits.ephemeral-storage, requests.cpu, requests.memory, requests.ephemeral-storage", r.Resource)
	}
}
