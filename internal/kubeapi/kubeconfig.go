package kubeapi

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// ClientLifetime is the validity of the certificates `minikubelet
// kubeconfig` issues; running it again renews them.
const ClientLifetime = 7 * 24 * time.Hour

// Kubeconfig issues a client certificate for role and returns a kubeconfig
// for it: cluster, user and context are named after node. server "" is
// https://<listen>. The certificate's common name is "<role>@<node>".
func (p *PKI) Kubeconfig(node, listen, role, server string) ([]byte, error) {
	if server == "" {
		if listen == "" {
			return nil, fmt.Errorf("the Kubernetes API is disabled (kube-api-address is empty)")
		}
		server = "https://" + listen
	}
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("server %q: must be an https:// URL with a host", server)
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil && !strings.Contains(err.Error(), "missing port") {
		return nil, fmt.Errorf("server %q: %v", server, err)
	}
	cc, err := p.IssueClient(role+"@"+node, role, ClientLifetime)
	if err != nil {
		return nil, err
	}
	name := node
	userName := role + "@" + node
	doc := map[string]any{
		"apiVersion": "v1",
		"kind":       "Config",
		"clusters": []any{map[string]any{"name": name, "cluster": map[string]any{
			"server": server, "certificate-authority-data": p.caPEM,
		}}},
		"users": []any{map[string]any{"name": userName, "user": map[string]any{
			"client-certificate-data": cc.CertPEM, "client-key-data": cc.KeyPEM,
		}}},
		"contexts": []any{map[string]any{"name": name, "context": map[string]any{
			"cluster": name, "user": userName, "namespace": "default",
		}}},
		"current-context": name,
		"preferences":     map[string]any{},
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	header := fmt.Sprintf("# minikubelet kubeconfig for node %s, role %s; the certificate expires %s:\n# run `minikubelet kubeconfig --role %s` again to renew it.\n",
		node, role, cc.NotAfter.UTC().Format(time.RFC3339), role)
	return append([]byte(header), out...), nil
}
