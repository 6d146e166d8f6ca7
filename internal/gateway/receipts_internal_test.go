package gateway

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/smppd/smppd/internal/msgstore"
	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/pdu/coding"
)

// referenceDeliverSM is the receipt built the straightforward way, with
// fresh allocations and the full text decode: what receiptBuilder must
// reproduce byte for byte.
func referenceDeliverSM(g *Gateway, r *msgstore.Receipt) *pdu.DeliverSM {
	m := &r.Message
	id := g.cfg.IDFormat.Format(r.MessageID)
	rc := pdu.Receipt{ID: id, Sub: 1, SubmitDate: m.SubmitAt.UTC(), DoneDate: r.DoneAt.UTC(), Stat: r.State,
		Err: r.ErrCode, Text: referenceReceiptText(m)}
	if r.State == pdu.StateDelivered {
		rc.Dlvrd = 1
	}
	if rc.Err == "" {
		rc.Err = "000"
	}
	text, _ := rc.AppendText(nil)
	d := &pdu.DeliverSM{Source: m.Dest, Dest: m.Source, ESMClass: esmReceipt, DataCoding: pdu.CodingDefault, ShortMessage: text}
	if !r.State.Final() {
		d.ESMClass = esmIntermediate
	}
	d.TLVs.SetReceiptedMessageID(id)
	d.TLVs.SetMessageState(r.State)
	if ne := m.NetworkError; ne != ([3]byte{}) && r.State != pdu.StateDelivered {
		d.TLVs.SetNetworkErrorCode(ne[0], uint16(ne[1])<<8|uint16(ne[2]))
	}
	return d
}

func referenceReceiptText(m *msgstore.Message) string {
	switch m.DataCoding {
	case pdu.CodingDefault, pdu.CodingIA5, pdu.CodingLatin1, pdu.CodingUCS2:
	default:
		return ""
	}
	s, err := coding.Decode(m.DataCoding, m.Text)
	if err != nil {
		return ""
	}
	var b []byte
	for _, r := range s {
		if len(b) == pdu.ReceiptTextMax {
			break
		}
		if r < 0x20 || r > 0x7e {
			r = '?'
		}
		b = append(b, byte(r))
	}
	return string(b)
}

func testReceipt(state pdu.MessageState, dc pdu.DataCoding, text string) msgstore.Receipt {
	submit := time.Date(2026, 11, 30, 1, 2, 3, 0, time.UTC)
	return msgstore.Receipt{
		Seq: 7, TokenID: "tok", MessageID: 0x1a0000002f, State: state, DoneAt: submit.Add(time.Second),
		Message: msgstore.Message{
			Source: pdu.Address{TON: 1, NPI: 1, Addr: "447700900001"}, Dest: pdu.Address{TON: 1, NPI: 1, Addr: "447700900123"},
			DataCoding: dc, Text: []byte(text), SubmitAt: submit,
		},
	}
}

// TestReceiptBuilder checks the reusing builder against the reference for
// each kind of receipt, built one after the other with the same builder,
// so that nothing of one receipt leaks into the next.
func TestReceiptBuilder(t *testing.T) {
	undeliv := testReceipt(pdu.StateUndeliverable, pdu.CodingDefault, "hello")
	undeliv.ErrCode = "001"
	undeliv.Message.NetworkError = [3]byte{3, 0, 1}
	delivNE := testReceipt(pdu.StateDelivered, pdu.CodingDefault, "x")
	delivNE.Message.NetworkError = [3]byte{3, 0, 1} // not sent on DELIVRD
	receipts := []msgstore.Receipt{
		testReceipt(pdu.StateDelivered, pdu.CodingDefault, "Hello world, this is a longer text than twenty"),
		undeliv,
		testReceipt(pdu.StateEnroute, pdu.CodingDefault, "intermediate"),
		testReceipt(pdu.StateDelivered, pdu.CodingDefault, "costs $5 @ [home] {ok} ~"),
		testReceipt(pdu.StateDelivered, pdu.CodingUCS2, "\x00h\x00\xe9\x00l"),
		testReceipt(pdu.StateDelivered, pdu.CodingLatin1, "caf\xe9 ok"),
		testReceipt(pdu.StateDelivered, pdu.CodingIA5, "at@sign"),
		testReceipt(pdu.StateDelivered, pdu.CodingBinary, "\x01\x02"),
		delivNE,
		testReceipt(pdu.StateDelivered, pdu.CodingDefault, ""),
	}
	for _, f := range []IDFormat{IDHex, IDDecimal, IDUUID} {
		g := &Gateway{cfg: Config{IDFormat: f}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		var b receiptBuilder
		for i := range receipts {
			r := &receipts[i]
			got, err := pdu.Append(nil, 1, pdu.StatusOK, b.build(g, r))
			if err != nil {
				t.Fatal(err)
			}
			want, err := pdu.Append(nil, 1, pdu.StatusOK, referenceDeliverSM(g, r))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%v receipt %d (-reference +builder):\n%s", f, i, diff)
			}
		}
	}
}

// TestReceiptTextFastPath checks every single octet, and octet pairs around
// the GSM/ASCII differences, in each 8-bit text coding against the decode.
func TestReceiptTextFastPath(t *testing.T) {
	for _, dc := range []pdu.DataCoding{pdu.CodingDefault, pdu.CodingIA5, pdu.CodingLatin1} {
		for c := 0; c < 256; c++ {
			for _, text := range []string{string([]byte{byte(c)}), "ab" + string([]byte{byte(c)}) + "cd"} {
				m := &msgstore.Message{DataCoding: dc, Text: []byte(text)}
				if got, want := string(appendReceiptText(nil, m)), referenceReceiptText(m); got != want {
					t.Errorf("coding %v text %q: got %q, want %q", dc, text, got, want)
				}
			}
		}
	}
}

func TestReceiptBuilderAllocs(t *testing.T) {
	g := &Gateway{cfg: Config{IDFormat: IDHex}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	r := testReceipt(pdu.StateDelivered, pdu.CodingDefault, "Hello world")
	var b receiptBuilder
	b.build(g, &r)
	if n := testing.AllocsPerRun(100, func() { b.build(g, &r) }); n > 1 {
		t.Errorf("build allocates %v times per receipt, want at most 1", n)
	}
}
