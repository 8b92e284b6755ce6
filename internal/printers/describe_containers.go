package printers

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// writeContainers writes one section ("Containers", "Init Containers")
// with a block per container, in spec order.
func writeContainers(d *describeWriter, label string, pod *v1.Pod, specs []v1.Container, statuses []v1.ContainerStatus) {
	byName := make(map[string]*v1.ContainerStatus, len(statuses))
	for i := range statuses {
		byName[statuses[i].Name] = &statuses[i]
	}
	if len(specs) == 0 {
		d.write(0, "%s: %s\n", label, none)
		return
	}
	d.write(0, "%s:\n", label)
	for i := range specs {
		c := &specs[i]
		st := byName[c.Name]
		d.write(1, "%s:\n", c.Name)
		if st != nil {
			d.write(2, "Container ID:\t%s\n", st.ContainerID)
		}
		d.write(2, "Image:\t%s\n", c.Image)
		if st != nil {
			d.write(2, "Image ID:\t%s\n", st.ImageID)
		}
		writePorts(d, c.Ports)
		if c.SecurityContext != nil && c.SecurityContext.SeccompProfile != nil {
			writeSeccomp(d, 2, c.SecurityContext.SeccompProfile)
		}
		writeLines(d, "Command", c.Command)
		writeLines(d, "Args", c.Args)
		if st != nil {
			writeState(d, "State", st.State)
			if st.LastTerminationState.Terminated != nil {
				writeState(d, "Last State", st.LastTerminationState)
			}
			d.write(2, "Ready:\t%s\n", boolText(st.Ready))
			d.write(2, "Restart Count:\t%d\n", st.RestartCount)
		}
		writeResources(d, 2, &c.Resources)
		for _, p := range []struct {
			title string
			probe *v1.Probe
		}{{"Liveness", c.LivenessProbe}, {"Readiness", c.ReadinessProbe}, {"Startup", c.StartupProbe}} {
			if p.probe != nil {
				d.write(2, "%s:\t%s\n", p.title, DescribeProbe(p.probe))
			}
		}
		if len(c.EnvFrom) > 0 {
			writeEnvFrom(d, c.EnvFrom)
		}
		writeEnv(d, pod, c)
		writeMounts(d, c)
	}
}

// writePorts writes "Port:"/"Ports:" and "Host Port:"/"Host Ports:"; the
// plural is used when there is more than one.
func writePorts(d *describeWriter, ports []v1.ContainerPort) {
	var cp, hp []string
	for _, p := range ports {
		cp = append(cp, fmt.Sprintf("%d/%s", p.ContainerPort, p.Protocol))
		hp = append(hp, fmt.Sprintf("%d/%s", p.HostPort, p.Protocol))
	}
	for _, row := range []struct {
		one, many string
		cells     []string
	}{{"Port", "Ports", cp}, {"Host Port", "Host Ports", hp}} {
		if len(row.cells) > 1 {
			d.write(2, "%s:\t%s\n", row.many, strings.Join(row.cells, ", "))
		} else {
			d.write(2, "%s:\t%s\n", row.one, orNone(strings.Join(row.cells, "")))
		}
	}
}

// writeLines writes a Command or Args block, one line per line of each
// element.
func writeLines(d *describeWriter, title string, items []string) {
	if len(items) == 0 {
		return
	}
	d.write(2, "%s:\n", title)
	for _, item := range items {
		for _, line := range strings.Split(item, "\n") {
			d.write(3, "%s\n", line)
		}
	}
}

func writeState(d *describeWriter, title string, s v1.ContainerState) {
	switch {
	case s.Running != nil:
		d.write(2, "%s:\tRunning\n", title)
		d.write(3, "Started:\t%s\n", rfc1123z(s.Running.StartedAt.Time))
	case s.Terminated != nil:
		t := s.Terminated
		d.write(2, "%s:\tTerminated\n", title)
		if t.Reason != "" {
			d.write(3, "Reason:\t%s\n", t.Reason)
		}
		if t.Message != "" {
			d.write(3, "Message:\t%s\n", t.Message)
		}
		d.write(3, "Exit Code:\t%d\n", t.ExitCode)
		if t.Signal > 0 {
			d.write(3, "Signal:\t%d\n", t.Signal)
		}
		d.write(3, "Started:\t%s\n", rfc1123z(t.StartedAt.Time))
		d.write(3, "Finished:\t%s\n", rfc1123z(t.FinishedAt.Time))
	default:
		d.write(2, "%s:\tWaiting\n", title)
		if s.Waiting != nil && s.Waiting.Reason != "" {
			d.write(3, "Reason:\t%s\n", s.Waiting.Reason)
		}
	}
}

