package callback

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smppd/smppd/internal/msgstore"
)

// Errors.
var (
	// ErrTokenNotFound is what a Tokens implementation returns (possibly wrapped) for a
	// token that no longer exists; its pending callbacks are given up.
	ErrTokenNotFound = errors.New("callback: token not found")
	// ErrStarted is returned by Start on a Sender that was already started.
	ErrStarted = errors.New("callback: sender already started")
)

// Store is the part of *msgstore.Store the sender uses: the durable callback queue.
// Writes are asynchronous; done is called exactly once, after the commit.
//
// If the store also has NextCallbackAfter(time.Time) (time.Time, bool) or
// NextCallback() (time.Time, bool), the sender arms its timer with it; otherwise it
// asks AppendDueCallbacks for the single oldest entry, which is the same thing.
type Store interface {
	// AppendDueCallbacks appends the callbacks due at now, earliest first, as r says
	// (limit, skip, where to start), and fills in what else r reports (see Offer).
	AppendDueCallbacks(dst []msgstore.Callback, now time.Time, r *msgstore.DueRead) ([]msgstore.Callback, error)
	// AckCallbacks acks the reports of one batched request in one write; seqs that
	// are no longer queued are skipped.
	AckCallbacks(seqs []uint64, done func(error))
	// RescheduleCallbacks moves the callbacks of rs to their Next in one write (see
	// msgstore.Reschedule); seqs that are no longer queued are skipped.
	RescheduleCallbacks(rs []msgstore.Reschedule, lastErr string, done func(error))
	GiveUpCallback(seq uint64, reason string, done func(error))
}

// Tokens gives the sender what it needs to know about a token at send time. It is
// asked once per attempt, so a rotated secret or a changed URL applies to the very
// next attempt, retries of old callbacks included.
type Tokens interface {
	CallbackToken(tokenID string) (Token, error)
}

// TokensFunc adapts a function to Tokens.
type TokensFunc func(tokenID string) (Token, error)

// CallbackToken calls f.
func (f TokensFunc) CallbackToken(tokenID string) (Token, error) { return f(tokenID) }

// Token is a token's callback settings as of now.
type Token struct {
	Name string
	// URL is the token's current callback URL. It wins over the URL stored with the
	// queued callback, so fixing a wrong URL rescues callbacks still pending. Empty
	// means the operator removed it: pending callbacks are given up.
	URL string
	// Secret is the signing secret ("whsec_…"), used as the HMAC key as is.
	Secret string
}

// Sender delivers queued callbacks: it POSTs them, signed, to their token's URL, up to
// MaxBatch reports of one token per request, and records the outcome of each report in
// the store (ack, retry with backoff, or give up).
//
// Fields must be set before Start and not changed after; zero values are replaced by
// the documented defaults. A Sender is started once; Notify is safe to call at any
// time from any goroutine, before Start and after Stop included.
type Sender struct {
	Store  Store  // required
	Tokens Tokens // required

	// Client sends the requests. nil: a client with keep-alive connection reuse that
	// does not follow redirects (a 3xx is a client error, as with most webhook senders).
	Client *http.Client
	// RequestTimeout bounds one attempt, connect to last body byte (default 10s).
	RequestTimeout time.Duration
	// RetryFor is how long, from enqueue, retryable failures are retried before the
	// callback is given up (default 24h).
	RetryFor time.Duration
	// MaxClientErrorAttempts is the number of attempts after which a 4xx answer
	// (other than 408 and 429) gives the callback up (default 3).
	MaxClientErrorAttempts int
	// BaseBackoff and MaxBackoff shape the retry delay: min(MaxBackoff, BaseBackoff·2^(n-1))
	// with full jitter before retry n (defaults 1s and 1h). A Retry-After answer
	// delays the retry to at least that.
	BaseBackoff, MaxBackoff time.Duration
	// Workers bounds the requests in flight for all receivers together (default 256).
	Workers int
	// PerHost bounds the requests in flight to one receiver host:port (default 32), so
	// a receiver that hangs holds at most PerHost workers and the others keep flowing.
	// One receiver's throughput is at most PerHost / its response time (32 at 50 ms:
	// 640 callbacks/s); beyond that its callbacks queue up in the store.
	PerHost int
	// BatchSize is how many due callbacks one scan reads (default max(256, 4·Workers)).
	BatchSize int
	// MaxBatch is how many due reports of one token (one URL and secret) one request
	// carries at most, as {"events":[…]} (default 100; 1 sends one report per request,
	// still wrapped). Most of an attempt's CPU is per request (HTTP round trip, JSON
	// framing, HMAC, store write), so batching is what keeps the sender's share of a
	// small machine low at high report rates. Only reports due at the same time are
	// batched: the sender never waits to fill one.
	MaxBatch int
	// PollInterval is the safety-net rescan period when neither Notify nor a due
	// retry wakes the sender (default 30s). When nothing is in flight or waiting in
	// memory, such a read starts from the head of the queues, not where reads
	// stand, so a report the sender lost track of waits a poll, not a restart.
	PollInterval time.Duration
	// FormatMessageID renders a message id as submit_sm_resp did (default: decimal).
	FormatMessageID func(id uint64) string
	// MaxRate caps requests per second, all receivers together (0: no cap); a request
	// carries up to MaxBatch reports. Each request costs CPU (on a small VM ~100 µs for the HTTP client side, more than an
	// SMPP submit); on a machine whose CPU the SMPP path needs, a cap keeps the
	// sender's share bounded and lets the queue absorb peaks, to be drained after.
	MaxRate float64
	// UserAgent is sent with every request (default "smppd-callback/1").
	UserAgent string

	Observer Observer         // nil: no metrics
	Logger   *slog.Logger     // nil: slog.Default()
	Now      func() time.Time // scheduling clock (nil: time.Now); tests fake it for Retry-After

	mu       sync.Mutex
	started  bool
	inflight map[uint64]struct{}   // seq attempted or being written; never read twice
	hosts    map[string]*hostState // receiver hosts with a request in flight
	// blockedSince: when each entry of the last scan was first seen blocked by its
	// host's limit. Rebuilt every scan, so it never holds more than BatchSize entries.
	blockedSince map[uint64]time.Time
	// pass numbers the scans; justDone maps a seq whose outcome was written to the pass
	// current then. A scan's read may predate that write (the entry still looks due),
	// so a scan skips entries finished during or after its own start.
	pass     uint64
	justDone map[uint64]uint64
	// Owned by the dispatcher goroutine: due entries read but not yet dispatched, and
	// whether the store may hold due entries that are not in the cache.
	cache []cached
	// freshMu guards what Offer touches, and only that: Offer runs on the store's
	// completer, ahead of the SMPP responses of the same commit, so it must never
	// wait for s.mu, which a store read holds. fresh holds offered callbacks not yet
	// moved into the cache, at most freshCap; readUpTo is the highest seq issued as
	// of the last store read: an offered callback at or below it was visible to that
	// read. offerOpen is set by Start.
	freshMu   sync.Mutex
	fresh     []msgstore.Callback
	readUpTo  uint64
	freshCap  int
	offerOpen bool
	readBuf   []msgstore.Callback // reused by every read
	hostOf    map[string]string   // hostKey by URL, bounded (see host)
	// The store reads' skip functions (skipSeq, skipFullHost), allocated once.
	skipSeqFn  func(uint64) (bool, bool)
	skipHostFn func(uint64, []byte) bool
	// newFrom is where the next store read starts among new callbacks: the reads
	// before found every one below it skipped (in flight, or its host full: those are
	// in behind). Reset to 0 when writing an outcome failed (the entry is still
	// queued), and for an idle sender's timer read (the safety net in dispatch). s.mu.
	newFrom uint64
	// behind maps a host to the lowest of its new callbacks passed over while it was
	// full, at or below readHorizon, the highest seq a store read has seen (readUpTo's
	// copy for the dispatcher: fresh holds only entries above it). readBehind reads
	// them again. Dispatcher goroutine.
	behind      map[string]uint64
	readHorizon uint64
	// dueFrom is newFrom for rescheduled callbacks (msgstore.DueRead.DueFrom): nil
	// when a slot frees up or a write fails, and moved back to any reschedule this
	// sender writes before it (a retry due soon can land behind where reads are).
	dueFrom   []byte
	cacheCall uint64 // numbers dispatchCache calls (hostState.kept)
	stale     bool
	// timerPass: the pass was woken by the timer (a retry due, or PollInterval), not
	// by Notify or an attempt. An idle sender's timer read starts from the head of
	// both queues (see dispatch). Dispatcher goroutine.
	timerPass bool
	lastScan  time.Time
	// rescanEvery spaces reads that only look past blocked entries (see dispatch);
	// slowDefers counts consecutive push-backs of a slow host's backlog.
	rescanEvery time.Duration
	slowDefers  map[string]int
	notified    atomic.Bool // Notify was called since the dispatcher last looked
	wakes       []time.Time // sorted times when known entries become due (see addWake)

	// stallAfter and blockedWait are the fairness thresholds (constants of the same
	// names; tests shorten them).
	stallAfter, blockedWait time.Duration

	rateTokens float64 // MaxRate budget (token bucket)
	rateAt     time.Time
	rateWait   time.Duration // set when the budget stopped dispatchCache

	nextAfterFn func(time.Time) (time.Time, bool)
	active      int // HTTP requests in flight in total
	wake        chan struct{}
	quit        chan struct{}
	loopDone    chan struct{}
	ctx         context.Context // cancelled when Stop gives up waiting
	cancel      context.CancelFunc
	wg          sync.WaitGroup // one per inflight entry, done after its store write
	client      *http.Client
	ownTrans    *http.Transport
	obs         Observer
	log         *slog.Logger
	next        func() (time.Time, bool)
	wakeOnce    sync.Once
}

