// Package e2e holds minikubelet's end-to-end tests: they run the real
// daemon binary against a private containerd, a registry on loopback and
// real pods, and check what a user would see (the socket API, the CLI) and
// what the node is left with (containerd objects, mounts, cgroups).
//
// They need root, containerd, runc, skopeo and docker-registry, and run only
// with MINIKUBELET_E2E=1; hack/test.sh installs what is missing and sets it.
package e2e
