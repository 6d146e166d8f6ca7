package pdu

import (
	"encoding/binary"
	"iter"
)

// AddressView is an Address whose Addr aliases a frame buffer.
type AddressView struct {
	TON  TON
	NPI  NPI
	Addr []byte
}

// SubmitSMView is a borrowing view of a submit_sm or deliver_sm body for the
// hot path: decoding it allocates nothing, because every field aliases the
// body it was decoded from. The view is valid only while that body is, that
// is until the next Reader.ReadFrame; copy what must outlive it (or use
// SubmitSM.DecodeBody, which costs one allocation). It applies exactly the
// checks of SubmitSM.DecodeBody and returns the same errors.
type SubmitSMView struct {
	ServiceType          []byte
	Source               AddressView
	Dest                 AddressView
	ESMClass             uint8
	ProtocolID           uint8
	PriorityFlag         uint8
	ScheduleDeliveryTime []byte
	ValidityPeriod       []byte
	RegisteredDelivery   uint8
	ReplaceIfPresent     uint8
	DataCoding           DataCoding
	SMDefaultMsgID       uint8
	ShortMessage         []byte
	// RawTLVs is the validated optional part, in wire format; read it with
	// TLV or TLVs.
	RawTLVs []byte
}

// Decode decodes body, the body of a submit_sm or deliver_sm (id says
// which, for errors), into v without copying.
func (v *SubmitSMView) Decode(id CommandID, body []byte) error {
	d := decoder{id: id, own: body}
	*v = SubmitSMView{
		ServiceType:          d.cbytes("service_type", maxServiceType),
		Source:               d.addrView("source_addr"),
		Dest:                 d.addrView("destination_addr"),
		ESMClass:             d.u8("esm_class"),
		ProtocolID:           d.u8("protocol_id"),
		PriorityFlag:         d.u8("priority_flag"),
		ScheduleDeliveryTime: d.timeBytes("schedule_delivery_time"),
		ValidityPeriod:       d.timeBytes("validity_period"),
		RegisteredDelivery:   d.u8("registered_delivery"),
		ReplaceIfPresent:     d.u8("replace_if_present_flag"),
		DataCoding:           DataCoding(d.u8("data_coding")),
		SMDefaultMsgID:       d.u8("sm_default_msg_id"),
		ShortMessage:         d.shortMessage(),
	}
	if d.err == nil && d.off < len(body) {
		if _, err := countTLVs(body[d.off:], d.off, id); err != nil {
			return err
		}
		v.RawTLVs = body[d.off:]
		d.off = len(body)
	}
	return d.done()
}

func (d *decoder) addrView(field string) AddressView {
	var a AddressView
	a.TON = TON(d.u8(field))
	a.NPI = NPI(d.u8(field))
	a.Addr = d.cbytes(field, maxAddr)
	return a
}

// TLVs iterates over the optional part in wire order; values alias the body.
func (v *SubmitSMView) TLVs() iter.Seq2[Tag, []byte] {
	return func(yield func(Tag, []byte) bool) {
		b := v.RawTLVs
		for len(b) >= 4 {
			l := int(binary.BigEndian.Uint16(b[2:]))
			if 4+l > len(b) {
				return // cannot happen after Decode validated RawTLVs
			}
			if !yield(Tag(binary.BigEndian.Uint16(b)), b[4:4+l:4+l]) {
				return
			}
			b = b[4+l:]
		}
	}
}

// TLV returns the value of the first TLV with tag t.
func (v *SubmitSMView) TLV(t Tag) ([]byte, bool) {
	for tag, val := range v.TLVs() {
		if tag == t {
			return val, true
		}
	}
	return nil, false
}
