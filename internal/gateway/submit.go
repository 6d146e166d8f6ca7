package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/smppd/smppd/internal/msgstore"
	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/pdu/coding"
	"github.com/smppd/smppd/smppd"
	"github.com/smppd/smppd/tokenstore"
)

// ServeSMPP handles the requests of bound sessions. Submissions are
// answered asynchronously: the response goes out from the store's commit
// callback, so the session's read loop keeps reading while earlier messages
// wait for their fsync.
func (g *Gateway) ServeSMPP(ctx context.Context, w smppd.ResponseWriter, r *smppd.Request) {
	ss, _ := r.Session.Identity().Data.(*sessionState)
	if ss == nil {
		w.Respond(pdu.StatusInvBndSts, nil)
		return
	}
	ts := ss.token
	switch r.PDU.(type) {
	case *pdu.SubmitSM, *pdu.DataSM, *pdu.SubmitMulti:
		ss.submits.Add(1)
	}
	switch p := r.PDU.(type) {
	case *pdu.SubmitSM:
		g.submitSM(w, ts, p)
	case *pdu.DataSM:
		g.dataSM(w, ts, p)
	case *pdu.SubmitMulti:
		g.submitMulti(w, ts, p)
	case *pdu.QuerySM:
		g.querySM(w, ts, p)
	case *pdu.CancelSM:
		g.cancelSM(w, ts, p)
	case *pdu.ReplaceSM:
		g.replaceSM(w, ts, p)
	default:
		// deliver_sm, alert_notification and friends travel MC → ESME only.
		w.Respond(pdu.StatusInvCmdID, nil)
	}
}

func (g *Gateway) submitSM(w smppd.ResponseWriter, ts *tokenState, p *pdu.SubmitSM) {
	g.submitOne(w, ts, p, p.Source, p.Dest, p.ServiceType, p.ProtocolID, common{
		esmClass: p.ESMClass, registeredDelivery: p.RegisteredDelivery, priority: p.PriorityFlag,
		replaceIfPresent: p.ReplaceIfPresent, defaultMsgID: p.SMDefaultMsgID, dataCoding: p.DataCoding,
		schedule: p.ScheduleDeliveryTime, validity: p.ValidityPeriod, shortMessage: p.ShortMessage, tlvs: p.TLVs,
	}, false)
}

func (g *Gateway) dataSM(w smppd.ResponseWriter, ts *tokenState, p *pdu.DataSM) {
	g.submitOne(w, ts, p, p.Source, p.Dest, p.ServiceType, 0, common{
		esmClass: p.ESMClass, registeredDelivery: p.RegisteredDelivery, dataCoding: p.DataCoding, tlvs: p.TLVs,
	}, true)
}

// submitOne validates, throttles and stores one message (submit_sm or
// data_sm) and answers with submit_sm_resp (data_sm_resp when dataSM) once
// it is committed.
func (g *Gateway) submitOne(w smppd.ResponseWriter, ts *tokenState, orig pdu.PDU, src, dst pdu.Address,
	serviceType string, protocolID uint8, c common, dataSM bool) {
	start := time.Now()
	now := g.now()
	tok := ts.token()
	sub, st := g.check(now, src, dst, c)
	if st == pdu.StatusOK && !ts.limiter.allow(now) {
		st = pdu.StatusThrottled
	}
	if st != pdu.StatusOK {
		g.obs.Submit(st, time.Since(start), 0)
		w.Respond(st, nil)
		return
	}
	sub.serviceType, sub.protocolID = serviceType, protocolID
	a := &submitAck{g: g, w: w, ts: ts, tok: tok, dataSM: dataSM, start: start, segments: segments(&sub)}
	a.m = &a.msg
	a.msg.Text = a.text[:0]
	g.initMessage(a.m, tok, &sub, now, orig)
	g.commitOne(ts, a)
}

// submitAck answers one submit_sm or data_sm once its message committed.
// One struct with a method instead of a chain of closures, holding the
// message record and the response too, keeps the common path to two
// allocations per message here (the struct and its method value; before:
// the closures, their captured submission, commit's slices, the record and
// the response, 11).
type submitAck struct {
	g      *Gateway
	w      smppd.ResponseWriter
	ts     *tokenState
	tok    *tokenstore.Token
	m      *msgstore.Message // &msg: the record lives in the same allocation
	msg    msgstore.Message
	text   [receiptTextMax]byte // msg.Text's array
	dataSM bool                 // answer with data_sm_resp, not submit_sm_resp
	// The response, in the same allocation too: Respond encodes it before
	// it returns.
	smResp   pdu.SubmitSMResp
	dataResp pdu.DataSMResp
	start    time.Time
	segments int
	t        msgstore.Transition // SubmitFinal's transition, when final
	final    bool                // stored with SubmitFinal (its receipt is held)
	delayed  bool                // the due loop reports it later
}

