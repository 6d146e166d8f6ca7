package gateway

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/smppd/smppd/internal/msgstore"
	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/smppd"
)

// Hooks for live traffic (issue 6): the upstream connector (internal/upstream)
// forwards the outbox; these connect it to the gateway without the gateway
// importing it.

// LiveRouting returns middleware for the gateway's handler: a submit_sm,
// data_sm or submit_multi of a live token to a destination without a route
// is rejected with ESME_RINVDSTADR before anything is stored (a submit_multi
// if any of its destinations has none), and every accepted live submission
// calls accepted (the connector's Wake) once its response is sent.
func (g *Gateway) LiveRouting(routable func(tokenID, tokenName, dest string) bool, accepted func()) smppd.Middleware {
	if accepted == nil {
		accepted = func() {}
	}
	return func(next smppd.Handler) smppd.Handler {
		return smppd.HandlerFunc(func(ctx context.Context, w smppd.ResponseWriter, r *smppd.Request) {
			ss, _ := r.Session.Identity().Data.(*sessionState)
			if ss == nil || ss.token == nil {
				next.ServeSMPP(ctx, w, r)
				return
			}
			tok := ss.token.token()
			if tok == nil || tok.TestMode {
				next.ServeSMPP(ctx, w, r)
				return
			}
			var dests []string
			switch p := r.PDU.(type) {
			case *pdu.SubmitSM:
				dests = []string{p.Dest.Addr}
			case *pdu.DataSM:
				dests = []string{p.Dest.Addr}
			case *pdu.SubmitMulti:
				for _, d := range p.Dests {
					if d.DLName == "" {
						dests = append(dests, d.Addr.Addr)
					}
				}
			default:
				next.ServeSMPP(ctx, w, r)
				return
			}
			for _, d := range dests {
				if !routable(tok.ID, tok.Name, d) {
					g.obs.Submit(pdu.StatusInvDstAdr, 0, 0)
					w.Respond(pdu.StatusInvDstAdr, nil)
					return
				}
			}
			next.ServeSMPP(ctx, wakeWriter{w, accepted}, r)
		})
	}
}

// wakeWriter calls wake after an ESME_ROK response.
type wakeWriter struct {
	smppd.ResponseWriter
	wake func()
}

func (w wakeWriter) Respond(status pdu.Status, body pdu.PDU) error {
	err := w.ResponseWriter.Respond(status, body)
	if status == pdu.StatusOK {
		w.wake()
	}
	return err
}

// moBatch bounds how many queued MOs of a token are read at once.
const moBatch = 256

// moPoll is how often the MO dispatcher looks for queued MOs without being
// woken (a receiver bound while ConnState was not wired, or a retry).
const moPoll = time.Second

// MODispatcher delivers inbound (MO) messages that the upstream connector
// queued in the store (msgstore.MO) to the bound RX/TRX sessions of their
// token, as deliver_sm, with the receipts' durability: an MO leaves the
// store only after deliver_sm_resp ESME_ROK; an error, a timeout or a
// closed session sends it again after Config.ReceiptRetry; with no receiver
// bound it waits (until the connector's MO TTL).
type MODispatcher struct {
	g    *Gateway
	wake chan struct{}

	mu       sync.Mutex
	inflight map[string]map[uint64]struct{} // token → MO seqs sent, not settled
	retryAt  map[string]time.Time
	next     int

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewMODispatcher returns the MO dispatcher of g. Start it after the
// gateway; wire Wake to the connector's OnMO and ConnState after the
// gateway's own ConnState.
func (g *Gateway) NewMODispatcher() *MODispatcher {
	ctx, cancel := context.WithCancel(context.Background())
	return &MODispatcher{
		g: g, wake: make(chan struct{}, 1), ctx: ctx, cancel: cancel,
		inflight: make(map[string]map[uint64]struct{}), retryAt: make(map[string]time.Time),
	}
}

// Start runs the dispatcher until Stop.
func (d *MODispatcher) Start() {
	d.wg.Add(1)
	go d.run()
}

// Stop ends the dispatcher and waits for it.
func (d *MODispatcher) Stop() {
	d.cancel()
	d.wg.Wait()
}

// Wake tells the dispatcher that tokenID has a new MO queued.
func (d *MODispatcher) Wake(tokenID string) { wake(d.wake) }

// ConnState wakes the dispatcher when a receiver binds; call it from the
// server's ConnState after Gateway.ConnState.
func (d *MODispatcher) ConnState(s *smppd.Session, st smppd.ConnState) {
	if st == smppd.StateBound && s.BindType().CanReceive() {
		wake(d.wake)
	}
}

func (d *MODispatcher) run() {
	defer d.wg.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-d.wake:
		case <-t.C:
		}
		d.once()
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(moPoll)
	}
}

