package gateway

import (
	"time"

	"github.com/smppd/smppd/internal/msgstore"
	"github.com/smppd/smppd/pdu"
)

// Outcome records what happened to a live message outside the gateway
// (the upstream connector's submit result or the upstream's receipt): the
// state change is committed with the receipt and callback the message owes,
// exactly as for a test-mode outcome. done may be nil.
func (g *Gateway) Outcome(id uint64, state pdu.MessageState, errCode string, networkError [3]byte, at time.Time, done func(error)) {
	if done == nil {
		done = func(error) {}
	}
	m, err := g.store.Get(id)
	if err != nil {
		done(err)
		return
	}
	if m.Final {
		done(msgstore.ErrFinal)
		return
	}
	var next time.Time
	g.transition(g.tokenFor(m.TokenID), &m, state, at, outcome{state: state, errCode: errCode, networkError: networkError}, next, done)
}
