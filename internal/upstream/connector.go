// Package upstream forwards live tokens' messages to upstream SMSCs over
// SMPP and brings their receipts and inbound (MO) messages back.
//
// The Connector drains the message store's outbox: for each message it asks
// the routing table for the upstreams to try, offers it to the first bound
// one with room, and submits it there within that upstream's window and TPS
// cap, on a client built on smppd's own pdu codec (6-8x go-smpp's throughput:
// BenchmarkClientOwn vs BenchmarkClientGoSMPP). What happens next:
//
//   - ESME_ROK: the store commits, in one operation, that the message left
//     the outbox and that the upstream's id maps to smppd's (Store.Forwarded,
//     kept for Config.MapTTL). It is never submitted again.
//   - ESME_RTHROTTLED, ESME_RMSGQFUL, ESME_RSYSERR: the message stays in the
//     outbox and is retried after Upstream.Retry's backoff (the link also
//     pauses for Retry.Min on a throttle), starting with the next upstream
//     of its route.
//   - any other status (or generic_nack): a final REJECTD outcome, err =
//     the upstream's command_status as three hex digits (ESME_RINVDSTADR →
//     "00B"), reported through Reporter.Outcome (receipt and callback).
//   - no answer (connection lost, response timeout): the upstream may or may
//     not have the message; it stays in the outbox and is submitted again,
//     to the next upstream of its route first.
//   - no route: REJECTD, err "00B" (the gateway rejects such submits at once
//     with the Gateway.LiveRouting middleware; this covers a route removed later).
//   - all its upstreams down: it waits in the outbox; when its validity
//     period ends it is reported EXPIRED.
//
// Exactly-once, and the one window that can duplicate: a message leaves the
// outbox only in the same commit that records the upstream's acceptance,
// so nothing unacknowledged is lost. A message is submitted twice only if
// the upstream accepted it and its submit_sm_resp did not reach our fsync:
// the process died (or the connection broke, or the response timed out)
// between the upstream's commit and ours. That window cannot be closed from
// our side: SMPP 3.4 has no idempotency key and no way to ask an upstream
// "did you get this?", so after the crash we cannot tell "sent and accepted"
// from "sent and lost" and must choose between a possible duplicate and a
// possible loss; we choose the duplicate. We keep it as small as the
// protocol allows: in time, the acceptance is committed in the very next
// group commit (one fsync, no batching timer); in count, a link's window
// slot is released only once the acceptance is committed, not when the
// response is read, so at most Upstream.Window messages per upstream are
// ever "accepted there, not yet recorded here" — the most a crash can
// duplicate (TestCrashNoLossNoDuplicate). The price: one link carries at
// most Window / (round trip + commit time) messages per second. At shutdown
// each link waits for the responses of its window before unbinding, so a
// clean stop duplicates nothing.
//
// Upstream receipts (deliver_sm or data_sm with a receipt esm_class, or with
// receipted_message_id) are matched by the upstream's id in whatever form it
// uses: case, leading zeros and hex vs decimal are normalised (idCandidates),
// and reported with Reporter.Outcome under smppd's own id. Anything else the
// upstream delivers is an MO message: it is queued durably (Store.EnqueueMO)
// for the token that owns its destination number (Config.Inbound) before the
// upstream gets ESME_ROK; ESME_RINVDSTADR if no token owns the number.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smppd/smppd/internal/msgstore"
	"github.com/smppd/smppd/internal/route"
	"github.com/smppd/smppd/pdu"
)

// Reporter commits a live message's outcome with the receipt and callback it
// owes. *gateway.Gateway implements it.
type Reporter interface {
	Outcome(id uint64, state pdu.MessageState, errCode string, networkError [3]byte, at time.Time, done func(error))
}

// TokenResolver finds a token by id or name (tokenstore's Get); used for
// routes and number ranges that name tokens.
type TokenResolver func(idOrName string) (id, name string, err error)

// Observer receives per-upstream events for metrics. Methods must be cheap
// and safe for concurrent use. Labels are bounded: upstream names come from
// the config, roles are trx/tx/rx, states the State* constants, results a
// command_status name, "timeout" or "connection_lost".
type Observer interface {
	LinkState(upstream, role, state string)
	Submitted(upstream, result string, d time.Duration)
	Receipt(upstream string, matched bool)
	MO(upstream string, accepted bool)
}