// Stats is a point-in-time view of the sender (the queue depth itself is the store's:
// msgstore.Stats().Callbacks).
type Stats struct {
	InFlight int // callbacks being attempted or having their outcome written
	Active   int // HTTP requests in flight
	Hosts    int // receiver hosts with a request in flight
}

// Stats returns current counters; safe for concurrent use (metrics scrape).
func (s *Sender) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{InFlight: len(s.inflight), Active: s.active, Hosts: len(s.hosts)}
}

func (s *Sender) wakeCh() chan struct{} {
	s.wakeOnce.Do(func() { s.wake = make(chan struct{}, 1) })
	return s.wake
}

// Notify tells the sender that callbacks were enqueued. Call it after the enqueueing
// store write committed (from its done callback): a scan before the commit would not
// see them. It never blocks; many calls while a scan runs cost one more scan.
func (s *Sender) Notify() {
	s.notified.Store(true)
	s.kick()
}

// Offer hands the sender callbacks that were just queued, so that it need not read them
// back from the store: msgstore.Store.SetCallbackHook(sender.Offer). Call it after the
// commit that queued them. It never blocks for long and never fails: what the sender
// cannot hold in memory (more than 4·BatchSize waiting) or already saw in a store read
// it leaves to the store, where a read finds it. The slice is the sender's.
func (s *Sender) Offer(cbs []msgstore.Callback) {
	s.freshMu.Lock()
	if !s.offerOpen {
		s.freshMu.Unlock()
		s.Notify() // Start's first read finds them
		return
	}
	now := s.Now() // set before offerOpen
	read := false  // something is left for a store read
	for _, cb := range cbs {
		switch {
		case cb.Seq <= s.readUpTo:
			// A read since the commit saw it: it is in the cache, in flight, or
			// left for the next read. Taking it too could send it twice.
		case cb.NextAttempt.After(now) || len(s.fresh) >= s.freshCap:
			// Not due yet (a clock behind), or more than memory holds: a read
			// finds it when it is due (the timer follows the store's times).
			read = true
		default:
			s.fresh = append(s.fresh, cb)
		}
	}
	s.freshMu.Unlock()
	if read {
		s.Notify()
		return
	}
	s.kick()
}

// takeFresh moves offered callbacks into the cache, up to freshCap entries in it
// (dispatcher goroutine).
func (s *Sender) takeFresh() {
	s.freshMu.Lock()
	n := min(len(s.fresh), max(0, s.freshCap-len(s.cache)))
	for _, cb := range s.fresh[:n] {
		s.cache = append(s.cache, cached{cb, s.host(cb.URL)})
	}
	rest := copy(s.fresh, s.fresh[n:])
	clear(s.fresh[rest:])
	s.fresh = s.fresh[:rest]
	s.freshMu.Unlock()
}

// freshWaiting reports whether offers wait in fresh while the cache has room for them.
func (s *Sender) freshWaiting() bool {
	s.freshMu.Lock()
	defer s.freshMu.Unlock()
	return len(s.fresh) > 0 && len(s.cache) < s.freshCap
}

// kick wakes the dispatcher without asking for a store read (a slot freed up).
func (s *Sender) kick() {
	select {
	case s.wakeCh() <- struct{}{}:
	default:
	}
}