// Probe defaults the kubelet applies when a manifest leaves a field at
// zero; describe shows the values in effect rather than zeros.
const (
	defaultProbeTimeout = 1
	defaultProbePeriod  = 10
	defaultProbeSuccess = 1
	defaultProbeFailure = 3
)

func orDefault(v, def int32) int32 {
	if v == 0 {
		return def
	}
	return v
}

// DescribeProbe renders a probe in kubectl describe's one-line form, e.g.
// "http-get http://:8080/healthz delay=0s timeout=1s period=10s #success=1 #failure=3",
// "exec [cat /tmp/healthy] ...", "tcp-socket :8080 ..." or
// "grpc <pod>:9000 svc ...". Zero timeout, period and thresholds show the
// kubelet's defaults, an empty httpGet scheme shows as http, and a gRPC
// probe without a service omits it (kubectl would crash on it).
func DescribeProbe(p *v1.Probe) string {
	attrs := fmt.Sprintf("delay=%ds timeout=%ds period=%ds #success=%d #failure=%d",
		p.InitialDelaySeconds,
		orDefault(p.TimeoutSeconds, defaultProbeTimeout),
		orDefault(p.PeriodSeconds, defaultProbePeriod),
		orDefault(p.SuccessThreshold, defaultProbeSuccess),
		orDefault(p.FailureThreshold, defaultProbeFailure))
	switch {
	case p.Exec != nil:
		return fmt.Sprintf("exec %v %s", p.Exec.Command, attrs)
	case p.HTTPGet != nil:
		h := p.HTTPGet
		u := url.URL{Scheme: strings.ToLower(string(h.Scheme)), Host: h.Host, Path: h.Path}
		if u.Scheme == "" {
			u.Scheme = "http"
		}
		if port := h.Port.String(); port != "" {
			u.Host = net.JoinHostPort(h.Host, port)
		}
		return fmt.Sprintf("http-get %s %s", u.String(), attrs)
	case p.TCPSocket != nil:
		return fmt.Sprintf("tcp-socket %s:%s %s", p.TCPSocket.Host, p.TCPSocket.Port.String(), attrs)
	case p.GRPC != nil:
		if p.GRPC.Service != nil && *p.GRPC.Service != "" {
			return fmt.Sprintf("grpc <pod>:%d %s %s", p.GRPC.Port, *p.GRPC.Service, attrs)
		}
		return fmt.Sprintf("grpc <pod>:%d %s", p.GRPC.Port, attrs)
	}
	return "unknown " + attrs
}

func writeEnvFrom(d *describeWriter, from []v1.EnvFromSource) {
	d.write(2, "Environment Variables from:\n")
	for _, e := range from {
		kind, name, optional := "", "", false
		switch {
		case e.ConfigMapRef != nil:
			kind, name = "ConfigMap", e.ConfigMapRef.Name
			optional = e.ConfigMapRef.Optional != nil && *e.ConfigMapRef.Optional
		case e.SecretRef != nil:
			kind, name = "Secret", e.SecretRef.Name
			optional = e.SecretRef.Optional != nil && *e.SecretRef.Optional
		}
		if e.Prefix == "" {
			d.write(3, "%s\t%s\tOptional: %t\n", name, kind, optional)
		} else {
			d.write(3, "%s\t%s with prefix '%s'\tOptional: %t\n", name, kind, e.Prefix, optional)
		}
	}
}

