package pdu

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func encode(t testing.TB, s sample) []byte {
	t.Helper()
	b, err := Append(nil, s.seq, s.status, s.pdu)
	if err != nil {
		t.Fatalf("Append(%s) error: %v", s.name, err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	for _, s := range samples() {
		t.Run(s.name, func(t *testing.T) {
			wire := encode(t, s)
			h, err := ParseHeader(wire)
			if err != nil {
				t.Fatalf("ParseHeader() error: %v", err)
			}
			want := Header{Length: uint32(len(wire)), ID: s.pdu.CommandID(), Status: s.status, Seq: s.seq}
			if h != want {
				t.Errorf("ParseHeader() = %+v, want %+v", h, want)
			}
			got, err := Decode(h, wire[HeaderLen:])
			if err != nil {
				t.Fatalf("Decode() error: %v", err)
			}
			if diff := cmp.Diff(s.pdu, got); diff != "" {
				t.Errorf("Decode(Append(p)) mismatch (-want +got):\n%s", diff)
			}
			again, err := Append(nil, s.seq, s.status, got)
			if err != nil {
				t.Fatalf("Append(decoded) error: %v", err)
			}
			if !bytes.Equal(again, wire) {
				t.Errorf("re-encoding differs:\n got %x\nwant %x", again, wire)
			}
		})
	}
}

func TestDecodeDoesNotAliasInput(t *testing.T) {
	s := samples()[12] // submit_sm
	wire := encode(t, s)
	h, _ := ParseHeader(wire)
	got, err := Decode(h, wire[HeaderLen:])
	if err != nil {
		t.Fatal(err)
	}
	for i := range wire {
		wire[i] = 0xFF
	}
	if diff := cmp.Diff(s.pdu, got); diff != "" {
		t.Errorf("decoded PDU changed with its input (-want +got):\n%s", diff)
	}
}

func TestDecodeErrors(t *testing.T) {
	submit := func(mut func(b []byte) []byte) []byte {
		b, err := (&SubmitSM{Source: Address{Addr: "123"}, Dest: Address{Addr: "456"}, ShortMessage: []byte("hi")}).AppendBody(nil)
		if err != nil {
			t.Fatal(err)
		}
		return mut(b)
	}
	tests := []struct {
		name   string
		id     CommandID
		body   []byte
		err    error
		field  string
		status Status
		nack   bool
	}{
		{"unknown command", 0x1234, nil, ErrUnknownCommand, "command_id", StatusInvCmdID, true},
		{"empty submit_sm", CmdSubmitSM, nil, ErrTruncated, "service_type", StatusInvCmdLen, true},
		{"no NUL", CmdSubmitSMResp, []byte("abc"), ErrCStringNoNUL, "message_id", StatusInvCmdLen, true},
		{"message_id too long", CmdSubmitSMResp, append(bytes.Repeat([]byte("x"), 65), 0), ErrFieldTooLong, "message_id", StatusInvMsgID, false},
		{"system_id too long", CmdBindTransmitter, append(bytes.Repeat([]byte("x"), 16), 0), ErrFieldTooLong, "system_id", StatusInvSysID, false},
		{"password too long", CmdBindTransmitter, append([]byte("id\x00"), append(bytes.Repeat([]byte("p"), 65), 0)...), ErrFieldTooLong, "password", StatusInvPaswd, false},
		{"source too long", CmdSubmitSM, append([]byte("\x00\x01\x01"), append(bytes.Repeat([]byte("1"), 21), 0)...), ErrFieldTooLong, "source_addr", StatusInvSrcAdr, false},
		{"sm_length past end", CmdSubmitSM, submit(func(b []byte) []byte { b[len(b)-3] = 200; return b }), ErrSMLength, "short_message", StatusInvMsgLen, false},
		{"trailing bytes", CmdEnquireLink, []byte{0}, ErrTrailingBytes, "body", StatusInvCmdLen, true},
		{"trailing bytes query_sm", CmdQuerySM, []byte("1\x00\x01\x01\x31\x00\x00"), ErrTrailingBytes, "body", StatusInvCmdLen, true},
		{"truncated TLV", CmdSubmitSM, submit(func(b []byte) []byte { return append(b, 0x04, 0x24, 0) }), ErrTLVTruncated, "tlv", StatusInvOptParStream, false},
		{"TLV length past end", CmdSubmitSM, submit(func(b []byte) []byte { return append(b, 0x04, 0x24, 0, 9, 1) }), ErrTLVLength, "tlv 0x0424", StatusInvParLen, false},
		{"message_state wrong size", CmdDeliverSM, submit(func(b []byte) []byte { return append(b, 0x04, 0x27, 0, 2, 1, 1) }), ErrTLVLength, "tlv 0x0427", StatusInvParLen, false},
		{"duplicate TLV", CmdSubmitSM, submit(func(b []byte) []byte { return append(b, 0x04, 0x27, 0, 1, 1, 0x04, 0x27, 0, 1, 2) }), ErrTLVDuplicate, "tlv 0x0427", StatusInvOptParStream, false},
		{"too many TLVs", CmdSubmitSM, submit(func(b []byte) []byte { return append(b, bytes.Repeat([]byte{0x14, 0x01, 0, 0}, MaxTLVs+1)...) }), ErrTLVTooMany, "tlv", StatusInvOptParStream, false},
		{"receipted id too long", CmdDeliverSM, submit(func(b []byte) []byte { return append(append(b, 0x00, 0x1E, 0, 66), bytes.Repeat([]byte("1"), 66)...) }), ErrTLVValue, "tlv 0x001e", StatusInvOptParamVal, false},
		{"bad schedule", CmdSubmitSM, []byte("\x00\x01\x01\x31\x00\x01\x01\x32\x00\x00\x00\x00" + "2611\x00"), ErrInvalidField, "schedule_delivery_time", StatusInvSched, false},
		{"bad validity", CmdSubmitSM, []byte("\x00\x01\x01\x31\x00\x01\x01\x32\x00\x00\x00\x00\x00" + "261130120000000X\x00"), ErrInvalidField, "validity_period", StatusInvExpiry, false},
		{"bad dest_flag", CmdSubmitMulti, []byte("\x00\x01\x01\x31\x00\x01\x03\x00"), ErrInvalidField, "dest_flag", StatusInvDestFlag, false},
		{"empty dl_name", CmdSubmitMulti, []byte("\x00\x01\x01\x31\x00\x01\x02\x00"), ErrInvalidField, "dl_name", StatusInvDLName, false},
		{"too many dests", CmdSubmitMulti, append([]byte("\x00\x01\x01\x31\x00\xFF"), make([]byte, 600)...), ErrInvalidField, "number_of_dests", StatusInvNumDests, false},
		{"dest count past body", CmdSubmitMulti, []byte("\x00\x01\x01\x31\x00\xF0\x01"), ErrTruncated, "dest_address", StatusInvCmdLen, true},
		{"unsuccess count past body", CmdSubmitMultiResp, []byte("m\x00\x09"), ErrTruncated, "unsuccess_sme", StatusInvCmdLen, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(Header{ID: tt.id}, tt.body)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Decode() error = %v, want %v", err, tt.err)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Decode() error %T is not *Error", err)
			}
			if e.Field != tt.field {
				t.Errorf("Error.Field = %q, want %q", e.Field, tt.field)
			}
			status, nack, fatal := ErrorStatus(err)
			if status != tt.status || nack != tt.nack || fatal {
				t.Errorf("ErrorStatus() = %v, %v, %v, want %v, %v, false", status, nack, fatal, tt.status, tt.nack)
			}
		})
	}
}

