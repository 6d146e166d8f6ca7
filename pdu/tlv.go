package pdu

import "encoding/binary"

// Tag is a TLV tag (section 5.3.2).
type Tag uint16

// TLV tags of SMPP 3.4.
const (
	TagDestAddrSubunit          Tag = 0x0005 // dest_addr_subunit
	TagDestNetworkType          Tag = 0x0006 // dest_network_type
	TagDestBearerType           Tag = 0x0007 // dest_bearer_type
	TagDestTelematicsID         Tag = 0x0008 // dest_telematics_id
	TagSourceAddrSubunit        Tag = 0x000D // source_addr_subunit
	TagSourceNetworkType        Tag = 0x000E // source_network_type
	TagSourceBearerType         Tag = 0x000F // source_bearer_type
	TagSourceTelematicsID       Tag = 0x0010 // source_telematics_id
	TagQOSTimeToLive            Tag = 0x0017 // qos_time_to_live
	TagPayloadType              Tag = 0x0019 // payload_type
	TagAdditionalStatusInfoText Tag = 0x001D // additional_status_info_text
	TagReceiptedMessageID       Tag = 0x001E // receipted_message_id
	TagMSMsgWaitFacilities      Tag = 0x0030 // ms_msg_wait_facilities
	TagPrivacyIndicator         Tag = 0x0201 // privacy_indicator
	TagSourceSubaddress         Tag = 0x0202 // source_subaddress
	TagDestSubaddress           Tag = 0x0203 // dest_subaddress
	TagUserMessageReference     Tag = 0x0204 // user_message_reference
	TagUserResponseCode         Tag = 0x0205 // user_response_code
	TagSourcePort               Tag = 0x020A // source_port
	TagDestinationPort          Tag = 0x020B // destination_port
	TagSARMsgRefNum             Tag = 0x020C // sar_msg_ref_num
	TagLanguageIndicator        Tag = 0x020D // language_indicator
	TagSARTotalSegments         Tag = 0x020E // sar_total_segments
	TagSARSegmentSeqnum         Tag = 0x020F // sar_segment_seqnum
	TagSCInterfaceVersion       Tag = 0x0210 // sc_interface_version
	TagCallbackNumPresInd       Tag = 0x0302 // callback_num_pres_ind
	TagCallbackNumAtag          Tag = 0x0303 // callback_num_atag
	TagNumberOfMessages         Tag = 0x0304 // number_of_messages
	TagCallbackNum              Tag = 0x0381 // callback_num
	TagDPFResult                Tag = 0x0420 // dpf_result
	TagSetDPF                   Tag = 0x0421 // set_dpf
	TagMSAvailabilityStatus     Tag = 0x0422 // ms_availability_status
	TagNetworkErrorCode         Tag = 0x0423 // network_error_code
	TagMessagePayload           Tag = 0x0424 // message_payload
	TagDeliveryFailureReason    Tag = 0x0425 // delivery_failure_reason
	TagMoreMessagesToSend       Tag = 0x0426 // more_messages_to_send
	TagMessageState             Tag = 0x0427 // message_state
	TagUSSDServiceOp            Tag = 0x0501 // ussd_service_op
	TagDisplayTime              Tag = 0x1201 // display_time
	TagSMSSignal                Tag = 0x1203 // sms_signal
	TagMSValidity               Tag = 0x1204 // ms_validity
	TagAlertOnMessageDelivery   Tag = 0x130C // alert_on_message_delivery
	TagITSReplyType             Tag = 0x1380 // its_reply_type
	TagITSSessionInfo           Tag = 0x1383 // its_session_info
)

// MaxTLVs is the most TLVs the decoder accepts in one PDU. SMPP 3.4 defines
// 44 tags and real PDUs carry a handful; the cap keeps a body of empty
// TLVs from making the decoder allocate many times command_length.
const MaxTLVs = 64

// maxReceiptedMessageID is the size limit of receipted_message_id, NUL included.
const maxReceiptedMessageID = 65

// tlvRule gives the length rule the decoder enforces for a tag: an exact
// length (fixed >= 0) or none (fixed < 0); known reports whether the tag is
// one of SMPP 3.4's, which the duplicate check covers. Only tags whose
// size the spec fixes and that peers are known to respect are checked, so a
// sloppy but harmless peer is not refused over a tag smppd never reads.
func tlvRule(t Tag) (fixed int, known bool) {
	switch t {
	case TagSARTotalSegments, TagSARSegmentSeqnum, TagMessageState, TagSCInterfaceVersion,
		TagPayloadType, TagMoreMessagesToSend, TagDeliveryFailureReason, TagMSAvailabilityStatus,
		TagDPFResult, TagSetDPF, TagPrivacyIndicator, TagLanguageIndicator:
		return 1, true
	case TagSARMsgRefNum, TagUserMessageReference, TagSourcePort, TagDestinationPort:
		return 2, true
	case TagNetworkErrorCode:
		return 3, true
	case TagQOSTimeToLive:
		return 4, true
	case TagDestAddrSubunit, TagDestNetworkType, TagDestBearerType, TagDestTelematicsID,
		TagSourceAddrSubunit, TagSourceNetworkType, TagSourceBearerType, TagSourceTelematicsID,
		TagAdditionalStatusInfoText, TagReceiptedMessageID, TagMSMsgWaitFacilities,
		TagSourceSubaddress, TagDestSubaddress, TagUserResponseCode, TagCallbackNumPresInd,
		TagCallbackNumAtag, TagNumberOfMessages, TagCallbackNum, TagMessagePayload,
		TagUSSDServiceOp, TagDisplayTime, TagSMSSignal, TagMSValidity, TagAlertOnMessageDelivery,
		TagITSReplyType, TagITSSessionInfo:
		return -1, true
	}
	return -1, false
}

