// Package bench is smppd's load generator: it binds N SMPP sessions to a
// server, keeps a window of submit_sm outstanding on each, and measures
// throughput and latency (submit → submit_sm_resp, and submit → delivery
// receipt) with HDR-style histograms.
//
// It is built for saturating a fast server from the same small machine, so the
// hot path is cheap: each submit_sm is a pre-encoded template with its
// sequence number (and destination digits) patched in place, writes are
// coalesced into one syscall per batch, and responses are matched to their
// request by an index encoded in the sequence number instead of a map.
//
// Open loop (Options.Rate > 0) measures each message from its scheduled send
// time, not from when the window let it go, so a stalled server shows up as
// latency instead of as a lower send rate (no coordinated omission). Because
// Go timers wake about a millisecond late, a sender sends what is due within
// the next millisecond in one burst; a message that went out ahead of its
// schedule is measured from when it went out.
package bench

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// Errors returned by Options.Validate and Run.
var (
	ErrInvalidOptions = errors.New("bench: invalid options")
	ErrBindFailed     = errors.New("bench: bind failed")
)

// Options configure a run. The zero value is not usable: Addr is required and
// Validate fills in the documented defaults.
type Options struct {
	Addr       string      // host:port of the SMPP server (required)
	SystemID   string      // bind system_id
	Password   string      // bind password
	SystemType string      // bind system_type (default "")
	TLS        *tls.Config // non-nil: dial with TLS

	// BindType is "transceiver" (default; receipts come back on the same
	// sessions) or "transmitter".
	BindType string
	Binds    int // sessions, one TCP connection each (default 1)
	Window   int // outstanding submit_sm per session (default 10, max 32768)

	// Rate is the total offered load in messages per second across all
	// binds; 0 means closed loop (send whenever a window slot is free).
	Rate float64
	// Duration of the sending phase, including Warmup (default 10s when
	// Count is 0).
	Duration time.Duration
	// Idle binds the sessions and holds them for Duration without sending
	// (answering the server's enquire_link), to measure what idle sessions
	// cost a server and how fast it binds.
	Idle bool
	// Count stops sending after this many submit_sm in total (0: use Duration).
	Count int64
	// Warmup is excluded from the totals and percentiles; it is rounded up to
	// whole seconds because results are gathered per second.
	Warmup time.Duration

	Text   string // message text; empty means Size generated characters
	Size   int    // generated text length in characters when Text is empty (default 20)
	Coding string // gsm7 (default), latin1 or ucs2
	Source string // source_addr (default "smppd-bench")
	// Dest is the destination_addr; every '#' is replaced by a digit of a
	// per-session counter so destinations vary (default "4479#########0").
	Dest string

	// RegisteredDelivery asks for a final receipt per message and matches
	// receipts to submits by receipted_message_id.
	RegisteredDelivery bool
	// WaitReceipts is how long to wait after the last submit_sm_resp for the
	// outstanding receipts (default 10s with RegisteredDelivery).
	WaitReceipts time.Duration
	// Drain is how long to wait for outstanding submit_sm_resp after sending
	// stops; unanswered ones are counted (default 10s).
	Drain time.Duration
	// DialTimeout bounds dialing and binding one session (default 10s).
	DialTimeout time.Duration

	// Progress, when non-nil, gets one line per second while the run goes.
	Progress io.Writer
	// Logger gets connection-level events (nil: discard).
	Logger *slog.Logger
}

// Validate checks o and fills in defaults. Errors wrap ErrInvalidOptions.
func (o *Options) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...)
	}
	if o.Addr == "" {
		return bad("an address is required")
	}
	if o.Binds == 0 {
		o.Binds = 1
	}
	if o.Binds < 0 || o.Binds > 100000 {
		return bad("binds %d out of range 1..100000", o.Binds)
	}
	if o.Window == 0 {
		o.Window = 10
	}
	if o.Window < 0 || o.Window > maxWindow {
		return bad("window %d out of range 1..%d", o.Window, maxWindow)
	}
	switch strings.ToLower(o.BindType) {
	case "", "trx", "transceiver":
		o.BindType = "transceiver"
	case "tx", "transmitter":
		o.BindType = "transmitter"
	default:
		return bad("bind type %q: want transceiver or transmitter", o.BindType)
	}
	if o.Rate < 0 {
		return bad("rate %v must not be negative", o.Rate)
	}
	if o.Idle && (o.Rate > 0 || o.Count > 0) {
		return bad("idle sessions send nothing: drop --rate and --count")
	}
	if o.Count < 0 {
		return bad("count %d must not be negative", o.Count)
	}
	if o.Duration < 0 || o.Warmup < 0 {
		return bad("durations must not be negative")
	}
	if o.Duration == 0 && o.Count == 0 {
		o.Duration = 10 * time.Second
	}
	o.Warmup = o.Warmup.Truncate(time.Second) + ceilSecond(o.Warmup%time.Second)
	if o.Duration > 0 && o.Warmup >= o.Duration {
		return bad("warmup %v leaves nothing of duration %v", o.Warmup, o.Duration)
	}
	if o.Text == "" && o.Size == 0 {
		o.Size = 20
	}
	if o.Size < 0 || o.Size > 65000 {
		return bad("size %d out of range 1..65000", o.Size)
	}
	switch strings.ToLower(o.Coding) {
	case "", "gsm7", "gsm", "default":
		o.Coding = "gsm7"
	case "latin1", "latin-1", "iso-8859-1":
		o.Coding = "latin1"
	case "ucs2", "ucs-2":
		o.Coding = "ucs2"
	default:
		return bad("coding %q: want gsm7, latin1 or ucs2", o.Coding)
	}
	if o.Source == "" {
		o.Source = "smppd-bench"
	}
	if o.Dest == "" {
		o.Dest = "4479#########0"
	}
	if len(o.Source) > 20 || len(o.Dest) > 20 {
		return bad("source and destination addresses are at most 20 characters")
	}
	if len(o.SystemID) > 15 || len(o.SystemType) > 12 {
		return bad("system_id is at most 15 and system_type at most 12 characters")
	}
	if o.BindType == "transmitter" {
		// A transmitter cannot receive receipts; don't wait for them.
		o.WaitReceipts = -1
	}
	if o.WaitReceipts == 0 {
		o.WaitReceipts = 10 * time.Second
	}
	if o.Drain == 0 {
		o.Drain = 10 * time.Second
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

func ceilSecond(d time.Duration) time.Duration {
	if d > 0 {
		return time.Second
	}
	return 0
}

// Mode describes the load shape for reports: "closed" or "open 5000/s".
func (o *Options) Mode() string {
	if o.Idle {
		return "idle"
	}
	if o.Rate > 0 {
		return fmt.Sprintf("open %g/s", o.Rate)
	}
	return "closed"
}
