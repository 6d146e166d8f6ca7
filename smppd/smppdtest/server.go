// Package smppdtest runs smppd servers in-process for tests: on
// 127.0.0.1:0, closed by t.Cleanup, with a raw ESME client that sends and
// expects PDUs, a Recorder ResponseWriter, a Credentials authenticator and
// an OK handler.
package smppdtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/smppd/smppd/smppd"
)

// Server is an smppd.Server listening on a loopback port. Its fields may be
// set between NewUnstartedServer and Start.
type Server struct {
	*smppd.Server
	// Addr is the listening address, "127.0.0.1:port".
	Addr string
	// Listener is the server's listener.
	Listener net.Listener
	// ClientTLSConfig trusts the server's certificate; set by StartTLS.
	ClientTLSConfig *tls.Config

	t        testing.TB
	started  bool
	served   chan struct{} // closed when Serve returned
	serveErr error
	closed   bool
}

// NewServer starts a server with handler h and authenticator auth on
// 127.0.0.1:0. t.Cleanup closes it and waits for every session goroutine.
func NewServer(t testing.TB, h smppd.Handler, auth smppd.Authenticator) *Server {
	s := NewUnstartedServer(t, h, auth)
	s.Start()
	return s
}

// NewUnstartedServer listens on 127.0.0.1:0 but does not serve until Start
// or StartTLS; clients that connect meanwhile wait in the backlog. The
// server logs nowhere unless Logger is set.
func NewUnstartedServer(t testing.TB, h smppd.Handler, auth smppd.Authenticator) *Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smppdtest: listen: %v", err)
	}
	s := &Server{
		Server: &smppd.Server{
			Handler: h,
			Auth:    auth,
			Logger:  slog.New(slog.DiscardHandler),
		},
		Addr:     l.Addr().String(),
		Listener: l,
		t:        t,
		served:   make(chan struct{}),
	}
	t.Cleanup(s.Close)
	return s
}

// Start serves plain TCP.
func (s *Server) Start() {
	s.start(func() error { return s.Server.Serve(s.Listener) })
}

// StartTLS serves TLS with a fresh self-signed certificate for 127.0.0.1
// (added to TLSConfig unless it has certificates already) and sets
// ClientTLSConfig to trust it.
func (s *Server) StartTLS() {
	s.t.Helper()
	cert, pool := selfSigned(s.t)
	if s.TLSConfig == nil {
		s.TLSConfig = &tls.Config{}
	}
	if len(s.TLSConfig.Certificates) == 0 && s.TLSConfig.GetCertificate == nil {
		s.TLSConfig.Certificates = []tls.Certificate{cert}
	}
	s.ClientTLSConfig = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	s.start(func() error { return s.Server.ServeTLS(s.Listener, "", "") })
}

func (s *Server) start(serve func() error) {
	if s.started {
		s.t.Fatal("smppdtest: server started twice")
	}
	s.started = true
	go func() {
		s.serveErr = serve()
		close(s.served)
	}()
}

// Close closes the server and its sessions at once and waits for every
// session goroutine to return (at most 10 s, then the test fails). It is
// called by t.Cleanup; calling it earlier is fine.
func (s *Server) Close() {
	if s.closed {
		return
	}
	s.closed = true
	s.Server.Close()
	s.Listener.Close()
	if s.started {
		if err := s.ServeErr(); !errors.Is(err, smppd.ErrServerClosed) {
			s.t.Errorf("smppdtest: Serve() = %v, want ErrServerClosed", err)
		}
	}
	done := make(chan struct{})
	go func() { s.Server.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.t.Errorf("smppdtest: sessions still running 10s after Close (a Handler or Authenticator blocks?)")
	}
}

// ServeErr waits for Serve to return (after Shutdown or Close) and
// returns its error.
func (s *Server) ServeErr() error {
	<-s.served
	return s.serveErr
}

// selfSigned makes an ECDSA certificate for 127.0.0.1 and a pool that
// trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("smppdtest: key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "smppdtest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("smppdtest: certificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("smppdtest: parse certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