// TLV is one optional parameter. Value is the raw value octets; after
// decoding it aliases the decoded PDU's private copy of the body.
type TLV struct {
	Tag   Tag
	Value []byte
}

// TLVs is the optional part of a PDU in wire order. Unknown tags are kept
// and re-encoded unchanged.
type TLVs []TLV

// Get returns the value of the first TLV with tag t.
func (ts TLVs) Get(t Tag) ([]byte, bool) {
	for _, tv := range ts {
		if tv.Tag == t {
			return tv.Value, true
		}
	}
	return nil, false
}

// Set replaces the value of the first TLV with tag t, or appends one. The
// slice v is kept, not copied.
func (ts *TLVs) Set(t Tag, v []byte) {
	for i := range *ts {
		if (*ts)[i].Tag == t {
			(*ts)[i].Value = v
			return
		}
	}
	*ts = append(*ts, TLV{Tag: t, Value: v})
}

// Del removes every TLV with tag t.
func (ts *TLVs) Del(t Tag) {
	out := (*ts)[:0]
	for _, tv := range *ts {
		if tv.Tag != t {
			out = append(out, tv)
		}
	}
	clear((*ts)[len(out):])
	*ts = out
}

func (ts TLVs) uint8Of(t Tag) (uint8, bool) {
	v, ok := ts.Get(t)
	if !ok || len(v) != 1 {
		return 0, false
	}
	return v[0], true
}

func (ts TLVs) uint16Of(t Tag) (uint16, bool) {
	v, ok := ts.Get(t)
	if !ok || len(v) != 2 {
		return 0, false
	}
	return binary.BigEndian.Uint16(v), true
}

// MessagePayload returns the message_payload value.
func (ts TLVs) MessagePayload() ([]byte, bool) { return ts.Get(TagMessagePayload) }

// SetMessagePayload sets message_payload to p (kept, not copied).
func (ts *TLVs) SetMessagePayload(p []byte) { ts.Set(TagMessagePayload, p) }

// SAR returns the sar_msg_ref_num, sar_total_segments and
// sar_segment_seqnum TLVs; ok is false unless all three are present with
// their spec sizes.
func (ts TLVs) SAR() (ref uint16, total, seq uint8, ok bool) {
	ref, ok1 := ts.uint16Of(TagSARMsgRefNum)
	total, ok2 := ts.uint8Of(TagSARTotalSegments)
	seq, ok3 := ts.uint8Of(TagSARSegmentSeqnum)
	if !ok1 || !ok2 || !ok3 {
		return 0, 0, 0, false
	}
	return ref, total, seq, true
}

// SetSAR sets the three sar_* TLVs.
func (ts *TLVs) SetSAR(ref uint16, total, seq uint8) {
	ts.Set(TagSARMsgRefNum, binary.BigEndian.AppendUint16(nil, ref))
	ts.Set(TagSARTotalSegments, []byte{total})
	ts.Set(TagSARSegmentSeqnum, []byte{seq})
}

// ReceiptedMessageID returns receipted_message_id without its NUL.
// A value without NUL is returned as is: peers forget it.
func (ts TLVs) ReceiptedMessageID() (string, bool) {
	v, ok := ts.Get(TagReceiptedMessageID)
	if !ok {
		return "", false
	}
	for i, c := range v {
		if c == 0 {
			return string(v[:i]), true
		}
	}
	return string(v), true
}

// SetReceiptedMessageID sets receipted_message_id to id plus its NUL.
func (ts *TLVs) SetReceiptedMessageID(id string) {
	v := make([]byte, len(id)+1)
	copy(v, id)
	ts.Set(TagReceiptedMessageID, v)
}

// MessageState returns the message_state TLV.
func (ts TLVs) MessageState() (MessageState, bool) {
	v, ok := ts.uint8Of(TagMessageState)
	return MessageState(v), ok
}

// SetMessageState sets the message_state TLV.
func (ts *TLVs) SetMessageState(s MessageState) { ts.Set(TagMessageState, []byte{byte(s)}) }

// NetworkError is the value of network_error_code: a network type (1 ANSI-136,
// 2 IS-95, 3 GSM, ...) and the network's own error code.
type NetworkError struct {
	Type uint8
	Code uint16
}