func TestDecodeErrorResponseWithoutBody(t *testing.T) {
	p, err := Decode(Header{ID: CmdSubmitSMResp, Status: StatusThrottled}, nil)
	if err != nil {
		t.Fatalf("Decode() error: %v", err)
	}
	if diff := cmp.Diff(&SubmitSMResp{}, p); diff != "" {
		t.Errorf("Decode() mismatch (-want +got):\n%s", diff)
	}
	if _, err := Decode(Header{ID: CmdSubmitSMResp, Status: StatusOK}, nil); !errors.Is(err, ErrTruncated) {
		t.Errorf("Decode(OK, empty) error = %v, want ErrTruncated", err)
	}
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name  string
		pdu   PDU
		field string
		err   error
	}{
		{"system_id", &Bind{SystemID: strings.Repeat("s", 16)}, "system_id", ErrFieldTooLong},
		{"password", &Bind{Password: strings.Repeat("p", 65)}, "password", ErrFieldTooLong},
		{"NUL inside", &Bind{SystemID: "a\x00b"}, "system_id", ErrInvalidField},
		{"short_message", &SubmitSM{ShortMessage: make([]byte, 255)}, "short_message", ErrFieldTooLong},
		{"validity", &SubmitSM{ValidityPeriod: "1d"}, "validity_period", ErrInvalidField},
		{"dest addr", &DeliverSM{Dest: Address{Addr: strings.Repeat("1", 21)}}, "destination_addr", ErrFieldTooLong},
		{"tlv", &DataSM{TLVs: TLVs{{Tag: TagMessagePayload, Value: make([]byte, 70000)}}}, "tlv 0x0424", ErrTLVLength},
		{"dests", &SubmitMulti{Dests: make([]DestAddr, 255)}, "number_of_dests", ErrFieldTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Append([]byte("keep"), 1, StatusOK, tt.pdu)
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, tt.err) || e.Field != tt.field {
				t.Fatalf("Append() error = %v, want %v on %s", err, tt.err, tt.field)
			}
			if string(b) != "keep" {
				t.Errorf("Append() = %q on error, want the input unchanged", b)
			}
		})
	}
}

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want Header
		err  error
	}{
		{"enquire_link", []byte{0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 7}, Header{16, CmdEnquireLink, StatusOK, 7}, nil},
		{"short buffer", make([]byte, 15), Header{}, ErrTruncated},
		{"length 15", []byte{0, 0, 0, 15, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 7}, Header{15, CmdEnquireLink, StatusOK, 7}, ErrCmdLenTooShort},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseHeader(tt.in)
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Errorf("ParseHeader() = %+v, %v, want %+v, %v", got, err, tt.want, tt.err)
			}
			if err == nil {
				if back := got.AppendTo(nil); !bytes.Equal(back, tt.in) {
					t.Errorf("AppendTo() = %x, want %x", back, tt.in)
				}
			}
		})
	}
}