// Start applies defaults and starts the dispatcher. Callbacks already due (left by a
// previous run) go out at once.
func (s *Sender) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return ErrStarted
	}
	if s.Store == nil || s.Tokens == nil {
		return errors.New("callback: Sender needs Store and Tokens")
	}
	s.started = true
	s.setDefaults()
	s.inflight = make(map[uint64]struct{})
	s.hosts = make(map[string]*hostState)
	s.justDone = make(map[uint64]uint64)
	s.slowDefers = make(map[string]int)
	s.hostOf = make(map[string]string)
	s.behind = make(map[string]uint64)
	s.skipSeqFn, s.skipHostFn = s.skipSeq, s.skipFullHost
	s.freshMu.Lock()
	s.freshCap, s.offerOpen = 4*s.BatchSize, true
	s.freshMu.Unlock()
	s.rateAt, s.rateTokens = time.Now(), 1
	s.rescanEvery = minRescan
	if s.stallAfter == 0 {
		s.stallAfter = stallAfter
	}
	if s.blockedWait == 0 {
		s.blockedWait = maxBlockedWait
	}
	s.wakeCh()
	s.quit = make(chan struct{})
	s.loopDone = make(chan struct{})
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.loop(s.quit, s.wake)
	return nil
}

func (s *Sender) setDefaults() {
	if s.RequestTimeout <= 0 {
		s.RequestTimeout = 10 * time.Second
	}
	if s.RetryFor <= 0 {
		s.RetryFor = 24 * time.Hour
	}
	if s.MaxClientErrorAttempts <= 0 {
		s.MaxClientErrorAttempts = 3
	}
	if s.BaseBackoff <= 0 {
		s.BaseBackoff = time.Second
	}
	if s.MaxBackoff <= 0 {
		s.MaxBackoff = time.Hour
	}
	s.MaxBackoff = max(s.MaxBackoff, s.BaseBackoff)
	if s.Workers <= 0 {
		s.Workers = 256
	}
	if s.PerHost <= 0 {
		s.PerHost = 32
	}
	if s.BatchSize <= 0 {
		s.BatchSize = max(256, 4*s.Workers)
	}
	if s.MaxBatch <= 0 {
		s.MaxBatch = DefaultMaxBatch
	}
	if s.PollInterval <= 0 {
		s.PollInterval = 30 * time.Second
	}
	if s.FormatMessageID == nil {
		s.FormatMessageID = func(id uint64) string { return strconv.FormatUint(id, 10) }
	}
	if s.UserAgent == "" {
		s.UserAgent = "smppd-callback/1"
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	s.obs = s.Observer
	if s.obs == nil {
		s.obs = nopObserver{}
	}
	s.log = s.Logger
	if s.log == nil {
		s.log = slog.Default()
	}
	s.client = s.Client
	if s.client == nil {
		s.ownTrans = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: s.RequestTimeout, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			TLSHandshakeTimeout:   s.RequestTimeout,
			MaxIdleConns:          s.Workers,
			MaxIdleConnsPerHost:   s.PerHost,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
		s.client = &http.Client{
			Transport:     s.ownTrans,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if na, ok := s.Store.(interface {
		NextCallbackAfter(time.Time) (time.Time, bool)
	}); ok {
		s.nextAfterFn = na.NextCallbackAfter
	}
	if nc, ok := s.Store.(interface{ NextCallback() (time.Time, bool) }); ok {
		s.next = nc.NextCallback
	} else {
		s.next = s.oldestQueued
	}
}

// Stop stops scanning, waits for the attempts in flight and their store writes, and
// returns. When ctx ends first, requests still in flight are cancelled; their
// callbacks stay queued unchanged and are sent again on the next Start (receivers
// dedupe on event_id). Stop must return before the store is closed. It returns
// ctx.Err() if it had to cancel requests.
func (s *Sender) Stop(ctx context.Context) error {
	s.mu.Lock()
	if !s.started || s.quit == nil {
		s.mu.Unlock()
		return nil
	}
	quit := s.quit
	s.quit = nil
	s.mu.Unlock()

	close(quit)
	<-s.loopDone // no new attempts after this
	idle := make(chan struct{})
	go func() { s.wg.Wait(); close(idle) }()
	var err error
	select {
	case <-idle:
	case <-ctx.Done():
		err = ctx.Err()
		s.cancel()
		<-idle
	}
	s.cancel()
	if s.ownTrans != nil {
		s.ownTrans.CloseIdleConnections()
	}
	return err
}

func (s *Sender) loop(quit, wake <-chan struct{}) {
	defer close(s.loopDone)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	s.stale = true // callbacks left by a previous run
	for {
		timer.Reset(s.dispatch())
		select {
		case <-quit:
			return
		case <-wake:
			// Under load Notify and finishing attempts arrive thousands of times a
			// second; a short pause lets one pass serve all of them, which caps the
			// dispatcher's CPU (it shares the machine with the SMPP path) at the cost
			// of at most minPass of callback latency.
			select {
			case <-quit:
				return
			case <-time.After(minPass):
			}
		case <-timer.C:
			s.stale = true // a retry may be due
			s.timerPass = true
		}
	}
}

// DefaultMaxBatch is Sender.MaxBatch's default.
const DefaultMaxBatch = 100

// Fairness thresholds (see dispatch). Unexported: they are about not starving other
// receivers, not a knob operators need.
const (
	// stallAfter: a host with every PerHost slot busy and no request started or
	// finished for this long is stalled (hung or very slow receiver).
	stallAfter = time.Second
	// maxBlockedWait: a due callback that waited this long behind its own host's
	// PerHost limit is pushed back even if the host still makes progress, so a
	// receiver slower than its token's traffic cannot hold the head of the queue.
	maxBlockedWait = 5 * time.Second
	// minRescan spaces store reads made only to look past entries blocked by their
	// host's limit.
	minRescan = 20 * time.Millisecond
	// maxRescan bounds the backoff of those reads while they find nothing to do.
	maxRescan = time.Second
	// minPass spaces dispatcher passes triggered by wake-ups.
	minPass = time.Millisecond
	// maxSkipFactor·BatchSize bounds the entries one read passes over (see
	// msgstore.DueRead.MaxSkip); the next read goes on from there.
	maxSkipFactor = 16
)

// cached is a due callback read by a scan, with its per-host limit key.
type cached struct {
	msgstore.Callback
	host string
}

// hostState tracks one receiver host:port with requests in flight.
type hostState struct {
	active   int       // HTTP requests in flight
	progress time.Time // last time a request to it started or finished
	// kept counts its entries the current dispatchCache call kept waiting in the
	// cache (call numbers it); beyond MaxBatch they are left to store reads.
	kept, keptCall uint64
}

// passedOver notes that seq, a new callback of host, was let go from the cache while
// host was full (dispatcher goroutine). One at or below the read horizon is read
// again for its host alone once a slot frees up (readBehind); one above it the next
// store read still finds.
func (s *Sender) passedOver(host string, seq uint64) {
	if seq > s.readHorizon {
		s.stale = true
		return
	}
	s.noteBehind(host, seq)
}

// noteBehind records seq as passed over for host (dispatcher goroutine).
func (s *Sender) noteBehind(host string, seq uint64) {
	if from, ok := s.behind[host]; !ok || seq < from {
		s.behind[host] = seq
	}
}

// readBehind reads, for each host with reports passed over and a slot free now, its
// own reports from where it was left, up to the read horizon, into the cache, and
// reports whether it added any. Store reads in general never go back: a host whose
// backlog they passed over while it was full (a hung receiver, queueing thousands of
// reports a second) has it read again here alone, not walked by every read after
// each of its slots frees up. Bounded by the horizon, such a read never takes an
// offered report that is still in fresh (those are all above it), so none is taken
// twice; one also in the cache is dropped as in flight when its twin goes out.
func (s *Sender) readBehind(now time.Time) bool {
	if len(s.behind) == 0 || s.readHorizon == 0 {
		return false
	}
	added := false
	for host, from := range s.behind {
		s.mu.Lock()
		free := s.PerHost
		if h := s.hosts[host]; h != nil {
			free -= h.active
		}
		if free <= 0 || s.active >= s.Workers {
			s.mu.Unlock()
			continue
		}
		dr := msgstore.DueRead{Limit: free * s.MaxBatch, From: from, To: s.readHorizon, NewOnly: true,
			MaxSkip: maxSkipFactor * s.BatchSize, SkipSeq: s.skipSeqFn, Skip: func(seq uint64, url []byte) bool {
				return s.hostOfURL(url) != host
			}}
		batch, err := s.Store.AppendDueCallbacks(nil, now, &dr)
		s.mu.Unlock()
		if err != nil {
			s.log.Error("callback: reading a host's reports", "host", host, "err", err)
			continue
		}
		if len(batch) >= dr.Limit || dr.Truncated {
			s.behind[host] = dr.Reached + 1
		} else {
			delete(s.behind, host)
		}
		for _, cb := range batch {
			s.cache = append(s.cache, cached{cb, s.host(cb.URL)})
		}
		added = added || len(batch) > 0
	}
	return added
}

// stalled reports whether h has been saturated without progress for stallAfter.
func (s *Sender) stalled(h *hostState, now time.Time) bool {
	return h.active >= s.PerHost && now.Sub(h.progress) >= s.stallAfter
}

// dispatch starts an attempt for every due callback it can, within the global and
// per-host limits, and returns how long to sleep unless woken.
//
// Due callbacks come from the store oldest first, BatchSize at a time, into s.cache,
// which later wake-ups (an attempt finished, a slot freed) dispatch from without
// reading the store again. The store is read again only when the cache has nothing
// left to dispatch and the store may hold more: after Notify, a timer, or a scan that
// filled a whole batch. That keeps the read-and-decode cost near one per callback.
//
// Fairness: a receiver that hangs holds its PerHost slots, and its due callbacks would
// stay at the head of every scan and, once they fill a batch, hide every other token's
// callbacks behind them. So when a scan returns a full batch and workers are free, the
// entries blocked by their host's limit are pushed back (deferred) if the host is
// stalled or the entry has waited maxBlockedWait. A healthy host's burst is not
// deferred: its entries go out as its slots free up.
func (s *Sender) dispatch() time.Duration {
	now := s.Now()
	s.mu.Lock()
	s.pass++
	for seq, p := range s.justDone {
		if p < s.pass { // written before this scan: its read sees the write
			delete(s.justDone, seq)
		}
	}
	s.mu.Unlock()
	if s.notified.Swap(false) {
		s.stale = true
	}
	s.mu.Lock()
	if s.popWakes(now) {
		// A retry's time has come. Checked here rather than trusted to the timer's
		// tick, which the Reset after a pass caused by a wake-up meanwhile drops.
		s.stale = true
	}
	s.mu.Unlock()
	s.takeFresh()
	_, full := s.dispatchCache(now)
	if !full && s.readBehind(now) {
		_, full = s.dispatchCache(now)
	}
	if !full && s.freshWaiting() {
		// The pass made room in the cache for offers that waited: another pass.
		s.kick()
	}
	if full || !s.stale {
		return s.sleep(now, s.rateRecheck(now))
	}
	// What is left in the cache is blocked by its hosts' limits. Reading the store
	// again finds other hosts' entries behind them, but costs a batch decode: not more
	// often than s.rescanEvery, which doubles up to maxRescan while reads find nothing
	// new to do (the cache is empty only when the sender keeps up, and then a read
	// costs only what is new).
	if len(s.cache) > 0 {
		if wait := s.rescanEvery - time.Since(s.lastScan); wait > 0 {
			return min(wait, s.sleep(now, time.Time{}))
		}
	}
	blockedHosts := make(map[string]struct{})
	for _, c := range s.cache {
		blockedHosts[c.host] = struct{}{}
	}
	s.lastScan = time.Now()
	// Entries in flight are still due in the store and come first in the read; with
	// batched requests a host can have PerHost·MaxBatch of them. The read passes over
	// them (and over entries whose outcome was just written) by key, without decoding
	// them, so a read costs what is new. s.mu is held across it so that skip sees a
	// consistent in-flight set; attempts finishing meanwhile wait for the read, which
	// never waits for them.
	s.mu.Lock()
	dr := msgstore.DueRead{Limit: s.BatchSize, SkipSeq: s.skipSeqFn, Skip: s.skipHostFn, From: s.newFrom, DueFrom: s.dueFrom, MaxSkip: maxSkipFactor * s.BatchSize}
	// The safety net: nothing in flight, cached or noted behind, so nothing should be
	// due before where reads stand; a timer pass then reads from the head anyway, at
	// the cost of what is due. Anything it finds there that was never attempted was
	// lost track of (a bug), and goes out now rather than after a restart.
	rewound := s.timerPass && s.active == 0 && len(s.cache) == 0 && len(s.behind) == 0 && (dr.From > 1 || dr.DueFrom != nil)
	lostBelow := dr.From
	if rewound {
		dr.From, dr.DueFrom = 0, nil
	}
	s.timerPass = false
	batch, err := s.Store.AppendDueCallbacks(s.readBuf[:0], now, &dr)
	if err == nil {
		s.newFrom, s.dueFrom = dr.NextFrom, dr.NextDueFrom
		s.readHorizon = max(s.readHorizon, dr.Issued)
	}
	s.mu.Unlock()
	issued := dr.Issued
	if err == nil {
		// Offered entries the read could see are its to report: drop them from
		// fresh (whenever they were offered), and from the cache below, so that none
		// is taken twice; later offers of them stop at readUpTo.
		s.freshMu.Lock()
		s.readUpTo = max(s.readUpTo, issued)
		s.fresh = slices.DeleteFunc(s.fresh, func(cb msgstore.Callback) bool { return cb.Seq <= issued })
		s.freshMu.Unlock()
	}
	if err != nil {
		s.log.Error("callback: reading due callbacks", "err", err)
		return time.Second
	}
	s.stale = len(batch) >= s.BatchSize || dr.Truncated
	if rewound {
		lost := 0
		for _, cb := range batch {
			if cb.Seq < lostBelow && neverMoved(cb) {
				lost++
			}
		}
		if lost > 0 {
			s.log.Warn("callback: found reports the sender had lost track of", "reports", lost)
		}
	}
	// Cached entries the read could not see (offered since) stay, after it. New ones
	// below where it started (readBehind's, of a host that filled up again) it did
	// not look at either: noted, for readBehind to find again. Retries need no note:
	// the read covers the retry queue from dueFrom, which only passes over entries of
	// a full host and goes back to the start when one of its slots frees up.
	var newer []cached
	s.mu.Lock()
	for _, c := range s.cache {
		_, busy := s.inflight[c.Seq]
		switch {
		case c.Seq > issued:
			newer = append(newer, c)
		case c.Seq < dr.From && !busy && neverMoved(c.Callback):
			s.noteBehind(c.host, c.Seq)
		}
	}
	s.mu.Unlock()
	s.cache = s.cache[:0]
	newHosts := false // the read found a host the cache had nothing for
	for _, cb := range batch {
		c := cached{cb, s.host(cb.URL)}
		if _, ok := blockedHosts[c.host]; !ok {
			newHosts = true
		}
		s.cache = append(s.cache, c)
	}
	s.cache = append(s.cache, newer...)
	clear(batch) // the cache holds copies; drop the strings' references
	s.readBuf = batch[:0]
	if _, full := s.dispatchCache(now); full || !s.stale {
		s.rescanEvery = minRescan
		return s.sleep(now, s.rateRecheck(now))
	}
	if len(s.cache) == 0 {
		// A full read, all of it dispatched (batched requests take many entries each)
		// and workers still free: more may be due behind it, read on at once.
		return time.Millisecond
	}
	// A full batch, free workers, and everything left in it is blocked by its host.
	s.mu.Lock()
	since := make(map[uint64]time.Time, len(s.cache))
	var deferred []msgstore.Callback
	var delays []time.Duration
	slowHosts := make(map[string]int)
	var recheck time.Time // when a blocked entry becomes deferrable
	kept := s.cache[:0]
	for _, c := range s.cache {
		cb := c.Callback
		h := s.hosts[c.host]
		t, ok := s.blockedSince[cb.Seq]
		if !ok {
			t = now
		}
		if h != nil && s.stalled(h, now) {
			// Dropped from the cache, left queued: reads pass over its host's entries
			// while the host is full, and readBehind finds them once a slot frees up.
			s.passedOver(c.host, cb.Seq)
			continue
		}
		if now.Sub(t) >= s.blockedWait {
			s.inflight[cb.Seq] = struct{}{}
			s.wg.Add(1)
			deferred = append(deferred, cb)
			delays = append(delays, min(s.blockedWait<<s.slowDefers[c.host], s.MaxBackoff))
			slowHosts[c.host]++
			continue
		}
		since[cb.Seq] = t
		kept = append(kept, c)
		for _, r := range [...]time.Time{t.Add(s.blockedWait), progressOf(h).Add(s.stallAfter)} {
			if recheck.IsZero() || r.Before(recheck) {
				recheck = r
			}
		}
	}
	s.cache = kept
	s.blockedSince = since
	// A host whose backlog is pushed back pass after pass is pushed back twice as far
	// each time, so an entry is rewritten O(log backlog) times, not every few seconds.
	for host := range s.slowDefers {
		if slowHosts[host] == 0 {
			delete(s.slowDefers, host)
		}
	}
	for host := range slowHosts {
		s.slowDefers[host] = min(s.slowDefers[host]+1, 16)
	}
	s.mu.Unlock()
	s.deferBusy(deferred, delays, now)
	switch {
	case len(deferred) > 0:
		s.lastScan = time.Time{} // read on as soon as the writes land: more may be behind
		s.rescanEvery = minRescan
	case newHosts:
		s.rescanEvery = minRescan
	default:
		// Only more of the same blocked hosts: reading again soon would decode the
		// same batch for nothing.
		s.rescanEvery = min(2*s.rescanEvery, maxRescan)
	}
	return s.sleep(now, recheck)
}

// rateRecheck returns when the MaxRate budget allows the next attempt, if it stopped
// dispatchCache; zero otherwise.
func (s *Sender) rateRecheck(now time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rateWait == 0 {
		return time.Time{}
	}
	t := now.Add(s.rateWait)
	s.rateWait = 0
	return t
}

func progressOf(h *hostState) time.Time {
	if h == nil {
		return time.Time{}
	}
	return h.progress
}

// takeToken takes one attempt from the MaxRate budget (s.mu held), or returns how
// long until one is available.
func (s *Sender) takeToken() time.Duration {
	if wait := s.rateWait0(); wait > 0 || s.MaxRate <= 0 {
		return wait
	}
	s.rateTokens--
	return 0
}

// rateWait0 refills the MaxRate budget and returns how long until it holds one
// attempt, 0 when it does (s.mu held).
func (s *Sender) rateWait0() time.Duration {
	if s.MaxRate <= 0 {
		return 0
	}
	now := time.Now() // pacing is about CPU, in real time even under a fake clock
	burst := max(1, s.MaxRate/10)
	s.rateTokens = min(burst, s.rateTokens+now.Sub(s.rateAt).Seconds()*s.MaxRate)
	s.rateAt = now
	if s.rateTokens < 1 {
		return max(time.Duration((1-s.rateTokens)/s.MaxRate*float64(time.Second)), time.Millisecond)
	}
	return 0
}

// dispatchCache starts attempts for the cached entries that are within the limits and
// drops them, along with entries already in flight or written since the scan. It
// reports whether it stopped because every worker is busy; if not, whatever is left
// in the cache is blocked by its host's limit.
//
// An attempt takes along, up to MaxBatch in all, the later cached entries of the same
// token and host that are not in flight: one request for them all. They stay in the
// cache slice until the loop reaches them and skips them as in flight.
func (s *Sender) dispatchCache(now time.Time) (started int, full bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cache) > 0 && s.MaxRate > 0 {
		if wait := s.rateWait0(); wait > 0 {
			s.rateWait = wait
			return 0, true
		}
	}
	s.cacheCall++
	blockedKept, blockedRoom := 0, max(1, s.freshCap/2)
	var groups map[batchKey][]int // cache indexes of each token and host, ascending
	if s.MaxBatch > 1 && len(s.cache) > 1 {
		for i, c := range s.cache {
			if h := s.hosts[c.host]; h != nil && h.active >= s.PerHost {
				continue // nothing of it goes out in this call
			}
			if groups == nil {
				groups = make(map[batchKey][]int)
			}
			k := batchKey{c.TokenID, c.host}
			groups[k] = append(groups[k], i)
		}
	}
	kept := s.cache[:0]
	for i, c := range s.cache {
		cb, host := c.Callback, c.host
		if _, ok := s.inflight[cb.Seq]; ok {
			continue
		}
		if _, ok := s.justDone[cb.Seq]; ok {
			continue
		}
		if s.active >= s.Workers {
			kept = s.keepPending(kept, i)
			full = true
			break
		}
		h := s.hosts[host]
		if h != nil && h.active >= s.PerHost {
			// Waiting for a slot: a request's worth stays at hand, the rest is left
			// to the store (a hung receiver's reports would fill the cache, keep
			// offers of other hosts out of it, and every pass would walk them),
			// where reads find it once a slot frees up. At most half the cache
			// waits so: offers need the other half.
			if h.keptCall != s.cacheCall {
				h.kept, h.keptCall = 0, s.cacheCall
			}
			if h.kept < uint64(s.MaxBatch) && blockedKept < blockedRoom {
				h.kept++
				blockedKept++
				kept = append(kept, c)
			} else {
				s.passedOver(host, cb.Seq)
			}
			continue
		}
		if wait := s.takeToken(); wait > 0 {
			kept = s.keepPending(kept, i)
			s.rateWait = wait
			full = true
			break
		}
		if h == nil {
			h = &hostState{}
			s.hosts[host] = h
		}
		h.active++
		h.progress = now
		s.inflight[cb.Seq] = struct{}{}
		var batch []msgstore.Callback
		if k := (batchKey{cb.TokenID, host}); groups != nil {
			idx := groups[k]
			// Sized once: a Callback is large, and growing the slice by doubling
			// copied each batch several times over.
			batch = append(make([]msgstore.Callback, 0, min(s.MaxBatch, 1+len(idx))), cb)
			for len(idx) > 0 && len(batch) < s.MaxBatch {
				j := idx[0]
				idx = idx[1:]
				if j <= i {
					continue
				}
				o := s.cache[j].Callback
				if _, ok := s.inflight[o.Seq]; ok {
					continue
				}
				if _, ok := s.justDone[o.Seq]; ok {
					continue
				}
				s.inflight[o.Seq] = struct{}{}
				batch = append(batch, o)
			}
			groups[k] = idx
		} else {
			batch = []msgstore.Callback{cb}
		}
		s.active++
		s.wg.Add(len(batch))
		started++
		go s.run(batch, host)
	}
	clear(s.cache[len(kept):]) // drop references to sent entries
	s.cache = kept
	return started, full
}

// keepPending appends to kept (s.cache compacted in place up to i) the entries of
// s.cache[i:] that still wait: not in flight (a batch took them along) and not
// finished since the pass began. Keeping one that a batch took would send it again
// once that batch is done (s.mu held). An entry already where it belongs is not
// copied: a Callback is large, and a pass stopped by the rate cap keeps nearly all.
func (s *Sender) keepPending(kept []cached, i int) []cached {
	for ; i < len(s.cache); i++ {
		c := &s.cache[i]
		switch {
		case s.skipLocked(c.Seq):
		case len(kept) == i:
			kept = kept[:i+1]
		default:
			kept = append(kept, *c)
		}
	}
	return kept
}

// batchKey groups cached entries that one request may carry: the token decides URL
// and secret at send time, the host the per-host limit the request counts against.
type batchKey struct{ token, host string }

// sleep returns how long the dispatcher may sleep: until the next callback that is
// not due yet becomes due, or until recheck when that is earlier, capped by
// PollInterval. Entries already due need no timer: they are in the cache, in flight,
// or announced by Notify, and a finishing attempt wakes the loop.
func (s *Sender) sleep(now, recheck time.Time) time.Duration {
	var t time.Time
	var ok bool
	if s.nextAfterFn != nil {
		t, ok = s.nextAfterFn(now)
	} else if t, ok = s.next(); ok && !t.After(now) {
		ok = false // in flight or blocked most likely; s.wakes knows our own retries
	}
	s.mu.Lock()
	if ok {
		s.addWake(t)
	}
	d := s.PollInterval
	if len(s.wakes) > 0 {
		d = min(d, s.wakes[0].Sub(now))
	}
	s.mu.Unlock()
	if !recheck.IsZero() {
		d = min(d, recheck.Sub(now))
	}
	return max(d, time.Millisecond)
}

// maxWakes bounds s.wakes; retries beyond it are found by the PollInterval rescan.
const maxWakes = 1024

// addWake records a time at which a queued callback becomes due (s.mu held). The
// store's NextCallback cannot tell the earliest future time when the earliest entry
// is already due and in flight, which under load it usually is; so the sender keeps
// the times of the retries it scheduled itself, sorted, the earliest maxWakes of them.
func (s *Sender) addWake(t time.Time) {
	i, found := slices.BinarySearchFunc(s.wakes, t, time.Time.Compare)
	if found || i >= maxWakes {
		return
	}
	if len(s.wakes) >= maxWakes {
		s.wakes = s.wakes[:maxWakes-1]
	}
	s.wakes = slices.Insert(s.wakes, i, t)
}

// popWakes drops the times at or before now and reports whether there were any
// (s.mu held).
func (s *Sender) popWakes(now time.Time) bool {
	n, _ := slices.BinarySearchFunc(s.wakes, now, func(w, now time.Time) int {
		if w.After(now) {
			return 1
		}
		return -1
	})
	if n == 0 {
		return false
	}
	s.wakes = slices.Delete(s.wakes, 0, n)
	return true
}

// farFuture is later than any NextAttempt, and still representable in UnixNano
// (stores key on it).
var farFuture = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)

// oldestQueued is NextCallback for stores without it: the oldest entry of the
// NextAttempt-ordered queue, whether due or not.
func (s *Sender) oldestQueued() (time.Time, bool) {
	cbs, err := s.Store.AppendDueCallbacks(nil, farFuture, &msgstore.DueRead{Limit: 1})
	if err != nil || len(cbs) == 0 {
		return time.Time{}, false
	}
	return cbs[0].NextAttempt, true
}

// neverMoved reports whether cb is still where it was queued, among the new callbacks
// (msgstore's callback_new): never attempted nor pushed back.
func neverMoved(cb msgstore.Callback) bool {
	return cb.Attempts == 0 && cb.NextAttempt.Equal(cb.FirstAttempt)
}

// finish forgets seq once its outcome is written (or abandoned) and rescans: the
// write may have freed a host slot or rescheduled the entry.
func (s *Sender) finish(seq uint64) {
	s.finishWrite([]uint64{seq}, nil, nil)
}

// finishWrite forgets seqs once the store write of their outcome returned err, and
// rescans. In the same critical section as they leave inflight, it moves the read
// positions back to where they may still be queued: to the start after a failed
// write, or to dueAt (when set), the earliest retry position the write gave them.
// Done apart, a read in between would pass them over as in flight and move its
// start past them for good (TestSenderStress found that: a retry waited forever).
func (s *Sender) finishWrite(seqs []uint64, err error, dueAt []byte) {
	s.mu.Lock()
	switch {
	case err != nil:
		s.newFrom, s.dueFrom = 0, nil
		s.notified.Store(true)
	case dueAt != nil && s.dueFrom != nil && bytes.Compare(dueAt, s.dueFrom) < 0:
		s.dueFrom = dueAt
	}
	for _, seq := range seqs {
		delete(s.inflight, seq)
		s.justDone[seq] = s.pass
	}
	s.mu.Unlock()
	s.wg.Add(-len(seqs))
	s.kick()
}

func (s *Sender) release(host string) {
	now := s.Now()
	s.mu.Lock()
	s.active--
	if h := s.hosts[host]; h != nil {
		h.progress = now
		if h.active >= s.PerHost {
			// Reads passed over its due retries while it was full: look at them
			// again (its new reports: readBehind).
			s.dueFrom = nil
			s.notified.Store(true)
		}
		if h.active--; h.active <= 0 {
			delete(s.hosts, host)
		}
	}
	s.mu.Unlock()
	s.kick() // a worker and a host slot are free, before the outcome is even written
}

// outcome is the result of one attempt.
type outcome struct {
	result     Result
	detail     string        // for the store's lastErr / give-up reason
	retryAfter time.Duration // from the answer's Retry-After
	hasAfter   bool
	giveUp     bool // permanent regardless of attempts (no token, no URL)
	reason     GiveUpReason
	abandoned  bool // cancelled by Stop: leave the entry as it is
}

// run attempts one request carrying batch (reports of one token, oldest first) and
// records the outcome for each report.
func (s *Sender) run(batch []msgstore.Callback, host string) {
	o := s.attempt(batch)
	s.release(host)
	if o.abandoned {
		for _, cb := range batch {
			s.finish(cb.Seq)
		}
		return
	}
	if o.result == ResultSuccess && !o.giveUp {
		s.ackBatch(batch)
		return
	}
	s.recordFailure(batch, o)
}

// attempt performs one delivery of batch, all of batch[0]'s token, in one request.
func (s *Sender) attempt(batch []msgstore.Callback) outcome {
	cb := batch[0]
	tok, err := s.Tokens.CallbackToken(cb.TokenID)
	switch {
	case errors.Is(err, ErrTokenNotFound):
		return outcome{giveUp: true, reason: GiveUpNoToken, detail: "token not found"}
	case err != nil:
		return outcome{result: ResultInternal, detail: "token lookup: " + err.Error()}
	case tok.URL == "":
		return outcome{giveUp: true, reason: GiveUpNoURL, detail: "token has no callback URL"}
	case tok.Secret == "":
		return outcome{result: ResultInternal, detail: "token has no callback secret"}
	}
	if u, err := url.Parse(tok.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return outcome{giveUp: true, reason: GiveUpNoURL, detail: "invalid callback URL"}
	}
	body := appendBatch(make([]byte, 0, 512*len(batch)), batch, tok.Name, s.FormatMessageID)
	ctx, cancel := context.WithTimeout(s.ctx, s.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tok.URL, bytes.NewReader(body))
	if err != nil {
		return outcome{giveUp: true, reason: GiveUpNoURL, detail: "invalid callback URL: " + err.Error()}
	}
	eventIDs := string(appendEventIDs(make([]byte, 0, 32*len(batch)), batch))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", s.UserAgent)
	req.Header.Set(EventIDHeader, eventIDs)
	// Signed with the wall clock, not s.Now: receivers compare it with theirs.
	req.Header.Set(SignatureHeader, Sign(tok.Secret, time.Now(), body))

	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		d := time.Since(start)
		if s.ctx.Err() != nil {
			return outcome{abandoned: true}
		}
		r := ResultNetwork
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			r = ResultTimeout
		}
		s.obs.CallbackAttempt(r, d)
		return outcome{result: r, detail: r.String() + ": " + trimURLError(err)}
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	// Drain a little more so the connection can be reused, never an unbounded amount.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	d := time.Since(start)
	r := classify(resp.StatusCode)
	s.obs.CallbackAttempt(r, d)
	o := outcome{result: r}
	if r != ResultSuccess {
		o.detail = "HTTP " + strconv.Itoa(resp.StatusCode)
		if t := strings.TrimSpace(strings.ToValidUTF8(string(snippet), "")); t != "" {
			o.detail += ": " + t
		}
		o.retryAfter, o.hasAfter = parseRetryAfter(resp.Header.Get("Retry-After"), s.Now())
	}
	if s.log.Enabled(ctx, slog.LevelDebug) { // the arguments cost allocations per request
		s.log.Debug("callback attempt", "seq", cb.Seq, "token", cb.TokenID, "events", len(batch), "first", EventID(cb.Receipt.MessageID, cb.Seq), "result", r.String(), "status", resp.StatusCode, "duration", d)
	}
	return o
}

