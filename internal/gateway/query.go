package gateway

import (
	"errors"

	"github.com/smppd/smppd/internal/msgstore"
	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/smppd"
)

// lookup finds a message of this token by the id the client was given.
// Another token's message is reported as not found, so ids cannot be
// probed across tokens.
func (g *Gateway) lookup(ts *tokenState, msgID string) (msgstore.Message, pdu.Status) {
	id, ok := g.cfg.IDFormat.Parse(msgID)
	if !ok {
		return msgstore.Message{}, pdu.StatusInvMsgID
	}
	m, err := g.store.Get(id)
	if err != nil || m.TokenID != ts.id {
		return msgstore.Message{}, pdu.StatusInvMsgID
	}
	return m, pdu.StatusOK
}

// querySM answers the state of a message the same token submitted.
func (g *Gateway) querySM(w smppd.ResponseWriter, ts *tokenState, p *pdu.QuerySM) {
	m, st := g.lookup(ts, p.MessageID)
	if st != pdu.StatusOK {
		w.Respond(pdu.StatusQueryFail, nil)
		return
	}
	resp := &pdu.QuerySMResp{MessageID: p.MessageID, MessageState: m.State}
	if m.State == pdu.StateScheduled {
		// SCHEDULED is SMPP 5.0; a 3.4 client knows the message as ENROUTE.
		resp.MessageState = pdu.StateEnroute
	}
	if m.State.Final() {
		resp.FinalDate = smppTime(m.DoneAt)
		if n, ok := parseErr(m.ErrCode); ok {
			resp.ErrorCode = n
		}
	}
	w.Respond(pdu.StatusOK, resp)
}

// cancelSM deletes a message that is not final yet (e.g. scheduled).
// Cancelling by service_type/source/destination without a message_id is
// not supported (ESME_RINVMSGID).
func (g *Gateway) cancelSM(w smppd.ResponseWriter, ts *tokenState, p *pdu.CancelSM) {
	if p.MessageID == "" {
		w.Respond(pdu.StatusInvMsgID, nil)
		return
	}
	m, st := g.lookup(ts, p.MessageID)
	if st != pdu.StatusOK {
		w.Respond(pdu.StatusCancelFail, nil)
		return
	}
	if p.Source.Addr != "" && p.Source.Addr != m.Source.Addr {
		w.Respond(pdu.StatusCancelFail, nil)
		return
	}
	if g.isClaimed(m.ID) {
		w.Respond(pdu.StatusCancelFail, nil)
		return
	}
	g.store.Cancel(m.ID, ts.id, func(err error) {
		switch {
		case err == nil:
			w.Respond(pdu.StatusOK, nil)
		case errors.Is(err, msgstore.ErrFinal), errors.Is(err, msgstore.ErrNotFound):
			w.Respond(pdu.StatusCancelFail, nil)
		default:
			w.Respond(storeStatus(err), nil)
		}
	})
}

// replaceSM changes the text, schedule, validity or receipt request of a
// message that is not final yet.
func (g *Gateway) replaceSM(w smppd.ResponseWriter, ts *tokenState, p *pdu.ReplaceSM) {
	m, st := g.lookup(ts, p.MessageID)
	if st != pdu.StatusOK {
		w.Respond(pdu.StatusReplaceFail, nil)
		return
	}
	if p.Source.Addr != "" && p.Source.Addr != m.Source.Addr {
		w.Respond(pdu.StatusReplaceFail, nil)
		return
	}
	now := g.now()
	text, sched, exp, st := checkCommon(common{
		esmClass: m.ESMClass, registeredDelivery: p.RegisteredDelivery, defaultMsgID: p.SMDefaultMsgID,
		dataCoding: m.DataCoding, schedule: p.ScheduleDeliveryTime, validity: p.ValidityPeriod,
		shortMessage: p.ShortMessage,
	}, now, g.cfg.DefaultValidity, g.cfg.MaxSchedule)
	if st != pdu.StatusOK {
		w.Respond(st, nil)
		return
	}
	if g.isClaimed(m.ID) {
		w.Respond(pdu.StatusReplaceFail, nil)
		return
	}
	g.store.Replace(m.ID, ts.id, func(m *msgstore.Message) error {
		m.Text = append(m.Text[:0], text[:min(len(text), receiptTextMax)]...)
		m.RegisteredDelivery = p.RegisteredDelivery
		if p.ScheduleDeliveryTime != "" {
			m.ScheduleAt = sched
		}
		if p.ValidityPeriod != "" {
			m.ExpireAt = exp
		}
		if m.TestMode {
			m.DueAt = g.eventTime(m, now)
		}
		return nil
	}, func(err error) {
		switch {
		case err == nil:
			wake(g.dueWake)
			w.Respond(pdu.StatusOK, nil)
		case errors.Is(err, msgstore.ErrFinal), errors.Is(err, msgstore.ErrNotFound):
			w.Respond(pdu.StatusReplaceFail, nil)
		default:
			w.Respond(storeStatus(err), nil)
		}
	})
}