func TestReaderFrames(t *testing.T) {
	var stream []byte
	ss := samples()
	for _, s := range ss {
		stream = append(stream, encode(t, s)...)
	}
	r := NewReader(bytes.NewReader(stream), 0)
	for _, s := range ss {
		h, body, err := r.ReadFrame()
		if err != nil {
			t.Fatalf("ReadFrame() error at %s: %v", s.name, err)
		}
		if h.ID != s.pdu.CommandID() || h.Seq != s.seq {
			t.Fatalf("ReadFrame() = %v seq %d, want %v seq %d", h.ID, h.Seq, s.pdu.CommandID(), s.seq)
		}
		got, err := Decode(h, body)
		if err != nil {
			t.Fatalf("Decode(%s) error: %v", s.name, err)
		}
		if diff := cmp.Diff(s.pdu, got); diff != "" {
			t.Errorf("%s mismatch (-want +got):\n%s", s.name, diff)
		}
	}
	if _, _, err := r.ReadFrame(); err != io.EOF {
		t.Errorf("ReadFrame() at end = %v, want io.EOF", err)
	}
}

func TestReaderFramingErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		max  int
		err  error
	}{
		{"too short", []byte{0, 0, 0, 8, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 9}, 0, ErrCmdLenTooShort},
		{"too long", []byte{0, 0, 0x10, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 9}, 1024, ErrCmdLenTooLong},
		{"huge", []byte{0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 9}, 0, ErrCmdLenTooLong},
		{"cut header", []byte{0, 0, 0, 16, 0}, 0, io.ErrUnexpectedEOF},
		{"cut body", []byte{0, 0, 0, 20, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 9, 0}, 0, io.ErrUnexpectedEOF},
		{"header only, body missing", []byte{0, 0, 0, 20, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 9}, 0, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _, err := NewReader(bytes.NewReader(tt.in), tt.max).ReadFrame()
			if !errors.Is(err, tt.err) {
				t.Fatalf("ReadFrame() error = %v, want %v", err, tt.err)
			}
			if errors.Is(err, ErrCmdLenTooShort) || errors.Is(err, ErrCmdLenTooLong) {
				if h.Seq != 9 {
					t.Errorf("ReadFrame() header seq = %d, want 9 for the generic_nack", h.Seq)
				}
				if st, nack, fatal := ErrorStatus(err); st != StatusInvCmdLen || !nack || !fatal {
					t.Errorf("ErrorStatus() = %v, %v, %v, want ESME_RINVCMDLEN, true, true", st, nack, fatal)
				}
			}
		})
	}
}

