// Package gateway is smppd's product logic behind the generic SMPP server:
// it authenticates binds with API tokens, validates and throttles
// submissions, commits them to the message store before acknowledging them,
// runs the test-mode simulator, and delivers receipts to the token's
// receivers. It plugs into smppd.Server as its Authenticator and Handler.
package gateway

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/smppd/smppd/internal/msgstore"
	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/smppd"
	"github.com/smppd/smppd/tokenstore"
)

// Config tunes the gateway. Zero values take the documented defaults.
type Config struct {
	// IDFormat spells message ids (default hex).
	IDFormat IDFormat
	// ReceiptTTL is how long a receipt waits for a receiver before it is
	// dropped and counted as expired (default 72h).
	ReceiptTTL time.Duration
	// TestReceiptDelay is how long after the submit the simulator reports
	// the outcome of a test-mode message (default 0: at once).
	TestReceiptDelay time.Duration
	// DefaultValidity is the validity period of a message that names none
	// (default 48h).
	DefaultValidity time.Duration
	// MaxSchedule caps how far in the future schedule_delivery_time may be
	// (default 7 days).
	MaxSchedule time.Duration
	// ReceiptRetry is how long a receipt that a client answered with an
	// error, or did not answer, waits before it is sent again (default 5s).
	ReceiptRetry time.Duration
	// MessageRetention is how long a final message stays queryable
	// (query_sm) before the sweeper deletes it (default 7 days; never less
	// than ReceiptTTL, so a waiting receipt's message is still there).
	MessageRetention time.Duration
	// FailedBindDelay holds the answer to a failed bind this long, so that
	// one connection cannot guess quickly (default 1s; negative disables).
	FailedBindDelay time.Duration

	Logger   *slog.Logger
	Observer Observer
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.ReceiptTTL <= 0 {
		c.ReceiptTTL = 72 * time.Hour
	}
	if c.DefaultValidity <= 0 {
		c.DefaultValidity = 48 * time.Hour
	}
	if c.MaxSchedule <= 0 {
		c.MaxSchedule = 7 * 24 * time.Hour
	}
	if c.ReceiptRetry <= 0 {
		c.ReceiptRetry = 5 * time.Second
	}
	if c.MessageRetention < c.ReceiptTTL {
		c.MessageRetention = max(7*24*time.Hour, c.ReceiptTTL)
	}
	if c.FailedBindDelay == 0 {
		c.FailedBindDelay = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Observer receives the gateway's events for metrics. Methods must be cheap
// and safe for concurrent use.
type Observer interface {
	Bind(result string) // "ok", "invalid_credentials", "refused", "error"
	Submit(status pdu.Status, d time.Duration, segments int)
	ReceiptQueued()
	ReceiptSent(status pdu.Status) // the client's deliver_sm_resp status, or StatusSysErr on timeout/close
	ReceiptsExpired(n int)
}

type nopObserver struct{}

func (nopObserver) Bind(string)                           {}
func (nopObserver) Submit(pdu.Status, time.Duration, int) {}
func (nopObserver) ReceiptQueued()                        {}
func (nopObserver) ReceiptSent(pdu.Status)                {}
func (nopObserver) ReceiptsExpired(int)                   {}

// recoveryDelay is the due time given to a test-mode message whose outcome
// the gateway reports right after the submit commits. If the process dies in
// between, the simulator loop finds the message due after the restart.
const recoveryDelay = 30 * time.Second

// Gateway implements smppd.Authenticator and smppd.Handler. Create it with
// New, run its background work with Run, and hand it to the server.
type Gateway struct {
	cfg    Config
	tokens *tokenstore.Store
	store  *msgstore.Store
	log    *slog.Logger
	obs    Observer

	mu      sync.Mutex
	byToken map[string]*tokenState
	guard   *bindGuard

	// claimed holds ids whose outcome the submit path reports itself, so
	// the due loop leaves them alone.
	claimMu sync.Mutex
	claimed map[uint64]struct{}

	dueWake chan struct{}

	// OnCallback, when set, is called after a callback was queued in the
	// store (the HTTP sender wakes up on it).
	OnCallback func()

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a gateway over the token store and the message store.
func New(cfg Config, tokens *tokenstore.Store, store *msgstore.Store) *Gateway {
	cfg.setDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Gateway{
		cfg:     cfg,
		tokens:  tokens,
		store:   store,
		log:     cfg.Logger,
		obs:     cfg.Observer,
		byToken: make(map[string]*tokenState),
		guard:   newBindGuard(),
		claimed: make(map[uint64]struct{}),
		dueWake: make(chan struct{}, 1),
		ctx:     ctx,
		cancel:  cancel,
	}
}

// Start launches the background loops: the simulator's due loop, the
// receipt sweeper, and a dispatcher per token that has receipts waiting and
// a receiver bound. Stop ends them.
func (g *Gateway) Start() {
	g.wg.Add(2)
	go g.dueLoop()
	go g.sweepLoop()
}

// Stop ends the background loops and waits for them. In-flight store
// operations complete through the store's own Close.
func (g *Gateway) Stop() {
	g.cancel()
	g.mu.Lock()
	for _, ts := range g.byToken {
		ts.wakeDispatcher()
	}
	g.mu.Unlock()
	g.wg.Wait()
}

func (g *Gateway) now() time.Time { return g.cfg.Now() }

// wake signals a loop's buffered wake channel without blocking.
func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// storeStatus maps a store error to the status the client is told.
func storeStatus(err error) pdu.Status {
	switch {
	case err == nil:
		return pdu.StatusOK
	case errors.Is(err, msgstore.ErrQueueFull):
		return pdu.StatusMsgQFul
	default:
		return pdu.StatusSysErr
	}
}

var _ smppd.Authenticator = (*Gateway)(nil)
var _ smppd.Handler = (*Gateway)(nil)