// commitOne is commit for a single message, without commit's slices and
// closures when it needs no two-step report (the common case).
func (g *Gateway) commitOne(ts *tokenState, a *submitAck) {
	now := g.now()
	m := a.m
	switch kind, t := g.classify(a.tok, m, now); kind {
	case commitTwoStep:
		g.commit(ts, a.tok, []*msgstore.Message{m}, func(errs []error) { a.done(firstError(errs)) })
	case commitFinal:
		a.final, a.t = true, t
		m.State, m.DoneAt, m.DueAt = t.State, now, time.Time{}
		ts.holdOne(m.ID) // see commit: the receipt waits for the response
		g.store.SubmitFinal(m, t, a.done)
	default:
		a.delayed = kind == commitDelayed
		g.store.Submit(m, a.done)
	}
}

func (a *submitAck) done(err error) {
	g := a.g
	st := storeStatus(err)
	g.obs.Submit(st, time.Since(a.start), a.segments)
	if st != pdu.StatusOK {
		g.log.Error("submit: store commit", "token", a.tok.Name, "err", err)
		a.w.Respond(st, nil)
	} else {
		id := g.cfg.IDFormat.Format(a.m.ID)
		var body pdu.PDU = &a.smResp
		if a.dataSM {
			a.dataResp.MessageID = id
			body = &a.dataResp
		} else {
			a.smResp.MessageID = id
		}
		a.w.Respond(pdu.StatusOK, body)
	}
	if a.final {
		a.ts.releaseOne(a.m.ID)
		if err == nil {
			g.transitioned(a.m, a.t)
		}
	}
	if a.delayed && err == nil {
		wake(g.dueWake)
	}
}

// submitMulti stores one message, with its own id, per valid destination.
// submit_multi_resp carries the first destination's id; each destination's
// receipt carries its own. Invalid destinations are listed in unsuccess_sme
// with their status; if none is valid the whole request fails with the
// first one's status.
func (g *Gateway) submitMulti(w smppd.ResponseWriter, ts *tokenState, p *pdu.SubmitMulti) {
	start := time.Now()
	now := g.now()
	tok := ts.token()
	if len(p.Dests) == 0 || len(p.Dests) > 255 {
		w.Respond(pdu.StatusInvNumDests, nil)
		return
	}
	c := common{
		esmClass: p.ESMClass, registeredDelivery: p.RegisteredDelivery, priority: p.PriorityFlag,
		replaceIfPresent: p.ReplaceIfPresent, defaultMsgID: p.SMDefaultMsgID, dataCoding: p.DataCoding,
		schedule: p.ScheduleDeliveryTime, validity: p.ValidityPeriod, shortMessage: p.ShortMessage, tlvs: p.TLVs,
	}
	var msgs []*msgstore.Message
	var unsuccess []pdu.UnsuccessSME
	first := pdu.StatusOK
	for _, d := range p.Dests {
		if d.DLName != "" {
			// Distribution lists live in an MC's provisioning; smppd has none.
			unsuccess = append(unsuccess, pdu.UnsuccessSME{Addr: pdu.Address{Addr: d.DLName}, Status: pdu.StatusInvDLName})
			if first == pdu.StatusOK {
				first = pdu.StatusInvDLName
			}
			continue
		}
		sub, st := g.check(now, p.Source, d.Addr, c)
		if st == pdu.StatusOK && !ts.limiter.allow(now) {
			st = pdu.StatusThrottled
		}
		if st != pdu.StatusOK {
			unsuccess = append(unsuccess, pdu.UnsuccessSME{Addr: d.Addr, Status: st})
			if first == pdu.StatusOK {
				first = st
			}
			continue
		}
		sub.serviceType, sub.protocolID = p.ServiceType, p.ProtocolID
		msgs = append(msgs, g.newMessage(tok, &sub, now, p))
	}
	if len(msgs) == 0 {
		g.obs.Submit(first, time.Since(start), 0)
		w.Respond(first, nil)
		return
	}
	g.commit(ts, tok, msgs, func(errs []error) {
		// Answer for exactly what was stored: a destination whose message the
		// store refused joins unsuccess_sme, and only a request with none stored
		// fails, so that a client's retry never sends a stored one twice.
		var firstStored *msgstore.Message
		for i, m := range msgs {
			if errs != nil && errs[i] != nil {
				unsuccess = append(unsuccess, pdu.UnsuccessSME{Addr: m.Dest, Status: storeStatus(errs[i])})
				continue
			}
			if firstStored == nil {
				firstStored = m
			}
		}
		failed := countErrors(errs)
		if failed > 0 {
			g.log.Error("submit_multi: store commit", "token", tok.Name, "stored", len(msgs)-failed, "of", len(msgs), "err", firstError(errs))
		}
		if firstStored == nil {
			st := storeStatus(firstError(errs))
			g.obs.Submit(st, time.Since(start), len(msgs))
			w.Respond(st, nil)
			return
		}
		g.obs.Submit(pdu.StatusOK, time.Since(start), len(msgs)-failed)
		w.Respond(pdu.StatusOK, &pdu.SubmitMultiResp{MessageID: g.cfg.IDFormat.Format(firstStored.ID), Unsuccess: unsuccess})
	})
}

