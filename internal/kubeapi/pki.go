package kubeapi

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// The organizations that carry a client certificate's role (SPEC section 5).
const (
	OrgAdmin = "minikubelet:admin"
	OrgView  = "minikubelet:view"
)

// The PKI's lifetimes. The CA lives long (it is the trust anchor every
// kubeconfig carries); the serving certificate is renewed at each start
// once it is past half its life; client certificates are short, and
// `minikubelet kubeconfig` issues a new one.
const (
	caLifetime      = 10 * 365 * 24 * time.Hour
	servingLifetime = 365 * 24 * time.Hour
	// MaxClientLifetime bounds a client certificate's validity.
	MaxClientLifetime = 30 * 24 * time.Hour
)

// File names under <state-dir>/pki/.
const (
	caCertFile      = "ca.crt"
	caKeyFile       = "ca.key"
	servingCertFile = "serving.crt"
	servingKeyFile  = "serving.key"
)

// PKI is the node CA and the serving certificate.
type PKI struct {
	dir    string
	caCert *x509.Certificate
	caKey  crypto.Signer
	caPEM  []byte
	// Serving is the TLS listener's certificate.
	Serving tls.Certificate
	now     func() time.Time
}

// LoadPKI opens (or, on first start, creates) the node CA in dir, and a
// serving certificate for node with SANs node, localhost, 127.0.0.1 and
// the host of listen. The serving certificate is made anew when missing,
// past half its life, or when its SANs differ (a new node name or address).
// Keys are mode 0600 in a 0700 directory.
func LoadPKI(dir, node, listen string, now func() time.Time) (*PKI, error) {
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pki %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pki %s: %w", dir, err)
	}
	p := &PKI{dir: dir, now: now}
	if err := p.loadCA(node); err != nil {
		return nil, err
	}
	dns, ips := servingSANs(node, listen)
	if err := p.loadServing(dns, ips); err != nil {
		return nil, err
	}
	return p, nil
}

// CAPEM returns the CA certificate in PEM form, for kubeconfigs.
func (p *PKI) CAPEM() []byte { return p.caPEM }

// CertPool returns a pool holding the node CA alone.
func (p *PKI) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.caCert)
	return pool
}

func servingSANs(node, listen string) ([]string, []net.IP) {
	dns := []string{"localhost"}
	ips := []net.IP{net.IPv4(127, 0, 0, 1).To4()}
	add := func(h string) {
		if h == "" {
			return
		}
		if ip := net.ParseIP(h); ip != nil {
			if ip4 := ip.To4(); ip4 != nil {
				ip = ip4
			}
			if !slices.ContainsFunc(ips, ip.Equal) {
				ips = append(ips, ip)
			}
			return
		}
		if !slices.Contains(dns, h) {
			dns = append(dns, h)
		}
	}
	add(node)
	if host, _, err := net.SplitHostPort(listen); err == nil {
		add(host)
	}
	return dns, ips
}

func (p *PKI) path(name string) string { return filepath.Join(p.dir, name) }

func (p *PKI) loadCA(node string) error {
	cert, key, err := readPair(p.path(caCertFile), p.path(caKeyFile))
	if errors.Is(err, os.ErrNotExist) {
		k, err := newKey()
		if err != nil {
			return err
		}
		key = k
		tmpl := &x509.Certificate{
			Subject:               pkix.Name{CommonName: "minikubelet-ca@" + node},
			NotBefore:             p.now().Add(-time.Hour),
			NotAfter:              p.now().Add(caLifetime),
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
			BasicConstraintsValid: true,
			IsCA:                  true,
		}
		cert, err = sign(tmpl, key.Public(), nil, key)
		if err != nil {
			return fmt.Errorf("create node CA: %w", err)
		}
		if err := writePair(p.path(caCertFile), p.path(caKeyFile), cert, key); err != nil {
			return err
		}
	} else if err != nil {
		return fmt.Errorf("node CA in %s: %w", p.dir, err)
	}
	if !cert.IsCA {
		return fmt.Errorf("node CA %s is not a CA certificate", p.path(caCertFile))
	}
	p.caCert, p.caKey = cert, key
	p.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	return nil
}

func (p *PKI) loadServing(dns []string, ips []net.IP) error {
	cert, key, err := readPair(p.path(servingCertFile), p.path(servingKeyFile))
	fresh := err == nil && cert.CheckSignatureFrom(p.caCert) == nil &&
		p.now().Before(cert.NotBefore.Add(cert.NotAfter.Sub(cert.NotBefore)/2)) &&
		slices.Equal(cert.DNSNames, dns) && slices.EqualFunc(cert.IPAddresses, ips, net.IP.Equal)
	if !fresh {
		k, err := newKey()
		if err != nil {
			return err
		}
		key = k
		tmpl := &x509.Certificate{
			Subject:     pkix.Name{CommonName: dns[len(dns)-1]},
			NotBefore:   p.now().Add(-time.Hour),
			NotAfter:    p.now().Add(servingLifetime),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			DNSNames:    dns,
			IPAddresses: ips,
		}
		cert, err = sign(tmpl, key.Public(), p.caCert, p.caKey)
		if err != nil {
			return fmt.Errorf("create serving certificate: %w", err)
		}
		if err := writePair(p.path(servingCertFile), p.path(servingKeyFile), cert, key); err != nil {
			return err
		}
	}
	p.Serving = tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
	return nil
}

// ClientCert is an issued client certificate and its key, in PEM form.
type ClientCert struct {
	CertPEM, KeyPEM []byte
	NotAfter        time.Time
}

// IssueClient signs a client certificate for user with the organization
// of role ("admin" or "view"), valid for lifetime (at most
// MaxClientLifetime).
func (p *PKI) IssueClient(user, role string, lifetime time.Duration) (ClientCert, error) {
	org, err := orgOf(role)
	if err != nil {
		return ClientCert{}, err
	}
	if lifetime <= 0 || lifetime > MaxClientLifetime {
		return ClientCert{}, fmt.Errorf("certificate lifetime %s: must be more than 0 and at most %s", lifetime, MaxClientLifetime)
	}
	key, err := newKey()
	if err != nil {
		return ClientCert{}, err
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: user, Organization: []string{org}},
		NotBefore:   p.now().Add(-5 * time.Minute),
		NotAfter:    p.now().Add(lifetime),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	cert, err := sign(tmpl, key.Public(), p.caCert, p.caKey)
	if err != nil {
		return ClientCert{}, fmt.Errorf("issue client certificate: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return ClientCert{}, fmt.Errorf("issue client certificate: %w", err)
	}
	return ClientCert{
		CertPEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
		KeyPEM:   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		NotAfter: cert.NotAfter,
	}, nil
}

func orgOf(role string) (string, error) {
	switch role {
	case "admin":
		return OrgAdmin, nil
	case "view":
		return OrgView, nil
	}
	return "", fmt.Errorf("role %q: must be admin or view", role)
}

func newKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return k, nil
}

func sign(tmpl *x509.Certificate, pub crypto.PublicKey, parent *x509.Certificate, key crypto.Signer) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func readPair(certPath, keyPath string) (*x509.Certificate, crypto.Signer, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("%s and %s: %w", certPath, keyPath, err)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("%s: key cannot sign", keyPath)
	}
	return pair.Leaf, signer, nil
}

func writePair(certPath, keyPath string, cert *x509.Certificate, key crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("write %s: %w", keyPath, err)
	}
	if err := writeFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	return writeFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644)
}

// writeFile replaces path atomically (a temporary file, then rename).
func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