// loopReader replays one frame forever without allocating.
type loopReader struct {
	frame []byte
	off   int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.frame[l.off:])
	l.off = (l.off + n) % len(l.frame)
	return n, nil
}

func TestReadFrameAndParseHeaderDoNotAllocate(t *testing.T) {
	frame := encode(t, samples()[13]) // submit_sm with 160 characters
	r := NewReader(&loopReader{frame: frame}, 0)
	if _, _, err := r.ReadFrame(); err != nil { // first frame may size the buffer
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() {
		if _, _, err := r.ReadFrame(); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("ReadFrame allocates %v times per frame, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() {
		if _, err := ParseHeader(frame); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("ParseHeader allocates %v times, want 0", n)
	}
}

func TestStrings(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{CmdSubmitSM.String(), "submit_sm"},
		{CmdBindTransceiverResp.String(), "bind_transceiver_resp"},
		{CmdGenericNack.String(), "generic_nack"},
		{StatusOK.String(), "ESME_ROK"},
		{StatusInvMsgLen.String(), "ESME_RINVMSGLEN"},
		{StatusXTAppn.String(), "ESME_RX_T_APPN"},
		{Status(0x400).String(), "ESME_0x00000400"},
		{TagMessagePayload.String(), "message_payload"},
		{StateDelivered.Stat(), "DELIVRD"},
		{StateUndeliverable.Stat(), "UNDELIV"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("String() = %q, want %q", tt.got, tt.want)
		}
	}
	for _, id := range []CommandID{CmdSubmitSM, CmdGenericNack, CmdDataSMResp} {
		if !id.Known() {
			t.Errorf("%v.Known() = false", id)
		}
		if _, ok := New(id); !ok {
			t.Errorf("New(%v) = false", id)
		}
	}
	if CommandID(0x22).Known() {
		t.Errorf("CommandID(0x22).Known() = true")
	}
	if CmdSubmitSM.Response() != CmdSubmitSMResp || !CmdSubmitSMResp.IsResponse() || CmdSubmitSM.IsResponse() {
		t.Errorf("Response/IsResponse disagree with the spec")
	}
}

func TestTLVHelpers(t *testing.T) {
	var ts TLVs
	ts.SetSAR(0xBEEF, 3, 2)
	ts.SetReceiptedMessageID("abc")
	ts.SetMessageState(StateExpired)
	ts.SetNetworkErrorCode(3, 0x0102)
	ts.SetSCInterfaceVersion(0x34)
	ts.SetUserMessageReference(7)
	ts.SetMessagePayload([]byte("p"))
	ts.SetMessageState(StateDelivered) // replaces in place
	if ref, total, seq, ok := ts.SAR(); !ok || ref != 0xBEEF || total != 3 || seq != 2 {
		t.Errorf("SAR() = %x %d %d %v", ref, total, seq, ok)
	}
	if id, ok := ts.ReceiptedMessageID(); !ok || id != "abc" {
		t.Errorf("ReceiptedMessageID() = %q %v", id, ok)
	}
	if st, ok := ts.MessageState(); !ok || st != StateDelivered {
		t.Errorf("MessageState() = %v %v", st, ok)
	}
	if ne, ok := ts.NetworkErrorCode(); !ok || ne != (NetworkError{3, 0x0102}) {
		t.Errorf("NetworkErrorCode() = %v %v", ne, ok)
	}
	if v, ok := ts.SCInterfaceVersion(); !ok || v != 0x34 {
		t.Errorf("SCInterfaceVersion() = %v %v", v, ok)
	}
	if v, ok := ts.UserMessageReference(); !ok || v != 7 {
		t.Errorf("UserMessageReference() = %v %v", v, ok)
	}
	if p, ok := ts.MessagePayload(); !ok || string(p) != "p" {
		t.Errorf("MessagePayload() = %q %v", p, ok)
	}
	if len(ts) != 9 {
		t.Errorf("len(TLVs) = %d, want 9 (Set replaces)", len(ts))
	}
	ts.Del(TagMessagePayload)
	if _, ok := ts.MessagePayload(); ok {
		t.Errorf("MessagePayload() present after Del")
	}
}
