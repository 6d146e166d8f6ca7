package pdu_test

import (
	"bufio"
	"bytes"
	"fmt"

	"github.com/smppd/smppd/pdu"
)

// A server's read loop: frame, decode, and answer, mapping decode errors to
// the status the spec asks for.
func Example() {
	var conn bytes.Buffer // stands in for a net.Conn
	conn.Write(must(pdu.Append(nil, 1, pdu.StatusOK, &pdu.EnquireLink{})))
	conn.Write(must(pdu.Append(nil, 2, pdu.StatusOK, &pdu.SubmitSM{
		Source:       pdu.Address{TON: pdu.TONAlphanumeric, Addr: "smppd"},
		Dest:         pdu.Address{TON: pdu.TONInternational, NPI: pdu.NPIISDN, Addr: "447700900001"},
		ShortMessage: []byte("Hello"),
	})))
	conn.Write([]byte{0, 0, 0, 16, 0, 0, 0, 0x42, 0, 0, 0, 0, 0, 0, 0, 3}) // unknown command 0x42

	r := pdu.NewReader(bufio.NewReader(&conn), 0)
	var out []byte
	for {
		h, body, err := r.ReadFrame()
		if err != nil {
			break // io.EOF here; a framing error would be answered, then the connection closed
		}
		p, err := pdu.Decode(h, body)
		if err != nil {
			status, nack, fatal := pdu.ErrorStatus(err)
			fmt.Printf("seq %d: %v (generic_nack %v, close %v)\n", h.Seq, status, nack, fatal)
			continue
		}
		switch p := p.(type) {
		case *pdu.EnquireLink:
			out, _ = pdu.Append(out, h.Seq, pdu.StatusOK, &pdu.EnquireLinkResp{})
			fmt.Printf("seq %d: %v\n", h.Seq, h.ID)
		case *pdu.SubmitSM:
			out, _ = pdu.Append(out, h.Seq, pdu.StatusOK, &pdu.SubmitSMResp{MessageID: "1"})
			fmt.Printf("seq %d: %v to %s: %q\n", h.Seq, h.ID, p.Dest.Addr, p.ShortMessage)
		}
	}
	fmt.Printf("answered with %d octets\n", len(out))
	// Output:
	// seq 1: enquire_link
	// seq 2: submit_sm to 447700900001: "Hello"
	// seq 3: ESME_RINVCMDID (generic_nack true, close false)
	// answered with 34 octets
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// Building and reading the Appendix B receipt text of a deliver_sm.
func ExampleParseReceipt() {
	r, err := pdu.ParseReceipt([]byte("id:0042 sub:001 dlvrd:001 submit date:2611301200 done date:2611301201 stat:DELIVRD err:000 text:Hello"))
	if err != nil {
		panic(err)
	}
	fmt.Println(r.ID, r.Stat, r.Stat.Final(), r.DoneDate.Format("2006-01-02 15:04"), r.Text)
	// Output: 0042 DELIVERED true 2026-11-30 12:01 Hello
}