// check validates addresses and the common fields.
func (g *Gateway) check(now time.Time, src, dst pdu.Address, c common) (submission, pdu.Status) {
	if st := checkAddress(src, true); st != pdu.StatusOK {
		return submission{}, st
	}
	if st := checkAddress(dst, false); st != pdu.StatusOK {
		return submission{}, st
	}
	text, sched, exp, st := checkCommon(c, now, g.cfg.DefaultValidity, g.cfg.MaxSchedule)
	if st != pdu.StatusOK {
		return submission{}, st
	}
	return submission{
		source: src, dest: dst, esmClass: c.esmClass, priority: c.priority,
		registeredDelivery: c.registeredDelivery, dataCoding: c.dataCoding,
		text: text, tlvs: c.tlvs, scheduleAt: sched, expireAt: exp,
	}, pdu.StatusOK
}

// receiptTextMax is how much of a message's text the store keeps for the
// receipt's "text:" field (Appendix B shows the first 20 characters; UCS-2
// takes two octets a character).
const receiptTextMax = 40

// newMessage builds the store record. Live messages keep the original body
// for the upstream connector; test-mode messages get a due time for the
// simulator.
func (g *Gateway) newMessage(tok *tokenstore.Token, sub *submission, now time.Time, orig pdu.PDU) *msgstore.Message {
	m := new(msgstore.Message)
	g.initMessage(m, tok, sub, now, orig)
	return m
}

// initMessage is newMessage into a record the caller allocated; the text
// goes into m.Text's array when it has room.
func (g *Gateway) initMessage(m *msgstore.Message, tok *tokenstore.Token, sub *submission, now time.Time, orig pdu.PDU) {
	textBuf := m.Text[:0]
	*m = msgstore.Message{
		ID:                 g.store.NextID(),
		TokenID:            tok.ID,
		TestMode:           tok.TestMode,
		Source:             sub.source,
		Dest:               sub.dest,
		ServiceType:        sub.serviceType,
		ESMClass:           sub.esmClass,
		ProtocolID:         sub.protocolID,
		PriorityFlag:       sub.priority,
		RegisteredDelivery: sub.registeredDelivery,
		DataCoding:         sub.dataCoding,
		SubmitAt:           now,
		ScheduleAt:         sub.scheduleAt,
		ExpireAt:           sub.expireAt,
		State:              pdu.StateEnroute,
	}
	text := sub.text
	if c, ok, _ := coding.ConcatOf(sub.esmClass, text, sub.tlvs); ok {
		m.Concat.Ref, m.Concat.Total, m.Concat.Part = c.Ref, c.Total, c.Part
	}
	if sub.esmClass&esmUDHI != 0 {
		if _, rest, err := coding.SplitUDH(text); err == nil {
			text = rest
		}
	}
	m.Text = append(textBuf, text[:min(len(text), receiptTextMax)]...)
	if !tok.TestMode {
		m.Outbox = true
		if body, err := orig.AppendBody(nil); err == nil {
			m.Body = body
		}
		return
	}
	// Test mode: the simulator reports at the event time; a pending
	// message is "scheduled" until the simulator has looked at it.
	m.State = pdu.StateScheduled
	m.DueAt = g.eventTime(m, now)
	if m.DueAt.Equal(now) {
		m.DueAt = now.Add(recoveryDelay)
	}
}

// eventTime is when the simulator reports on a test-mode message: after
// the configured delay, not before its schedule_delivery_time, and at its
// expiry at the latest (when it expires instead).
func (g *Gateway) eventTime(m *msgstore.Message, now time.Time) time.Time {
	t := now.Add(g.cfg.TestReceiptDelay)
	if m.ScheduleAt.After(t) {
		t = m.ScheduleAt
	}
	if !m.ExpireAt.IsZero() && t.After(m.ExpireAt) {
		t = m.ExpireAt
	}
	return t
}