// trimURLError drops the "Post \"url\": " prefix: the URL is known from the token.
func trimURLError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// windowStart is when the retry window of cb began: its first attempt as recorded by
// the store, else when its receipt was queued.
func windowStart(cb msgstore.Callback) time.Time {
	if !cb.FirstAttempt.IsZero() { // the store sets it at enqueue
		return cb.FirstAttempt
	}
	return cb.Receipt.QueuedAt
}

// recordFailure writes the outcome of a failed attempt for each report of batch: given
// up, or rescheduled with backoff; the rescheduled ones in one store write, since a
// receiver that fails does so for a whole batch, request after request.
func (s *Sender) recordFailure(batch []msgstore.Callback, o outcome) {
	now := s.Now()
	rs := make([]msgstore.Reschedule, 0, len(batch))
	for _, cb := range batch {
		switch {
		case o.giveUp:
			s.giveUp(cb, o.reason, o.detail)
		case o.result == ResultClientError && cb.Attempts+1 >= s.MaxClientErrorAttempts:
			s.giveUp(cb, GiveUpClientError, o.detail)
		default:
			// Retry-After is a floor, not a replacement: "Retry-After: 0" from a receiver
			// that keeps failing must not turn into a hot loop.
			delay := backoff(cb.Attempts+1, s.BaseBackoff, s.MaxBackoff)
			if o.hasAfter {
				delay = max(delay, o.retryAfter)
			}
			if r, ok := s.retryAt(cb, now, delay, o.detail); ok {
				s.obs.CallbackRetry(o.result)
				rs = append(rs, r)
			}
		}
	}
	s.reschedule(rs, o.detail)
}