// NetworkErrorCode returns the network_error_code TLV.
func (ts TLVs) NetworkErrorCode() (NetworkError, bool) {
	v, ok := ts.Get(TagNetworkErrorCode)
	if !ok || len(v) != 3 {
		return NetworkError{}, false
	}
	return NetworkError{Type: v[0], Code: binary.BigEndian.Uint16(v[1:])}, true
}

// SetNetworkErrorCode sets the network_error_code TLV.
func (ts *TLVs) SetNetworkErrorCode(typ uint8, code uint16) {
	ts.Set(TagNetworkErrorCode, []byte{typ, byte(code >> 8), byte(code)})
}

// SCInterfaceVersion returns the sc_interface_version TLV (0x34 for 3.4).
func (ts TLVs) SCInterfaceVersion() (uint8, bool) { return ts.uint8Of(TagSCInterfaceVersion) }

// SetSCInterfaceVersion sets the sc_interface_version TLV.
func (ts *TLVs) SetSCInterfaceVersion(v uint8) { ts.Set(TagSCInterfaceVersion, []byte{v}) }

// UserMessageReference returns the user_message_reference TLV.
func (ts TLVs) UserMessageReference() (uint16, bool) { return ts.uint16Of(TagUserMessageReference) }

// SetUserMessageReference sets the user_message_reference TLV.
func (ts *TLVs) SetUserMessageReference(ref uint16) {
	ts.Set(TagUserMessageReference, binary.BigEndian.AppendUint16(nil, ref))
}

// appendTLVs appends ts in order. A value longer than 65535 octets cannot
// be encoded.
func appendTLVs(b []byte, id CommandID, ts TLVs) ([]byte, error) {
	for _, tv := range ts {
		if len(tv.Value) > 0xFFFF {
			return b, &Error{ID: id, Field: tv.Tag.field(), Err: ErrTLVLength}
		}
		b = binary.BigEndian.AppendUint16(b, uint16(tv.Tag))
		b = binary.BigEndian.AppendUint16(b, uint16(len(tv.Value)))
		b = append(b, tv.Value...)
	}
	return b, nil
}

// field is the Error.Field name of a TLV tag.
func (t Tag) field() string {
	const hex = "0123456789abcdef"
	return string([]byte{'t', 'l', 'v', ' ', '0', 'x', hex[t>>12], hex[t>>8&0xF], hex[t>>4&0xF], hex[t&0xF]})
}

// countTLVs validates the optional part b (starting at body offset base) and
// returns how many TLVs it holds, so that decodeTLVs can size its slice once.
func countTLVs(b []byte, base int, id CommandID) (int, error) {
	var seen [48]Tag // known tags seen so far; a duplicate ends the scan first
	nseen := 0
	n := 0
	for off := 0; off < len(b); n++ {
		if n == MaxTLVs {
			return 0, &Error{ID: id, Field: "tlv", Off: base + off, Err: ErrTLVTooMany}
		}
		if len(b)-off < 4 {
			return 0, &Error{ID: id, Field: "tlv", Off: base + off, Err: ErrTLVTruncated}
		}
		t := Tag(binary.BigEndian.Uint16(b[off:]))
		l := int(binary.BigEndian.Uint16(b[off+2:]))
		if l > len(b)-off-4 {
			return 0, &Error{ID: id, Field: t.field(), Off: base + off, Err: ErrTLVLength}
		}
		fixed, known := tlvRule(t)
		if fixed >= 0 && l != fixed {
			return 0, &Error{ID: id, Field: t.field(), Off: base + off, Err: ErrTLVLength}
		}
		if t == TagReceiptedMessageID {
			if err := checkReceiptedID(b[off+4 : off+4+l]); err != nil {
				return 0, &Error{ID: id, Field: t.field(), Off: base + off, Err: err}
			}
		}
		if known {
			for _, s := range seen[:nseen] {
				if s == t {
					return 0, &Error{ID: id, Field: t.field(), Off: base + off, Err: ErrTLVDuplicate}
				}
			}
			if nseen < len(seen) {
				seen[nseen] = t
				nseen++
			}
		}
		off += 4 + l
	}
	return n, nil
}

// checkReceiptedID enforces receipted_message_id's maximum of 65 octets.
// A missing NUL is tolerated (the getter copes); an oversize value is not.
func checkReceiptedID(v []byte) error {
	if len(v) > maxReceiptedMessageID {
		return ErrTLVValue
	}
	return nil
}

// decodeTLVs decodes the optional part b; values alias b. It returns nil for
// an empty optional part.
func decodeTLVs(b []byte, base int, id CommandID) (TLVs, error) {
	n, err := countTLVs(b, base, id)
	if err != nil || n == 0 {
		return nil, err
	}
	ts := make(TLVs, n)
	off := 0
	for i := range ts {
		l := int(binary.BigEndian.Uint16(b[off+2:]))
		ts[i] = TLV{Tag: Tag(binary.BigEndian.Uint16(b[off:])), Value: b[off+4 : off+4+l : off+4+l]}
		off += 4 + l
	}
	return ts, nil
}