type nopObserver struct{}

func (nopObserver) LinkState(string, string, string)        {}
func (nopObserver) Submitted(string, string, time.Duration) {}
func (nopObserver) Receipt(string, bool)                    {}
func (nopObserver) MO(string, bool)                         {}

// Options configure New. Store and Reporter are required.
type Options struct {
	Config   Config // SetDefaults and Validate are applied by New
	Store    *msgstore.Store
	Reporter Reporter
	// Tokens resolves token names used in routes and inbound ranges; nil
	// means the config names tokens by id only.
	Tokens TokenResolver
	// TokensGeneration is the token store's edit counter
	// (tokenstore.Store.Generation): names Tokens gave are kept while it stays
	// the same, so a renamed token takes its new name's route at once. nil
	// keeps them for the connector's life.
	TokensGeneration func() uint64
	// OnMO is called after an MO was queued for tokenID (the gateway's MO
	// dispatcher wakes up on it).
	OnMO     func(tokenID string)
	Observer Observer
	Logger   *slog.Logger
}

// Tunables of the outbox pump.
const (
	scanBatch      = 512
	scanInterval   = time.Second      // rescan of the outbox while links are up
	expiryInterval = 10 * time.Second // expiry sweep while every link is down (besides known expiries)
	janitorEvery   = time.Minute      // map and MO TTLs
	noRouteErr     = "00B"            // ESME_RINVDSTADR
)

