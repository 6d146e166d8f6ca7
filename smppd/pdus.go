package smppd

import "github.com/smppd/smppd/pdu"

// Bodies the server sends without content of its own. They are never
// modified, so one value each serves every session.
var (
	genericNack    = &pdu.GenericNack{}
	enquireLinkPDU = &pdu.EnquireLink{}
	unbindPDU      = &pdu.Unbind{}

	emptyResponses = map[pdu.CommandID]pdu.PDU{
		pdu.CmdGenericNack:         genericNack,
		pdu.CmdBindTransmitterResp: &pdu.BindResp{Cmd: pdu.CmdBindTransmitterResp},
		pdu.CmdBindReceiverResp:    &pdu.BindResp{Cmd: pdu.CmdBindReceiverResp},
		pdu.CmdBindTransceiverResp: &pdu.BindResp{Cmd: pdu.CmdBindTransceiverResp},
		pdu.CmdQuerySMResp:         &pdu.QuerySMResp{},
		pdu.CmdSubmitSMResp:        &pdu.SubmitSMResp{},
		pdu.CmdDeliverSMResp:       &pdu.DeliverSMResp{},
		pdu.CmdUnbindResp:          &pdu.UnbindResp{},
		pdu.CmdReplaceSMResp:       &pdu.ReplaceSMResp{},
		pdu.CmdCancelSMResp:        &pdu.CancelSMResp{},
		pdu.CmdEnquireLinkResp:     &pdu.EnquireLinkResp{},
		pdu.CmdSubmitMultiResp:     &pdu.SubmitMultiResp{},
		pdu.CmdDataSMResp:          &pdu.DataSMResp{},
	}
)

// emptyResponse is the response to a command with no content: an empty
// message_id or system_id where the response has one, which strict
// clients parse (an absent body trips some of them). nil when the command
// has no response.
func emptyResponse(id pdu.CommandID) pdu.PDU {
	return emptyResponses[id]
}

// headerOnly is a response written without a body. SMPP 3.4 returns no
// body in submit_sm_resp, submit_multi_resp and data_sm_resp when
// command_status is not 0 (§4.4.2, §4.5.2, §4.7.2), and strict clients
// hold it to that: libsmpp34 cannot unpack a refused submit_sm_resp that
// carries an empty message_id (cmd/smppd/interop_test.go).
type headerOnly pdu.CommandID

func (h headerOnly) CommandID() pdu.CommandID          { return pdu.CommandID(h) }
func (headerOnly) AppendBody(b []byte) ([]byte, error) { return b, nil }
func (h headerOnly) DecodeBody(b []byte) error {
	if len(b) != 0 {
		return &pdu.Error{ID: pdu.CommandID(h), Err: pdu.ErrTrailingBytes}
	}
	return nil
}

// bodyFor returns what to write for a response with this status: the body
// as given, or nothing where the spec omits the body of an error response.
func bodyFor(status pdu.Status, p pdu.PDU) pdu.PDU {
	if status == pdu.StatusOK || p == nil {
		return p
	}
	switch id := p.CommandID(); id {
	case pdu.CmdSubmitSMResp, pdu.CmdSubmitMultiResp, pdu.CmdDataSMResp:
		return headerOnly(id)
	}
	return p
}
