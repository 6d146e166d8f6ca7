package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/smppd/smppd/pdu"
)

// run is the state one Run shares between its sessions.
type run struct {
	o       *Options
	tmpl    *template
	start   time.Time
	stop    atomic.Bool
	stopCh  chan struct{}
	counted bool         // Options.Count set
	budget  atomic.Int64 // messages left to send when counted
	tracker *receiptTracker
	reads   atomic.Uint64 // read system calls, all sessions
}

// now is the time since the run started in ns (monotonic clock).
func (r *run) now() int64 { return int64(time.Since(r.start)) }

// dialParallelism bounds concurrent dials and binds, so a run with thousands
// of binds does not hit the server's accept queue all at once.
const dialParallelism = 32

// Run binds o.Binds sessions to o.Addr, drives load as o describes, and
// returns what it measured. It fails with ErrBindFailed (or the dial error) if
// any session cannot bind, and with ErrInvalidOptions for bad options.
// Cancelling ctx stops sending and finishes the run as if the duration had
// passed (drain, unbind, report).
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	tmpl, err := buildTemplate(&o)
	if err != nil {
		return nil, err
	}
	r := &run{o: &o, tmpl: tmpl, stopCh: make(chan struct{}), start: time.Now()}
	if o.Count > 0 {
		r.counted = true
		r.budget.Store(o.Count)
	}
	if o.RegisteredDelivery {
		r.tracker = newReceiptTracker()
	}

	bindStart := time.Now()
	sessions, err := r.dialAll(ctx)
	if err != nil {
		return nil, err
	}
	bindTime := time.Since(bindStart)
	r.start = time.Now()
	for _, s := range sessions {
		go s.readLoop()
		go s.writeLoop()
		go s.sendLoop()
	}
	c := newCollector(r, sessions)
	c.cpuStart = processCPU()

	// Sending phase.
	sendersDone := make(chan struct{})
	go func() {
		for _, s := range sessions {
			<-s.senderDone
		}
		close(sendersDone)
	}()
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	// Closed loop stops at the deadline; open loop stops by itself after the
	// last message scheduled before it, so the offered load is exact.
	var deadline <-chan time.Time
	if o.Duration > 0 && o.Rate == 0 {
		t := time.NewTimer(o.Duration)
		defer t.Stop()
		deadline = t.C
	}
sending:
	for {
		select {
		case <-ticker.C:
			c.tick()
		case <-deadline:
			break sending
		case <-sendersDone:
			break sending
		case <-ctx.Done():
			break sending
		}
	}
	r.stop.Store(true)
	close(r.stopCh)
	// A sender blocked writing to a server that stopped reading gives up
	// when the drain ends (its session then reports the write error).
	for _, s := range sessions {
		s.conn.SetWriteDeadline(time.Now().Add(o.Drain))
	}
	<-sendersDone

	// Drain outstanding responses, then receipts.
	c.waitUntil(ticker, o.Drain, func() bool {
		for _, s := range sessions {
			select {
			case <-s.readerDone:
				continue
			default:
			}
			if s.win.outstanding() > 0 {
				return false
			}
		}
		return true
	})
	if r.tracker != nil && o.WaitReceipts > 0 {
		c.waitUntil(ticker, o.WaitReceipts, func() bool {
			pending, _ := r.tracker.counts()
			return pending == 0
		})
	}
	unanswered := uint64(0)
	for _, s := range sessions {
		unanswered += uint64(s.win.outstanding())
	}

	// Unbind politely, then close.
	uctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	var wg sync.WaitGroup
	for _, s := range sessions {
		wg.Go(func() { s.unbind(uctx) })
	}
	wg.Wait()
	cancel()
	for _, s := range sessions {
		s.close()
	}
	c.tick()
	res := c.result()
	res.Unanswered = unanswered
	res.BindDuration = bindTime
	return res, nil
}

// dialAll dials and binds every session, a few at a time. If one fails, the
// ones bound so far are closed and the first error is returned.
func (r *run) dialAll(ctx context.Context) ([]*session, error) {
	sessions := make([]*session, r.o.Binds)
	errs := make([]error, r.o.Binds)
	sem := make(chan struct{}, dialParallelism)
	var wg sync.WaitGroup
	for i := range sessions {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			sessions[i], errs[i] = r.dial(ctx, i)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, s := range sessions {
			if s != nil {
				s.conn.Close()
			}
		}
		for i, e := range errs {
			if e != nil {
				return nil, fmt.Errorf("bind %d of %d: %w", i+1, r.o.Binds, e)
			}
		}
	}
	return sessions, nil
}

// collector gathers the sessions' counters once a second into the series
// and, after the warmup, into the totals.
type collector struct {
	r        *run
	sessions []*session
	agg      *stats // one tick's merge
	total    *stats // everything after the warmup
	series   []Second

	lastT        int64
	lastSent     uint64
	sentTotal    uint64
	errorsSeen   uint64 // error responses including the warmup, for progress
	measureStart int64  // ns since start; end of the last warmup interval
	warmupDone   bool
	cpuStart     time.Duration
	cpuAtMeasure time.Duration

	readsAtMeasure, writesAtMeasure uint64
}

// syscalls is the number of reads and writes on the sessions' sockets so far.
func (c *collector) syscalls() (reads, writes uint64) {
	for _, s := range c.sessions {
		writes += s.writes.Load()
	}
	return c.r.reads.Load(), writes
}

