package manifest

import (
	"fmt"
	"path"
	"reflect"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// noAPIServer ends every message about a field that only works with an API
// server, so the operator learns why, not only what.
const noAPIServer = "minikubelet has no API server"

// notYet starts the message of a field minikubelet will support but does
// not yet: refused rather than accepted and ignored.
const notYet = "not supported yet"

// checker collects issues; validation keeps going after the first one so an
// operator can fix a manifest in one pass.
type checker struct {
	issues []issue
}

func (c *checker) add(p *field.Path, format string, args ...any) {
	c.issues = append(c.issues, issue{p.String(), fmt.Sprintf(format, args...)})
}

// addMsgs records the messages of an apimachinery Is* helper.
func (c *checker) addMsgs(p *field.Path, value string, msgs []string) {
	for _, m := range msgs {
		c.add(p, "invalid value %q: %s", value, m)
	}
}

// validatePod checks one decoded Pod before defaults are applied, the way
// the API server and the kubelet's static pod source would, plus the
// fields that cannot work without an API server. Defaults are applied
// afterwards, so empty optional fields are fine here.
func validatePod(pod *v1.Pod) []issue {
	var c checker
	c.metadata(pod)
	c.spec(&pod.Spec, field.NewPath("spec"))
	return c.issues
}

func (c *checker) metadata(pod *v1.Pod) {
	p := field.NewPath("metadata")
	switch {
	case pod.Name == "" && pod.GenerateName != "":
		c.add(p.Child("name"), "required (generateName is not supported: %s to generate names)", noAPIServer)
	case pod.Name == "":
		c.add(p.Child("name"), "required")
	default:
		c.addMsgs(p.Child("name"), pod.Name, validation.IsDNS1123Subdomain(pod.Name))
	}
	if pod.Namespace != "" {
		c.addMsgs(p.Child("namespace"), pod.Namespace, validation.IsDNS1123Label(pod.Namespace))
	}
	// Sorted so that the same manifest always gives the same problems in
	// the same order (Source only re-sends problems that change).
	for _, k := range sortedMapKeys(pod.Labels) {
		c.addMsgs(p.Child("labels").Key(k), k, validation.IsQualifiedName(k))
		c.addMsgs(p.Child("labels").Key(k), pod.Labels[k], validation.IsValidLabelValue(pod.Labels[k]))
	}
	for _, k := range sortedMapKeys(pod.Annotations) {
		// Annotation keys are qualified names, case-insensitively.
		c.addMsgs(p.Child("annotations").Key(k), k, validation.IsQualifiedName(strings.ToLower(k)))
	}
	if err := apivalidation.ValidateAnnotationsSize(pod.Annotations); err != nil {
		c.add(p.Child("annotations"), "%v", err)
	}
}

func (c *checker) spec(s *v1.PodSpec, p *field.Path) {
	if len(s.Containers) == 0 {
		c.add(p.Child("containers"), "at least one container is required")
	}
	if len(s.EphemeralContainers) > 0 {
		c.add(p.Child("ephemeralContainers"), "not allowed: ephemeral containers are added through an API server (kubectl debug); %s", noAPIServer)
	}

	volumes := c.volumes(s.Volumes, p.Child("volumes"))
	c.podSecurity(s, p.Child("securityContext"))
	names := map[string]string{} // container name -> path of its first use
	for i := range s.InitContainers {
		c.container(&s.InitContainers[i], p.Child("initContainers").Index(i), s, volumes, names, true)
	}
	for i := range s.Containers {
		c.container(&s.Containers[i], p.Child("containers").Index(i), s, volumes, names, false)
	}

	switch s.RestartPolicy {
	case "", v1.RestartPolicyAlways, v1.RestartPolicyOnFailure, v1.RestartPolicyNever:
	default:
		c.add(p.Child("restartPolicy"), `unsupported value %q: must be "Always", "OnFailure" or "Never"`, s.RestartPolicy)
	}
	switch s.DNSPolicy {
	case "", v1.DNSClusterFirst, v1.DNSClusterFirstWithHostNet, v1.DNSDefault:
	case v1.DNSNone:
		if s.DNSConfig == nil {
			c.add(p.Child("dnsConfig"), `required when dnsPolicy is "None"`)
		}
	default:
		c.add(p.Child("dnsPolicy"), `unsupported value %q: must be "ClusterFirst", "ClusterFirstWithHostNet", "Default" or "None"`, s.DNSPolicy)
	}
	if t := s.TerminationGracePeriodSeconds; t != nil && *t < 0 {
		c.add(p.Child("terminationGracePeriodSeconds"), "must be greater than or equal to 0, got %d", *t)
	}
	if a := s.ActiveDeadlineSeconds; a != nil && *a <= 0 {
		c.add(p.Child("activeDeadlineSeconds"), "must be greater than 0 when set, got %d", *a)
	}
	if s.OS != nil && s.OS.Name != v1.Linux {
		c.add(p.Child("os", "name"), `unsupported value %q: minikubelet runs Linux containers only, so it must be "linux" when set`, s.OS.Name)
	}
	if s.Hostname != "" {
		c.addMsgs(p.Child("hostname"), s.Hostname, validation.IsDNS1123Label(s.Hostname))
	}
	if s.Subdomain != "" {
		c.addMsgs(p.Child("subdomain"), s.Subdomain, validation.IsDNS1123Label(s.Subdomain))
	}
	for _, f := range []struct{ name, value string }{
		{"serviceAccountName", s.ServiceAccountName},
		{"serviceAccount", s.DeprecatedServiceAccount},
	} {
		if f.value != "" && f.value != "default" {
			c.add(p.Child(f.name), "%q is not allowed: %s to mint service account tokens; leave it empty or \"default\"", f.value, noAPIServer)
		}
	}
	if len(s.ImagePullSecrets) > 0 {
		c.add(p.Child("imagePullSecrets"), "not allowed: pull secrets are Secrets read from an API server and %s; registry credentials come from the node's Docker config (config.json) instead", noAPIServer)
	}
	if len(s.ResourceClaims) > 0 {
		c.add(p.Child("resourceClaims"), "not allowed: resource claims are allocated through an API server; %s", noAPIServer)
	}
	if s.Resources != nil {
		c.add(p.Child("resources"), "%s: pod-level resources are not enforced by minikubelet; set resources on each container instead", notYet)
	}
	c.unsupportedPodFields(s, p)
}

// unsupportedPodFields refuses the pod fields minikubelet would otherwise
// accept and then ignore: each says why, and what to do instead.
func (c *checker) unsupportedPodFields(s *v1.PodSpec, p *field.Path) {
	if s.HostUsers != nil && !*s.HostUsers {
		c.add(p.Child("hostUsers"), "%s: user namespaces (hostUsers: false) are not implemented by minikubelet; remove the field or set it to true", notYet)
	}
	if len(s.SchedulingGates) > 0 {
		c.add(p.Child("schedulingGates"), "not allowed: scheduling gates are removed through an API server and %s; the pod would never start", noAPIServer)
	}
	if len(s.ReadinessGates) > 0 {
		c.add(p.Child("readinessGates"), "not allowed: readiness gate conditions are set through an API server and %s; use a readinessProbe instead", noAPIServer)
	}
	if s.RuntimeClassName != nil && *s.RuntimeClassName != "" {
		c.add(p.Child("runtimeClassName"), "not supported: minikubelet runs every container with runc (%s); remove the field", "io.containerd.runc.v2")
	}
	if len(s.Overhead) > 0 {
		c.add(p.Child("overhead"), "not allowed: the overhead is set by an API server from the pod's RuntimeClass and %s", noAPIServer)
	}
	if s.AutomountServiceAccountToken != nil && *s.AutomountServiceAccountToken {
		c.add(p.Child("automountServiceAccountToken"), "not allowed: %s to mint service account tokens; remove the field or set it to false", noAPIServer)
	}
	if s.SetHostnameAsFQDN != nil && *s.SetHostnameAsFQDN {
		c.add(p.Child("setHostnameAsFQDN"), "not supported: minikubelet has no cluster domain, so the pod's name is its only hostname; remove the field")
	}
	if s.HostnameOverride != nil {
		c.add(p.Child("hostnameOverride"), "%s: use spec.hostname instead", notYet)
	}
	if s.SchedulingGroup != nil {
		c.add(p.Child("schedulingGroup"), "not allowed: scheduling groups are scheduled together through an API server and %s", noAPIServer)
	}
	if len(s.EvictionResponders) > 0 {
		c.add(p.Child("evictionResponders"), "not allowed: eviction responders are called through an API server and %s", noAPIServer)
	}
}

// supportedVolumes are the volume sources minikubelet can provide on its
// own. Everything else either needs an API server (reported as such) or a
// storage plugin minikubelet does not have.
const supportedVolumes = "emptyDir, hostPath, downwardAPI, projected (downwardAPI sources)"

// volumes checks spec.volumes and returns the set of declared names, for
// the containers' volumeMounts.
func (c *checker) volumes(vols []v1.Volume, p *field.Path) map[string]bool {
	names := map[string]bool{}
	for i := range vols {
		v := &vols[i]
		vp := p.Index(i)
		if v.Name == "" {
			c.add(vp.Child("name"), "required")
		} else {
			c.addMsgs(vp.Child("name"), v.Name, validation.IsDNS1123Label(v.Name))
			if names[v.Name] {
				c.add(vp.Child("name"), "duplicate volume name %q", v.Name)
			}
			names[v.Name] = true
		}
		set := setVolumeSources(&v.VolumeSource)
		if len(set) > 1 {
			c.add(vp, "may not specify more than one volume type, got %s", strings.Join(set, ", "))
			continue
		}
		if len(set) == 0 {
			continue // defaulted to emptyDir, as the API server does
		}
		switch src := set[0]; src {
		case "emptyDir":
			c.emptyDir(v.EmptyDir, vp.Child("emptyDir"))
		case "hostPath":
			c.hostPath(v.HostPath, vp.Child("hostPath"))
		case "downwardAPI":
			c.downwardAPIItems(v.DownwardAPI.Items, vp.Child("downwardAPI", "items"))
			c.defaultUser(v.DownwardAPI.DefaultUser, vp.Child("downwardAPI", "defaultUser"))
		case "projected":
			c.projected(v.Projected, vp.Child("projected"))
		case "configMap", "secret":
			c.add(vp.Child(src), "not allowed: ConfigMaps and Secrets are read from an API server and %s; use a hostPath volume with the files instead", noAPIServer)
		case "persistentVolumeClaim", "ephemeral":
			c.add(vp.Child(src), "not allowed: persistent volume claims are bound by an API server and %s; use a hostPath or emptyDir volume instead", noAPIServer)
		default:
			c.add(vp.Child(src), "volume type %q is not supported by minikubelet (supported: %s)", src, supportedVolumes)
		}
	}
	return names
}

// setVolumeSources lists the JSON names of the sources set in a volume.
// Reflection keeps this right when the API grows new volume types.
func setVolumeSources(vs *v1.VolumeSource) []string {
	var set []string
	rv := reflect.ValueOf(vs).Elem()
	for i := 0; i < rv.NumField(); i++ {
		if f := rv.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			name, _, _ := strings.Cut(rv.Type().Field(i).Tag.Get("json"), ",")
			set = append(set, name)
		}
	}
	return set
}

