package upstream

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smppd/smppd/internal/msgstore"
	"github.com/smppd/smppd/pdu"
)

// Link states, as Status and the Observer report them.
const (
	StateConnecting = "connecting"
	StateBound      = "bound"
	StateBackoff    = "backoff"
	StateStopped    = "stopped"
)

// job is one message handed to a link for submission.
type job struct {
	m     msgstore.Message
	queue time.Time
	slot  bool // holds one of the link's slots (see sender)
}

// link is one configured upstream: its sessions (one transceiver, or a
// transmitter and a receiver), each kept bound by its own reconnect loop,
// and a sender that submits queued jobs within the window and the TPS cap.
type link struct {
	c  *Connector
	up Upstream

	jobs  chan *job
	slots chan struct{} // Window tokens: submitted and not yet settled and committed

	mu        sync.Mutex
	tx        *session // carries submit_sm (the transceiver in that mode)
	roles     map[string]*roleState
	pauseTill time.Time // after ESME_RTHROTTLED: no submit before this
	lastErr   string
	lastErrAt time.Time

	submitted, accepted, rejected, retried, failed, receipts, unmatched, mos atomic.Uint64
}

type roleState struct {
	state     string
	since     time.Time
	sess      *session
	lastErr   string
	attempts  int
	connected time.Time
}

func newLink(c *Connector, up Upstream) *link {
	l := &link{c: c, up: up, jobs: make(chan *job, max(up.Window*2, 16)), slots: make(chan struct{}, up.Window),
		roles: make(map[string]*roleState)}
	for _, r := range l.roleNames() {
		l.roles[r] = &roleState{state: StateConnecting, since: time.Now()}
	}
	return l
}

// roleNames are the sessions the bind mode needs.
func (l *link) roleNames() []string {
	switch l.up.Bind {
	case BindTxRx:
		return []string{"tx", "rx"}
	case BindTransmitter:
		return []string{"tx"}
	}
	return []string{"trx"}
}

func bindCmd(role string) pdu.CommandID {
	switch role {
	case "tx":
		return pdu.CmdBindTransmitter
	case "rx":
		return pdu.CmdBindReceiver
	}
	return pdu.CmdBindTransceiver
}

// healthy reports whether the link can take a submission now.
func (l *link) healthy() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tx != nil && !l.tx.isClosed() && time.Now().After(l.pauseTill)
}

// submitting reports whether submissions of this link await a response or
// are queued (a receipt we cannot match yet may belong to one of them).
func (l *link) submitting() bool {
	l.mu.Lock()
	tx := l.tx
	l.mu.Unlock()
	return len(l.jobs) > 0 || len(l.slots) > 0 || (tx != nil && tx.outstanding() > 0)
}

// offer queues j without blocking; false when the link is down or full.
func (l *link) offer(j *job) bool {
	if !l.healthy() {
		return false
	}
	select {
	case l.jobs <- j:
		return true
	default:
		return false
	}
}

func (l *link) setErr(role, msg string) {
	l.mu.Lock()
	l.lastErr, l.lastErrAt = role+": "+msg, time.Now()
	if rs := l.roles[role]; rs != nil {
		rs.lastErr = msg
	}
	l.mu.Unlock()
}

func (l *link) setState(role, state string, s *session) {
	l.mu.Lock()
	rs := l.roles[role]
	rs.state, rs.since, rs.sess = state, time.Now(), s
	if state == StateBound {
		rs.connected = rs.since
		rs.attempts = 0
	}
	if role != "rx" {
		if state == StateBound {
			l.tx = s
		} else {
			l.tx = nil
		}
	}
	l.mu.Unlock()
	l.c.obs.LinkState(l.up.Name, role, state)
}

