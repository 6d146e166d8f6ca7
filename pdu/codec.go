package pdu

import "encoding/binary"

// Append appends the header and body of p to b with the given sequence
// number and command_status, and patches command_length in last. On error b
// is returned unchanged.
func Append(b []byte, seq uint32, status Status, p PDU) ([]byte, error) {
	start := len(b)
	b = Header{ID: p.CommandID(), Status: status, Seq: seq}.AppendTo(b)
	b, err := p.AppendBody(b)
	if err != nil {
		return b[:start], err
	}
	n := len(b) - start
	if uint64(n) > 0xFFFFFFFF {
		return b[:start], &Error{ID: p.CommandID(), Field: "command_length", Err: ErrCmdLenTooLong}
	}
	binary.BigEndian.PutUint32(b[start:], uint32(n))
	return b, nil
}

// New returns a new zero PDU for a known command id; false for unknown ids.
// Bind and BindResp come back with Cmd set to id.
func New(id CommandID) (PDU, bool) {
	switch id {
	case CmdBindReceiver, CmdBindTransmitter, CmdBindTransceiver:
		return &Bind{Cmd: id}, true
	case CmdBindReceiverResp, CmdBindTransmitterResp, CmdBindTransceiverResp:
		return &BindResp{Cmd: id}, true
	case CmdOutbind:
		return &Outbind{}, true
	case CmdUnbind:
		return &Unbind{}, true
	case CmdUnbindResp:
		return &UnbindResp{}, true
	case CmdGenericNack:
		return &GenericNack{}, true
	case CmdEnquireLink:
		return &EnquireLink{}, true
	case CmdEnquireLinkResp:
		return &EnquireLinkResp{}, true
	case CmdSubmitSM:
		return &SubmitSM{}, true
	case CmdSubmitSMResp:
		return &SubmitSMResp{}, true
	case CmdDeliverSM:
		return &DeliverSM{}, true
	case CmdDeliverSMResp:
		return &DeliverSMResp{}, true
	case CmdDataSM:
		return &DataSM{}, true
	case CmdDataSMResp:
		return &DataSMResp{}, true
	case CmdQuerySM:
		return &QuerySM{}, true
	case CmdQuerySMResp:
		return &QuerySMResp{}, true
	case CmdCancelSM:
		return &CancelSM{}, true
	case CmdCancelSMResp:
		return &CancelSMResp{}, true
	case CmdReplaceSM:
		return &ReplaceSM{}, true
	case CmdReplaceSMResp:
		return &ReplaceSMResp{}, true
	case CmdSubmitMulti:
		return &SubmitMulti{}, true
	case CmdSubmitMultiResp:
		return &SubmitMultiResp{}, true
	case CmdAlertNotification:
		return &AlertNotification{}, true
	}
	return nil, false
}

// Decode decodes body, the body of the PDU with header h, into a new struct
// of the right type. Unknown command ids give ErrUnknownCommand. A response
// with a non-zero command_status and an empty body decodes to its zero
// struct: the spec lets an SMSC leave the body out of an error response.
// The result does not alias body. On a decode error the struct of the
// right type is still returned (nil only for an unknown command id), so a
// server can tell which _resp to answer with.
func Decode(h Header, body []byte) (PDU, error) {
	p, ok := New(h.ID)
	if !ok {
		return nil, &Error{ID: h.ID, Field: "command_id", Err: ErrUnknownCommand}
	}
	if len(body) == 0 && h.ID.IsResponse() && h.Status != StatusOK {
		return p, nil
	}
	if err := p.DecodeBody(body); err != nil {
		return p, err
	}
	return p, nil
}
