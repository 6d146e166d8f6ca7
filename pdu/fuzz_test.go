package pdu

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"
)

// FuzzDecode feeds arbitrary bytes through the framer and the decoder. It
// checks that nothing panics, that every error is typed and maps to a
// status, and that whatever decodes re-encodes to the same body and decodes
// again to the same struct.
func FuzzDecode(f *testing.F) {
	for _, s := range samples() {
		b, err := Append(nil, s.seq, s.status, s.pdu)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), 4096)
		for range 4 {
			h, body, err := r.ReadFrame()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					var e *Error
					if !errors.As(err, &e) {
						t.Fatalf("ReadFrame() error %T %v is not *Error", err, err)
					}
					if st, nack, fatal := ErrorStatus(err); st != StatusInvCmdLen || !nack || !fatal {
						t.Fatalf("framing error %v maps to %v %v %v", err, st, nack, fatal)
					}
				}
				return
			}
			if int(h.Length) != HeaderLen+len(body) {
				t.Fatalf("ReadFrame() body of %d for command_length %d", len(body), h.Length)
			}
			checkDecode(t, h, body)
		}
	})
}

func checkDecode(t *testing.T, h Header, body []byte) {
	if h.ID == CmdSubmitSM || h.ID == CmdDeliverSM {
		var v SubmitSMView
		var sm SubmitSM
		verr, derr := v.Decode(h.ID, body), sm.decodeBody(h.ID, body)
		if (verr == nil) != (derr == nil) || (verr != nil && verr.Error() != derr.Error()) {
			t.Fatalf("SubmitSMView.Decode() = %v, DecodeBody() = %v", verr, derr)
		}
		if verr == nil && (!bytes.Equal(v.ShortMessage, sm.ShortMessage) || string(v.Dest.Addr) != sm.Dest.Addr) {
			t.Fatalf("SubmitSMView disagrees with DecodeBody")
		}
	}
	p, err := Decode(h, body)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("Decode() error %T %v is not *Error", err, err)
		}
		if st, _, fatal := ErrorStatus(err); st == StatusOK || st == StatusSysErr || fatal {
			t.Fatalf("decode error %v maps to %v (fatal %v)", err, st, fatal)
		}
		return
	}
	wire, err := Append(nil, h.Seq, h.Status, p)
	if err != nil {
		t.Fatalf("Append(Decode(%x)) error: %v", body, err)
	}
	emptyErrorResp := len(body) == 0 && h.ID.IsResponse() && h.Status != StatusOK
	if !emptyErrorResp && !bytes.Equal(wire[HeaderLen:], body) {
		t.Fatalf("re-encoded body differs:\n got %x\nwant %x", wire[HeaderLen:], body)
	}
	h2, err := ParseHeader(wire)
	if err != nil || h2.ID != h.ID || h2.Seq != h.Seq || h2.Status != h.Status || int(h2.Length) != len(wire) {
		t.Fatalf("re-encoded header %+v, %v for %+v", h2, err, h)
	}
	p2, err := Decode(h2, wire[HeaderLen:])
	if err != nil {
		t.Fatalf("Decode(Append(Decode(x))) error: %v", err)
	}
	if !reflect.DeepEqual(p, p2) {
		t.Fatalf("decode → encode → decode differs:\n%#v\n%#v", p, p2)
	}
}

// FuzzParseReceipt checks that the tolerant parser never panics and that
// whatever it reads and the strict builder can write survives a round trip.
func FuzzParseReceipt(f *testing.F) {
	seeds := []string{
		"id:1f2e3d4c sub:001 dlvrd:001 submit date:2611301200 done date:2611301201 stat:DELIVRD err:000 Text:Hello, world",
		"stat:UNDELIV err:0B1 id:0042 text:x",
		"ID:3F2504E0-4F89-11D3-9A0C-0305E82C3301 SUB:001 DLVRD:000 STAT:REJECTD ERR:0B1",
		"id:00012 submit_date:261130120000 done_date:261130120130 stat:DELIVERED",
		"text:first id:9 stat:EXPIRED",
		"id: stat:",
		"",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseReceipt(data)
		if err != nil {
			if !errors.Is(err, ErrNotReceipt) {
				t.Fatalf("ParseReceipt() error %v is not ErrNotReceipt", err)
			}
			return
		}
		if r.SubmitDate.IsZero() {
			r.SubmitDate = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
		}
		if r.DoneDate.IsZero() {
			r.DoneDate = r.SubmitDate
		}
		b, err := r.AppendText(nil)
		if err != nil {
			if !errors.Is(err, ErrReceiptField) {
				t.Fatalf("AppendText() error %v is not ErrReceiptField", err)
			}
			return
		}
		got, err := ParseReceipt(b)
		if err != nil {
			t.Fatalf("ParseReceipt(AppendText(%+v)) = %q: %v", r, b, err)
		}
		want := r
		want.SubmitDate = r.SubmitDate.Truncate(time.Minute)
		want.DoneDate = r.DoneDate.Truncate(time.Minute)
		if want.Err == "" {
			want.Err = "000"
		}
		want.Text = string(trimTrailingSpaces(trimLeadingSpace([]byte(truncateRunes(r.Text, ReceiptTextMax)))))
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("receipt round trip of %q:\n got %+v\nwant %+v", b, got, want)
		}
	})
}

// writeFuzzSeeds writes the samples as the checked-in FuzzDecode corpus.
func writeFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range samples() {
		b := encode(t, s)
		content := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, "golden-"+s.name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
