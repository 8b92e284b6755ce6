package kubeapi

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"

	"go.uber.org/zap"
)

// RequireClientRole authorizes TLS requests by the client certificate's
// organization: minikubelet:admin may do everything, minikubelet:view
// only GET and HEAD. A request without a verified client certificate (the
// listener asks for one but a handler may be mounted elsewhere) or with
// neither organization gets 401 or 403: nothing is anonymous.
func RequireClientRole(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			writeStatus(w, http.StatusUnauthorized, "", "", "a client certificate signed by the node CA is required (see `minikubelet kubeconfig`)")
			return
		}
		cert := r.TLS.VerifiedChains[0][0]
		orgs := cert.Subject.Organization
		switch {
		case slices.Contains(orgs, OrgAdmin):
		case slices.Contains(orgs, OrgView):
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				writeStatus(w, http.StatusForbidden, "", "", "%s is forbidden: user %q has role view, which cannot %s; that needs role admin",
					r.URL.Path, cert.Subject.CommonName, VerbOf(r.Method))
				return
			}
		default:
			writeStatus(w, http.StatusForbidden, "", "", "user %q has no role: the certificate's organization must be %s or %s", cert.Subject.CommonName, OrgAdmin, OrgView)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Listener is the TLS listener of the Kubernetes API.
type Listener struct {
	srv *http.Server
	ln  net.Listener
}

// Listen listens on addr with the PKI's serving certificate, requiring
// client certificates signed by its CA.
func Listen(addr string, p *PKI, h http.Handler, log *zap.Logger) (*Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("kube-api-address %s: %w", addr, err)
	}
	errorLog, err := zap.NewStdLogAt(log, zap.WarnLevel)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("kube API: %w", err)
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{p.Serving},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    p.CertPool(),
		NextProtos:   []string{"http/1.1"},
	}
	srv := &http.Server{
		Handler:           RequireClientRole(h),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          errorLog,
	}
	return &Listener{srv: srv, ln: tls.NewListener(ln, cfg)}, nil
}

// Addr is the address listened on.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Serve serves until Shutdown; it returns nil then.
func (l *Listener) Serve() error {
	if err := l.srv.Serve(l.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("kube API: %w", err)
	}
	return nil
}

// Shutdown stops the listener.
func (l *Listener) Shutdown(ctx context.Context) error {
	return l.srv.Shutdown(ctx)
}
