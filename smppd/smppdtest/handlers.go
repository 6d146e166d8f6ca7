package smppdtest

import (
	"context"
	"crypto/subtle"
	"sync"
	"time"

	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/smppd"
)

// Credentials authenticates binds against system_id → password, in
// constant time; anything else gets ESME_RINVPASWD. The identity's ID and
// Name are the system_id.
type Credentials map[string]string

// Authenticate implements smppd.Authenticator.
func (c Credentials) Authenticate(_ context.Context, _ *smppd.Session, b *pdu.Bind) (smppd.Identity, pdu.Status) {
	want, ok := c[b.SystemID]
	if !ok || subtle.ConstantTimeCompare([]byte(want), []byte(b.Password)) != 1 {
		return smppd.Identity{}, pdu.StatusInvPaswd
	}
	return smppd.Identity{ID: b.SystemID, Name: b.SystemID}, pdu.StatusOK
}

// MessageID is the message_id OK answers with.
const MessageID = "smppdtest-1"

// OK answers every request at once with ESME_ROK: submit_sm, submit_multi
// and data_sm with message_id MessageID, the others with an empty body.
var OK smppd.Handler = smppd.HandlerFunc(func(_ context.Context, w smppd.ResponseWriter, r *smppd.Request) {
	w.Respond(pdu.StatusOK, okBody(r.Header.ID))
})

var (
	okSubmit = &pdu.SubmitSMResp{MessageID: MessageID}
	okMulti  = &pdu.SubmitMultiResp{MessageID: MessageID}
	okData   = &pdu.DataSMResp{MessageID: MessageID}
)

func okBody(id pdu.CommandID) pdu.PDU {
	switch id {
	case pdu.CmdSubmitSM:
		return okSubmit
	case pdu.CmdSubmitMulti:
		return okMulti
	case pdu.CmdDataSM:
		return okData
	}
	return nil
}

// Recorder is a ResponseWriter that keeps what was responded, for testing
// handlers without a server.
type Recorder struct {
	mu     sync.Mutex
	calls  int
	status pdu.Status
	body   pdu.PDU
	done   chan struct{}
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{done: make(chan struct{})} }

// Respond implements smppd.ResponseWriter with the same exactly-once rule
// as the server's.
func (r *Recorder) Respond(status pdu.Status, body pdu.PDU) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.calls > 1 {
		return smppd.ErrAlreadyResponded
	}
	r.status, r.body = status, body
	close(r.done)
	return nil
}

// Result returns the first response and how often Respond was called.
func (r *Recorder) Result() (status pdu.Status, body pdu.PDU, calls int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status, r.body, r.calls
}

// Wait waits up to d for the first Respond and reports whether it came.
func (r *Recorder) Wait(d time.Duration) bool {
	select {
	case <-r.done:
		return true
	case <-time.After(d):
		return false
	}
}
