package smppd

import (
	"crypto/tls"
	"errors"
	"net"
)

// DefaultTLSAddr is the address ListenAndServeTLS uses when Addr is "":
// 3550 is IANA's port for SMPP over TLS.
const DefaultTLSAddr = ":3550"

// ListenAndServeTLS listens on srv.Addr (":3550" when empty) and serves SMPP
// over TLS; see ServeTLS for certFile and keyFile.
func (srv *Server) ListenAndServeTLS(certFile, keyFile string) error {
	if srv.inShutdown.Load() {
		return ErrServerClosed
	}
	cfg, err := srv.tlsConfig(certFile, keyFile)
	if err != nil {
		return err
	}
	addr := srv.Addr
	if addr == "" {
		addr = DefaultTLSAddr
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return srv.serve(l, cfg)
}

// ServeTLS is Serve with TLS on every connection. The configuration is a
// clone of srv.TLSConfig with MinVersion raised to TLS 1.2 when lower; when
// certFile and keyFile are not empty the pair is loaded and used in place
// of TLSConfig.Certificates. Without a certificate, TLSConfig must provide
// GetCertificate (which lets the caller reload certificates while serving)
// or GetConfigForClient. The handshake runs on the session's goroutine,
// bounded by BindTimeout; failures close the session as TLSHandshakeError.
func (srv *Server) ServeTLS(l net.Listener, certFile, keyFile string) error {
	cfg, err := srv.tlsConfig(certFile, keyFile)
	if err != nil {
		l.Close()
		return err
	}
	return srv.serve(l, cfg)
}

func (srv *Server) tlsConfig(certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{}
	if srv.TLSConfig != nil {
		cfg = srv.TLSConfig.Clone()
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if len(cfg.Certificates) == 0 && cfg.GetCertificate == nil && cfg.GetConfigForClient == nil {
		return nil, errors.New("smppd: TLS needs a certificate: certFile/keyFile, TLSConfig.Certificates or TLSConfig.GetCertificate")
	}
	return cfg, nil
}
