// Package kubeapi serves the subset of the Kubernetes API that lets an
// operator's own kubectl read the node (SPEC section 6): discovery,
// version, pods (with server-side Tables), events and namespaces, on a TLS
// listener that takes only client certificates signed by the node CA, and
// on the unix socket. It also keeps the node PKI under <state-dir>/pki/ and
// issues the client certificates `minikubelet kubeconfig` prints.
package kubeapi