// Connector forwards the outbox to upstreams. Create it with New, then
// Start; Stop before closing the store.
type Connector struct {
	cfg     Config
	store   *msgstore.Store
	rep     Reporter
	tokens  TokenResolver
	onMO    func(string)
	obs     Observer
	log     *slog.Logger
	routes  *route.Table
	numbers *route.Numbers
	links   map[string]*link
	order   []string // link names in config order

	needNames bool
	names     sync.Map // token id → cachedName
	tokensGen func() uint64

	mu       sync.Mutex
	inflight map[uint64]struct{}
	retryAt  map[uint64]time.Time
	attempts map[uint64]int
	acking   map[string]uint64 // upstream‖0‖id → smppd id, between submit_sm_resp and its commit
	parked   map[*parkedReceipt]struct{}
	cursor   uint64
	rescan   bool
	seen     uint64 // highest outbox id an expiry sweep has read
	// gone holds messages that left the outbox (forwarded or finished),
	// with the scan number current then: a scan that read the outbox
	// before the commit may still hold them, so they are skipped until
	// the next scan starts (scans run one at a time, on the pump).
	gone    map[uint64]uint64
	scanSeq uint64

	wake   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New validates the config and builds the connector (no I/O yet).
func New(o Options) (*Connector, error) {
	if o.Store == nil || o.Reporter == nil {
		return nil, errors.New("upstream: New needs a Store and a Reporter")
	}
	cfg := o.Config
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	routes, numbers, err := cfg.tables()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	c := &Connector{
		cfg: cfg, store: o.Store, rep: o.Reporter, tokens: o.Tokens, tokensGen: o.TokensGeneration, onMO: o.OnMO,
		obs: o.Observer, log: o.Logger, routes: routes, numbers: numbers,
		links:    make(map[string]*link),
		inflight: make(map[uint64]struct{}),
		retryAt:  make(map[uint64]time.Time),
		attempts: make(map[uint64]int),
		acking:   make(map[string]uint64),
		parked:   make(map[*parkedReceipt]struct{}),
		gone:     make(map[uint64]uint64),
		wake:     make(chan struct{}, 1),
	}
	if c.obs == nil {
		c.obs = nopObserver{}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.onMO == nil {
		c.onMO = func(string) {}
	}
	for _, r := range cfg.Routes {
		c.needNames = c.needNames || r.Token != ""
	}
	for _, u := range cfg.Upstreams {
		c.links[u.Name] = newLink(c, u)
		c.order = append(c.order, u.Name)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// Start connects every upstream and starts draining the outbox.
func (c *Connector) Start() {
	for _, name := range c.order {
		l := c.links[name]
		for _, role := range l.roleNames() {
			c.wg.Add(1)
			go l.run(c.ctx, role)
		}
		c.wg.Add(1)
		go l.sender(c.ctx)
	}
	c.wg.Add(2)
	go c.pump()
	go c.janitor()
}

// Stop stops submitting, waits (up to each upstream's response timeout, and
// until ctx ends) for the answers to what is in flight so that they are
// recorded, unbinds and returns. Messages not yet acknowledged stay in the
// outbox for the next start.
func (c *Connector) Stop(ctx context.Context) error {
	c.cancel()
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Wake tells the connector that live messages were committed to the outbox.
// Cheap; call it from the submit path.
func (c *Connector) Wake() { signal(c.wake) }

func (c *Connector) wakePump() {
	c.mu.Lock()
	c.rescan = true
	c.mu.Unlock()
	signal(c.wake)
}

// Routable reports whether a message of the token to dest has a route. The
// gateway rejects submits without one (Gateway.LiveRouting).
func (c *Connector) Routable(tokenID, tokenName, dest string) bool {
	return c.routes.Lookup(tokenID, tokenName, dest) != nil
}

// cachedName is a token's name as read while the token store's generation was gen.
type cachedName struct {
	name string
	gen  uint64
}

// tokenName returns the name of a token id for routes that name tokens: the
// gateway checked the route with the token's current name, and forwarding
// must pick the same one.
func (c *Connector) tokenName(id string) string {
	if !c.needNames || c.tokens == nil {
		return ""
	}
	var gen uint64
	if c.tokensGen != nil {
		gen = c.tokensGen() // before the read: an edit racing it leaves the entry stale, read again next time
	}
	if v, ok := c.names.Load(id); ok && v.(cachedName).gen == gen {
		return v.(cachedName).name
	}
	_, name, err := c.tokens(id)
	if err != nil {
		return ""
	}
	c.names.Store(id, cachedName{name, gen})
	return name
}

// pump is the outbox loop: scan while a link can take messages, sweep for
// expired messages while none can, sleep until woken or the next retry.
func (c *Connector) pump() {
	defer c.wg.Done()
	var nextSweep time.Time
	woken := false
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		now := time.Now()
		var next time.Time
		switch {
		case c.anyHealthy():
			next = earliest(now.Add(scanInterval), c.scan(now, false, 0))
			nextSweep = time.Time{}
		case woken:
			// New messages while every upstream is down: learn their
			// validity ends without reading the whole outbox again.
			c.mu.Lock()
			from := c.seen
			c.mu.Unlock()
			nextSweep = earliest(nextSweep, c.scan(now, true, from))
			next = nextSweep
		case !now.Before(nextSweep):
			// Every upstream is down: only expiries (and routes that
			// vanished) can change anything; look again at the first
			// validity end, or after expiryInterval.
			// Sweeps are at least a second apart: each reads the outbox.
			nextSweep = earliest(now.Add(expiryInterval), c.scan(now, true, 0))
			if d := nextSweep.Sub(now); d < time.Second {
				nextSweep = now.Add(time.Second)
			}
			next = nextSweep
		default:
			next = nextSweep
		}
		timer.Reset(max(time.Until(next), time.Millisecond))
		woken = false
		select {
		case <-c.ctx.Done():
			return
		case <-c.wake:
			woken = !nextSweep.IsZero()
		case <-timer.C:
			c.mu.Lock()
			c.rescan = true
			c.mu.Unlock()
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// earliest returns the earlier of a and b, ignoring a zero b.
func earliest(a, b time.Time) time.Time {
	if !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}

// room is how many more jobs the healthy links' queues can take.
func (c *Connector) room() int {
	n := 0
	for _, l := range c.links {
		if l.healthy() {
			n += cap(l.jobs) - len(l.jobs)
		}
	}
	return n
}

func (c *Connector) anyHealthy() bool {
	for _, l := range c.links {
		if l.healthy() {
			return true
		}
	}
	return false
}

type verdict int

const (
	queued  verdict = iota // handed to a link, or being finished
	waiting                // not now: in flight, retry backoff, scheduled, upstreams down
	full                   // its upstreams are up but have no room: stop scanning
)

// scan walks the outbox from the cursor and hands messages to links until
// they are full; expiryOnly only finishes expired and unroutable messages.
// It returns when the next retry, scheduled message or expiry is due (zero:
// nothing seen).
//
// An expiry-only scan starts after from (0: the whole outbox) and records the
// highest id it saw in c.seen, so that a wake while every upstream is down
// reads only the messages that arrived since.
func (c *Connector) scan(now time.Time, expiryOnly bool, from uint64) time.Time {
	c.mu.Lock()
	c.scanSeq++
	for id, seq := range c.gone {
		if seq < c.scanSeq {
			delete(c.gone, id) // every read from now on is after its commit
		}
	}
	cursor := c.cursor
	if c.rescan {
		cursor, c.rescan = 0, false
	}
	if expiryOnly {
		cursor = from
	}
	c.mu.Unlock()
	var next time.Time
	batch := scanBatch
	if !expiryOnly {
		// Read no more than the links can take now.
		batch = min(max(c.room(), 16), scanBatch)
	}
	for {
		msgs, err := c.store.Outbox(cursor, batch)
		if err != nil {
			if !errors.Is(err, msgstore.ErrClosed) {
				c.log.Error("upstream: reading the outbox", "err", err)
			}
			return next
		}
		for i := range msgs {
			m := &msgs[i]
			v, at := c.consider(m, now, expiryOnly)
			if next.IsZero() {
				next = at
			} else {
				next = earliest(next, at)
			}
			if v == full {
				c.mu.Lock()
				c.cursor = m.ID - 1
				c.mu.Unlock()
				return next
			}
			cursor = m.ID
			if expiryOnly {
				c.mu.Lock()
				c.seen = max(c.seen, m.ID)
				c.mu.Unlock()
			}
		}
		if len(msgs) < batch {
			c.mu.Lock()
			c.cursor = 0
			c.mu.Unlock()
			return next
		}
	}
}

// consider decides what to do with one outbox message now.
func (c *Connector) consider(m *msgstore.Message, now time.Time, expiryOnly bool) (verdict, time.Time) {
	c.mu.Lock()
	if _, ok := c.inflight[m.ID]; ok {
		c.mu.Unlock()
		return waiting, time.Time{}
	}
	if _, ok := c.gone[m.ID]; ok {
		c.mu.Unlock()
		return waiting, time.Time{} // a stale read: it left the outbox meanwhile
	}
	if t, ok := c.retryAt[m.ID]; ok && now.Before(t) {
		c.mu.Unlock()
		return waiting, t
	}
	c.mu.Unlock()
	if !m.ExpireAt.IsZero() && !now.Before(m.ExpireAt) {
		c.finish(m.ID, pdu.StateExpired, "000", "validity period ended in the outbox")
		return queued, time.Time{}
	}
	ups := c.routes.Lookup(m.TokenID, c.tokenName(m.TokenID), m.Dest.Addr)
	if len(ups) == 0 {
		c.finish(m.ID, pdu.StateRejected, noRouteErr, "no route")
		return queued, time.Time{}
	}
	if m.ScheduleAt.After(now) {
		return waiting, m.ScheduleAt
	}
	if expiryOnly {
		return waiting, m.ExpireAt
	}
	c.mu.Lock()
	start := c.attempts[m.ID]
	c.inflight[m.ID] = struct{}{}
	c.mu.Unlock()
	j := &job{m: *m, queue: now}
	anyUp := false
	for k := range ups {
		l := c.links[ups[(start+k)%len(ups)]]
		if l == nil {
			continue
		}
		if l.offer(j) {
			return queued, time.Time{}
		}
		anyUp = anyUp || l.healthy()
	}
	c.mu.Lock()
	delete(c.inflight, m.ID)
	c.mu.Unlock()
	if anyUp {
		return full, time.Time{}
	}
	return waiting, m.ExpireAt
}

// finish reports a final outcome decided here (expired, rejected, no route).
func (c *Connector) finish(id uint64, state pdu.MessageState, errCode, why string) {
	c.mu.Lock()
	c.inflight[id] = struct{}{}
	c.mu.Unlock()
	c.rep.Outcome(id, state, errCode, [3]byte{}, time.Now(), func(err error) {
		if err != nil && !errors.Is(err, msgstore.ErrFinal) && !errors.Is(err, msgstore.ErrNotFound) {
			c.log.Error("upstream: reporting outcome", "message", id, "state", state.Stat(), "err", err)
		} else {
			c.log.Debug("upstream: outcome", "message", id, "state", state.Stat(), "why", why)
		}
		c.forget(id, err != nil && !errors.Is(err, msgstore.ErrFinal) && !errors.Is(err, msgstore.ErrNotFound))
	})
}

// forget ends a message's in-flight life; rescan makes the pump look at the
// outbox from the start again (the message may still be there).
func (c *Connector) forget(id uint64, rescan bool) {
	c.mu.Lock()
	delete(c.inflight, id)
	if !rescan {
		delete(c.attempts, id)
		delete(c.retryAt, id)
		c.gone[id] = c.scanSeq
	}
	c.rescan = c.rescan || rescan
	c.mu.Unlock()
	// A window slot or queue place is free again: the pump resumes its scan.
	signal(c.wake)
}

// transient reports whether an upstream's refusal is worth a retry.
func transient(st pdu.Status) bool {
	switch st {
	case pdu.StatusThrottled, pdu.StatusMsgQFul, pdu.StatusSysErr:
		return true
	}
	return false
}

// errCode spells a command_status as the receipt's three-character err.
func errCode(st pdu.Status) string {
	if st > 0xFFF {
		return "FFF"
	}
	return fmt.Sprintf("%03X", uint32(st))
}

// settle handles the answer to one submission (on a session's read loop, or
// the sender): it must not block.
func (c *Connector) settle(l *link, j *job, h pdu.Header, resp pdu.PDU, err error) {
	id := j.m.ID
	if err != nil || h.Status != pdu.StatusOK {
		l.freeSlot(j)
	}
	switch {
	case err != nil:
		// Unknown fate: submit again, next upstream first, no delay.
		l.failed.Add(1)
		c.mu.Lock()
		c.attempts[id]++
		c.mu.Unlock()
		c.forget(id, true)
	case h.Status == pdu.StatusOK:
		l.accepted.Add(1)
		uid := ""
		switch r := resp.(type) {
		case *pdu.SubmitSMResp:
			uid = r.MessageID
		case *pdu.DataSMResp:
			uid = r.MessageID
		}
		key := normID(uid)
		if key == "" {
			// Accepted without an id: it must leave the outbox all the same;
			// its receipts cannot be matched.
			key = "#" + strconv.FormatUint(id, 10)
			c.log.Warn("upstream: accepted without a message id", "upstream", l.up.Name, "message", id)
		}
		ak := l.up.Name + "\x00" + key
		c.mu.Lock()
		c.acking[ak] = id
		var waiting []*parkedReceipt
		if len(c.parked) > 0 {
			waiting = c.matchParkedLocked(l.up.Name, key)
		}
		c.mu.Unlock()
		for _, p := range waiting {
			p.resolve(id, true)
		}
		c.store.Forwarded(msgstore.Forward{ID: id, Upstream: l.up.Name, UpstreamID: key, ExpireAt: time.Now().Add(c.cfg.MapTTL)}, func(err error) {
			c.mu.Lock()
			delete(c.acking, ak)
			c.mu.Unlock()
			l.freeSlot(j)
			if err != nil && !errors.Is(err, msgstore.ErrFinal) && !errors.Is(err, msgstore.ErrExists) {
				// Still in the outbox: it will be submitted again (the
				// duplicate window, widened by a failing disk).
				c.log.Error("upstream: recording an accepted message", "upstream", l.up.Name, "message", id, "err", err)
				c.forget(id, true)
				return
			}
			c.forget(id, false)
		})
	case transient(h.Status):
		l.retried.Add(1)
		if h.Status != pdu.StatusSysErr {
			l.pause(l.up.Retry.Min)
		}
		c.mu.Lock()
		c.attempts[id]++
		c.retryAt[id] = time.Now().Add(backoff(l.up.Retry, c.attempts[id]))
		c.mu.Unlock()
		c.forget(id, true)
	default:
		l.rejected.Add(1)
		l.setErr("submit", h.Status.String())
		c.finish(id, pdu.StateRejected, errCode(h.Status), "upstream refused: "+h.Status.String())
	}
}

// normID is the form an upstream id is stored in: trimmed, lower case, and
// without leading zeros when it is all hex digits.
func normID(s string) string {
	s = strings.ToLower(strings.Trim(s, " \t\r\n\x00"))
	if s == "" || !allIn(s, 16) {
		return s
	}
	t := strings.TrimLeft(s, "0")
	if t == "" {
		return "0"
	}
	return t
}

// idCandidates are the stored forms an id seen in a receipt may have been
// acknowledged as: itself normalised, and — when it reads as a number — the
// same number in the other base (receipts often spell a hex submit_sm_resp
// id in decimal, or the reverse).
func idCandidates(s string) []string {
	n := normID(s)
	out := []string{n}
	if n == "" {
		return out
	}
	if allIn(n, 10) {
		if v, err := strconv.ParseUint(n, 10, 64); err == nil {
			if h := strconv.FormatUint(v, 16); h != n {
				out = append(out, h)
			}
		}
	}
	if allIn(n, 16) {
		if v, err := strconv.ParseUint(n, 16, 64); err == nil {
			if d := strconv.FormatUint(v, 10); d != n {
				out = append(out, d)
			}
		}
	}
	return out
}

func allIn(s string, base int) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
		case base == 16 && c >= 'a' && c <= 'f':
		default:
			return false
		}
	}
	return true
}

// deliver handles a deliver_sm or data_sm from an upstream: a receipt or an
// MO message.
func (c *Connector) deliver(l *link, h pdu.Header, p pdu.PDU, respond func(pdu.Status)) {
	var d *pdu.DeliverSM
	switch v := p.(type) {
	case *pdu.DeliverSM:
		d = v
	case *pdu.DataSM:
		d = &pdu.DeliverSM{ServiceType: v.ServiceType, Source: v.Source, Dest: v.Dest, ESMClass: v.ESMClass,
			RegisteredDelivery: v.RegisteredDelivery, DataCoding: v.DataCoding, TLVs: v.TLVs}
	default:
		respond(pdu.StatusInvCmdID)
		return
	}
	rid, hasRID := d.TLVs.ReceiptedMessageID()
	switch typ := d.ESMClass & 0x3C; {
	case typ == 0x04 || typ == 0x08 || typ == 0x20 || hasRID:
		c.receipt(l, d, rid, respond)
	default:
		c.mo(l, d, respond)
	}
}

func (c *Connector) receipt(l *link, d *pdu.DeliverSM, rid string, respond func(pdu.Status)) {
	l.receipts.Add(1)
	text := d.ShortMessage
	if len(text) == 0 {
		text, _ = d.TLVs.MessagePayload()
	}
	rc, perr := pdu.ParseReceipt(text)
	id := rid
	if id == "" && perr == nil {
		id = rc.ID
	}
	state, ok := d.TLVs.MessageState()
	if !ok && perr == nil {
		state, ok = rc.Stat, true
	}
	unmatched := func(why string) {
		l.unmatched.Add(1)
		c.obs.Receipt(l.up.Name, false)
		c.log.Info("upstream: receipt not matched", "upstream", l.up.Name, "id", id, "why", why)
		respond(pdu.StatusOK) // refusing it would only make the upstream send it again
	}
	if id == "" || !ok {
		unmatched("no id or state")
		return
	}
	var errc string
	if perr == nil {
		errc = rc.Err
	}
	var ne [3]byte
	if v, ok := d.TLVs.NetworkErrorCode(); ok {
		ne = [3]byte{v.Type, byte(v.Code >> 8), byte(v.Code)}
	}
	cands := idCandidates(id)
	report := func(sid uint64, found bool) {
		if !found {
			unmatched("unknown id")
			return
		}
		c.obs.Receipt(l.up.Name, true)
		c.rep.Outcome(sid, state, errc, ne, time.Now(), func(err error) {
			switch {
			case err == nil, errors.Is(err, msgstore.ErrFinal), errors.Is(err, msgstore.ErrNotFound):
				respond(pdu.StatusOK)
			default:
				c.log.Error("upstream: committing a receipt", "upstream", l.up.Name, "message", sid, "err", err)
				respond(pdu.StatusSysErr)
			}
		})
	}
	if sid, ok := c.lookupAcking(l.up.Name, cands); ok {
		report(sid, true)
		return
	}
	sid, err := c.store.LookupForward(l.up.Name, cands...)
	switch {
	case err == nil:
		report(sid, true)
		return
	case !errors.Is(err, msgstore.ErrNotFound):
		c.log.Error("upstream: receipt lookup", "upstream", l.up.Name, "err", err)
		respond(pdu.StatusSysErr) // the upstream sends it again later
		return
	}
	if !l.submitting() {
		report(0, false)
		return
	}
	// With a transmitter and a receiver the receipt can overtake the
	// submit_sm_resp it belongs to (two connections): park it until a
	// response of this link names its id, or the response timeout.
	c.park(l, cands, report)
}

// parkedReceipt is a receipt waiting for its submit_sm_resp.
type parkedReceipt struct {
	link    string
	cands   []string
	resolve func(sid uint64, found bool)
}

func (c *Connector) lookupAcking(link string, cands []string) (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lookupAckingLocked(link, cands)
}

func (c *Connector) lookupAckingLocked(link string, cands []string) (uint64, bool) {
	for _, k := range cands {
		if v, ok := c.acking[link+"\x00"+k]; ok {
			return v, true
		}
	}
	return 0, false
}

func (c *Connector) park(l *link, cands []string, resolve func(uint64, bool)) {
	p := &parkedReceipt{link: l.up.Name, cands: cands, resolve: resolve}
	c.mu.Lock()
	if sid, ok := c.lookupAckingLocked(l.up.Name, cands); ok {
		c.mu.Unlock()
		resolve(sid, true)
		return
	}
	c.parked[p] = struct{}{}
	c.mu.Unlock()
	// The response may have been read, recorded and forgotten between the
	// lookups above and the parking: look in the store once more.
	if sid, err := c.store.LookupForward(l.up.Name, cands...); err == nil && c.unpark(p) {
		resolve(sid, true)
		return
	}
	time.AfterFunc(l.up.ResponseTimeout, func() {
		if c.unpark(p) {
			resolve(0, false)
		}
	})
}

// unpark removes p; false when someone else already resolved it.
func (c *Connector) unpark(p *parkedReceipt) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.parked[p]; !ok {
		return false
	}
	delete(c.parked, p)
	return true
}

// matchParkedLocked returns the parked receipts that key (an acknowledged
// upstream id of link) resolves, removing them.
func (c *Connector) matchParkedLocked(link, key string) []*parkedReceipt {
	var out []*parkedReceipt
	for p := range c.parked {
		if p.link != link {
			continue
		}
		for _, k := range p.cands {
			if k == key {
				out = append(out, p)
				delete(c.parked, p)
				break
			}
		}
	}
	return out
}

func (c *Connector) mo(l *link, d *pdu.DeliverSM, respond func(pdu.Status)) {
	l.mos.Add(1)
	owner, ok := c.numbers.Owner(d.Dest.Addr)
	tokenID := owner
	if ok && c.tokens != nil {
		id, _, err := c.tokens(owner)
		if err != nil {
			ok = false
		} else {
			tokenID = id
		}
	}
	if !ok {
		c.obs.MO(l.up.Name, false)
		c.log.Info("upstream: MO for a number no token owns", "upstream", l.up.Name, "dest", d.Dest.Addr)
		respond(pdu.StatusInvDstAdr)
		return
	}
	body, err := d.AppendBody(nil)
	if err != nil {
		c.obs.MO(l.up.Name, false)
		respond(pdu.StatusSysErr)
		return
	}
	c.store.EnqueueMO(&msgstore.MO{TokenID: tokenID, Upstream: l.up.Name, Source: d.Source, Dest: d.Dest, Body: body, ReceivedAt: time.Now()}, func(err error) {
		if err != nil {
			c.obs.MO(l.up.Name, false)
			c.log.Error("upstream: queueing an MO", "upstream", l.up.Name, "err", err)
			respond(pdu.StatusSysErr)
			return
		}
		c.obs.MO(l.up.Name, true)
		respond(pdu.StatusOK)
		c.onMO(tokenID)
	})
}

// janitor forgets expired id mappings (their messages, still waiting for a
// receipt, become UNKNOWN) and expired MOs.
func (c *Connector) janitor() {
	defer c.wg.Done()
	t := time.NewTicker(janitorEvery)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		c.expire(time.Now())
	}
}

func (c *Connector) expire(now time.Time) {
	for {
		ids, err := c.store.ExpireForwards(now, 0)
		if err != nil {
			c.log.Error("upstream: expiring id map", "err", err)
			break
		}
		for _, id := range ids {
			c.rep.Outcome(id, pdu.StateUnknown, "000", [3]byte{}, now, func(error) {})
		}
		if len(ids) < 4096 {
			break
		}
	}
	if _, err := c.store.ExpireMOs(now.Add(-c.cfg.MOTTL), 0); err != nil {
		c.log.Error("upstream: expiring MOs", "err", err)
	}
}

// Status is a snapshot for `smppd upstream status`.
type Status struct {
	Outbox    int          `json:"outbox"`    // live messages waiting in the store
	InFlight  int          `json:"in_flight"` // handed to a link, not settled
	Retrying  int          `json:"retrying"`  // waiting for a retry after a throttle
	Upstreams []LinkStatus `json:"upstreams"`
}

// LinkStatus describes one upstream.
type LinkStatus struct {
	Name        string          `json:"name"`
	Address     string          `json:"address"`
	Bind        string          `json:"bind"`
	State       string          `json:"state"` // bound when it can submit
	Sessions    []SessionStatus `json:"sessions"`
	Window      int             `json:"window"`
	WindowInUse int             `json:"window_in_use"`
	Queued      int             `json:"queued"` // handed to this upstream, not yet submitted
	MaxTPS      float64         `json:"max_tps"`
	Submitted   uint64          `json:"submitted"`
	Accepted    uint64          `json:"accepted"`
	Rejected    uint64          `json:"rejected"`
	Retried     uint64          `json:"retried"`
	Failed      uint64          `json:"failed"` // no answer: connection lost or timeout
	Receipts    uint64          `json:"receipts"`
	Unmatched   uint64          `json:"unmatched_receipts"`
	MO          uint64          `json:"mo"`
	LastError   string          `json:"last_error,omitempty"`
	LastErrorAt time.Time       `json:"last_error_at,omitzero"`
}

// SessionStatus is one SMPP session of an upstream.
type SessionStatus struct {
	Role      string    `json:"role"` // trx, tx or rx
	State     string    `json:"state"`
	Since     time.Time `json:"since"`
	LastError string    `json:"last_error,omitempty"`
}

// Status returns a snapshot of every upstream, in config order.
func (c *Connector) Status() Status {
	st := Status{Outbox: c.store.Stats().Outbox}
	c.mu.Lock()
	st.InFlight = len(c.inflight)
	now := time.Now()
	for _, t := range c.retryAt {
		if t.After(now) {
			st.Retrying++
		}
	}
	c.mu.Unlock()
	for _, name := range c.order {
		l := c.links[name]
		ls := LinkStatus{
			Name: name, Address: l.up.Address, Bind: l.up.Bind, Window: l.up.Window, MaxTPS: l.up.MaxTPS,
			Queued: len(l.jobs), Submitted: l.submitted.Load(), Accepted: l.accepted.Load(),
			Rejected: l.rejected.Load(), Retried: l.retried.Load(), Failed: l.failed.Load(),
			Receipts: l.receipts.Load(), Unmatched: l.unmatched.Load(), MO: l.mos.Load(),
		}
		l.mu.Lock()
		ls.LastError, ls.LastErrorAt = l.lastErr, l.lastErrAt
		ls.WindowInUse = len(l.slots)
		ls.State = StateBound
		for _, role := range l.roleNames() {
			rs := l.roles[role]
			ls.Sessions = append(ls.Sessions, SessionStatus{Role: role, State: rs.state, Since: rs.since, LastError: rs.lastErr})
			if rs.state != StateBound && ls.State == StateBound {
				ls.State = rs.state
			}
		}
		l.mu.Unlock()
		st.Upstreams = append(st.Upstreams, ls)
	}
	return st
}
