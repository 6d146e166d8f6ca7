package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	smpppdu "github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutext"
	"github.com/fiorix/go-smpp/smpp/smpptest"
	"github.com/smppd/smppd/pdu"
)

// TestRunAgainstGoSMPPServer drives go-smpp's test server, an independent
// implementation. It does not echo sequence numbers in bind_resp, and its
// deliver_sm encoder writes a udh_length octet even without UDH (one byte
// more than sm_length accounts for), so its receipts cannot be decoded: the
// generator must bind anyway, count every submit, answer each bad deliver_sm
// with an error status instead of dropping the session, and report them.
func TestRunAgainstGoSMPPServer(t *testing.T) {
	var ids atomic.Uint64
	srv := smpptest.NewUnstartedServer()
	srv.Handler = func(c smpptest.Conn, p smpppdu.Body) {
		switch p.Header().ID {
		case smpppdu.SubmitSMID:
			id := fmt.Sprintf("GS%06d", ids.Add(1))
			resp := smpppdu.NewSubmitSMResp()
			resp.Header().Seq = p.Header().Seq
			resp.Fields().Set(pdufield.MessageID, id)
			if err := c.Write(resp); err != nil {
				return
			}
			d := smpppdu.NewDeliverSM()
			d.Header().Seq = 0x50000000 + p.Header().Seq
			f := d.Fields()
			f.Set(pdufield.ESMClass, 0x04)
			f.Set(pdufield.ShortMessage, pdutext.Raw("id:"+id+" sub:001 dlvrd:001 submit date:2611300100 done date:2611300100 stat:DELIVRD err:000 Text:x"))
			c.Write(d)
		case smpppdu.UnbindID:
			resp := smpppdu.NewUnbindResp()
			resp.Header().Seq = p.Header().Seq
			c.Write(resp)
		}
	}
	srv.Start()
	defer srv.Close()

	res, err := Run(context.Background(), Options{
		Addr: srv.Addr(), SystemID: smpptest.DefaultUser, Password: smpptest.DefaultPasswd,
		Binds: 2, Window: 5, Count: 200, RegisteredDelivery: true, WaitReceipts: -1,
	})
	if err != nil {
		t.Fatalf("Run() against go-smpp: %v", err)
	}
	if res.Acked != 200 || res.BadDeliver != 200 || res.Receipts != 0 || res.Stray != 0 || len(res.SessionErrors) != 0 {
		t.Errorf("acked %d undecodable deliver_sm %d receipts %d stray %d session errors %v; want 200, 200, 0, 0, none",
			res.Acked, res.BadDeliver, res.Receipts, res.Stray, res.SessionErrors)
	}
}

// textReceiptServer answers submit_sm with ids "T1", "T2", ... and sends each
// receipt with the id only in the Appendix B text (no receipted_message_id
// or message_state TLVs), as many SMSCs do; every third one is preceded by
// an ENROUTE intermediate receipt, and every receipt comes before the
// submit_sm_resp it belongs to when early is set.
func textReceiptServer(t *testing.T, early bool) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var ids atomic.Uint64
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			wg.Go(func() {
				rd := pdu.NewReader(bufio.NewReader(c), 0)
				for {
					h, _, err := rd.ReadFrame()
					if err != nil {
						return
					}
					var out []byte
					switch h.ID {
					case pdu.CmdBindTransceiver:
						out, _ = pdu.Append(out, h.Seq, pdu.StatusOK, &pdu.BindResp{Cmd: h.ID.Response(), SystemID: "text"})
					case pdu.CmdSubmitSM:
						n := ids.Add(1)
						id := fmt.Sprintf("T%d", n)
						resp, _ := pdu.Append(nil, h.Seq, pdu.StatusOK, &pdu.SubmitSMResp{MessageID: id})
						if !early {
							out = append(out, resp...)
						}
						if n%3 == 0 {
							out, _ = pdu.Append(out, uint32(0x60000000+n), pdu.StatusOK, &pdu.DeliverSM{ESMClass: 0x04,
								ShortMessage: []byte("id:" + id + " sub:001 dlvrd:000 submit date:2611300100 done date:2611300100 stat:ENROUTE err:000 Text:")})
						}
						out, _ = pdu.Append(out, uint32(0x70000000+n), pdu.StatusOK, &pdu.DeliverSM{ESMClass: 0x04,
							ShortMessage: []byte("id:" + id + " sub:001 dlvrd:001 submit date:2611300100 done date:2611300100 stat:DELIVRD err:000 Text:")})
						if early {
							out = append(out, resp...)
						}
					case pdu.CmdUnbind:
						out, _ = pdu.Append(out, h.Seq, pdu.StatusOK, &pdu.UnbindResp{})
					}
					if _, err := c.Write(out); err != nil {
						return
					}
				}
			})
		}
	})
	return l.Addr().String()
}

func TestRunMatchesTextOnlyReceipts(t *testing.T) {
	for _, early := range []bool{false, true} {
		t.Run(fmt.Sprintf("receipt before response %v", early), func(t *testing.T) {
			addr := textReceiptServer(t, early)
			res, err := Run(context.Background(), Options{Addr: addr, Binds: 2, Window: 4, Count: 90, RegisteredDelivery: true})
			if err != nil {
				t.Fatalf("Run() error = %v", err)
			}
			if res.Receipts != 90 || res.ReceiptsMissing != 0 || res.ReceiptsUnmatched != 0 || res.Interims != 30 {
				t.Errorf("receipts %d missing %d unmatched %d intermediate %d; want 90, 0, 0, 30",
					res.Receipts, res.ReceiptsMissing, res.ReceiptsUnmatched, res.Interims)
			}
		})
	}
}
