package spec

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// ResolvePort turns a probe or hook port (a number or a container port
// name) into a number. A name is looked up in the container first, then in
// the pod's other containers, so a probe may name a port a sibling
// declares.
func ResolvePort(port intstr.IntOrString, c *v1.Container, pod *v1.Pod) (int, error) {
	if port.Type == intstr.Int {
		return checkPort(int(port.IntVal))
	}
	name := port.StrVal
	if n, ok := findPort(c, name); ok {
		return checkPort(n)
	}
	if pod != nil {
		for _, list := range [][]v1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
			for i := range list {
				if n, ok := findPort(&list[i], name); ok {
					return checkPort(n)
				}
			}
		}
	}
	return 0, fmt.Errorf("no container port named %q", name)
}

func findPort(c *v1.Container, name string) (int, bool) {
	if c == nil {
		return 0, false
	}
	for _, p := range c.Ports {
		if p.Name == name {
			return int(p.ContainerPort), true
		}
	}
	return 0, false
}

func checkPort(n int) (int, error) {
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %d out of range 1-65535", n)
	}
	return n, nil
}
