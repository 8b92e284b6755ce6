package printers

import (
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// writeVolumes writes the Volumes section: per volume its type and the
// fields that identify it, for the sources a node-local pod can use and
// the common cluster ones.
func writeVolumes(d *describeWriter, vols []v1.Volume) {
	if len(vols) == 0 {
		d.write(0, "Volumes:\t%s\n", none)
		return
	}
	d.write(0, "Volumes:\n")
	for _, v := range vols {
		d.write(1, "%s:\n", v.Name)
		src := v.VolumeSource
		switch {
		case src.HostPath != nil:
			t := none
			if src.HostPath.Type != nil {
				t = string(*src.HostPath.Type)
			}
			d.write(2, "Type:\tHostPath (bare host directory volume)\n")
			d.write(2, "Path:\t%s\n", src.HostPath.Path)
			d.write(2, "HostPathType:\t%s\n", t)
		case src.EmptyDir != nil:
			limit := "<unset>"
			if sl := src.EmptyDir.SizeLimit; sl != nil && sl.Cmp(resource.Quantity{}) > 0 {
				limit = sl.String()
			}
			d.write(2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n")
			d.write(2, "Medium:\t%s\n", src.EmptyDir.Medium)
			d.write(2, "SizeLimit:\t%s\n", limit)
		case src.Secret != nil:
			d.write(2, "Type:\tSecret (a volume populated by a Secret)\n")
			d.write(2, "SecretName:\t%s\n", src.Secret.SecretName)
			d.write(2, "Optional:\t%t\n", src.Secret.Optional != nil && *src.Secret.Optional)
		case src.ConfigMap != nil:
			d.write(2, "Type:\tConfigMap (a volume populated by a ConfigMap)\n")
			d.write(2, "Name:\t%s\n", src.ConfigMap.Name)
			d.write(2, "Optional:\t%t\n", src.ConfigMap.Optional != nil && *src.ConfigMap.Optional)
		case src.PersistentVolumeClaim != nil:
			d.write(2, "Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)\n")
			d.write(2, "ClaimName:\t%s\n", src.PersistentVolumeClaim.ClaimName)
			d.write(2, "ReadOnly:\t%t\n", src.PersistentVolumeClaim.ReadOnly)
		case src.DownwardAPI != nil:
			d.write(2, "Type:\tDownwardAPI (a volume populated by information about the pod)\n")
			d.write(2, "Items:\n")
			for _, item := range src.DownwardAPI.Items {
				if item.FieldRef != nil {
					d.write(3, "%s -> %s\n", item.FieldRef.FieldPath, item.Path)
				}
				if item.ResourceFieldRef != nil {
					d.write(3, "%s -> %s\n", item.ResourceFieldRef.Resource, item.Path)
				}
			}
		case src.Projected != nil:
			writeProjected(d, src.Projected)
		case src.Image != nil:
			d.write(2, "Type:\tImage (a container image or OCI artifact)\n")
			d.write(2, "Reference:\t%s\n", src.Image.Reference)
			d.write(2, "PullPolicy:\t%s\n", src.Image.PullPolicy)
		case src.CSI != nil:
			d.write(2, "Type:\tCSI (a Container Storage Interface (CSI) volume source)\n")
			d.write(2, "Driver:\t%s\n", src.CSI.Driver)
		default:
			d.write(2, "<unknown>\n")
		}
	}
}

func writeProjected(d *describeWriter, p *v1.ProjectedVolumeSource) {
	d.write(2, "Type:\tProjected (a volume that contains injected data from multiple sources)\n")
	for _, s := range p.Sources {
		switch {
		case s.Secret != nil:
			d.write(2, "SecretName:\t%s\n", s.Secret.Name)
			d.write(2, "Optional:\t%t\n", s.Secret.Optional != nil && *s.Secret.Optional)
		case s.DownwardAPI != nil:
			d.write(2, "DownwardAPI:\ttrue\n")
		case s.ConfigMap != nil:
			d.write(2, "ConfigMapName:\t%s\n", s.ConfigMap.Name)
			d.write(2, "Optional:\t%t\n", s.ConfigMap.Optional != nil && *s.ConfigMap.Optional)
		case s.ServiceAccountToken != nil:
			exp := int64(3600)
			if s.ServiceAccountToken.ExpirationSeconds != nil {
				exp = *s.ServiceAccountToken.ExpirationSeconds
			}
			d.write(2, "TokenExpirationSeconds:\t%d\n", exp)
		}
	}
}

// QOSClass is the pod's QoS class as describe shows it: status.qosClass
// when the node reported one, else computed from the CPU and memory
// requests and limits (pod-level resources when set, else every init
// and app container, a missing request taken from its limit as the API
// server defaults it): none at all is BestEffort; limits for both on every
// container with requests equal to limits is Guaranteed; else Burstable.
func QOSClass(pod *v1.Pod) v1.PodQOSClass {
	if pod.Status.QOSClass != "" {
		return pod.Status.QOSClass
	}
	var reqs []v1.ResourceList
	var lims []v1.ResourceList
	if r := pod.Spec.Resources; r != nil && (len(r.Requests) > 0 || len(r.Limits) > 0) {
		reqs, lims = []v1.ResourceList{r.Requests}, []v1.ResourceList{r.Limits}
	} else {
		for _, cs := range [][]v1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
			for _, c := range cs {
				reqs = append(reqs, c.Resources.Requests)
				lims = append(lims, c.Resources.Limits)
			}
		}
	}
	requests, limits := v1.ResourceList{}, v1.ResourceList{}
	guaranteed := true
	for i := range reqs {
		// The API server defaults a missing request to its limit; a
		// manifest read from disk may not have been defaulted yet.
		req := v1.ResourceList{}
		for name, q := range lims[i] {
			req[name] = q
		}
		for name, q := range reqs[i] {
			req[name] = q
		}
		addQOS(requests, req)
		found := addQOS(limits, lims[i])
		if !found[v1.ResourceCPU] || !found[v1.ResourceMemory] {
			guaranteed = false
		}
	}
	if len(requests) == 0 && len(limits) == 0 {
		return v1.PodQOSBestEffort
	}
	if guaranteed {
		for name, req := range requests {
			if lim, ok := limits[name]; !ok || lim.Cmp(req) != 0 {
				guaranteed = false
				break
			}
		}
	}
	if guaranteed && len(requests) == len(limits) {
		return v1.PodQOSGuaranteed
	}
	return v1.PodQOSBurstable
}

// addQOS adds the positive CPU and memory quantities of src into sum and
// reports which were present.
func addQOS(sum, src v1.ResourceList) map[v1.ResourceName]bool {
	found := map[v1.ResourceName]bool{}
	for _, name := range []v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory} {
		q, ok := src[name]
		if !ok || q.Sign() <= 0 {
			continue
		}
		found[name] = true
		if cur, ok := sum[name]; ok {
			cur.Add(q)
			sum[name] = cur
		} else {
			sum[name] = q.DeepCopy()
		}
	}
	return found
}
