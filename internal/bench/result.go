package bench

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"time"
)

// Result is what a run measured. Totals and percentiles exclude the warmup;
// Series covers the whole run.
type Result struct {
	Target string // address
	Binds  int
	Window int
	Mode   string  // "closed" or "open R/s"
	Rate   float64 // offered messages/s in open loop, 0 in closed loop

	// BindDuration is how long dialing and binding all sessions took
	// (dialParallelism at a time).
	BindDuration time.Duration

	Sent       uint64            // submit_sm written after the warmup
	Acked      uint64            // submit_sm_resp with ESME_ROK
	Errors     map[string]uint64 // submit_sm_resp by non-OK status name (ESME_RTHROTTLED ...)
	Unanswered uint64            // submit_sm without a response when the run ended
	Stray      uint64            // responses whose sequence_number matched no outstanding request
	// SessionErrors counts the sessions that ended early (read or write
	// error, server unbind) by reason.
	SessionErrors map[string]int
	Duration      time.Duration // from the end of the warmup to the last response

	Latency *Histogram // submit (scheduled send time) → submit_sm_resp

	ReceiptsAsked     bool
	Receipts          uint64        // final receipts matched to a submit of this run
	ReceiptsDuration  time.Duration // from the end of the warmup to the last receipt
	ReceiptsMissing   uint64        // acked messages (registered) whose receipt never came
	ReceiptsUnmatched uint64        // final receipts for message ids this run did not see
	ReceiptLatency    *Histogram    // submit (scheduled) → receipt arrival
	Interims          uint64        // intermediate (non-final) receipts, not matched
	BadDeliver        uint64        // deliver_sm that failed to decode (answered with an error status)

	// ClientCPU is the CPU time (user+system) this process used while
	// measuring, so a report can show the generator was not the bottleneck.
	ClientCPU time.Duration
	// Reads and Writes count the generator's socket system calls while
	// measuring: messages per write shows how well writes coalesce.
	Reads, Writes uint64

	Series []Second
}

// Second is one row of the per-second series.
type Second struct {
	T          float64       // seconds since the run started (end of this interval)
	Warmup     bool          // inside the warmup
	Submits    uint64        // submit_sm written
	Acks       uint64        // OK responses
	Errors     uint64        // error responses
	Receipts   uint64        // matched receipts
	P50, P99   time.Duration // submit latency percentiles of responses in this second
	Max        time.Duration
	ReceiptP99 time.Duration
}

// MsgsPerSecond is the acknowledged throughput.
func (r *Result) MsgsPerSecond() float64 { return perSecond(r.Acked, r.Duration) }

// ReceiptsPerSecond is the matched receipt throughput.
func (r *Result) ReceiptsPerSecond() float64 { return perSecond(r.Receipts, r.ReceiptsDuration) }

// CPUPerMessage is the generator's CPU time per acknowledged message.
func (r *Result) CPUPerMessage() time.Duration {
	if r.Acked == 0 {
		return 0
	}
	return r.ClientCPU / time.Duration(r.Acked)
}

