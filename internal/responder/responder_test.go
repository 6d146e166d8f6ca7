package responder

import (
	"bufio"
	"encoding/binary"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp"
	smpppdu "github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutext"
	"github.com/smppd/smppd/pdu"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func serve(t *testing.T, srv *Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve() = %v, want ErrServerClosed", err)
		}
	})
	return l.Addr().String()
}

// esme is a bare client on the project's codec for exact wire checks.
type esme struct {
	t  *testing.T
	c  net.Conn
	rd *pdu.Reader
}

func dialESME(t *testing.T, addr string) *esme {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &esme{t: t, c: c, rd: pdu.NewReader(bufio.NewReader(c), 0)}
}

func (e *esme) send(seq uint32, p pdu.PDU) {
	e.t.Helper()
	b, err := pdu.Append(nil, seq, pdu.StatusOK, p)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.c.Write(b); err != nil {
		e.t.Fatal(err)
	}
}

func (e *esme) expect(id pdu.CommandID, status pdu.Status, seq uint32) pdu.PDU {
	e.t.Helper()
	h, body, err := e.rd.ReadFrame()
	if err != nil {
		e.t.Fatalf("reading %v: %v", id, err)
	}
	if h.ID != id || h.Status != status || h.Seq != seq {
		e.t.Fatalf("got %v %v seq %d, want %v %v seq %d", h.ID, h.Status, h.Seq, id, status, seq)
	}
	p, err := pdu.Decode(h, body)
	if err != nil {
		e.t.Fatalf("decoding %v: %v", id, err)
	}
	return p
}

func TestResponderSession(t *testing.T) {
	srv := &Server{Receipts: true}
	e := dialESME(t, serve(t, srv))

	e.send(1, &pdu.Bind{Cmd: pdu.CmdBindTransceiver, SystemID: "anyone", Password: "anything", InterfaceVersion: 0x34})
	if br := e.expect(pdu.CmdBindTransceiverResp, pdu.StatusOK, 1).(*pdu.BindResp); br.SystemID != SystemID {
		t.Errorf("bind_resp system_id = %q, want %q", br.SystemID, SystemID)
	}
	e.send(2, &pdu.EnquireLink{})
	e.expect(pdu.CmdEnquireLinkResp, pdu.StatusOK, 2)

	e.send(3, &pdu.SubmitSM{
		Source: pdu.Address{TON: pdu.TONAlphanumeric, Addr: "shop"}, Dest: pdu.Address{TON: pdu.TONInternational, Addr: "447700900001"},
		RegisteredDelivery: 1, ShortMessage: []byte("hello receipts"),
	})
	resp := e.expect(pdu.CmdSubmitSMResp, pdu.StatusOK, 3).(*pdu.SubmitSMResp)
	d := e.expect(pdu.CmdDeliverSM, pdu.StatusOK, 0x40000001).(*pdu.DeliverSM)
	if d.ESMClass != 0x04 || d.Source.Addr != "447700900001" || d.Dest.Addr != "shop" {
		t.Errorf("receipt esm_class %#x from %q to %q, want 0x04 from the submit's destination to its source", d.ESMClass, d.Source.Addr, d.Dest.Addr)
	}
	if id, _ := d.TLVs.ReceiptedMessageID(); id != resp.MessageID {
		t.Errorf("receipted_message_id = %q, want %q", id, resp.MessageID)
	}
	rc, err := pdu.ParseReceipt(d.ShortMessage)
	if err != nil || rc.ID != resp.MessageID || rc.Stat != pdu.StateDelivered || rc.Text != "hello receipts" {
		t.Errorf("ParseReceipt(%q) = %+v, %v", d.ShortMessage, rc, err)
	}
	e.send(0x40000001, &pdu.DeliverSMResp{}) // responses are never answered

	// Without registered_delivery: no receipt; the next frame is the
	// generic_nack for an unknown command.
	e.send(4, &pdu.SubmitSM{Dest: pdu.Address{Addr: "1"}, ShortMessage: []byte("x")})
	e.expect(pdu.CmdSubmitSMResp, pdu.StatusOK, 4)
	hdr := pdu.Header{Length: pdu.HeaderLen, ID: 0x00000077, Seq: 5}.AppendTo(nil)
	e.c.Write(hdr)
	e.expect(pdu.CmdGenericNack, pdu.StatusInvCmdID, 5)

	e.send(6, &pdu.Unbind{})
	e.expect(pdu.CmdUnbindResp, pdu.StatusOK, 6)
	if _, _, err := e.rd.ReadFrame(); err == nil {
		t.Errorf("connection still open after unbind_resp")
	}
	if submits, receipts := srv.Stats(); submits != 2 || receipts != 1 {
		t.Errorf("Stats() = %d, %d; want 2, 1", submits, receipts)
	}
}