func newCollector(r *run, sessions []*session) *collector {
	c := &collector{r: r, sessions: sessions, agg: newStats(), total: newStats()}
	if r.o.Warmup == 0 {
		c.warmupDone = true
	}
	return c
}

// tick closes the current interval.
func (c *collector) tick() {
	now := c.r.now()
	c.agg.reset()
	var sent uint64
	for _, s := range c.sessions {
		st := s.takeStats()
		c.agg.merge(st)
		s.putStats(st)
		sent += s.sent.Load()
	}
	// An interval is warmup if it began more than half a second before the
	// warmup's end; ticks are a second apart, so this rounds to the tick.
	warm := !c.warmupDone && c.lastT < int64(c.r.o.Warmup)-int64(500*time.Millisecond)
	sec := Second{
		T:        float64(now) / 1e9,
		Warmup:   warm,
		Submits:  sent - c.lastSent,
		Acks:     c.agg.acks,
		Errors:   c.agg.errorCount(),
		Receipts: c.agg.receipts,
		P50:      c.agg.lat.Quantile(0.5),
		P99:      c.agg.lat.Quantile(0.99),
		Max:      c.agg.lat.Max(),
	}
	sec.ReceiptP99 = c.agg.rlat.Quantile(0.99)
	c.series = append(c.series, sec)
	c.lastSent = sent
	c.lastT = now
	if warm {
		c.measureStart = now
		c.cpuAtMeasure = processCPU()
		c.readsAtMeasure, c.writesAtMeasure = c.syscalls()
	} else {
		if !c.warmupDone {
			c.warmupDone = true
		}
		c.total.merge(c.agg)
		c.sentTotal += sec.Submits
	}
	c.errorsSeen += sec.Errors
	if w := c.r.o.Progress; w != nil && float64(now-c.prevT()) >= minPlotInterval*1e9 {
		p99, label := c.total.lat.Quantile(0.99), "p99 so far"
		if warm {
			p99, label = sec.P99, "p99 (warmup)"
		}
		dt := now - c.prevT()
		fmt.Fprintf(w, "%6.1fs  submits %8.0f/s  acks %8.0f/s  receipts %8.0f/s  errors %d  %s %s\n",
			sec.T, rateOf(sec.Submits, dt), rateOf(sec.Acks, dt), rateOf(sec.Receipts, dt),
			c.errorsSeen, label, fmtDur(p99))
	}
}

// prevT is the start of the interval just appended.
func (c *collector) prevT() int64 {
	if n := len(c.series); n >= 2 {
		return int64(c.series[n-2].T * 1e9)
	}
	return 0
}

func rateOf(n uint64, dt int64) float64 {
	if dt <= 0 {
		return 0
	}
	return float64(n) / (float64(dt) / 1e9)
}

// waitUntil polls done every 10 ms, still ticking each second, until it holds
// or limit passes.
func (c *collector) waitUntil(ticker *time.Ticker, limit time.Duration, done func() bool) {
	if done() {
		return
	}
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	end := time.NewTimer(limit)
	defer end.Stop()
	for {
		select {
		case <-ticker.C:
			c.tick()
		case <-poll.C:
			if done() {
				return
			}
		case <-end.C:
			return
		}
	}
}

func (c *collector) result() *Result {
	o := c.r.o
	res := &Result{
		Target: o.Addr, Binds: o.Binds, Window: o.Window, Mode: o.Mode(), Rate: o.Rate,
		Sent: c.sentTotal, Acked: c.total.acks,
		Errors:         make(map[string]uint64),
		Latency:        &c.total.lat,
		ReceiptLatency: &c.total.rlat,
		ReceiptsAsked:  c.r.tracker != nil,
		Receipts:       c.total.receipts,
		Stray:          c.total.stray,
		Interims:       c.total.interims,
		BadDeliver:     c.total.badDeliver,
		Series:         c.series,
	}
	for st, n := range c.total.errs {
		res.Errors[statusName(st)] += n
	}
	var lastResp, lastReceipt int64
	for _, s := range c.sessions {
		lastResp = max(lastResp, s.lastResp.Load())
		lastReceipt = max(lastReceipt, s.lastReceipt.Load())
		if err := s.readErr(); err != nil {
			if res.SessionErrors == nil {
				res.SessionErrors = make(map[string]int)
			}
			res.SessionErrors[err.Error()]++
		}
	}
	res.Duration = time.Duration(max(0, lastResp-c.measureStart))
	res.ReceiptsDuration = time.Duration(max(0, lastReceipt-c.measureStart))
	if c.r.tracker != nil {
		pending, early := c.r.tracker.counts()
		res.ReceiptsMissing = uint64(pending)
		res.ReceiptsUnmatched = uint64(early) + c.total.unmatched
	}
	cpuFrom := c.cpuStart
	if c.cpuAtMeasure > 0 {
		cpuFrom = c.cpuAtMeasure
	}
	res.ClientCPU = processCPU() - cpuFrom
	reads, writes := c.syscalls()
	res.Reads, res.Writes = reads-c.readsAtMeasure, writes-c.writesAtMeasure
	return res
}

func statusName(s pdu.Status) string { return s.String() }

// processCPU is this process's user+system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