// ackBatch records a 2xx for every report of batch, in one store write.
func (s *Sender) ackBatch(batch []msgstore.Callback) {
	now := s.Now()
	seqs := make([]uint64, len(batch))
	for i, cb := range batch {
		seqs[i] = cb.Seq
		s.obs.CallbackDelivered(now.Sub(cb.Receipt.QueuedAt))
	}
	s.Store.AckCallbacks(seqs, func(err error) {
		if err != nil {
			s.log.Error("callback: recording outcome", "seqs", len(seqs), "first", seqs[0], "token", batch[0].TokenID, "err", err)
		}
		s.finishWrite(seqs, err, nil)
	})
}

// retryAt schedules the next attempt of cb delay after now, or gives cb up once its
// retry window has passed. The last retry is pulled in to the window's end,
// Retry-After notwithstanding, so that the window is the promise operators read in
// the docs.
func (s *Sender) retryAt(cb msgstore.Callback, now time.Time, delay time.Duration, detail string) (msgstore.Reschedule, bool) {
	deadline := windowStart(cb).Add(s.RetryFor)
	if windowStart(cb).IsZero() {
		deadline = now.Add(s.RetryFor)
	}
	if !now.Before(deadline) {
		s.giveUp(cb, GiveUpExpired, fmt.Sprintf("no 2xx within %s; last: %s", s.RetryFor, detail))
		return msgstore.Reschedule{}, false
	}
	next := now.Add(delay)
	if next.After(deadline) {
		next = deadline
	}
	s.log.Debug("callback retry", "seq", cb.Seq, "token", cb.TokenID, "next", next, "detail", detail)
	return msgstore.Reschedule{Seq: cb.Seq, Next: next, Failed: true}, true
}

