package smppd_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/smppd"
)

// pipeListener hands out in-memory connections to Serve.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// dial connects a new in-memory client to the server behind l.
func (l *pipeListener) dial() net.Conn {
	c, s := net.Pipe()
	l.conns <- s
	return c
}

const (
	fuzzMaxPDULen = 1024
	sentinelSeq   = 0x7FFFFFFE
)

// fuzzHandler answers submit_sm at once and everything else from another
// goroutine, so both response paths run.
var fuzzHandler = smppd.HandlerFunc(func(_ context.Context, w smppd.ResponseWriter, r *smppd.Request) {
	if r.Header.ID == pdu.CmdSubmitSM {
		w.Respond(pdu.StatusOK, &pdu.SubmitSMResp{MessageID: "1"})
		return
	}
	go w.Respond(pdu.StatusOK, nil)
})

// splitFrames cuts in into frames as the server will: complete frames with
// a legal command_length, then possibly one header whose command_length
// breaks framing (bad), after which the server stops reading; a trailing
// partial frame is dropped.
func splitFrames(in []byte) (frames [][]byte, bad []byte) {
	for len(in) >= pdu.HeaderLen {
		n := binary.BigEndian.Uint32(in)
		if n < pdu.HeaderLen || n > fuzzMaxPDULen {
			return frames, in[:pdu.HeaderLen]
		}
		if int(n) > len(in) {
			break
		}
		frames = append(frames, in[:n])
		in = in[n:]
	}
	return frames, nil
}

// FuzzSession feeds PDU sequences to a real session over net.Pipe and
// checks that the server never panics or hangs, answers each request at
// most once and with its own _resp or generic_nack, never answers a
// response, and gives no successful answer to a bound-only request before
// a successful bind.
func FuzzSession(f *testing.F) {
	enc := func(seq uint32, p pdu.PDU) []byte {
		b, err := pdu.Append(nil, seq, pdu.StatusOK, p)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	bind := enc(1, &pdu.Bind{Cmd: pdu.CmdBindTransceiver, SystemID: testUser, Password: testPass, InterfaceVersion: 0x34})
	f.Add(cat(bind, enc(2, submit()), enc(3, &pdu.QuerySM{MessageID: "1"}), enc(4, &pdu.Unbind{})))
	f.Add(cat(enc(1, submit()), bind, enc(2, &pdu.EnquireLink{}), enc(3, &pdu.DeliverSMResp{}), bind))
	f.Add(cat(bind, enc(5, &pdu.DataSM{}), enc(6, &pdu.CancelSM{MessageID: "x"}), enc(7, &pdu.ReplaceSM{MessageID: "y"}),
		enc(8, &pdu.SubmitMulti{Dests: []pdu.DestAddr{{Addr: pdu.Address{Addr: "1"}}}}), frame(0, 0x99, 9, nil)))
	f.Add(cat(enc(1, &pdu.Bind{Cmd: pdu.CmdBindReceiver, SystemID: testUser, Password: "x"}), frame(3, pdu.CmdSubmitSM, 2, nil)))
	f.Add(cat(bind, enc(2, &pdu.Unbind{}), enc(3, &pdu.Unbind{})))

	l := newPipeListener()
	srv := &smppd.Server{Handler: fuzzHandler, Auth: testCreds, MaxPDULen: fuzzMaxPDULen, UnbindTimeout: time.Second,
		Logger: slog.New(slog.DiscardHandler)}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	f.Cleanup(func() {
		srv.Close()
		<-served
		srv.Wait()
	})

	f.Fuzz(func(t *testing.T, in []byte) {
		frames, bad := splitFrames(in)
		c := l.dial()
		defer c.Close()
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			for _, fr := range frames {
				if _, err := c.Write(fr); err != nil {
					return
				}
			}
			if bad != nil {
				c.Write(bad)
				return
			}
			c.Write(frame(0, pdu.CmdEnquireLink, sentinelSeq, nil))
		}()

		requests := map[uint32][]pdu.CommandID{}
		for _, fr := range frames {
			h, _ := pdu.ParseHeader(fr)
			if !h.ID.IsResponse() {
				requests[h.Seq] = append(requests[h.Seq], h.ID)
			}
		}
		if bad != nil {
			h, _ := pdu.ParseHeader(bad)
			requests[h.Seq] = append(requests[h.Seq], h.ID)
		}
		requests[sentinelSeq] = append(requests[sentinelSeq], pdu.CmdEnquireLink)

		r := pdu.NewReader(bufio.NewReader(c), 0)
		answered := map[uint32]int{}
		boundOK := 0
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			h, _, err := r.ReadFrame()
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("server neither answered the sentinel nor closed within 10s")
				}
				break // closed
			}
			if !h.ID.IsResponse() {
				continue // the server's own requests
			}
			answered[h.Seq]++
			reqs := requests[h.Seq]
			if answered[h.Seq] > len(reqs) {
				t.Fatalf("%v seq %#x: %d answers for %d requests (responses must not be answered)", h.ID, h.Seq, answered[h.Seq], len(reqs))
			}
			if h.ID != pdu.CmdGenericNack {
				match := false
				for _, id := range reqs {
					match = match || id.Response() == h.ID
				}
				if !match {
					t.Fatalf("%v seq %#x answers none of %v", h.ID, h.Seq, reqs)
				}
			}
			switch h.ID {
			case pdu.CmdBindTransmitterResp, pdu.CmdBindReceiverResp, pdu.CmdBindTransceiverResp:
				if h.Status == pdu.StatusOK {
					boundOK++
					if boundOK > 1 {
						t.Fatalf("second successful bind_resp")
					}
				}
			case pdu.CmdSubmitSMResp, pdu.CmdSubmitMultiResp, pdu.CmdDataSMResp, pdu.CmdQuerySMResp,
				pdu.CmdCancelSMResp, pdu.CmdReplaceSMResp:
				if h.Status == pdu.StatusOK && boundOK == 0 {
					t.Fatalf("%v ESME_ROK before a successful bind", h.ID)
				}
			}
			if h.Seq == sentinelSeq && h.ID == pdu.CmdEnquireLinkResp {
				break
			}
		}
		c.Close()
		<-wrote
	})
}
