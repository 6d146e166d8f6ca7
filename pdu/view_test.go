package pdu

import (
	"bytes"
	"errors"
	"testing"
)

func TestSubmitSMViewMatchesDecode(t *testing.T) {
	for _, s := range samples() {
		id := s.pdu.CommandID()
		if id != CmdSubmitSM && id != CmdDeliverSM {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			wire := encode(t, s)
			var v SubmitSMView
			if err := v.Decode(id, wire[HeaderLen:]); err != nil {
				t.Fatalf("SubmitSMView.Decode() error: %v", err)
			}
			var p SubmitSM
			if err := p.decodeBody(id, wire[HeaderLen:]); err != nil {
				t.Fatal(err)
			}
			var tlvs TLVs
			for tag, val := range v.TLVs() {
				tlvs = append(tlvs, TLV{Tag: tag, Value: val})
			}
			if string(v.ServiceType) != p.ServiceType || string(v.Source.Addr) != p.Source.Addr || v.Source.TON != p.Source.TON ||
				string(v.Dest.Addr) != p.Dest.Addr || v.Dest.NPI != p.Dest.NPI || v.ESMClass != p.ESMClass ||
				string(v.ScheduleDeliveryTime) != p.ScheduleDeliveryTime || string(v.ValidityPeriod) != p.ValidityPeriod ||
				v.RegisteredDelivery != p.RegisteredDelivery || v.DataCoding != p.DataCoding ||
				!bytes.Equal(v.ShortMessage, p.ShortMessage) || len(tlvs) != len(p.TLVs) {
				t.Errorf("view %+v disagrees with DecodeBody %+v", v, p)
			}
			for i := range tlvs {
				if tlvs[i].Tag != p.TLVs[i].Tag || !bytes.Equal(tlvs[i].Value, p.TLVs[i].Value) {
					t.Errorf("TLV %d: view %v, DecodeBody %v", i, tlvs[i], p.TLVs[i])
				}
			}
			if len(p.TLVs) > 0 {
				if val, ok := v.TLV(p.TLVs[0].Tag); !ok || !bytes.Equal(val, p.TLVs[0].Value) {
					t.Errorf("TLV(%v) = %x, %v", p.TLVs[0].Tag, val, ok)
				}
			}
			if n := testing.AllocsPerRun(100, func() { _ = v.Decode(id, wire[HeaderLen:]) }); n != 0 {
				t.Errorf("SubmitSMView.Decode allocates %v times, want 0", n)
			}
		})
	}
}

func TestSubmitSMViewErrors(t *testing.T) {
	body := []byte("\x00\x01\x01\x31\x00\x01\x01\x32\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02hi\x04\x24\x00\x09")
	var v SubmitSMView
	err := v.Decode(CmdSubmitSM, body)
	var p SubmitSM
	err2 := p.DecodeBody(body)
	if !errors.Is(err, ErrTLVLength) || err.Error() != err2.Error() {
		t.Errorf("SubmitSMView.Decode() error = %v, DecodeBody error = %v; want the same ErrTLVLength", err, err2)
	}
}