func (c *checker) hostPath(h *v1.HostPathVolumeSource, p *field.Path) {
	if h.Path == "" {
		c.add(p.Child("path"), "required")
	} else if !path.IsAbs(h.Path) {
		c.add(p.Child("path"), "must be an absolute path, got %q", h.Path)
	} else if hasBackstep(h.Path) {
		c.add(p.Child("path"), "must not contain '..', got %q", h.Path)
	}
	if h.Type != nil {
		switch *h.Type {
		case v1.HostPathUnset, v1.HostPathDirectoryOrCreate, v1.HostPathDirectory, v1.HostPathFileOrCreate,
			v1.HostPathFile, v1.HostPathSocket, v1.HostPathCharDev, v1.HostPathBlockDev:
		default:
			c.add(p.Child("type"), "unsupported value %q", *h.Type)
		}
	}
}

// defaultUser refuses a volume's defaultUser: its files belong to root
// (or fsGroup's group), as they always did.
func (c *checker) defaultUser(u *int64, p *field.Path) {
	if u != nil {
		c.add(p, "%s: the volume's files belong to root (and fsGroup's group); remove the field", notYet)
	}
}

func (c *checker) projected(pv *v1.ProjectedVolumeSource, p *field.Path) {
	c.defaultUser(pv.DefaultUser, p.Child("defaultUser"))
	for i, s := range pv.Sources {
		sp := p.Child("sources").Index(i)
		switch {
		case s.ServiceAccountToken != nil:
			c.add(sp.Child("serviceAccountToken"), "not allowed: %s to mint service account tokens", noAPIServer)
		case s.Secret != nil:
			c.add(sp.Child("secret"), "not allowed: Secrets are read from an API server and %s", noAPIServer)
		case s.ConfigMap != nil:
			c.add(sp.Child("configMap"), "not allowed: ConfigMaps are read from an API server and %s", noAPIServer)
		case s.ClusterTrustBundle != nil:
			c.add(sp.Child("clusterTrustBundle"), "not allowed: ClusterTrustBundles are read from an API server and %s", noAPIServer)
		case s.PodCertificate != nil:
			c.add(sp.Child("podCertificate"), "not allowed: pod certificates are issued through an API server and %s", noAPIServer)
		case s.DownwardAPI != nil:
			c.downwardAPIItems(s.DownwardAPI.Items, sp.Child("downwardAPI", "items"))
		default:
			c.add(sp, "must specify a source (downwardAPI)")
		}
	}
}

