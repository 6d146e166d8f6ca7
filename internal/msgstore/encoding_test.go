package msgstore

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/smppd/smppd/pdu"
)

func fullMessage() Message {
	m := Message{
		ID:                 1<<32 | 7,
		TokenID:            "tok_abc",
		TestMode:           true,
		Source:             pdu.Address{TON: 5, NPI: 0, Addr: "ACME"},
		Dest:               pdu.Address{TON: 1, NPI: 1, Addr: "447700900001"},
		ServiceType:        "CMT",
		ESMClass:           0x40,
		ProtocolID:         1,
		PriorityFlag:       2,
		RegisteredDelivery: 0x11,
		DataCoding:         8,
		Body:               []byte{0, 5, 0, 'A', 0, 1, 1, '4', 0},
		Text:               []byte("hello, world"),
		SubmitAt:           time.Date(2026, 11, 30, 1, 2, 3, 456, time.UTC),
		ScheduleAt:         time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC),
		ExpireAt:           time.Date(2026, 12, 3, 1, 2, 3, 0, time.UTC),
		State:              pdu.StateScheduled,
		DoneAt:             time.Date(2026, 11, 30, 3, 0, 0, 1, time.UTC),
		ErrCode:            "001",
		NetworkError:       [3]byte{3, 0, 1},
		Outbox:             true,
		DueAt:              time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC),
		Final:              true,
	}
	m.Concat.Ref, m.Concat.Total, m.Concat.Part = 0xBEEF, 3, 2
	return m
}

func TestMessageRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		m    Message
	}{
		{"minimal", Message{ID: 1, TokenID: "t"}},
		{"full", fullMessage()},
		{"pre-1970 time", Message{ID: 2, TokenID: "t", SubmitAt: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"max id", Message{ID: ^uint64(0), TokenID: "t", Body: bytes.Repeat([]byte{0xff}, maxBytes)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.m.AppendBinary([]byte("prefix"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, []byte("prefix")) {
				t.Fatalf("AppendBinary() dropped the prefix")
			}
			var got Message
			if err := got.UnmarshalBinary(b[len("prefix"):]); err != nil {
				t.Fatalf("UnmarshalBinary() = %v", err)
			}
			if diff := cmp.Diff(tt.m, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReceiptAndCallbackRoundTrip(t *testing.T) {
	m := fullMessage()
	m.Text = []byte("a text longer than the forty bytes a receipt keeps of it")
	r := Receipt{Seq: 9, TokenID: "tok", MessageID: m.ID, Message: m, State: pdu.StateDelivered,
		ErrCode: "000", DoneAt: time.Unix(1700000000, 5).UTC(), QueuedAt: time.Unix(1700000001, 0).UTC(), Attempts: 3}
	// The stored snapshot: what deliver_sm and the callback need, with the receipt's own state.
	want := r
	want.Message = Message{
		ID: m.ID, TokenID: "tok", TestMode: true, Source: m.Source, Dest: m.Dest, ServiceType: "CMT",
		ESMClass: m.ESMClass, ProtocolID: m.ProtocolID, PriorityFlag: m.PriorityFlag,
		RegisteredDelivery: m.RegisteredDelivery, DataCoding: m.DataCoding, Text: m.Text[:receiptTextMax],
		Concat: m.Concat, SubmitAt: m.SubmitAt, NetworkError: m.NetworkError,
		State: pdu.StateDelivered, ErrCode: "000", DoneAt: r.DoneAt, Final: true,
	}
	b, _ := r.AppendBinary(nil)
	got := Receipt{Seq: 9}
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("receipt round trip (-want +got):\n%s", diff)
	}
	c := Callback{Seq: 4, TokenID: "tok", URL: "https://example.com/dlr", Receipt: want,
		NextAttempt: time.Unix(1700000100, 0).UTC(), Attempts: 2, FirstAttempt: time.Unix(1700000000, 0).UTC(),
		LastError: "503", LastAttempt: time.Unix(1700000050, 0).UTC()}
	b, _ = c.AppendBinary(nil)
	gotC := Callback{Seq: 4}
	if err := gotC.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, gotC); diff != "" {
		t.Errorf("callback round trip (-want +got):\n%s", diff)
	}
}

// TestDecodeRejectsDamage: every truncation, a wrong version and trailing bytes are ErrCorrupt,
// never a panic and never a silently wrong value.
func TestDecodeRejectsDamage(t *testing.T) {
	m := fullMessage()
	b, _ := m.AppendBinary(nil)
	for n := 0; n < len(b); n++ {
		var got Message
		if err := got.UnmarshalBinary(b[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("UnmarshalBinary(%d of %d bytes) = %v, want ErrCorrupt", n, len(b), err)
		}
	}
	bad := append([]byte{messageVersion + 1}, b[1:]...)
	var got Message
	if err := got.UnmarshalBinary(bad); !errors.Is(err, ErrCorrupt) {
		t.Errorf("UnmarshalBinary(version %d) = %v, want ErrCorrupt", bad[0], err)
	}
	if err := got.UnmarshalBinary(append(b, 0)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("UnmarshalBinary(trailing byte) = %v, want ErrCorrupt", err)
	}
}

func TestMessageEncodingAllocs(t *testing.T) {
	m := fullMessage()
	buf := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() { _, _ = m.AppendBinary(buf[:0]) }); n != 0 {
		t.Errorf("AppendBinary allocs = %v, want 0", n)
	}
}

// FuzzDecodeRecord feeds arbitrary bytes to the three record decoders. Whatever decodes must
// re-encode to a stable form: decode → encode → decode → encode gives the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	m := fullMessage()
	mb, _ := m.AppendBinary(nil)
	f.Add(mb)
	r := Receipt{TokenID: "t", MessageID: 1, Message: m}
	rb, _ := r.AppendBinary(nil)
	f.Add(rb)
	c := Callback{TokenID: "t", URL: "http://x", Receipt: r}
	cb, _ := c.AppendBinary(nil)
	f.Add(cb)
	f.Add([]byte{1})
	type record interface {
		AppendBinary([]byte) ([]byte, error)
		UnmarshalBinary([]byte) error
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, mk := range []func() record{
			func() record { return new(Message) },
			func() record { return new(Receipt) },
			func() record { return new(Callback) },
		} {
			r1 := mk()
			if r1.UnmarshalBinary(b) != nil {
				continue
			}
			enc1, _ := r1.AppendBinary(nil)
			r2 := mk()
			if err := r2.UnmarshalBinary(enc1); err != nil {
				t.Fatalf("%T: re-encoded record does not decode: %v", r1, err)
			}
			enc2, _ := r2.AppendBinary(nil)
			if !bytes.Equal(enc1, enc2) {
				t.Fatalf("%T: encoding not stable:\n%x\n%x", r1, enc1, enc2)
			}
		}
	})
}

func BenchmarkMessageEncode(b *testing.B) {
	m := fullMessage()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = m.AppendBinary(buf[:0])
	}
}

func BenchmarkMessageDecode(b *testing.B) {
	m := fullMessage()
	enc, _ := m.AppendBinary(nil)
	b.ReportAllocs()
	for b.Loop() {
		var got Message
		if err := got.UnmarshalBinary(enc); err != nil {
			b.Fatal(err)
		}
	}
}