func TestResponderTransmitterGetsNoReceipts(t *testing.T) {
	e := dialESME(t, serve(t, &Server{Receipts: true}))
	e.send(1, &pdu.Bind{Cmd: pdu.CmdBindTransmitter, InterfaceVersion: 0x34})
	e.expect(pdu.CmdBindTransmitterResp, pdu.StatusOK, 1)
	e.send(2, &pdu.SubmitSM{Dest: pdu.Address{Addr: "1"}, RegisteredDelivery: 1, ShortMessage: []byte("x")})
	e.expect(pdu.CmdSubmitSMResp, pdu.StatusOK, 2)
	e.send(3, &pdu.EnquireLink{})
	e.expect(pdu.CmdEnquireLinkResp, pdu.StatusOK, 3) // not a deliver_sm
}

func TestResponderStoresBeforeAnswering(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	db, err := OpenDB(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{DB: db}
	e := dialESME(t, serve(t, srv))
	e.send(1, &pdu.Bind{Cmd: pdu.CmdBindTransceiver, InterfaceVersion: 0x34})
	e.expect(pdu.CmdBindTransceiverResp, pdu.StatusOK, 1)
	// A pipelined burst: all of it must be in the store once answered.
	const n = 50
	var burst []byte
	for i := range n {
		burst, _ = pdu.Append(burst, uint32(10+i), pdu.StatusOK, &pdu.SubmitSM{Dest: pdu.Address{Addr: "1"}, ShortMessage: []byte("m" + strconv.Itoa(i))})
	}
	e.c.Write(burst)
	var ids []string
	for i := range n {
		ids = append(ids, e.expect(pdu.CmdSubmitSMResp, pdu.StatusOK, uint32(10+i)).(*pdu.SubmitSMResp).MessageID)
	}
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(messagesBucket)
		for i, id := range ids {
			n, err := strconv.ParseUint(id, 16, 64)
			if err != nil {
				return err
			}
			v := b.Get(binary.BigEndian.AppendUint64(nil, n))
			var sm pdu.SubmitSM
			if err := sm.DecodeBody(v); err != nil || string(sm.ShortMessage) != "m"+strconv.Itoa(i) {
				t.Errorf("stored message %s = %q (%v), want m%d", id, sm.ShortMessage, err, i)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestResponderWithGoSMPP checks the responder against an independent SMPP
// implementation: go-smpp's transceiver binds, submits and gets its receipt.
func TestResponderWithGoSMPP(t *testing.T) {
	addr := serve(t, &Server{Receipts: true})
	receipts := make(chan smpppdu.Body, 1)
	tx := &smpp.Transceiver{
		Addr: addr, User: "gosmpp", Passwd: "pw",
		Handler: func(p smpppdu.Body) {
			if p.Header().ID == smpppdu.DeliverSMID {
				receipts <- p
			}
		},
	}
	status := <-tx.Bind()
	if status.Error() != nil {
		t.Fatalf("go-smpp bind: %v", status.Error())
	}
	defer tx.Close()
	sm, err := tx.Submit(&smpp.ShortMessage{
		Src: "shop", Dst: "447700900002", Text: pdutext.Raw("from go-smpp"), Register: pdufield.FinalDeliveryReceipt,
	})
	if err != nil {
		t.Fatalf("go-smpp submit: %v", err)
	}
	select {
	case p := <-receipts:
		text := p.Fields()[pdufield.ShortMessage].String()
		if !strings.Contains(text, "id:"+sm.RespID()+" ") || !strings.Contains(text, "stat:DELIVRD") {
			t.Errorf("receipt text %q does not name id %s as DELIVRD", text, sm.RespID())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no receipt within 10s")
	}
}