func perSecond(n uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func ratio(n, d uint64) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

// ErrorCount is the total of error responses.
func (r *Result) ErrorCount() uint64 {
	var n uint64
	for _, c := range r.Errors {
		n += c
	}
	return n
}

type jsonPercentiles struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

func percentilesUS(h *Histogram) jsonPercentiles {
	if h == nil {
		return jsonPercentiles{}
	}
	us := func(d time.Duration) float64 { return round3(float64(d) / 1e3) }
	return jsonPercentiles{
		P50: us(h.Quantile(0.50)), P90: us(h.Quantile(0.90)), P99: us(h.Quantile(0.99)),
		P999: us(h.Quantile(0.999)), Max: us(h.Max()),
	}
}

func round3(f float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', 3, 64), 64)
	return v
}

type jsonResult struct {
	Target            string            `json:"target"`
	Binds             int               `json:"binds"`
	Window            int               `json:"window"`
	Mode              string            `json:"mode"`
	BindS             float64           `json:"bind_s"`
	BindsPerS         float64           `json:"binds_per_s"`
	Sent              uint64            `json:"sent"`
	Acked             uint64            `json:"acked"`
	Errors            map[string]uint64 `json:"errors"`
	Unanswered        uint64            `json:"unanswered"`
	Stray             uint64            `json:"stray_responses"`
	SessionErrors     map[string]int    `json:"session_errors,omitempty"`
	DurationS         float64           `json:"duration_s"`
	MsgsPerS          float64           `json:"msgs_per_s"`
	Receipts          uint64            `json:"receipts"`
	ReceiptsPerS      float64           `json:"receipts_per_s"`
	ReceiptsMissing   uint64            `json:"receipts_missing"`
	ReceiptsUnmatched uint64            `json:"receipts_unmatched"`
	Interims          uint64            `json:"receipts_intermediate"`
	BadDeliver        uint64            `json:"deliver_sm_undecodable"`
	Latency           jsonPercentiles   `json:"latency_us"`
	ReceiptLatency    jsonPercentiles   `json:"receipt_latency_us"`
	ClientCPUS        float64           `json:"client_cpu_s"`
	ClientCPUPerMsgUS float64           `json:"client_cpu_us_per_msg"`
	MsgsPerWrite      float64           `json:"client_msgs_per_write"`
	MsgsPerRead       float64           `json:"client_msgs_per_read"`
}

// WriteJSON writes the summary as one JSON object with the keys the issue
// promises (sent, acked, errors, duration_s, msgs_per_s, receipts,
// receipts_per_s, latency_us, receipt_latency_us) and a few more.
func (r *Result) WriteJSON(w io.Writer) error {
	errs := r.Errors
	if errs == nil {
		errs = map[string]uint64{}
	}
	j := jsonResult{
		Target: r.Target, Binds: r.Binds, Window: r.Window, Mode: r.Mode,
		BindS: round3(r.BindDuration.Seconds()), BindsPerS: round3(perSecond(uint64(r.Binds), r.BindDuration)),
		Sent: r.Sent, Acked: r.Acked, Errors: errs, Unanswered: r.Unanswered,
		Stray: r.Stray, SessionErrors: r.SessionErrors,
		DurationS: round3(r.Duration.Seconds()), MsgsPerS: round3(r.MsgsPerSecond()),
		Receipts: r.Receipts, ReceiptsPerS: round3(r.ReceiptsPerSecond()),
		ReceiptsMissing: r.ReceiptsMissing, ReceiptsUnmatched: r.ReceiptsUnmatched,
		Interims: r.Interims, BadDeliver: r.BadDeliver,
		Latency: percentilesUS(r.Latency), ReceiptLatency: percentilesUS(r.ReceiptLatency),
		ClientCPUS:        round3(r.ClientCPU.Seconds()),
		ClientCPUPerMsgUS: round3(float64(r.CPUPerMessage()) / 1e3),
		MsgsPerWrite:      round3(ratio(r.Sent, r.Writes)),
		MsgsPerRead:       round3(ratio(r.Acked, r.Reads)),
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(j)
}

// WriteText writes the human summary.
func (r *Result) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("target %s, %d bind(s) × window %d, %s\n", r.Target, r.Binds, r.Window, r.Mode)
	ew.printf("bound %d session(s) in %s (%.0f binds/s)\n", r.Binds, fmtDur(r.BindDuration), perSecond(uint64(r.Binds), r.BindDuration))
	ew.printf("sent %d  acked %d  errors %d  unanswered %d  in %.2fs\n",
		r.Sent, r.Acked, r.ErrorCount(), r.Unanswered, r.Duration.Seconds())
	ew.printf("throughput %.0f msg/s\n", r.MsgsPerSecond())
	for _, name := range slices.Sorted(maps.Keys(r.Errors)) {
		ew.printf("  %-20s %d\n", name, r.Errors[name])
	}
	if r.BadDeliver > 0 {
		ew.printf("  undecodable deliver_sm %d (answered with an error status)\n", r.BadDeliver)
	}
	if r.Stray > 0 {
		ew.printf("  stray responses      %d\n", r.Stray)
	}
	for _, e := range slices.Sorted(maps.Keys(r.SessionErrors)) {
		ew.printf("  %d session(s) ended early: %s\n", r.SessionErrors[e], e)
	}
	ew.printf("submit latency  %s\n", formatPercentiles(r.Latency))
	if r.ReceiptsAsked {
		ew.printf("receipts %d (%.0f/s)  missing %d  unmatched %d  intermediate %d\n",
			r.Receipts, r.ReceiptsPerSecond(), r.ReceiptsMissing, r.ReceiptsUnmatched, r.Interims)
		ew.printf("receipt latency %s\n", formatPercentiles(r.ReceiptLatency))
	}
	ew.printf("generator CPU %.2fs, %.2f µs/msg; %.1f msg/write, %.1f msg/read\n", r.ClientCPU.Seconds(),
		float64(r.CPUPerMessage())/1e3, ratio(r.Sent, r.Writes), ratio(r.Acked, r.Reads))
	return ew.err
}

func formatPercentiles(h *Histogram) string {
	if h == nil || h.Count() == 0 {
		return "(none)"
	}
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  p99.9 %s  max %s",
		fmtDur(h.Quantile(0.5)), fmtDur(h.Quantile(0.9)), fmtDur(h.Quantile(0.99)),
		fmtDur(h.Quantile(0.999)), fmtDur(h.Max()))
}

// fmtDur prints a latency with three significant digits in µs, ms or s.
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.1fµs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}

// WriteCSV writes the per-second series with a header row. Latencies are in
// microseconds.
func (r *Result) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"t_s", "warmup", "submits", "acks", "errors", "receipts",
		"p50_us", "p99_us", "max_us", "receipt_p99_us"})
	us := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e3, 'f', 1, 64) }
	for _, s := range r.Series {
		_ = cw.Write([]string{
			strconv.FormatFloat(s.T, 'f', 3, 64), strconv.FormatBool(s.Warmup),
			strconv.FormatUint(s.Submits, 10), strconv.FormatUint(s.Acks, 10),
			strconv.FormatUint(s.Errors, 10), strconv.FormatUint(s.Receipts, 10),
			us(s.P50), us(s.P99), us(s.Max), us(s.ReceiptP99),
		})
	}
	cw.Flush()
	return cw.Error()
}

type errWriter struct {
	w   io.Writer
	err error
}

func (ew *errWriter) printf(format string, args ...any) {
	if ew.err == nil {
		_, ew.err = fmt.Fprintf(ew.w, format, args...)
	}
}
