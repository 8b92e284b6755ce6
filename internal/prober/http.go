package prober

import (
	"context"
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/httpget"
)

// runHTTP sends one GET (httpget: the request lifecycle hooks send too)
// and passes on a status of 200-399.
func runHTTP(ctx context.Context, a *v1.HTTPGetAction, t Target, dial Dialer, timeout time.Duration, kubeVersion string) (Result, string) {
	port, err := resolvePort(a.Port, t)
	if err != nil {
		return Unknown, "http probe: " + err.Error()
	}
	g, err := httpget.New(ctx, httpget.Spec{
		Action: a, Port: port, PodIP: t.PodIP, InPod: dial,
		Agent: httpget.AgentProbe, KubeVersion: kubeVersion, Timeout: timeout,
	})
	if err != nil {
		return Unknown, "http probe: " + routeError(err, t).Error()
	}
	res, err := g.Do()
	if err == nil {
		err = res.BodyErr
	}
	if err != nil {
		if canceled(ctx) {
			return Unknown, "http probe canceled"
		}
		// e.g. `Get "http://10.1.0.5:8080/healthz": dial tcp 10.1.0.5:8080:
		// connect: connection refused`, as the kubelet quotes it.
		return Failure, err.Error()
	}
	switch code := res.StatusCode; {
	case code >= 200 && code < 300:
		return Success, ""
	case code >= 300 && code < 400:
		// A redirect that was not followed (another host, or one without a
		// Location): the kubelet passes it with a warning.
		return Success, fmt.Sprintf("Probe terminated redirects, Response body: %s", res.Body)
	default:
		return Failure, fmt.Sprintf("HTTP probe failed with statuscode: %d", code)
	}
}
