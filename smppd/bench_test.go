package smppd_test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/smppd/smppdtest"
)

// BenchmarkSubmitSM measures submit_sm round trips through the server with
// a handler that answers at once from memory (smppdtest.OK): sessions
// transmitters, each keeping window submit_sm in flight. The clients are
// raw and allocation-free, so allocs/op is the server's cost per message.
func BenchmarkSubmitSM(b *testing.B) {
	for _, bc := range []struct{ sessions, window int }{{4, 50}, {1, 1}, {1, 50}} {
		b.Run(fmt.Sprintf("sessions=%d/window=%d", bc.sessions, bc.window), func(b *testing.B) {
			benchSubmit(b, bc.sessions, bc.window)
		})
	}
}

func benchSubmit(b *testing.B, sessions, window int) {
	srv := smppdtest.NewServer(b, smppdtest.OK, testCreds)
	tmpl, err := pdu.Append(nil, 0, pdu.StatusOK, submit())
	if err != nil {
		b.Fatal(err)
	}
	conns := make([]net.Conn, sessions)
	for i := range conns {
		c := smppdtest.Dial(b, srv.Addr)
		c.Bind(pdu.CmdBindTransmitter, testUser, testPass)
		conns[i] = c.Conn
	}
	per := make([]int, sessions)
	for i := range b.N {
		per[i%sessions]++
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := pipeline(c, tmpl, per[i], window); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}

// pipeline sends n copies of the submit_sm template on c, keeping up to
// window unanswered, writing every batch of freed slots in one write, and
// reads the n responses.
func pipeline(c net.Conn, tmpl []byte, n, window int) error {
	tokens := make(chan struct{}, window)
	for range window {
		tokens <- struct{}{}
	}
	readErr := make(chan error, 1)
	go func() {
		r := pdu.NewReader(bufio.NewReaderSize(c, 64<<10), 0)
		for got := 0; got < n; {
			h, _, err := r.ReadFrame()
			if err != nil {
				readErr <- err
				return
			}
			if h.ID != pdu.CmdSubmitSMResp {
				continue // enquire_link and such
			}
			if h.Status != pdu.StatusOK {
				readErr <- fmt.Errorf("submit_sm_resp %v", h.Status)
				return
			}
			got++
			tokens <- struct{}{}
		}
		readErr <- nil
	}()
	buf := make([]byte, 0, window*len(tmpl))
	seq := uint32(1)
	for sent := 0; sent < n; {
		select {
		case <-tokens:
		case err := <-readErr:
			if err == nil {
				err = fmt.Errorf("reader finished after %d of %d sent", sent, n)
			}
			return err
		}
		k := 1
	more:
		for sent+k < n {
			select {
			case <-tokens:
				k++
			default:
				break more
			}
		}
		buf = buf[:0]
		for range k {
			off := len(buf)
			buf = append(buf, tmpl...)
			binary.BigEndian.PutUint32(buf[off+12:], seq)
			seq++
		}
		if _, err := c.Write(buf); err != nil {
			return err
		}
		sent += k
	}
	return <-readErr
}
