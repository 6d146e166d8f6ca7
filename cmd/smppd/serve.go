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
	"github.com/spf13/pflag"

	"github.com/smppd/smppd/internal/admin"
	"github.com/smppd/smppd/internal/callback"
	"github.com/smppd/smppd/internal/config"
	"github.com/smppd/smppd/internal/gateway"
	"github.com/smppd/smppd/internal/metrics"
	"github.com/smppd/smppd/internal/msgstore"
	"github.com/smppd/smppd/internal/upstream"
	"github.com/smppd/smppd/smppd"
	"github.com/smppd/smppd/tokenstore"
)

// serveOptions are the flags of `smppd serve` that are not configuration.
type serveOptions struct {
	// flags receives the configuration flags; only the ones given on the
	// command line are read back (config.Load decides the rest).
	flags       config.Config
	printConfig bool
}

func newServeCmd(g *globalOptions) *cobra.Command {
	o := &serveOptions{flags: config.Default()}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the SMPP gateway",
		Long: `Run the SMPP gateway: an SMPP 3.4 listener that authenticates binds with API
tokens (see 'smppd token'), commits every accepted message to the message
store before answering ESME_ROK, simulates delivery for test-mode tokens, and
sends delivery receipts as deliver_sm to the token's RX/TRX binds.

Configuration comes from four layers, each overriding the ones before:
  defaults < config file (--config or SMPPD_CONFIG) < environment < flags
Every flag below is also a key of the YAML config file (same name, e.g.
receipt-ttl: 72h) and an environment variable (SMPPD_RECEIPT_TTL=72h).
--print-config shows the result, with where each value came from, and exits.
Invalid configuration stops the start with one line naming the key.

Metrics (/metrics), liveness (/healthz) and readiness (/readyz) are served
on --http-listen. While it runs, 'smppd token ...', 'smppd sessions ...' and
'smppd status' talk to it through the admin socket in the data directory.
SIGTERM or SIGINT shuts down gracefully (unbind every session, finish
in-flight commits); a second signal forces it. SIGHUP reloads the TLS
certificate.`,
		Example: `  # a throw-away gateway with a test-mode token printed at start
  smppd serve --dev

  # production: settings in a file, one overridden by the environment
  SMPPD_LOG_LEVEL=debug smppd serve --config /etc/smppd/smppd.yaml

  # check a configuration without starting: print what would run
  smppd serve --config /etc/smppd/smppd.yaml --window 50 --print-config

  # TLS beside plain SMPP, JSON logs
  smppd serve --data-dir /var/lib/smppd --tls-listen :3550 \
      --tls-cert /etc/smppd/cert.pem --tls-key /etc/smppd/key.pem --log-format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, origins, err := loadServeConfig(cmd, g)
			if o.printConfig {
				// Print even an invalid configuration: it shows the operator
				// what was merged; the error still fails the command.
				out, yerr := cfg.YAML(origins)
				if yerr != nil {
					return yerr
				}
				g.Stdout.Write(out)
			}
			if err != nil {
				return configError(err)
			}
			if o.printConfig {
				return nil
			}
			return runServe(cmd.Context(), g, cfg)
		},
	}
	f := cmd.Flags()
	c := &o.flags
	f.BoolVar(&o.printConfig, "print-config", false, "print the effective configuration as YAML (secrets masked) and exit")
	f.StringVar(&c.Listen, "listen", c.Listen, "SMPP listen address (empty disables plain SMPP; with --dev and no listen set: 127.0.0.1:2775)")
	f.StringVar(&c.HTTPListen, "http-listen", c.HTTPListen, "metrics and health listen address (empty disables)")
	f.StringVar(&c.TLSListen, "tls-listen", c.TLSListen, "SMPP over TLS listen address (IANA port 3550); needs --tls-cert and --tls-key")
	f.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "TLS certificate file (PEM); reloaded on SIGHUP")
	f.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "TLS private key file (PEM)")
	f.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log format: text or json")
	f.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: debug, info, warn or error")
	f.BoolVar(&c.Dev, "dev", c.Dev, "development mode: a throw-away data directory and a test-mode token printed at start")
	f.StringVar(&c.SystemID, "system-id", c.SystemID, "system_id the gateway sends in bind_resp")
	f.DurationVar(&c.BindTimeout, "bind-timeout", c.BindTimeout, "close connections that have not bound within this time")
	f.DurationVar(&c.EnquireInterval, "enquire-interval", c.EnquireInterval, "send enquire_link after the link was idle this long (0 disables)")
	f.IntVar(&c.EnquireMaxUnanswered, "enquire-max-unanswered", c.EnquireMaxUnanswered, "close the session after this many unanswered enquire_link")
	f.DurationVar(&c.IdleTimeout, "idle-timeout", c.IdleTimeout, "close sessions that sent nothing for this long (0 disables)")
	f.DurationVar(&c.ResponseTimeout, "response-timeout", c.ResponseTimeout, "how long a client has to answer a deliver_sm before it is sent again")
	f.IntVar(&c.MaxResponseTimeouts, "max-response-timeouts", c.MaxResponseTimeouts, "close a receiver as a slow consumer after this many deliver_sm in a row went unanswered (0: one window's worth, -1 disables)")
	f.DurationVar(&c.ReadTimeout, "read-timeout", c.ReadTimeout, "close a session whose started PDU does not complete within this time (slowloris; 0 disables)")
	f.DurationVar(&c.WriteTimeout, "write-timeout", c.WriteTimeout, "close a session as a slow consumer when one write to it blocks this long")
	f.DurationVar(&c.UnbindTimeout, "unbind-timeout", c.UnbindTimeout, "how long a server-sent unbind waits for unbind_resp")
	f.IntVar(&c.Window, "window", c.Window, "outbound window: unacknowledged deliver_sm per session")
	f.IntVar(&c.MaxPending, "max-pending", c.MaxPending, "inbound window: unanswered requests per session before ESME_RTHROTTLED")
	f.IntVar(&c.MaxPDUSize, "max-pdu-size", c.MaxPDUSize, "largest command_length accepted, in octets")
	f.IntVar(&c.MaxConns, "max-conns", c.MaxConns, "maximum connections (0: unlimited)")
	f.IntVar(&c.MaxConnsPerIP, "max-conns-per-ip", c.MaxConnsPerIP, "maximum connections from one IP address (0: unlimited)")
	f.DurationVar(&c.ReceiptTTL, "receipt-ttl", c.ReceiptTTL, "how long an undelivered receipt waits for a receiver")
	f.DurationVar(&c.TestReceiptDelay, "test-receipt-delay", c.TestReceiptDelay, "delay before the test-mode simulator reports an outcome")
	f.DurationVar(&c.DefaultValidity, "default-validity", c.DefaultValidity, "validity period of messages that set none")
	f.StringVar(&c.MessageIDFormat, "message-id-format", c.MessageIDFormat, "message id spelling: hex, decimal or uuid")
	f.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long graceful shutdown waits for clients to unbind")
	f.DurationVar(&c.MessageRetention, "message-retention", c.MessageRetention, "how long final messages stay queryable with query_sm before they are deleted (at least --receipt-ttl)")
	f.DurationVar(&c.FailedBindDelay, "failed-bind-delay", c.FailedBindDelay, "hold the answer to a failed bind this long, slowing password guessing (0 disables)")
	f.DurationVar(&c.CallbackTimeout, "callback-timeout", c.CallbackTimeout, "HTTP callbacks: time limit of one attempt")
	f.DurationVar(&c.CallbackRetryFor, "callback-retry-for", c.CallbackRetryFor, "HTTP callbacks: how long failed deliveries are retried before they are given up")
	f.IntVar(&c.CallbackWorkers, "callback-workers", c.CallbackWorkers, "HTTP callbacks: requests in flight, all receivers together")
	f.IntVar(&c.CallbackPerHost, "callback-per-host", c.CallbackPerHost, "HTTP callbacks: requests in flight to one receiver host")
	f.IntVar(&c.CallbackMaxRate, "callback-max-rate", c.CallbackMaxRate, "HTTP callbacks: requests per second, all receivers together (0: no cap)")
	f.IntVar(&c.CallbackMaxBatch, "callback-max-batch", c.CallbackMaxBatch, "HTTP callbacks: reports of one token per request at most (1: one per request)")
	f.BoolVar(&c.UnsafeNoSync, "unsafe-no-sync", c.UnsafeNoSync, "skip fsync on commit (benchmarks only: an acknowledged message can be lost)")
	// Name each flag's environment variable in --help.
	f.VisitAll(func(fl *pflag.Flag) {
		if k, ok := config.LookupKey(fl.Name); ok {
			fl.Usage += " [" + k.EnvVar() + "]"
		}
	})
	return cmd
}

// loadServeConfig merges defaults, the config file, the environment and
// the flags given on the command line (config.Load's precedence).
func loadServeConfig(cmd *cobra.Command, g *globalOptions) (config.Config, config.Origins, error) {
	var flags []config.Flag
	cmd.Flags().Visit(func(fl *pflag.Flag) {
		flags = append(flags, config.Flag{Name: fl.Name, Value: fl.Value.String()})
	})
	return config.Load(config.LoadOptions{File: g.ConfigFile, LookupEnv: os.LookupEnv, Flags: flags})
}

// configError makes a configuration problem a usage error (exit 2) with a
// hint.
func configError(err error) error {
	if errors.Is(err, config.ErrInvalid) {
		return withHint(err, "'smppd serve --print-config' shows the merged configuration; 'smppd serve --help' lists the keys")
	}
	return err
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageErrorf("log-level: %q is not one of debug, info, warn, error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageErrorf("log-format: %q is not text or json", format)
}

// disabledIfZero maps the config's "0 disables" to the libraries' negative
// "disabled" (their zero means "default").
func disabledIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// app is the daemon's components, each built from the Config by one
// function of buildApp. A new component gets a field here, a build step in
// buildApp, a start in start and a stop in stop.
type app struct {
	cfg     config.Config
	log     *slog.Logger
	dataDir string

	reg       *prometheus.Registry
	metrics   *metrics.Metrics
	tokens    *tokenstore.Store
	masterKey []byte
	store     *msgstore.Store
	idFormat  gateway.IDFormat
	gw        *gateway.Gateway
	callbacks *callback.Sender
	upstream  *upstream.Connector
	mo        *gateway.MODispatcher
	srv       *smppd.Server
	adm       *admin.Server
	started   time.Time
}

// buildApp opens the stores and wires the components; nothing listens
// or runs yet. close releases what it opened, also after an error.
func buildApp(cfg config.Config, dataDir string, log *slog.Logger) (*app, error) {
	a := &app{cfg: cfg, log: log, dataDir: dataDir, started: time.Now()}
	a.buildMetrics()
	if err := a.openStores(); err != nil {
		a.close()
		return nil, err
	}
	if err := a.buildGateway(); err != nil {
		a.close()
		return nil, err
	}
	a.buildCallbacks()
	if err := a.buildUpstream(); err != nil {
		a.close()
		return nil, err
	}
	a.buildServer()
	a.buildAdmin()
	return a, nil
}

// start runs the background components; the listeners are served after it.
func (a *app) start() error {
	a.gw.Start()
	a.mo.Start()
	a.upstream.Start()
	if err := a.callbacks.Start(); err != nil {
		return fmt.Errorf("callback sender: %w", err)
	}
	return nil
}

// stop ends them, after the SMPP server stopped, before the stores close:
// upstream answers in flight are recorded, then MOs, the gateway's timers
// and the callbacks still being posted finish.
func (a *app) stop(ctx context.Context) {
	if err := a.upstream.Stop(ctx); err != nil {
		a.log.Warn("upstream connector: stopped before every answer came", "err", err)
	}
	a.mo.Stop()
	a.gw.Stop()
	if err := a.callbacks.Stop(ctx); err != nil {
		a.log.Warn("callback sender: requests cut short; they stay queued", "err", err)
	}
}

func (a *app) buildMetrics() {
	a.reg = prometheus.NewRegistry()
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.metrics = metrics.New(a.reg)
}

func (a *app) openStores() error {
	var err error
	if a.tokens, err = tokenstore.Open(filepath.Join(a.dataDir, "tokens.db"), tokenstore.Options{}); err != nil {
		return fmt.Errorf("opening token store: %w", err)
	}
	if a.masterKey, err = tokenstore.LoadOrCreateMasterKey(a.dataDir); err != nil {
		return err
	}
	a.store, err = msgstore.Open(filepath.Join(a.dataDir, "messages.db"), msgstore.Options{NoSync: a.cfg.UnsafeNoSync, Logger: a.log})
	if err != nil {
		return fmt.Errorf("opening message store: %w", err)
	}
	a.store.OnCommit = a.metrics.Commit
	a.reg.MustRegister(metrics.NewStoreCollector(a.store.Stats))
	return nil
}

func (a *app) buildGateway() error {
	var err error
	if a.idFormat, err = gateway.ParseIDFormat(a.cfg.MessageIDFormat); err != nil {
		return usageErrorf("message-id-format: %v", err)
	}
	a.gw = gateway.New(gateway.Config{
		IDFormat:         a.idFormat,
		ReceiptTTL:       a.cfg.ReceiptTTL,
		TestReceiptDelay: a.cfg.TestReceiptDelay,
		DefaultValidity:  a.cfg.DefaultValidity,
		FailedBindDelay:  disabledIfZero(a.cfg.FailedBindDelay),
		MessageRetention: a.cfg.MessageRetention,
		Logger:           a.log,
		Observer:         a.metrics,
	}, a.tokens, a.store)
	return nil
}

// buildCallbacks makes the sender that POSTs delivery reports to tokens'
// callback URLs; the store hands it each callback after the commit that
// queued it.
func (a *app) buildCallbacks() {
	c := a.cfg
	a.callbacks = &callback.Sender{
		Store:           a.store,
		Tokens:          callback.FromTokenStore(a.tokens, a.masterKey),
		RequestTimeout:  c.CallbackTimeout,
		RetryFor:        c.CallbackRetryFor,
		Workers:         c.CallbackWorkers,
		PerHost:         c.CallbackPerHost,
		MaxRate:         float64(c.CallbackMaxRate),
		MaxBatch:        c.CallbackMaxBatch,
		FormatMessageID: a.idFormat.Format, // the spelling submit_sm_resp used
		Observer:        a.metrics,
		Logger:          a.log.With("component", "callback"),
	}
	registerCallbackGauges(a.reg, func() int { return a.callbacks.Stats().InFlight })
	// Each commit that queued callbacks hands them to the sender in memory; the
	// sender reads the store only at start, for retries and for overflow.
	a.store.SetCallbackHook(a.callbacks.Offer)
}

// buildUpstream makes the connector that forwards live tokens' messages to
// the upstreams of the config, and the dispatcher of the MOs they send. It
// is built with no upstream too: live messages then get no route and fail
// with a receipt instead of waiting in the outbox forever.
func (a *app) buildUpstream() error {
	a.mo = a.gw.NewMODispatcher()
	conn, err := upstream.New(upstream.Options{
		Config:   a.cfg.Live,
		Store:    a.store,
		Reporter: a.gw,
		Tokens: func(idOrName string) (string, string, error) {
			t, err := a.tokens.Get(idOrName)
			return t.ID, t.Name, err
		},
		TokensGeneration: a.tokens.Generation,
		OnMO:             a.mo.Wake,
		Observer:         newUpstreamMetrics(a.reg, a.cfg.Live),
		Logger:           a.log.With("component", "upstream"),
	})
	if err != nil {
		return err // config.Validate checked the same rules; this names the key too
	}
	a.upstream = conn
	return nil
}

func (a *app) buildServer() {
	c := a.cfg
	a.srv = &smppd.Server{
		// Live tokens' submits are routed (or refused: no route) before the
		// gateway stores them for the connector.
		Handler:               smppd.Chain(a.gw, a.gw.LiveRouting(a.upstream.Routable, a.upstream.Wake)),
		Auth:                  a.gw,
		SystemID:              c.SystemID,
		BindTimeout:           c.BindTimeout,
		EnquireLinkInterval:   disabledIfZero(c.EnquireInterval),
		MaxUnansweredEnquires: c.EnquireMaxUnanswered,
		IdleTimeout:           disabledIfZero(c.IdleTimeout),
		ResponseTimeout:       c.ResponseTimeout,
		MaxResponseTimeouts:   c.MaxResponseTimeouts,
		ReadTimeout:           disabledIfZero(c.ReadTimeout),
		WriteTimeout:          c.WriteTimeout,
		UnbindTimeout:         c.UnbindTimeout,
		WindowSize:            c.Window,
		MaxPending:            c.MaxPending,
		MaxPDULen:             c.MaxPDUSize,
		MaxConns:              c.MaxConns,
		MaxConnsPerIP:         c.MaxConnsPerIP,
		Logger:                a.log,
		PDUHook:               a.metrics.PDU,
		ConnState: func(s *smppd.Session, st smppd.ConnState) {
			a.gw.ConnState(s, st)
			a.mo.ConnState(s, st)
			a.metrics.ConnState(s, st)
		},
	}
}

func (a *app) buildAdmin() {
	a.adm = admin.NewServer(a.tokens, a.masterKey, a.log)
	a.adm.Hooks.TokenChanged = a.gw.TokenChanged
	registerAdminOps(a.adm, adminDeps{
		srv: a.srv, store: a.store, tokens: a.tokens, dataDir: a.dataDir, started: a.started,
		upstreams: a.upstream.Status,
	})
	registerUpstreamOps(a.adm, a.upstream)
	registerCallbackOps(a.adm, a.store)
}

// close releases the stores; the message store last written, first closed.
func (a *app) close() {
	if a.store != nil {
		if err := a.store.Close(); err != nil {
			a.log.Error("closing message store", "err", err)
		}
	}
	if a.tokens != nil {
		a.tokens.Close()
	}
}

// listeners are the sockets the daemon serves.
type listeners struct {
	plain, secure, http net.Listener
	certs               *certReloader
}

func (l *listeners) close() {
	for _, ln := range []net.Listener{l.plain, l.secure, l.http} {
		if ln != nil {
			ln.Close()
		}
	}
}

// listen opens every configured socket: a port in use fails the start
// before anything runs.
func (a *app) listen() (*listeners, error) {
	c := a.cfg
	l := &listeners{}
	var err error
	if c.Listen != "" {
		if l.plain, err = net.Listen("tcp", c.Listen); err != nil {
			return l, fmt.Errorf("listen: %w", err)
		}
	}
	if c.TLSListen != "" {
		if l.certs, err = newCertReloader(c.TLSCert, c.TLSKey); err != nil {
			return l, err
		}
		a.srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: l.certs.get}
		if l.secure, err = net.Listen("tcp", c.TLSListen); err != nil {
			return l, fmt.Errorf("tls-listen: %w", err)
		}
	}
	if c.HTTPListen != "" {
		if l.http, err = net.Listen("tcp", c.HTTPListen); err != nil {
			return l, fmt.Errorf("http-listen: %w", err)
		}
	}
	return l, nil
}

// httpServer serves metrics, health and profiles.
func (a *app) httpServer(ctx context.Context) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg}))
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
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
}

func runServe(ctx context.Context, g *globalOptions, cfg config.Config) error {
	log, err := newLogger(g.Stderr, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return err
	}
	dataDir := cfg.DataDir
	if cfg.Dev {
		if dataDir, err = os.MkdirTemp("", "smppd-dev-"); err != nil {
			return err
		}
		defer os.RemoveAll(dataDir)
	}
	if err := prepareDataDir(dataDir, log); err != nil {
		return err
	}
	a, err := buildApp(cfg, dataDir, log)
	if err != nil {
		return err
	}
	defer a.close()

	ls, err := a.listen()
	if err != nil {
		ls.close()
		return err
	}
	var httpSrv *http.Server
	if ls.http != nil {
		httpSrv = a.httpServer(ctx)
	}

	// The admin socket before anything serves: a second daemon on the same
	// data directory stops here (bbolt's lock would stop it too, but this
	// names the problem).
	adminLn, err := admin.Listen(filepath.Join(dataDir, admin.SocketFile))
	if err != nil {
		ls.close()
		return fmt.Errorf("admin socket: %w", err)
	}
	serveCtx, cancelServe := context.WithCancel(context.Background())
	defer cancelServe()
	adminErr := make(chan error, 1)
	go func() { adminErr <- a.adm.ServeListener(serveCtx, adminLn) }()

	if cfg.Dev {
		if err := printDevToken(ctx, g.Stdout, a.tokens, ls.plain, dataDir); err != nil {
			return err
		}
	}

	if err := a.start(); err != nil {
		a.stop(context.Background())
		return err
	}
	errc := make(chan error, 3)
	if ls.plain != nil {
		go func() { errc <- a.srv.Serve(ls.plain) }()
	}
	if ls.secure != nil {
		go func() { errc <- a.srv.ServeTLS(ls.secure, "", "") }()
	}
	if httpSrv != nil {
		go func() { errc <- httpSrv.Serve(ls.http) }()
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	log.Info("smppd serving", "listen", addrOf(ls.plain), "tls_listen", addrOf(ls.secure), "http_listen", addrOf(ls.http),
		"data_dir", dataDir, "version", version())

	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-hup:
			if ls.certs != nil {
				if err := ls.certs.reload(); err != nil {
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
			adminErr = nil // returned: nothing to wait for at shutdown
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
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := a.srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown: sessions force-closed", "err", err)
	}
	if httpSrv != nil {
		httpSrv.Shutdown(sctx)
	}
	cancelServe()
	if adminErr != nil {
		// The admin server closes its listener, removing the socket file, on a
		// goroutine of its own: wait for it, or the process may exit first and
		// leave a stale admin.sock behind.
		select {
		case <-adminErr:
		case <-sctx.Done():
		}
	}
	a.stop(sctx)
	a.close()
	a.store, a.tokens = nil, nil // closed; the deferred close has nothing left
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