func (s *Sender) giveUp(cb msgstore.Callback, reason GiveUpReason, detail string) {
	s.obs.CallbackGiveUp(reason)
	s.log.Warn("callback given up", "seq", cb.Seq, "token", cb.TokenID, "message", cb.Receipt.MessageID, "reason", reason.String(), "detail", detail)
	s.Store.GiveUpCallback(cb.Seq, reason.String()+": "+detail, func(err error) {
		if err != nil {
			s.log.Error("callback: recording give-up", "seq", cb.Seq, "token", cb.TokenID, "err", err)
		}
		s.finishWrite([]uint64{cb.Seq}, err, nil)
	})
}

// reschedule writes rs (entries in flight) in one store write, then forgets them. The
// dispatcher must read the store again once their times have come: by timer, or at
// once for those already past when the write lands.
func (s *Sender) reschedule(rs []msgstore.Reschedule, lastErr string) {
	if len(rs) == 0 {
		return
	}
	earliest, first := rs[0].Next, msgstore.DueKey(rs[0].Next, rs[0].Seq)
	s.mu.Lock()
	for _, r := range rs {
		s.addWake(r.Next)
		if k := msgstore.DueKey(r.Next, r.Seq); bytes.Compare(k, first) < 0 {
			earliest, first = r.Next, k
		}
	}
	s.mu.Unlock()
	s.Store.RescheduleCallbacks(rs, lastErr, func(err error) {
		if err != nil {
			s.log.Error("callback: rescheduling", "callbacks", len(rs), "first", rs[0].Seq, "err", err)
		}
		if !earliest.After(s.Now()) {
			s.notified.Store(true)
		}
		seqs := make([]uint64, len(rs))
		for i, r := range rs {
			seqs[i] = r.Seq
		}
		// first: they may have landed behind where reads are; look there again.
		s.finishWrite(seqs, err, first)
	})
}

