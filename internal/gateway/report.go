package gateway

import (
	"sync"
	"time"

	"github.com/smppd/smppd/internal/msgstore"
	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/tokenstore"
)

// report runs the simulator for a test-mode message at time at: it commits
// the outcome (and, for the 9006 rule, an intermediate ENROUTE first) with
// the receipt and callback it owes, then calls after.
func (g *Gateway) report(tok *tokenstore.Token, m *msgstore.Message, at time.Time, after func()) {
	out := simulate(m.Dest.Addr)
	if !m.ExpireAt.IsZero() && !at.Before(m.ExpireAt) {
		// The validity period ran out before the (scheduled) delivery.
		out = outcome{state: pdu.StateExpired, errCode: "000"}
	}
	if out.intermediate && m.State == pdu.StateScheduled {
		next := at.Add(g.cfg.TestReceiptDelay)
		if g.cfg.TestReceiptDelay == 0 {
			next = at.Add(recoveryDelay) // reported right below
		}
		g.transition(tok, m, pdu.StateEnroute, at, outcome{state: pdu.StateEnroute, errCode: "000"}, next, func(err error) {
			if err != nil || g.cfg.TestReceiptDelay > 0 {
				after()
				return
			}
			m.State = pdu.StateEnroute
			g.transition(tok, m, out.state, at, out, time.Time{}, func(error) { after() })
		})
		return
	}
	g.transition(tok, m, out.state, at, out, time.Time{}, func(error) { after() })
}

// transition commits one state change of m with the receipt and callback
// it owes. nextDue is the next simulator event for a non-final state.
func (g *Gateway) transition(tok *tokenstore.Token, m *msgstore.Message, state pdu.MessageState, at time.Time, out outcome, nextDue time.Time, done func(error)) {
	t := g.transitionFor(tok, m, state, at, out, nextDue)
	g.store.Transition(t, func(err error) {
		if err != nil {
			g.log.Error("simulator: committing outcome", "message", g.cfg.IDFormat.Format(m.ID), "err", err)
			done(err)
			return
		}
		g.transitioned(m, t)
		done(nil)
	})
}

// transitionFor describes a state change of m: whether a receipt is owed
// (registered_delivery), whether a callback is (the token's URL: every
// final state, intermediate ones when asked for).
func (g *Gateway) transitionFor(tok *tokenstore.Token, m *msgstore.Message, state pdu.MessageState, at time.Time, out outcome, nextDue time.Time) msgstore.Transition {
	final := state.Final()
	t := msgstore.Transition{
		ID:      m.ID,
		State:   state,
		At:      at,
		ErrCode: out.errCode,
		Receipt: wantsReceipt(m.RegisteredDelivery, state),
		Final:   final,
		NextDue: nextDue,
	}
	if state != pdu.StateDelivered && final {
		t.NetworkError = out.networkError
	}
	if tok != nil && tok.CallbackURL != "" && (final || m.RegisteredDelivery&regIntermediate != 0) {
		t.Callback = tok.CallbackURL
	}
	return t
}

// transitioned runs after a state change committed: it wakes the token's
// receipt dispatcher and the callback sender.
func (g *Gateway) transitioned(m *msgstore.Message, t msgstore.Transition) {
	if t.Receipt {
		g.obs.ReceiptQueued()
		if ts := g.lookupState(m.TokenID); ts != nil {
			ts.wakeDispatcher()
		}
	}
	if t.Callback != "" && g.OnCallback != nil {
		g.OnCallback()
	}
}

// tokenFor returns the current record of a token: the live cache when a
// session uses it, the store otherwise (nil when it was deleted).
func (g *Gateway) tokenFor(id string) *tokenstore.Token {
	if ts := g.lookupState(id); ts != nil {
		return ts.token()
	}
	t, err := g.tokens.Get(id)
	if err != nil {
		return nil
	}
	return &t
}

// dueBatch bounds how many messages the due loop handles per store read.
const dueBatch = 256

// dueLoop runs the simulator for messages whose event time has come:
// delayed and scheduled ones, and after a restart everything that was
// pending when the process stopped.
func (g *Gateway) dueLoop() {
	defer g.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := g.now()
		msgs, err := g.store.Due(now, dueBatch)
		if err != nil {
			g.log.Error("simulator: reading due messages", "err", err)
		}
		var wg sync.WaitGroup
		handled := 0
		for i := range msgs {
			m := &msgs[i]
			if g.isClaimed(m.ID) {
				continue
			}
			handled++
			wg.Add(1)
			g.report(g.tokenFor(m.TokenID), m, now, wg.Done)
		}
		wg.Wait()
		if handled > 0 && len(msgs) == dueBatch {
			continue
		}
		wait := time.Hour
		if next, ok := g.store.NextDue(); ok {
			wait = next.Sub(g.now())
			if handled == 0 && wait < 100*time.Millisecond {
				// Only claimed messages are due: their submit path reports
				// them in a moment; don't spin on them.
				wait = 100 * time.Millisecond
			}
		}
		timer.Reset(max(wait, 0))
		select {
		case <-g.ctx.Done():
			return
		case <-g.dueWake:
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// sweepInterval is how often receipts past their TTL are dropped.
const sweepInterval = time.Minute

func (g *Gateway) sweepLoop() {
	defer g.wg.Done()
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		g.guard.sweep(g.now())
		// Final messages past their retention: deleted in slices, so a big
		// backlog does not hold the committer for long.
		for {
			n, err := g.store.Prune(g.now().Add(-g.cfg.MessageRetention), 4096)
			if err != nil {
				g.log.Error("pruning messages", "err", err)
			}
			if n < 4096 || g.ctx.Err() != nil {
				break
			}
		}
		n, err := g.store.ExpireReceipts(g.now().Add(-g.cfg.ReceiptTTL))
		if err != nil {
			g.log.Error("expiring receipts", "err", err)
		} else if n > 0 {
			g.obs.ReceiptsExpired(n)
			g.log.Warn("receipts expired without a receiver", "count", n, "ttl", g.cfg.ReceiptTTL.String())
		}
		select {
		case <-g.ctx.Done():
			return
		case <-t.C:
		}
	}
}