// run keeps role bound until ctx ends: connect, bind, wait for the session
// to close, back off (exponential with full jitter), again.
func (l *link) run(ctx context.Context, role string) {
	defer l.c.wg.Done()
	for ctx.Err() == nil {
		l.setState(role, StateConnecting, nil)
		s, err := dialSession(ctx, &l.up, bindCmd(role), func(h pdu.Header, p pdu.PDU, respond func(pdu.Status)) {
			l.c.deliver(l, h, p, respond)
		})
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			l.setErr(role, err.Error())
			l.c.log.Warn("upstream: connect", "upstream", l.up.Name, "role", role, "err", err)
			l.mu.Lock()
			rs := l.roles[role]
			rs.attempts++
			n := rs.attempts
			l.mu.Unlock()
			l.setState(role, StateBackoff, nil)
			if !sleep(ctx, backoff(l.up.Reconnect, n)) {
				break
			}
			continue
		}
		l.c.log.Info("upstream: bound", "upstream", l.up.Name, "role", role, "address", l.up.Address)
		l.setState(role, StateBound, s)
		l.c.wakePump()
		select {
		case <-s.done:
		case <-ctx.Done():
			l.setState(role, StateStopped, nil)
			l.drain(s)
			s.unbind(time.Second)
		}
		s.wait()
		if err := s.closedErr(); err != nil && ctx.Err() == nil {
			l.setErr(role, err.Error())
			l.c.log.Warn("upstream: session closed", "upstream", l.up.Name, "role", role, "err", err)
		}
		l.setState(role, StateBackoff, nil)
		l.mu.Lock()
		l.roles[role].attempts++
		n := l.roles[role].attempts
		l.mu.Unlock()
		if !sleep(ctx, backoff(l.up.Reconnect, n)) {
			break
		}
	}
	l.setState(role, StateStopped, nil)
}