// deferBusy pushes back due callbacks that waited too long behind their slow host's
// PerHost limit (see dispatch), each by its delay, without counting an attempt; in
// flight meanwhile, all in one store write.
func (s *Sender) deferBusy(cbs []msgstore.Callback, delays []time.Duration, now time.Time) {
	rs := make([]msgstore.Reschedule, len(cbs))
	for i, cb := range cbs {
		rs[i] = msgstore.Reschedule{Seq: cb.Seq, Next: now.Add(delays[i] + backoff(1, s.BaseBackoff, s.BaseBackoff))}
		s.obs.CallbackDeferred()
	}
	s.reschedule(rs, "")
}

// skipLocked reports whether a store read should pass over seq: in flight, or its
// outcome written since the pass began (s.mu held).
func (s *Sender) skipLocked(seq uint64) bool {
	if _, ok := s.inflight[seq]; ok {
		return true
	}
	_, ok := s.justDone[seq]
	return ok
}

// skipSeq is the store read's SkipSeq: entries in flight, and those whose outcome
// was written since the pass began, held: where the read sees one of those now is
// where the write put it (a retry, due again), so reads must not move their start
// past it (s.mu held).
func (s *Sender) skipSeq(seq uint64) (skip, hold bool) {
	if _, ok := s.inflight[seq]; ok {
		return true, false
	}
	_, ok := s.justDone[seq]
	return ok, ok
}

