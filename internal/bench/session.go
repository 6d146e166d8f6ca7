package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smppd/smppd/pdu"
)

// openLoopLookahead is how far ahead of its schedule an open-loop sender may
// send a message. Go's timers wake about a millisecond late when the process
// is idle (the poller sleeps in whole milliseconds), so a sender that slept
// until each due time would add that millisecond to every latency; instead it
// sleeps until a message is within the lookahead and sends everything due by
// then in one write. A message sent early is measured from when it was sent;
// one sent late (window full, generator behind) from when it was due. The
// offered load is thus exact per millisecond but bursty within it.
const openLoopLookahead = time.Millisecond

// openLoopMinSleep keeps bursts from shrinking to one message when the timer
// is precise (a busy process checks timers often): a sender sleeps at least
// this long, so each write carries half a millisecond of schedule or more.
const openLoopMinSleep = openLoopLookahead / 2

// flushThreshold caps how much the sender batches before handing it to the
// writer, so a wide window does not delay the first bytes of a burst.
const flushThreshold = 32 << 10

// readBufferSize lets one read system call take a whole burst of responses
// (a window of them, receipts included) without holding 64 KiB per idle
// session when thousands are bound.
func readBufferSize(window int) int {
	return min(max(window*256, 4<<10), 64<<10)
}

// Response bodies the reader sends; shared, never modified.
var (
	deliverSMResp   = &pdu.DeliverSMResp{}
	dataSMResp      = &pdu.DataSMResp{}
	enquireLinkResp = &pdu.EnquireLinkResp{}
	unbindResp      = &pdu.UnbindResp{}
	genericNack     = &pdu.GenericNack{}
)

// stats is what a session's reader counts between two collector ticks.
type stats struct {
	lat, rlat  Histogram
	acks       uint64
	errs       map[pdu.Status]uint64
	receipts   uint64
	unmatched  uint64 // final receipts with an id this run never submitted (so far)
	interims   uint64 // non-final receipts (ENROUTE, ACCEPTD ...)
	stray      uint64 // responses whose sequence number matched nothing outstanding
	badDeliver uint64 // deliver_sm that failed to decode
}

func newStats() *stats { return &stats{errs: make(map[pdu.Status]uint64)} }

func (st *stats) merge(o *stats) {
	st.lat.Merge(&o.lat)
	st.rlat.Merge(&o.rlat)
	st.acks += o.acks
	for k, v := range o.errs {
		st.errs[k] += v
	}
	st.receipts += o.receipts
	st.unmatched += o.unmatched
	st.interims += o.interims
	st.stray += o.stray
	st.badDeliver += o.badDeliver
}

func (st *stats) reset() {
	errs := st.errs
	clear(errs)
	*st = stats{errs: errs}
}

func (st *stats) errorCount() uint64 {
	var n uint64
	for _, v := range st.errs {
		n += v
	}
	return n
}

// session is one bound connection: a sender goroutine fills the window and
// writes its batches itself, a reader goroutine settles responses and queues
// answers to the server's requests (never writing, so it never blocks on the
// peer), and a writer goroutine writes those answers when the sender does not
// take them along first.
type session struct {
	r    *run
	idx  int
	conn net.Conn
	br   *bufio.Reader
	rd   *pdu.Reader
	win  *window
	plan schedule // open loop only

	writeMu     sync.Mutex // serializes writes to conn
	writeFailed bool       // guarded by writeMu
	outMu       sync.Mutex
	out         []byte // queued by the reader for the next write
	kick        chan struct{}
	quit        chan struct{} // closed to stop the writer after a final flush

	readerDone chan struct{}
	writerDone chan struct{}
	senderDone chan struct{}
	unbound    chan struct{} // closed when unbind_resp arrives
	unbindOnce sync.Once
	closing    atomic.Bool
	unbinding  atomic.Bool // we sent unbind: the server may close after unbind_resp
	freed      []uint16    // reader-owned: settled slots not yet released
	answered   bool        // reader-owned: answers queued since the last wake

	writes      atomic.Uint64 // write system calls
	sent        atomic.Uint64
	lastResp    atomic.Int64 // ns since start
	lastReceipt atomic.Int64

	statMu sync.Mutex
	cur    *stats // guarded by statMu; the reader counts into it
	spare  *stats // collector-owned
	err    error  // why the reader stopped, if not by our close; guarded by statMu
}