// commit stores msgs and calls done once, after every one of them was
// committed or failed: errs is nil when all were stored, else errs[i] is
// msgs[i]'s error (nil for those stored). Each message is its own store
// operation, so a request of several can be stored in part. A test-mode
// message whose outcome is due at once is stored already final, with its
// receipt, in the same operation (SubmitFinal): one commit per message. The
// 9006 rule with intermediate notifications asked for takes two steps; the
// gateway reports those right after the commit, and claims them meanwhile so
// the due loop leaves them be.
func (g *Gateway) commit(ts *tokenState, tok *tokenstore.Token, msgs []*msgstore.Message, done func(errs []error)) {
	now := g.now()
	type final struct {
		i int // in msgs
		t msgstore.Transition
	}
	var finals []final
	var plain, twoStep []int // indexes in msgs
	delayed := false
	for i, m := range msgs {
		switch kind, t := g.classify(tok, m, now); kind {
		case commitPlain:
			plain = append(plain, i)
		case commitDelayed:
			plain = append(plain, i)
			delayed = true
		case commitTwoStep:
			plain = append(plain, i)
			twoStep = append(twoStep, i)
		case commitFinal:
			m.State, m.DoneAt, m.DueAt = t.State, now, time.Time{}
			finals = append(finals, final{i: i, t: t})
		}
	}
	// A receipt committed with its message is held back until the response
	// is queued: a dispatcher woken by another message of the same commit
	// would otherwise send it ahead of its submit_sm_resp.
	held := make([]uint64, len(finals))
	for j, f := range finals {
		held[j] = msgs[f.i].ID
	}
	ts.hold(held)
	if len(twoStep) > 0 {
		g.claimMu.Lock()
		for _, i := range twoStep {
			g.claimed[msgs[i].ID] = struct{}{}
		}
		g.claimMu.Unlock()
	}
	var (
		mu     sync.Mutex
		left   = len(msgs)
		errs   []error
		failed int
	)
	stored := func(i int) bool { return errs == nil || errs[i] == nil }
	one := func(i int, err error) {
		mu.Lock()
		if err != nil {
			if errs == nil {
				errs = make([]error, len(msgs))
			}
			errs[i] = err
			failed++
		}
		left--
		last := left == 0
		mu.Unlock()
		if !last {
			return
		}
		// Every operation has reported: errs is final from here on.
		done(errs)
		ts.release(held)
		for _, f := range finals {
			if stored(f.i) {
				g.transitioned(msgs[f.i], f.t)
			}
		}
		if delayed && failed < len(msgs) {
			wake(g.dueWake)
		}
		for _, i := range twoStep {
			m := msgs[i]
			if !stored(i) {
				g.unclaim(m.ID)
				continue
			}
			g.report(tok, m, now, func() { g.unclaim(m.ID) })
		}
	}
	for _, f := range finals {
		g.store.SubmitFinal(msgs[f.i], f.t, func(err error) { one(f.i, err) })
	}
	for _, i := range plain {
		g.store.Submit(msgs[i], func(err error) { one(i, err) })
	}
}

// countErrors is how many of commit's per-message errors are not nil.
func countErrors(errs []error) int {
	n := 0
	for _, err := range errs {
		if err != nil {
			n++
		}
	}
	return n
}

// firstError is the first non-nil error of errs (commit's per-message errors).
func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// How commit stores a message.
type commitKind int

const (
	commitPlain   commitKind = iota // live: Submit, into the outbox
	commitDelayed                   // test mode, outcome later: Submit, into the due index
	commitTwoStep                   // test mode, intermediate notification first: Submit, then report
	commitFinal                     // test mode, outcome now: SubmitFinal with its transition
)

// classify decides how m is stored at now; for commitFinal it also returns
// the transition.
func (g *Gateway) classify(tok *tokenstore.Token, m *msgstore.Message, now time.Time) (commitKind, msgstore.Transition) {
	switch {
	case !m.TestMode:
		return commitPlain, msgstore.Transition{}
	case !g.eventTime(m, now).Equal(now):
		return commitDelayed, msgstore.Transition{}
	}
	out := simulate(m.Dest.Addr)
	if out.intermediate && m.RegisteredDelivery&regIntermediate != 0 {
		return commitTwoStep, msgstore.Transition{}
	}
	return commitFinal, g.transitionFor(tok, m, out.state, now, out, time.Time{})
}

func (g *Gateway) unclaim(id uint64) {
	g.claimMu.Lock()
	delete(g.claimed, id)
	g.claimMu.Unlock()
}

func (g *Gateway) isClaimed(id uint64) bool {
	g.claimMu.Lock()
	_, ok := g.claimed[id]
	g.claimMu.Unlock()
	return ok
}

// segments is how many SMS parts a submission stands for: a UDH or SAR
// part is one; a message_payload counts the parts it would need in its
// coding (binary or undecodable payloads by octets).
func segments(sub *submission) int {
	if _, ok := sub.tlvs.MessagePayload(); !ok || len(sub.text) == 0 {
		return 1
	}
	if s, err := coding.Decode(sub.dataCoding, sub.text); err == nil {
		if n := coding.Segments(sub.dataCoding, s); n > 0 {
			return n
		}
	}
	return (len(sub.text) + 133) / 134
}

var _ = tokenstore.Token{}