// once offers every token's queued MOs to its receivers.
func (d *MODispatcher) once() {
	g := d.g
	tokens, err := g.store.MOTokens()
	if err != nil {
		if !errors.Is(err, msgstore.ErrClosed) {
			g.log.Error("mo: listing queues", "err", err)
		}
		return
	}
	now := time.Now()
	for _, tok := range tokens {
		d.mu.Lock()
		retry := d.retryAt[tok]
		d.mu.Unlock()
		if now.Before(retry) {
			continue
		}
		ts := g.lookupState(tok)
		if ts == nil {
			continue
		}
		receivers := ts.receiverSnapshot()
		if len(receivers) == 0 {
			continue
		}
		mos, err := g.store.MOs(tok, 0, moBatch)
		if err != nil {
			g.log.Error("mo: reading queue", "token", tok, "err", err)
			continue
		}
		for i := range mos {
			if !d.send(receivers, &mos[i]) {
				break
			}
		}
	}
}

// send offers one MO to the receivers in turn; false when every window is
// full (an answer wakes the dispatcher).
func (d *MODispatcher) send(receivers []*smppd.Session, mo *msgstore.MO) bool {
	g := d.g
	d.mu.Lock()
	set := d.inflight[mo.TokenID]
	if set == nil {
		set = make(map[uint64]struct{})
		d.inflight[mo.TokenID] = set
	}
	if _, busy := set[mo.Seq]; busy {
		d.mu.Unlock()
		return true
	}
	set[mo.Seq] = struct{}{}
	d.mu.Unlock()

	p := &pdu.DeliverSM{}
	if err := p.DecodeBody(mo.Body); err != nil {
		// Stored by the connector from a PDU it decoded; unreadable means a
		// bug: drop it rather than block the queue.
		g.log.Error("mo: stored body does not decode; dropped", "token", mo.TokenID, "seq", mo.Seq, "err", err)
		d.ack(mo)
		return true
	}
	for range receivers {
		d.mu.Lock()
		d.next = (d.next + 1) % len(receivers)
		s := receivers[d.next]
		d.mu.Unlock()
		err := s.Send(p, func(h pdu.Header, _ pdu.PDU, err error) {
			if err == nil && h.Status == pdu.StatusOK {
				d.ack(mo)
				return
			}
			d.mu.Lock()
			delete(d.inflight[mo.TokenID], mo.Seq)
			d.retryAt[mo.TokenID] = time.Now().Add(g.cfg.ReceiptRetry)
			d.mu.Unlock()
		})
		if err == nil {
			return true
		}
	}
	d.mu.Lock()
	delete(d.inflight[mo.TokenID], mo.Seq)
	d.mu.Unlock()
	return false
}

// ack removes a delivered MO; it stays in flight until the removal is
// durable so that a re-read of the queue cannot send it twice.
func (d *MODispatcher) ack(mo *msgstore.MO) {
	tok, seq := mo.TokenID, mo.Seq
	d.g.store.AckMO(tok, seq, func(err error) {
		if err != nil && !errors.Is(err, msgstore.ErrNotFound) {
			d.g.log.Error("mo: ack", "token", tok, "err", err)
		}
		d.mu.Lock()
		delete(d.inflight[tok], seq)
		d.mu.Unlock()
		wake(d.wake)
	})
}
