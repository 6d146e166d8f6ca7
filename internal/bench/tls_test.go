package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/smppd/smppd/internal/responder"
)

// selfSignedTLS returns a server config for 127.0.0.1 and a client config
// that trusts exactly that certificate.
func selfSignedTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "bench test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

func TestRunOverTLS(t *testing.T) {
	serverTLS, clientTLS := selfSignedTLS(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &responder.Server{Receipts: true}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(tls.NewListener(l, serverTLS)) }()
	t.Cleanup(func() { srv.Close(); <-done })

	res, err := Run(context.Background(), Options{
		Addr: l.Addr().String(), TLS: clientTLS, Binds: 2, Window: 5, Count: 100, RegisteredDelivery: true,
	})
	if err != nil {
		t.Fatalf("Run() over TLS: %v", err)
	}
	if res.Acked != 100 || res.Receipts != 100 {
		t.Errorf("over TLS: acked %d receipts %d, want 100 and 100", res.Acked, res.Receipts)
	}

	// A client that does not trust the certificate must not bind.
	_, err = Run(context.Background(), Options{Addr: l.Addr().String(), TLS: &tls.Config{ServerName: "127.0.0.1"}, Count: 1})
	var uae x509.UnknownAuthorityError
	if !errors.As(err, &uae) {
		t.Errorf("Run() with an untrusted certificate: %v, want x509.UnknownAuthorityError", err)
	}
}
