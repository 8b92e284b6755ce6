package spec

import (
	"bufio"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// nodeCapacity is what a limit that is not set stands for (the kubelet
// uses the node's allocatable): CPU in millicores and memory in bytes. A
// variable so tests can pin it.
var nodeCapacity = func() (cpuMilli, memory int64) {
	cpuMilli = int64(goruntime.NumCPU()) * 1000
	if f, err := os.Open("/proc/meminfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				memory = kb * 1024
			}
		}
	}
	return cpuMilli, memory
}

// ResourceFieldValue resolves an env resourceFieldRef the way the kubelet
// does: the named container's request or limit (a missing limit is the
// node's capacity, a missing request is the limit or 0), divided by the
// divisor and rounded up.
func ResourceFieldValue(pod *v1.Pod, self *v1.Container, ref *v1.ResourceFieldSelector) (string, error) {
	c := self
	if ref.ContainerName != "" && ref.ContainerName != self.Name {
		c = nil
		for i := range pod.Spec.Containers {
			if pod.Spec.Containers[i].Name == ref.ContainerName {
				c = &pod.Spec.Containers[i]
			}
		}
		for i := range pod.Spec.InitContainers {
			if pod.Spec.InitContainers[i].Name == ref.ContainerName {
				c = &pod.Spec.InitContainers[i]
			}
		}
		if c == nil {
			return "", fmt.Errorf("resourceFieldRef: no container %q", ref.ContainerName)
		}
	}
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok || (kind != "limits" && kind != "requests") {
		return "", fmt.Errorf("resourceFieldRef: unsupported resource %q", ref.Resource)
	}
	rn := v1.ResourceName(name)
	cpuCap, memCap := nodeCapacity()
	q, set := c.Resources.Limits[rn]
	if kind == "requests" {
		if r, ok := c.Resources.Requests[rn]; ok {
			q, set = r, true
		}
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	switch rn {
	case v1.ResourceCPU:
		milli := q.MilliValue()
		if !set {
			if kind == "requests" {
				milli = 0
			} else {
				milli = cpuCap
			}
		}
		return strconv.FormatInt(ceilDiv(milli, divisor.MilliValue()), 10), nil
	case v1.ResourceMemory, v1.ResourceEphemeralStorage:
		v := q.Value()
		if !set {
			if kind == "requests" {
				v = 0
			} else if rn == v1.ResourceMemory {
				v = memCap
			}
		}
		return strconv.FormatInt(ceilDiv(v, divisor.Value()), 10), nil
	}
	return "", fmt.Errorf("resourceFieldRef: unsupported resource %q", ref.Resource)
}

func ceilDiv(a, b int64) int64 {
	if b <= 0 {
		return a
	}
	return (a + b - 1) / b
}