// drain waits, at shutdown, until the submits in the window are answered
// (so that what the upstream accepted is recorded and not sent again after
// the restart), for at most the response timeout.
func (l *link) drain(s *session) {
	deadline := time.Now().Add(l.up.ResponseTimeout)
	for (s.outstanding() > 0 || len(l.slots) > 0) && time.Now().Before(deadline) {
		select {
		case <-s.done:
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// paceCatchUp is how far behind its schedule the MaxTPS pacing may catch
// up: in any second at most MaxTPS × (1s + paceCatchUp) submits go out
// (1000 TPS: 1020).
const paceCatchUp = 20 * time.Millisecond

// sender submits queued jobs in order, paced to MaxTPS, within the window.
func (l *link) sender(ctx context.Context) {
	defer l.c.wg.Done()
	var next time.Time // pacing: earliest time of the next submit
	interval := time.Duration(0)
	if l.up.MaxTPS > 0 {
		interval = time.Duration(float64(time.Second) / l.up.MaxTPS)
	}
	for {
		var j *job
		select {
		case j = <-l.jobs:
		case <-ctx.Done():
			l.failQueued()
			return
		}
		l.mu.Lock()
		pause := l.pauseTill
		l.mu.Unlock()
		if wait := time.Until(pause); wait > 0 && !sleep(ctx, wait) {
			l.c.settle(l, j, pdu.Header{}, nil, ErrSessionClosed)
			continue
		}
		if interval > 0 {
			now := time.Now()
			if next.After(now) && !sleep(ctx, next.Sub(now)) {
				l.c.settle(l, j, pdu.Header{}, nil, ErrSessionClosed)
				continue
			}
			// Timer overshoot and short stalls are made up for, up to
			// paceCatchUp behind schedule; a longer pause (idle, no slot)
			// starts the schedule afresh, so no burst follows it.
			if next.Before(now.Add(-paceCatchUp)) {
				next = now.Add(-paceCatchUp)
			}
			next = next.Add(interval)
		}
		// A slot is held from the submit until the upstream's answer is
		// committed (not merely read): so at most Window messages of this
		// link are ever accepted upstream and unrecorded here, which bounds
		// what a crash can make us submit twice.
		if !l.takeSlot(ctx) {
			l.c.settle(l, j, pdu.Header{}, nil, ErrSessionClosed)
			continue
		}
		j.slot = true
		l.mu.Lock()
		s := l.tx
		l.mu.Unlock()
		if s == nil || !s.acquire(ctx) {
			l.c.settle(l, j, pdu.Header{}, nil, ErrSessionClosed)
			continue
		}
		p, err := submitPDU(&j.m)
		if err != nil {
			s.release()
			l.c.settle(l, j, pdu.Header{}, nil, err)
			continue
		}
		l.submitted.Add(1)
		start := time.Now()
		s.send(p, true, func(h pdu.Header, resp pdu.PDU, err error) {
			l.c.obs.Submitted(l.up.Name, resultOf(h, err), time.Since(start))
			l.c.settle(l, j, h, resp, err)
		})
	}
}

func (l *link) takeSlot(ctx context.Context) bool {
	select {
	case l.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// freeSlot releases j's slot, once.
func (l *link) freeSlot(j *job) {
	if j.slot {
		j.slot = false
		<-l.slots
	}
}

// failQueued hands back what is still queued at shutdown.
func (l *link) failQueued() {
	for {
		select {
		case j := <-l.jobs:
			l.c.settle(l, j, pdu.Header{}, nil, ErrSessionClosed)
		default:
			return
		}
	}
}

// pause stops submissions to the link for d (the upstream throttled us).
func (l *link) pause(d time.Duration) {
	l.mu.Lock()
	if t := time.Now().Add(d); t.After(l.pauseTill) {
		l.pauseTill = t
	}
	l.mu.Unlock()
}

// submitPDU rebuilds what the client sent, from the body the gateway stored
// (a submit_sm, a data_sm, or the submit_multi this message is one
// destination of), checked against the message's own fields so that one
// body is never read as another kind; a message without a usable body is
// rebuilt from its fields. smppd always asks the upstream for a final
// receipt (registered_delivery bits 1-0 = 01), whatever the client asked
// for: the message's state, callbacks and query_sm depend on it; the client
// still gets only the receipts it asked for.
func submitPDU(m *msgstore.Message) (pdu.PDU, error) {
	var out pdu.PDU
	if len(m.Body) > 0 {
		if p := (&pdu.SubmitSM{}); p.DecodeBody(m.Body) == nil && p.Dest == m.Dest && p.Source == m.Source && p.DataCoding == m.DataCoding {
			p.RegisteredDelivery = p.RegisteredDelivery&^0x03 | 0x01
			out = p
		} else if d := (&pdu.DataSM{}); d.DecodeBody(m.Body) == nil && d.Dest == m.Dest && d.Source == m.Source && d.DataCoding == m.DataCoding {
			d.RegisteredDelivery = d.RegisteredDelivery&^0x03 | 0x01
			out = d
		} else if sm := (&pdu.SubmitMulti{}); sm.DecodeBody(m.Body) == nil && sm.Source == m.Source && sm.DataCoding == m.DataCoding {
			out = &pdu.SubmitSM{
				ServiceType: sm.ServiceType, Source: sm.Source, Dest: m.Dest, ESMClass: sm.ESMClass,
				ProtocolID: sm.ProtocolID, PriorityFlag: sm.PriorityFlag, ScheduleDeliveryTime: sm.ScheduleDeliveryTime,
				ValidityPeriod: sm.ValidityPeriod, RegisteredDelivery: sm.RegisteredDelivery&^0x03 | 0x01,
				ReplaceIfPresent: sm.ReplaceIfPresent, DataCoding: sm.DataCoding, SMDefaultMsgID: sm.SMDefaultMsgID,
				ShortMessage: sm.ShortMessage, TLVs: sm.TLVs,
			}
		}
	}
	if out == nil {
		out = &pdu.SubmitSM{
			ServiceType: m.ServiceType, Source: m.Source, Dest: m.Dest, ESMClass: m.ESMClass,
			ProtocolID: m.ProtocolID, PriorityFlag: m.PriorityFlag, RegisteredDelivery: m.RegisteredDelivery&^0x03 | 0x01,
			DataCoding: m.DataCoding, ShortMessage: m.Text,
		}
	}
	if p, ok := out.(*pdu.SubmitSM); ok {
		// The schedule was kept here (the message left the outbox only when
		// due), and a relative validity would start again at the upstream:
		// send the absolute end smppd computed.
		p.ScheduleDeliveryTime = ""
		p.ValidityPeriod = ""
		if !m.ExpireAt.IsZero() {
			p.ValidityPeriod = absTime(m.ExpireAt)
		}
	}
	return out, nil
}

// absTime formats t as an absolute SMPP time in UTC: YYMMDDhhmmsstnn+.
func absTime(t time.Time) string {
	t = t.UTC()
	return fmt.Sprintf("%02d%02d%02d%02d%02d%02d%d00+", t.Year()%100, int(t.Month()), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond()/1e8)
}

// resultOf is the metric label of a submit's outcome.
func resultOf(h pdu.Header, err error) string {
	if err != nil {
		if err == ErrResponseTimeout {
			return "timeout"
		}
		return "connection_lost"
	}
	return h.Status.String()
}

// backoff is the n-th (1-based) delay of b: exponential from Min, capped at
// Max, with full jitter in its upper half so reconnecting links spread out.
func backoff(b Backoff, n int) time.Duration {
	d := b.Min
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
