package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/smppd/smppd/internal/admin"
	"github.com/smppd/smppd/internal/gateway"
	"github.com/smppd/smppd/internal/metrics"
	"github.com/smppd/smppd/internal/msgstore"
	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/smppd"
	"github.com/smppd/smppd/tokenstore"
)

// serveOptions are the flags of `smppd serve`.
type serveOptions struct {
	listen          string
	httpListen      string
	tlsListen       string
	tlsCert         string
	tlsKey          string
	logFormat       string
	logLevel        string
	dev             bool
	systemID        string
	bindTimeout     time.Duration
	enquireInterval time.Duration
	enquireMax      int
	idleTimeout     time.Duration
	responseTimeout time.Duration
	window          int
	maxPending      int
	maxPDUSize      int
	maxConns        int
	maxConnsPerIP   int
	receiptTTL      time.Duration
	receiptDelay    time.Duration
	defaultValidity time.Duration
	messageIDFormat string
	shutdownTimeout time.Duration
	failedBindDelay time.Duration
	retention       time.Duration
	noSync          bool
}

func newServeCmd(g *globalOptions) *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the SMPP gateway",
		Long: `Run the SMPP gateway: an SMPP 3.4 listener that authenticates binds with API
tokens (see 'smppd token'), commits every accepted message to the message
store before answering ESME_ROK, simulates delivery for test-mode tokens, and
sends delivery receipts as deliver_sm to the token's RX/TRX binds.

Metrics (/metrics), liveness (/healthz) and readiness (/readyz) are served
on --http-listen. While it runs, 'smppd token ...' talks to it through the
admin socket in the data directory. SIGTERM or SIGINT shuts down gracefully
(unbind every session, finish in-flight commits); a second signal forces it.`,
		Example: `  # a throw-away gateway with a test-mode token printed at start
  smppd serve --dev

  # production: data in /var/lib/smppd, TLS beside plain SMPP, JSON logs
  smppd serve --data-dir /var/lib/smppd --tls-listen :3550 \
      --tls-cert /etc/smppd/cert.pem --tls-key /etc/smppd/key.pem --log-format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "0.0.0.0:2775", "SMPP listen address (empty disables plain SMPP)")
	f.StringVar(&o.httpListen, "http-listen", "127.0.0.1:9775", "metrics and health listen address (empty disables)")
	f.StringVar(&o.tlsListen, "tls-listen", "", "SMPP over TLS listen address (IANA port 3550); needs --tls-cert and --tls-key")
	f.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate file (PEM); reloaded on SIGHUP")
	f.StringVar(&o.tlsKey, "tls-key", "", "TLS private key file (PEM)")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.BoolVar(&o.dev, "dev", false, "development mode: a throw-away data directory and a test-mode token printed at start")
	f.StringVar(&o.systemID, "system-id", "smppd", "system_id the gateway sends in bind_resp")
	f.DurationVar(&o.bindTimeout, "bind-timeout", 30*time.Second, "close connections that have not bound within this time")
	f.DurationVar(&o.enquireInterval, "enquire-interval", 30*time.Second, "send enquire_link after the link was idle this long")
	f.IntVar(&o.enquireMax, "enquire-max-unanswered", 3, "close the session after this many unanswered enquire_link")
	f.DurationVar(&o.idleTimeout, "idle-timeout", 5*time.Minute, "close sessions that sent nothing for this long (0 disables)")
	f.DurationVar(&o.responseTimeout, "response-timeout", 30*time.Second, "how long a client has to answer a deliver_sm before it is sent again")
	f.IntVar(&o.window, "window", 10, "outbound window: unacknowledged deliver_sm per session")
	f.IntVar(&o.maxPending, "max-pending", 256, "inbound window: unanswered requests per session before ESME_RTHROTTLED")
	f.IntVar(&o.maxPDUSize, "max-pdu-size", pdu.DefaultMaxLen, "largest command_length accepted, in octets")
	f.IntVar(&o.maxConns, "max-conns", 10000, "maximum connections (0: unlimited)")
	f.IntVar(&o.maxConnsPerIP, "max-conns-per-ip", 200, "maximum connections from one IP address (0: unlimited)")
	f.DurationVar(&o.receiptTTL, "receipt-ttl", 72*time.Hour, "how long an undelivered receipt waits for a receiver")
	f.DurationVar(&o.receiptDelay, "test-receipt-delay", 0, "delay before the test-mode simulator reports an outcome")
	f.DurationVar(&o.defaultValidity, "default-validity", 48*time.Hour, "validity period of messages that set none")
	f.StringVar(&o.messageIDFormat, "message-id-format", "hex", "message id spelling: hex, decimal or uuid")
	f.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long graceful shutdown waits for clients to unbind")
	f.DurationVar(&o.retention, "message-retention", 7*24*time.Hour, "how long final messages stay queryable with query_sm before they are deleted")
	f.DurationVar(&o.failedBindDelay, "failed-bind-delay", time.Second, "hold the answer to a failed bind this long, slowing password guessing (0 disables)")
	f.BoolVar(&o.noSync, "unsafe-no-sync", false, "skip fsync on commit (benchmarks only: an acknowledged message can be lost)")
	return cmd
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageErrorf("--log-level: %q is not one of debug, info, warn, error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageErrorf("--log-format: %q is not text or json", format)
}

func (o *serveOptions) validate() error {
	if o.listen == "" && o.tlsListen == "" {
		return usageErrorf("nothing to listen on: set --listen or --tls-listen")
	}
	if (o.tlsListen != "") != (o.tlsCert != "" && o.tlsKey != "") {
		return usageErrorf("--tls-listen needs both --tls-cert and --tls-key (and they need --tls-listen)")
	}
	if o.window < 1 {
		return usageErrorf("--window must be at least 1")
	}
	if o.maxPending < 1 {
		return usageErrorf("--max-pending must be at least 1")
	}
	if o.maxPDUSize < pdu.HeaderLen || o.maxPDUSize > 1<<20 {
		return usageErrorf("--max-pdu-size must be between %d and %d", pdu.HeaderLen, 1<<20)
	}
	if o.enquireMax < 1 {
		return usageErrorf("--enquire-max-unanswered must be at least 1")
	}
	if o.receiptDelay < 0 || o.receiptTTL <= 0 || o.defaultValidity <= 0 {
		return usageErrorf("--test-receipt-delay must not be negative; --receipt-ttl and --default-validity must be positive")
	}
	return nil
}

func runServe(ctx context.Context, g *globalOptions, o *serveOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	idFormat, err := gateway.ParseIDFormat(o.messageIDFormat)
	if err != nil {
		return usageErrorf("--message-id-format: %v", err)
	}
	if o.failedBindDelay == 0 {
		o.failedBindDelay = -1 // the gateway reads zero as "default"
	}
	log, err := newLogger(g.Stderr, o.logFormat, o.logLevel)
	if err != nil {
		return err
	}

	dataDir := g.DataDir
	if o.dev {
		if dataDir, err = os.MkdirTemp("", "smppd-dev-"); err != nil {
			return err
		}
		defer os.RemoveAll(dataDir)
	}
	if err := prepareDataDir(dataDir, log); err != nil {
		return err
	}

	tokens, err := tokenstore.Open(filepath.Join(dataDir, "tokens.db"), tokenstore.Options{})
	if err != nil {
		return fmt.Errorf("opening token store: %w", err)
	}
	defer tokens.Close()
	masterKey, err := tokenstore.LoadOrCreateMasterKey(dataDir)
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg)

	store, err := msgstore.Open(filepath.Join(dataDir, "messages.db"), msgstore.Options{NoSync: o.noSync, Logger: log})
	if err != nil {
		return fmt.Errorf("opening message store: %w", err)
	}
	store.OnCommit = m.Commit
	reg.MustRegister(metrics.NewStoreCollector(store.Stats))

	gw := gateway.New(gateway.Config{
		IDFormat:         idFormat,
		ReceiptTTL:       o.receiptTTL,
		TestReceiptDelay: o.receiptDelay,
		DefaultValidity:  o.defaultValidity,
		FailedBindDelay:  o.failedBindDelay,
		MessageRetention: o.retention,
		Logger:           log,
		Observer:         m,
	}, tokens, store)

	srv := &smppd.Server{
		Handler:               gw,
		Auth:                  gw,
		SystemID:              o.systemID,
		BindTimeout:           o.bindTimeout,
		EnquireLinkInterval:   o.enquireInterval,
		MaxUnansweredEnquires: o.enquireMax,
		IdleTimeout:           o.idleTimeout,
		ResponseTimeout:       o.responseTimeout,
		WindowSize:            o.window,
		MaxPending:            o.maxPending,
		MaxPDULen:             o.maxPDUSize,
		MaxConns:              o.maxConns,
		MaxConnsPerIP:         o.maxConnsPerIP,
		Logger:                log,
		PDUHook:               m.PDU,
		ConnState: func(s *smppd.Session, st smppd.ConnState) {
			gw.ConnState(s, st)
			m.ConnState(s, st)
		},
	}

	adm := admin.NewServer(tokens, masterKey, log)
	adm.Hooks.TokenChanged = gw.TokenChanged
	registerAdminOps(adm, srv, store, dataDir, filepath.Join(dataDir, "messages.db"), time.Now())

	// Listeners first: a port in use fails the start before anything runs.
	var plain, secure net.Listener
	if o.listen != "" {
		if plain, err = net.Listen("tcp", o.listen); err != nil {
			return fmt.Errorf("--listen: %w", err)
		}
	}
	var certs *certReloader
	if o.tlsListen != "" {
		if certs, err = newCertReloader(o.tlsCert, o.tlsKey); err != nil {
			return err
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.get}
		if secure, err = net.Listen("tcp", o.tlsListen); err != nil {
			return fmt.Errorf("--tls-listen: %w", err)
		}
	}
	var httpSrv *http.Server
	var httpLn net.Listener
	if o.httpListen != "" {
		if httpLn, err = net.Listen("tcp", o.httpListen); err != nil {
			return fmt.Errorf("--http-listen: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
		mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
			if ctx.Err() != nil {
				http.Error(w, "shutting down", http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, "ready\n")
		})
		// Profiles for operators; --http-listen is loopback by default.
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	}

	// The admin socket before anything serves: a second daemon on the same
	// data directory stops here (bbolt's lock would stop it too, but this
	// names the problem).
	adminLn, err := admin.Listen(filepath.Join(dataDir, admin.SocketFile))
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	serveCtx, cancelServe := context.WithCancel(context.Background())
	defer cancelServe()
	adminErr := make(chan error, 1)
	go func() { adminErr <- adm.ServeListener(serveCtx, adminLn) }()

	if o.dev {
		if err := printDevToken(ctx, g.Stdout, tokens, plain, dataDir); err != nil {
			return err
		}
	}

	gw.Start()
	errc := make(chan error, 3)
	if plain != nil {
		go func() { errc <- srv.Serve(plain) }()
	}
	if secure != nil {
		go func() { errc <- srv.ServeTLS(secure, "", "") }()
	}
	if httpSrv != nil {
		go func() { errc <- httpSrv.Serve(httpLn) }()
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	log.Info("smppd serving", "listen", addrOf(plain), "tls_listen", addrOf(secure), "http_listen", addrOf(httpLn),
		"data_dir", dataDir, "version", version())

	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-hup:
			if certs != nil {
				if err := certs.reload(); err != nil {
					log.Error("reloading TLS certificate", "err", err)
				} else {
					log.Info("TLS certificate reloaded")
				}
			}
		case err := <-errc:
			if !errors.Is(err, smppd.ErrServerClosed) && !errors.Is(err, http.ErrServerClosed) {
				runErr = err
				break loop
			}
		case err := <-adminErr:
			if err != nil {
				runErr = fmt.Errorf("admin socket: %w", err)
				break loop
			}
		}
	}

	// Graceful shutdown; a second signal forces the exit.
	force := make(chan os.Signal, 1)
	signal.Notify(force, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(force)
	go func() {
		<-force
		log.Warn("second signal: exiting without waiting")
		os.Exit(exitSignals)
	}()
	log.Info("shutting down", "timeout", o.shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown: sessions force-closed", "err", err)
	}
	if httpSrv != nil {
		httpSrv.Shutdown(sctx)
	}
	cancelServe()
	gw.Stop()
	if err := store.Close(); err != nil {
		log.Error("closing message store", "err", err)
	}
	log.Info("stopped")
	return runErr
}

func addrOf(l net.Listener) string {
	if l == nil {
		return ""
	}
	return l.Addr().String()
}

// prepareDataDir creates the data directory (0700) and warns when an
// existing one is readable by others: it holds the message store.
func prepareDataDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		log.Warn("data directory is accessible by other users; chmod 700 it", "data_dir", dir, "mode", fi.Mode().Perm().String())
	}
	return nil
}

// printDevToken creates the --dev token and prints how to bind with it.
func printDevToken(ctx context.Context, w io.Writer, tokens *tokenstore.Store, l net.Listener, dataDir string) error {
	tok, sec, err := tokens.Create(ctx, tokenstore.CreateParams{
		Name:        "dev",
		Permissions: tokenstore.Permissions{SMPP: true, HTTP: true},
		TestMode:    true,
	})
	if err != nil {
		return fmt.Errorf("--dev: creating the test token: %w", err)
	}
	addr := "127.0.0.1:2775"
	if l != nil {
		_, port, _ := net.SplitHostPort(l.Addr().String())
		addr = "127.0.0.1:" + port
	}
	fmt.Fprintf(w, `smppd is running in development mode (data in %s, removed at exit).
A test-mode token was created; bind to it with any SMPP client:

  address    %s
  system_id  %s
  password   %s

Test mode never sends anything: destinations ending in 9001..9006 simulate failures (see README).
Try it:  smppd bench --addr %s --system-id %s --password '%s' --count 1000 --registered-delivery
`, dataDir, addr, tok.SystemID, sec.Password, addr, tok.SystemID, strings.ReplaceAll(sec.Password, "'", `'\''`))
	return nil
}
