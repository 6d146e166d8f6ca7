package pdu

import "encoding/binary"

// HeaderLen is the size of the SMPP header: command_length, command_id,
// command_status and sequence_number, four big-endian octets each.
const HeaderLen = 16

// DefaultMaxLen is the default cap on command_length (header included) that
// NewReader applies when it is given no cap of its own. A message_payload TLV
// may carry up to 64 KiB, so smaller caps refuse legal but large PDUs.
const DefaultMaxLen = 64 << 10

// CommandID is an SMPP command_id. Responses have the high bit set.
type CommandID uint32

// Command ids of SMPP 3.4 (section 5.1.2.1).
const (
	CmdGenericNack         CommandID = 0x80000000 // generic_nack
	CmdBindReceiver        CommandID = 0x00000001 // bind_receiver
	CmdBindReceiverResp    CommandID = 0x80000001 // bind_receiver_resp
	CmdBindTransmitter     CommandID = 0x00000002 // bind_transmitter
	CmdBindTransmitterResp CommandID = 0x80000002 // bind_transmitter_resp
	CmdQuerySM             CommandID = 0x00000003 // query_sm
	CmdQuerySMResp         CommandID = 0x80000003 // query_sm_resp
	CmdSubmitSM            CommandID = 0x00000004 // submit_sm
	CmdSubmitSMResp        CommandID = 0x80000004 // submit_sm_resp
	CmdDeliverSM           CommandID = 0x00000005 // deliver_sm
	CmdDeliverSMResp       CommandID = 0x80000005 // deliver_sm_resp
	CmdUnbind              CommandID = 0x00000006 // unbind
	CmdUnbindResp          CommandID = 0x80000006 // unbind_resp
	CmdReplaceSM           CommandID = 0x00000007 // replace_sm
	CmdReplaceSMResp       CommandID = 0x80000007 // replace_sm_resp
	CmdCancelSM            CommandID = 0x00000008 // cancel_sm
	CmdCancelSMResp        CommandID = 0x80000008 // cancel_sm_resp
	CmdBindTransceiver     CommandID = 0x00000009 // bind_transceiver
	CmdBindTransceiverResp CommandID = 0x80000009 // bind_transceiver_resp
	CmdOutbind             CommandID = 0x0000000B // outbind
	CmdEnquireLink         CommandID = 0x00000015 // enquire_link
	CmdEnquireLinkResp     CommandID = 0x80000015 // enquire_link_resp
	CmdSubmitMulti         CommandID = 0x00000021 // submit_multi
	CmdSubmitMultiResp     CommandID = 0x80000021 // submit_multi_resp
	CmdAlertNotification   CommandID = 0x00000102 // alert_notification
	CmdDataSM              CommandID = 0x00000103 // data_sm
	CmdDataSMResp          CommandID = 0x80000103 // data_sm_resp
)

// IsResponse reports whether c is a response (high bit set). generic_nack
// counts as a response: it is never answered.
func (c CommandID) IsResponse() bool { return c&0x80000000 != 0 }

// Response returns the command_id of the response to c.
func (c CommandID) Response() CommandID { return c | 0x80000000 }

// Known reports whether c is one of the SMPP 3.4 command ids above.
func (c CommandID) Known() bool {
	switch c {
	case CmdGenericNack,
		CmdBindReceiver, CmdBindReceiverResp,
		CmdBindTransmitter, CmdBindTransmitterResp,
		CmdQuerySM, CmdQuerySMResp,
		CmdSubmitSM, CmdSubmitSMResp,
		CmdDeliverSM, CmdDeliverSMResp,
		CmdUnbind, CmdUnbindResp,
		CmdReplaceSM, CmdReplaceSMResp,
		CmdCancelSM, CmdCancelSMResp,
		CmdBindTransceiver, CmdBindTransceiverResp,
		CmdOutbind,
		CmdEnquireLink, CmdEnquireLinkResp,
		CmdSubmitMulti, CmdSubmitMultiResp,
		CmdAlertNotification,
		CmdDataSM, CmdDataSMResp:
		return true
	}
	return false
}

// Header is the fixed 16-octet SMPP header.
type Header struct {
	Length uint32 // command_length, including the header
	ID     CommandID
	Status Status
	Seq    uint32 // sequence_number
}

// ParseHeader decodes the header at the start of b. It needs len(b) >=
// HeaderLen (else ErrTruncated) and checks only that command_length is at
// least HeaderLen (else ErrCmdLenTooShort); the cap on the length is the
// framer's business. It never allocates: errors are the bare sentinels.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, ErrTruncated
	}
	h := Header{
		Length: binary.BigEndian.Uint32(b[0:]),
		ID:     CommandID(binary.BigEndian.Uint32(b[4:])),
		Status: Status(binary.BigEndian.Uint32(b[8:])),
		Seq:    binary.BigEndian.Uint32(b[12:]),
	}
	if h.Length < HeaderLen {
		return h, ErrCmdLenTooShort
	}
	return h, nil
}

// AppendTo appends the 16 header octets of h to b.
func (h Header) AppendTo(b []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, h.Length)
	b = binary.BigEndian.AppendUint32(b, uint32(h.ID))
	b = binary.BigEndian.AppendUint32(b, uint32(h.Status))
	return binary.BigEndian.AppendUint32(b, h.Seq)
}