// skipFullHost is the store read's Skip: entries of a receiver host with every
// PerHost slot busy, which could not be sent now anyway. A hung receiver's backlog is
// thus left where it is, costing a read a key and a URL per entry (and only once:
// see newFrom, readBehind), instead of being read, decoded and pushed back entry by
// entry. Dispatcher goroutine, s.mu held.
func (s *Sender) skipFullHost(seq uint64, url []byte) bool {
	h := s.hostOfURL(url)
	st := s.hosts[h]
	if st == nil || st.active < s.PerHost {
		return false
	}
	s.noteBehind(h, seq) // at most the read's Issued: the horizon once it returns
	return true
}

// hostOfURL is host for a URL read from the store, without a copy when memoized.
func (s *Sender) hostOfURL(url []byte) string {
	if h, ok := s.hostOf[string(url)]; ok {
		return h
	}
	return s.host(string(url))
}

// host returns hostKey(rawURL), parsing each distinct URL once: a token's reports all
// carry its URL. Dispatcher goroutine only; the memo is dropped when it grows past
// maxHostMemo distinct URLs.
func (s *Sender) host(rawURL string) string {
	if h, ok := s.hostOf[rawURL]; ok {
		return h
	}
	if len(s.hostOf) >= maxHostMemo {
		clear(s.hostOf)
	}
	h := hostKey(rawURL)
	s.hostOf[rawURL] = h
	return h
}

const maxHostMemo = 4096

// hostKey is the per-host limit's key: scheme-less host:port as the URL gives it,
// lower-cased. An unparsable URL gets its own key; the attempt will give it up.
func hostKey(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	return strings.ToLower(u.Host)
}
