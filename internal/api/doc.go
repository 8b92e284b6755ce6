// Package api owns minikubelet's HTTP/1.1 API on its unix socket: the server
// that answers the CLI and other local tools with Kubernetes v1 shapes
// (pods, events, container logs, health, metrics), and the client the CLI
// uses to talk to it.
package api
