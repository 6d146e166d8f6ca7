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