// dial connects and binds session idx, answering enquire_link while it waits.
func (r *run) dial(ctx context.Context, idx int) (*session, error) {
	o := r.o
	ctx, cancel := context.WithTimeout(ctx, o.DialTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", o.Addr)
	if err != nil {
		return nil, err
	}
	if o.TLS != nil {
		tc := tls.Client(conn, o.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, err
		}
		conn = tc
	}
	s := &session{
		r: r, idx: idx, conn: conn,
		br:         bufio.NewReaderSize(&countingReader{r: conn, n: &r.reads}, readBufferSize(o.Window)),
		win:        newWindow(o.Window),
		kick:       make(chan struct{}, 1),
		quit:       make(chan struct{}),
		readerDone: make(chan struct{}),
		writerDone: make(chan struct{}),
		senderDone: make(chan struct{}),
		unbound:    make(chan struct{}),
		cur:        newStats(),
		spare:      newStats(),
	}
	s.rd = pdu.NewReader(s.br, 0)
	if o.Rate > 0 {
		s.plan = newSchedule(o.Rate, idx, o.Binds)
	}
	if err := s.bind(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

func (s *session) bind(ctx context.Context) error {
	o := s.r.o
	cmd := pdu.CmdBindTransceiver
	if o.BindType == "transmitter" {
		cmd = pdu.CmdBindTransmitter
	}
	if dl, ok := ctx.Deadline(); ok {
		s.conn.SetDeadline(dl)
		defer s.conn.SetDeadline(time.Time{})
	}
	seq := s.win.claim(s.win.controlSlot(), 0)
	b, err := pdu.Append(nil, seq, pdu.StatusOK, &pdu.Bind{
		Cmd: cmd, SystemID: o.SystemID, Password: o.Password, SystemType: o.SystemType,
		InterfaceVersion: 0x34,
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBindFailed, err)
	}
	if _, err := s.conn.Write(b); err != nil {
		return err
	}
	for {
		h, _, err := s.rd.ReadFrame()
		if err != nil {
			return fmt.Errorf("%w: waiting for %v: %w", ErrBindFailed, cmd.Response(), err)
		}
		switch {
		// Only one request is outstanding, so the bind_resp is taken
		// whatever its sequence number: some servers (go-smpp's test
		// server among them) do not echo it.
		case h.ID == cmd.Response() || (h.ID == pdu.CmdGenericNack && h.Seq == seq):
			s.win.settle(seq)
			if h.Status != pdu.StatusOK {
				return fmt.Errorf("%w: %v answered %v", ErrBindFailed, h.ID, h.Status)
			}
			return nil
		case h.ID == pdu.CmdEnquireLink:
			b, _ := pdu.Append(nil, h.Seq, pdu.StatusOK, enquireLinkResp)
			if _, err := s.conn.Write(b); err != nil {
				return err
			}
		}
	}
}

// queue appends one PDU for the writer and wakes it.
func (s *session) queue(seq uint32, status pdu.Status, p pdu.PDU) {
	s.outMu.Lock()
	s.out, _ = pdu.Append(s.out, seq, status, p) // fixed bodies: cannot fail
	s.outMu.Unlock()
	s.wake()
}

// answer queues the reader's response to a server request. The writer is
// woken once the reader has drained its input (see readLoop), so a burst of
// deliver_sm costs one wake-up and one write, or none if the sender flushes
// first.
func (s *session) answer(seq uint32, status pdu.Status, p pdu.PDU) {
	s.outMu.Lock()
	s.out, _ = pdu.Append(s.out, seq, status, p) // fixed bodies: cannot fail
	s.outMu.Unlock()
	s.answered = true
}

func (s *session) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// flush writes the sender's batch, together with anything the reader
// queued, in one system call. The sender writes itself rather than waking the
// writer: one goroutine hand-off less per batch. The reader never writes (it
// only queues), so a server that stops reading can block the sender but never
// the reader.
func (s *session) flush(local *[]byte) {
	if len(*local) == 0 {
		return
	}
	s.writeMu.Lock()
	s.outMu.Lock()
	if len(s.out) > 0 {
		*local = append(*local, s.out...)
		s.out = s.out[:0]
	}
	s.outMu.Unlock()
	if !s.writeFailed {
		s.writes.Add(1)
		if _, err := s.conn.Write(*local); err != nil {
			s.writeFailed = true
			s.fail(fmt.Errorf("write: %w", err))
			s.conn.Close()
		}
	}
	s.writeMu.Unlock()
	*local = (*local)[:0]
}

// writeLoop writes what the reader queued (responses to the server's
// requests, unbind) whenever the sender is not flushing anyway.
func (s *session) writeLoop() {
	defer close(s.writerDone)
	var buf []byte
	for {
		stop := false
		select {
		case <-s.kick:
		case <-s.quit:
			stop = true
		}
		s.writeMu.Lock()
		s.outMu.Lock()
		buf, s.out = s.out, buf[:0]
		s.outMu.Unlock()
		if len(buf) > 0 && !s.writeFailed {
			s.writes.Add(1)
			if _, err := s.conn.Write(buf); err != nil {
				s.writeFailed = true
				s.fail(fmt.Errorf("write: %w", err))
				s.conn.Close()
			}
		}
		s.writeMu.Unlock()
		if stop {
			return
		}
	}
}

// fail records why the session ended unless we are closing it ourselves.
func (s *session) fail(err error) {
	if s.closing.Load() {
		return
	}
	s.statMu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.statMu.Unlock()
}

// sendLoop fills the window until the run stops: closed loop as fast as slots
// come back, open loop at the session's schedule.
func (s *session) sendLoop() {
	defer close(s.senderDone)
	r := s.r
	open := r.o.Rate > 0
	deadline := int64(r.o.Duration)
	var timer *time.Timer
	if r.o.Idle {
		<-r.stopCh
		return
	}
	local := make([]byte, 0, min(flushThreshold, r.o.Window*len(r.tmpl.b))+len(r.tmpl.b))
	// Sessions count destinations from different bases, so they differ
	// across sessions as long as the pattern has enough '#'.
	dest := newOdometer(len(r.tmpl.digits), uint64(s.idx)*1_000_000_000)
	// now is read once per wake-up: slots taken without blocking are
	// stamped with the time the batch started, which is when they were
	// ready to go (the batch takes microseconds to build).
	var now int64
	defer s.flush(&local)
	for k := int64(0); ; k++ {
		if r.stop.Load() {
			return
		}
		var sched int64
		if open {
			sched = s.plan.due(k)
			if deadline > 0 && sched >= deadline {
				return
			}
			if sched > now+int64(openLoopLookahead) {
				now = r.now()
			}
			if wait := sched - int64(openLoopLookahead) - now; wait > 0 {
				// Not due within the lookahead: send what we have and
				// sleep until it is, but long enough that the next burst
				// covers at least openLoopMinSleep of the schedule.
				s.flush(&local)
				wait = max(wait, int64(openLoopMinSleep))
				if timer == nil {
					timer = time.NewTimer(time.Duration(wait))
				} else {
					timer.Reset(time.Duration(wait))
				}
				select {
				case <-timer.C:
				case <-r.stopCh:
					return
				}
				now = r.now()
			}
		}
		if r.counted && r.budget.Add(-1) < 0 {
			return
		}
		var slot uint16
		select {
		case slot = <-s.win.free:
			if len(local) == 0 {
				now = r.now()
			}
		default:
			// Window full: send what we have, then wait.
			s.flush(&local)
			select {
			case slot = <-s.win.free:
				now = r.now()
			case <-r.stopCh:
				return
			}
		}
		if !open || now < sched {
			// Closed loop, or sent ahead of schedule (lookahead): the
			// latency runs from the actual send. A message sent late runs
			// from its schedule, whatever held it up.
			sched = now
		}
		seq := s.win.claim(slot, sched)
		local = r.tmpl.appendMessage(local, seq, dest)
		dest.next()
		s.sent.Add(1)
		if len(local) >= flushThreshold {
			s.flush(&local)
		}
	}
}

func (s *session) readLoop() {
	defer close(s.readerDone)
	var now int64
	for {
		// A frame already in the buffer arrived with the previous read:
		// reuse its time instead of reading the clock per frame.
		buffered := frameBuffered(s.br)
		if !buffered {
			// About to block: let the sender refill and the writer send
			// our answers.
			s.releaseFreed()
			if s.answered {
				s.answered = false
				s.wake()
			}
		}
		h, body, err := s.rd.ReadFrame()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) && !(s.unbinding.Load() && errors.Is(err, io.EOF)) {
				s.fail(fmt.Errorf("read: %w", err))
			}
			s.unbindOnce.Do(func() { close(s.unbound) })
			return
		}
		if !buffered || now == 0 {
			now = s.r.now()
		}
		switch h.ID {
		case pdu.CmdSubmitSMResp, pdu.CmdGenericNack:
			s.onResponse(h, body, now)
		case pdu.CmdDeliverSM:
			s.onDeliver(h, body, now)
		case pdu.CmdEnquireLink:
			s.answer(h.Seq, pdu.StatusOK, enquireLinkResp)
		case pdu.CmdDataSM:
			s.answer(h.Seq, pdu.StatusOK, dataSMResp)
		case pdu.CmdUnbind:
			s.answer(h.Seq, pdu.StatusOK, unbindResp)
			s.fail(errors.New("server unbound the session"))
		case pdu.CmdUnbindResp:
			s.unbindOnce.Do(func() { close(s.unbound) })
		default:
			if !h.ID.IsResponse() {
				s.answer(h.Seq, pdu.StatusInvCmdID, genericNack)
			}
		}
	}
}

func (s *session) onResponse(h pdu.Header, body []byte, now int64) {
	slot, sched, ok := s.win.settle(h.Seq)
	if !ok || int(slot) == s.win.size {
		if !ok {
			s.statMu.Lock()
			s.cur.stray++
			s.statMu.Unlock()
		}
		return
	}
	var rlat int64
	matched := false
	if h.Status == pdu.StatusOK && s.r.tracker != nil && h.ID == pdu.CmdSubmitSMResp {
		var resp pdu.SubmitSMResp
		if err := resp.DecodeBody(body); err == nil && resp.MessageID != "" {
			rlat, matched = s.r.tracker.submitted(resp.MessageID, sched)
		}
	}
	s.statMu.Lock()
	if h.Status == pdu.StatusOK {
		s.cur.acks++
		s.cur.lat.Record(time.Duration(now - sched))
	} else {
		s.cur.errs[h.Status]++
	}
	if matched {
		s.cur.receipts++
		s.cur.rlat.Record(time.Duration(rlat))
	}
	s.statMu.Unlock()
	s.lastResp.Store(now)
	if matched {
		s.lastReceipt.Store(now)
	}
	s.freed = append(s.freed, slot)
}

// releaseFreed hands the slots settled since the last call back to the
// sender. The reader calls it when the input runs dry, so the sender wakes
// once per burst of responses and writes the refill in one system call,
// instead of waking per response and writing one submit_sm at a time.
func (s *session) releaseFreed() {
	for _, slot := range s.freed {
		s.win.release(slot)
	}
	s.freed = s.freed[:0]
}

// esm_class message type bits (SMPP 3.4 §5.2.12).
const (
	esmTypeMask    = 0x3C
	esmTypeReceipt = 0x04
)

func (s *session) onDeliver(h pdu.Header, body []byte, now int64) {
	// A borrowing view: receipts come at the submit rate, and nothing of
	// the deliver_sm has to outlive this call except, rarely, its id.
	var d pdu.SubmitSMView
	if err := d.Decode(pdu.CmdDeliverSM, body); err != nil {
		status, _, _ := pdu.ErrorStatus(err)
		s.answer(h.Seq, status, deliverSMResp)
		s.statMu.Lock()
		s.cur.badDeliver++
		s.statMu.Unlock()
		return
	}
	s.answer(h.Seq, pdu.StatusOK, deliverSMResp)
	if d.ESMClass&esmTypeMask != esmTypeReceipt || s.r.tracker == nil {
		return // a mobile-originated message, or receipts not asked for
	}
	id, haveID := d.TLV(pdu.TagReceiptedMessageID)
	if haveID {
		id = bytes.TrimRight(id, "\x00") // a C-string on the wire
	}
	var state pdu.MessageState
	v, haveState := d.TLV(pdu.TagMessageState)
	if haveState && len(v) == 1 {
		state = pdu.MessageState(v[0])
	} else {
		haveState = false
	}
	if !haveID || !haveState {
		if rc, err := pdu.ParseReceipt(d.ShortMessage); err == nil {
			if !haveID {
				id, haveID = []byte(rc.ID), true
			}
			if !haveState {
				state, haveState = rc.Stat, true
			}
		}
	}
	if haveState && !state.Final() {
		s.statMu.Lock()
		s.cur.interims++
		s.statMu.Unlock()
		return
	}
	var lat int64
	matched := false
	if haveID && len(id) > 0 {
		lat, matched = s.r.tracker.receipt(id, now)
	}
	s.statMu.Lock()
	if matched {
		s.cur.receipts++
		s.cur.rlat.Record(time.Duration(lat))
	} else if !haveID || len(id) == 0 {
		s.cur.unmatched++
	}
	s.statMu.Unlock()
	if matched {
		s.lastReceipt.Store(now)
	}
}

// takeStats swaps the reader's counters for a clean set and returns the
// filled one; the caller must hand it back with putStats.
func (s *session) takeStats() *stats {
	s.statMu.Lock()
	st := s.cur
	s.cur = s.spare
	s.spare = nil
	s.statMu.Unlock()
	return st
}

func (s *session) putStats(st *stats) {
	st.reset()
	s.statMu.Lock()
	s.spare = st
	s.statMu.Unlock()
}

func (s *session) readErr() error {
	s.statMu.Lock()
	defer s.statMu.Unlock()
	return s.err
}

// unbind asks the server to end the session and waits for unbind_resp (or the
// connection's end) until ctx is done.
func (s *session) unbind(ctx context.Context) {
	select {
	case <-s.readerDone:
		return
	default:
	}
	seq := s.win.claim(s.win.controlSlot(), 0)
	s.unbinding.Store(true)
	s.queue(seq, pdu.StatusOK, &pdu.Unbind{})
	select {
	case <-s.unbound:
	case <-s.readerDone:
	case <-ctx.Done():
	}
}

// close stops the writer and reader and waits for them. The writer gets a
// moment for its last bytes, not more: the server may have stopped reading.
func (s *session) close() {
	s.closing.Store(true)
	s.conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	close(s.quit)
	<-s.writerDone
	s.conn.Close()
	<-s.readerDone
}

// frameBuffered reports whether a whole next PDU is in br already.
func frameBuffered(br *bufio.Reader) bool {
	n := br.Buffered()
	if n < pdu.HeaderLen {
		return false
	}
	b, _ := br.Peek(4)
	return n >= int(binary.BigEndian.Uint32(b))
}

// countingReader counts the reads (system calls) under a bufio.Reader.
type countingReader struct {
	r interface{ Read([]byte) (int, error) }
	n *atomic.Uint64
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.n.Add(1)
	return c.r.Read(p)
}