// volumeFieldPaths are the pod fields a downwardAPI volume may expose.
var volumeFieldPaths = []string{"metadata.name", "metadata.namespace", "metadata.uid", "metadata.labels", "metadata.annotations"}

func (c *checker) downwardAPIItems(items []v1.DownwardAPIVolumeFile, p *field.Path) {
	for i, it := range items {
		ip := p.Index(i)
		if it.Path == "" {
			c.add(ip.Child("path"), "required")
		} else if path.IsAbs(it.Path) || strings.Split(path.Clean(it.Path), "/")[0] == ".." {
			c.add(ip.Child("path"), "must be a relative path inside the volume, got %q", it.Path)
		}
		switch {
		case it.FieldRef != nil && it.ResourceFieldRef != nil:
			c.add(ip, "fieldRef and resourceFieldRef are mutually exclusive")
		case it.FieldRef != nil:
			fp := it.FieldRef.FieldPath
			ok := false
			for _, allowed := range volumeFieldPaths {
				ok = ok || fp == allowed || isSubscript(fp, allowed)
			}
			if !ok {
				c.add(ip.Child("fieldRef", "fieldPath"), "unsupported value %q: supported: %s, metadata.labels['key'], metadata.annotations['key']", fp, strings.Join(volumeFieldPaths, ", "))
			}
			c.fieldRefAPIVersion(it.FieldRef, ip.Child("fieldRef"))
		case it.ResourceFieldRef != nil:
			if it.ResourceFieldRef.ContainerName == "" {
				c.add(ip.Child("resourceFieldRef", "containerName"), "required in a volume")
			}
		default:
			c.add(ip, "must specify fieldRef or resourceFieldRef")
		}
	}
}

// isSubscript reports whether fp is base['key'], the downward API syntax
// for one label or annotation.
func isSubscript(fp, base string) bool {
	rest, ok := strings.CutPrefix(fp, base+"['")
	return ok && strings.HasSuffix(rest, "']") && len(rest) > 2
}

func (c *checker) fieldRefAPIVersion(f *v1.ObjectFieldSelector, p *field.Path) {
	if f.APIVersion != "" && f.APIVersion != "v1" {
		c.add(p.Child("apiVersion"), `unsupported value %q: must be "v1"`, f.APIVersion)
	}
}

func sortedMapKeys[K ~string, V any](m map[K]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	return keys
}
