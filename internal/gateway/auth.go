package gateway

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/smppd"
	"github.com/smppd/smppd/tokenstore"
)

// tokenState is the gateway's live view of one token: its current record,
// its throttle, its bound sessions and its receipt dispatcher. Sessions of
// the same token share it through smppd.Identity.Data.
type tokenState struct {
	g       *Gateway
	id      string
	tok     atomic.Pointer[tokenstore.Token]
	limiter *limiter

	mu        sync.Mutex
	sessions  map[uint64]*smppd.Session // bound or binding
	receivers []*smppd.Session          // bound RX/TRX, in bind order
	next      int                       // round-robin position in receivers
	// dispatcher state (see receipts.go)
	dispatching bool
	wake        chan struct{}
	inflight    map[uint64]struct{} // receipt queue keys sent and not yet settled
	held        map[uint64]struct{} // message ids whose receipt waits for their response
	retryAt     time.Time           // when failed receipts go out again
	acks        []uint64            // receipts answered ESME_ROK, waiting for the next AckReceipts
	acking      bool                // an AckReceipts is queued or committing
}

func (ts *tokenState) token() *tokenstore.Token { return ts.tok.Load() }

// sessionState is the gateway's per-session value (smppd.Identity.Data).
type sessionState struct {
	token   *tokenState
	submits atomic.Uint64 // messages accepted on this session
}

// state returns the token's live state, creating it on first use.
func (g *Gateway) state(t tokenstore.Token) *tokenState {
	g.mu.Lock()
	defer g.mu.Unlock()
	ts, ok := g.byToken[t.ID]
	if !ok {
		ts = &tokenState{
			g:        g,
			id:       t.ID,
			limiter:  newLimiter(t.Limits.MaxTPS),
			sessions: make(map[uint64]*smppd.Session),
			wake:     make(chan struct{}, 1),
			inflight: make(map[uint64]struct{}),
			held:     make(map[uint64]struct{}),
		}
		ts.tok.Store(&t)
		g.byToken[t.ID] = ts
	}
	return ts
}

// lookupState returns the live state of a token if any session or
// dispatcher uses it.
func (g *Gateway) lookupState(id string) *tokenState {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.byToken[id]
}

// Authenticate decides a bind (DESIGN.md decision 2): an unknown system_id,
// a wrong password, a revoked token and a token without the SMPP permission
// all get ESME_RINVPASWD, so that system_ids cannot be enumerated; a refusal
// by source IP or by the token's bind quota gets ESME_RBINDFAIL.
func (g *Gateway) Authenticate(ctx context.Context, s *smppd.Session, b *pdu.Bind) (smppd.Identity, pdu.Status) {
	remote := remoteIP(s.RemoteAddr())
	now := g.now()
	if !g.guard.allow(remote, b.SystemID, now) {
		g.obs.Bind("locked_out")
		g.log.Warn("bind refused: too many failed binds", "session", s.ID(), "system_id", b.SystemID, "remote", s.RemoteAddr().String())
		g.slowDown(ctx)
		return smppd.Identity{}, pdu.StatusBindFail
	}
	t, err := g.tokens.Authenticate(b.SystemID, b.Password, remote)
	switch {
	case err == nil:
		g.guard.succeeded(remote, b.SystemID, now)
	case errors.Is(err, tokenstore.ErrInvalidCredentials):
		g.obs.Bind("invalid_credentials")
		g.guard.failed(remote, b.SystemID, now)
		g.slowDown(ctx)
		return smppd.Identity{}, pdu.StatusInvPaswd
	case errors.Is(err, tokenstore.ErrBindRefused):
		g.obs.Bind("refused")
		g.log.Info("bind refused", "session", s.ID(), "system_id", b.SystemID, "remote", s.RemoteAddr().String(), "reason", err.Error())
		return smppd.Identity{}, pdu.StatusBindFail
	default:
		g.obs.Bind("error")
		g.log.Error("bind: token store", "session", s.ID(), "err", err)
		return smppd.Identity{}, pdu.StatusSysErr
	}
	ts := g.state(t)
	ts.tok.Store(&t)
	ts.limiter.setRate(t.Limits.MaxTPS)

	ts.mu.Lock()
	if max := t.Limits.MaxBinds; max > 0 && len(ts.sessions) >= max {
		ts.mu.Unlock()
		g.obs.Bind("refused")
		g.log.Info("bind refused", "session", s.ID(), "system_id", b.SystemID, "remote", s.RemoteAddr().String(), "reason", "max_binds reached", "max_binds", max)
		return smppd.Identity{}, pdu.StatusBindFail
	}
	ts.sessions[s.ID()] = s
	ts.mu.Unlock()

	if err := g.tokens.MarkBound(t.ID, g.now()); err != nil {
		g.log.Warn("bind: recording last_bind_at", "token", t.Name, "err", err)
	}
	g.obs.Bind("ok")
	return smppd.Identity{ID: t.ID, Name: t.Name, Data: &sessionState{token: ts}}, pdu.StatusOK
}

// slowDown holds a failed bind's answer for cfg.FailedBindDelay (only
// this session waits: the server authenticates on the session's goroutine).
func (g *Gateway) slowDown(ctx context.Context) {
	if g.cfg.FailedBindDelay <= 0 {
		return
	}
	t := time.NewTimer(g.cfg.FailedBindDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func remoteIP(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ta.IP); ok {
			return ip.Unmap()
		}
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// ConnState tracks bound receivers; wire it to smppd.Server.ConnState.
func (g *Gateway) ConnState(s *smppd.Session, st smppd.ConnState) {
	ss, _ := s.Identity().Data.(*sessionState)
	if ss == nil {
		return
	}
	ts := ss.token
	switch st {
	case smppd.StateBound:
		if s.BindType().CanReceive() {
			ts.mu.Lock()
			ts.receivers = append(ts.receivers, s)
			ts.mu.Unlock()
			ts.startDispatcher()
		}
	case smppd.StateClosed:
		ts.mu.Lock()
		delete(ts.sessions, s.ID())
		for i, r := range ts.receivers {
			if r == s {
				ts.receivers = append(ts.receivers[:i], ts.receivers[i+1:]...)
				break
			}
		}
		ts.mu.Unlock()
	}
}

// TokenChanged applies an operator's change at once: the cached token and
// its throttle are refreshed, and a token that was revoked, lost its SMPP
// permission or no longer allows a session's source IP has those sessions
// unbound. A rotated password does not end live sessions: it is required
// from the next bind on.
func (g *Gateway) TokenChanged(t tokenstore.Token) {
	ts := g.lookupState(t.ID)
	if ts == nil {
		return
	}
	ts.tok.Store(&t)
	ts.limiter.setRate(t.Limits.MaxTPS)
	ts.mu.Lock()
	var kick []*smppd.Session
	for _, s := range ts.sessions {
		if !t.Active() || !t.Permissions.SMPP || !t.Limits.AllowsIP(remoteIP(s.RemoteAddr())) {
			kick = append(kick, s)
		}
	}
	ts.mu.Unlock()
	for _, s := range kick {
		g.log.Info("unbinding session after token change", "session", s.ID(), "token", t.Name)
		go s.Unbind()
	}
}

// SessionSubmits returns how many submissions a bound session made (for
// `smppd sessions list`); false for a session the gateway did not bind.
func SessionSubmits(s *smppd.Session) (uint64, bool) {
	ss, ok := s.Identity().Data.(*sessionState)
	if !ok {
		return 0, false
	}
	return ss.submits.Load(), true
}
