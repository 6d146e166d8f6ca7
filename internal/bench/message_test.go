package bench

import (
	"bytes"
	"testing"

	"github.com/smppd/smppd/pdu"
)

func TestTemplatePatchesSequenceAndDestination(t *testing.T) {
	o := Options{Addr: "x:1", Text: "a{b €", Dest: "4479###0", RegisteredDelivery: true}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	tmpl, err := buildTemplate(&o)
	if err != nil {
		t.Fatal(err)
	}
	dest := newOdometer(len(tmpl.digits), 998)
	var b []byte
	for _, seq := range []uint32{7, 0x12345678} {
		b = tmpl.appendMessage(b[:0], seq, dest)
		dest.next()
		h, err := pdu.ParseHeader(b)
		if err != nil || h.ID != pdu.CmdSubmitSM || h.Seq != seq || int(h.Length) != len(b) {
			t.Fatalf("header %+v, %v; want submit_sm seq %d length %d", h, err, seq, len(b))
		}
		var sm pdu.SubmitSM
		if err := sm.DecodeBody(b[pdu.HeaderLen:]); err != nil {
			t.Fatalf("DecodeBody: %v", err)
		}
		wantDest := map[uint32]string{7: "44799980", 0x12345678: "44799990"}[seq]
		if sm.Dest.Addr != wantDest || sm.RegisteredDelivery != 1 || sm.DataCoding != pdu.CodingDefault {
			t.Errorf("seq %d: dest %q registered_delivery %d coding %v; want %q, 1, default", seq, sm.Dest.Addr, sm.RegisteredDelivery, sm.DataCoding, wantDest)
		}
		// GSM 03.38 unpacked: '{' and '€' are escaped extension characters.
		if want := []byte{'a', 0x1B, 0x28, 'b', ' ', 0x1B, 0x65}; !bytes.Equal(sm.ShortMessage, want) {
			t.Errorf("short_message % X, want % X", sm.ShortMessage, want)
		}
	}
	// The odometer wraps to zeros.
	o2 := newOdometer(2, 99)
	o2.next()
	if string(o2) != "00" {
		t.Errorf("odometer after 99 = %q, want 00", o2)
	}
}

func TestTemplateLongTextGoesInMessagePayload(t *testing.T) {
	o := Options{Addr: "x:1", Size: 300, Coding: "ucs2"}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	tmpl, err := buildTemplate(&o)
	if err != nil {
		t.Fatal(err)
	}
	var sm pdu.SubmitSM
	if err := sm.DecodeBody(tmpl.b[pdu.HeaderLen:]); err != nil {
		t.Fatal(err)
	}
	payload, ok := sm.TLVs.MessagePayload()
	if len(sm.ShortMessage) != 0 || !ok || len(payload) != 600 || sm.DataCoding != pdu.CodingUCS2 {
		t.Errorf("short_message %d octets, payload %d octets (%v), coding %v; want 0, 600, ucs2", len(sm.ShortMessage), len(payload), ok, sm.DataCoding)
	}
}