func writeEnv(d *describeWriter, pod *v1.Pod, c *v1.Container) {
	if len(c.Env) == 0 {
		d.write(2, "Environment:\t%s\n", none)
		return
	}
	d.write(2, "Environment:\n")
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			for i, line := range strings.Split(e.Value, "\n") {
				if i == 0 {
					d.write(3, "%s:\t%s\n", e.Name, line)
				} else {
					d.write(3, "\t%s\n", line)
				}
			}
			continue
		}
		vf := e.ValueFrom
		switch {
		case vf.FieldRef != nil:
			d.write(3, "%s:\t%s (%s:%s)\n", e.Name, fieldValue(pod, vf.FieldRef.FieldPath), vf.FieldRef.APIVersion, vf.FieldRef.FieldPath)
		case vf.ResourceFieldRef != nil:
			v := resourceFieldValue(c, vf.ResourceFieldRef)
			if v == "0" && (vf.ResourceFieldRef.Resource == "limits.cpu" || vf.ResourceFieldRef.Resource == "limits.memory") {
				v = "node allocatable"
			}
			d.write(3, "%s:\t%s (%s)\n", e.Name, v, vf.ResourceFieldRef.Resource)
		case vf.SecretKeyRef != nil:
			r := vf.SecretKeyRef
			d.write(3, "%s:\t<set to the key '%s' in secret '%s'>\tOptional: %t\n", e.Name, r.Key, r.Name, r.Optional != nil && *r.Optional)
		case vf.ConfigMapKeyRef != nil:
			r := vf.ConfigMapKeyRef
			d.write(3, "%s:\t<set to the key '%s' of config map '%s'>\tOptional: %t\n", e.Name, r.Key, r.Name, r.Optional != nil && *r.Optional)
		}
	}
}

// fieldValue resolves the downward-API field paths a pod can use in env;
// an unknown path resolves to "" as kubectl's resolver does on error.
func fieldValue(pod *v1.Pod, path string) string {
	for _, m := range []struct {
		prefix string
		src    map[string]string
	}{{"metadata.labels", pod.Labels}, {"metadata.annotations", pod.Annotations}} {
		if rest, ok := strings.CutPrefix(path, m.prefix+"['"); ok {
			return m.src[strings.TrimSuffix(rest, "']")]
		}
	}
	switch path {
	case "metadata.name":
		return pod.Name
	case "metadata.namespace":
		return pod.Namespace
	case "metadata.uid":
		return string(pod.UID)
	case "spec.nodeName":
		return pod.Spec.NodeName
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName
	case "status.hostIP":
		return pod.Status.HostIP
	case "status.podIP":
		return pod.Status.PodIP
	case "status.hostIPs":
		ips := make([]string, 0, len(pod.Status.HostIPs))
		for _, ip := range pod.Status.HostIPs {
			ips = append(ips, ip.IP)
		}
		return strings.Join(ips, ",")
	case "status.podIPs":
		ips := make([]string, 0, len(pod.Status.PodIPs))
		for _, ip := range pod.Status.PodIPs {
			ips = append(ips, ip.IP)
		}
		return strings.Join(ips, ",")
	}
	return ""
}

// resourceFieldValue is the value a resourceFieldRef env var gets: the
// container's request or limit divided by the divisor, rounded up (CPU in
// millicores), "0" when unset.
func resourceFieldValue(c *v1.Container, ref *v1.ResourceFieldSelector) string {
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok {
		return ""
	}
	var list v1.ResourceList
	switch kind {
	case "limits":
		list = c.Resources.Limits
	case "requests":
		list = c.Resources.Requests
	default:
		return ""
	}
	q, found := list[v1.ResourceName(name)]
	if !found {
		return "0"
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	if name == string(v1.ResourceCPU) {
		return fmt.Sprint(int64(math.Ceil(float64(q.MilliValue()) / float64(divisor.MilliValue()))))
	}
	return fmt.Sprint(int64(math.Ceil(float64(q.Value()) / float64(divisor.Value()))))
}

// writeMounts writes volume mounts sorted by mount path, then devices.
func writeMounts(d *describeWriter, c *v1.Container) {
	if len(c.VolumeMounts) == 0 {
		d.write(2, "Mounts:\t%s\n", none)
	} else {
		d.write(2, "Mounts:\n")
	}
	mounts := append([]v1.VolumeMount(nil), c.VolumeMounts...)
	sort.SliceStable(mounts, func(i, j int) bool { return mounts[i].MountPath < mounts[j].MountPath })
	for _, m := range mounts {
		flags := "rw"
		if m.ReadOnly {
			flags = "ro"
		}
		if m.SubPath != "" {
			flags += fmt.Sprintf(",path=%q", m.SubPath)
		}
		d.write(3, "%s from %s (%s)\n", m.MountPath, m.Name, flags)
	}
	if len(c.VolumeDevices) > 0 {
		d.write(2, "Devices:\n")
		devs := append([]v1.VolumeDevice(nil), c.VolumeDevices...)
		sort.SliceStable(devs, func(i, j int) bool { return devs[i].DevicePath < devs[j].DevicePath })
		for _, dev := range devs {
			d.write(3, "%s from %s\n", dev.DevicePath, dev.Name)
		}
	}
}
