package bench

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
	"time"
)

// minPlotInterval drops series rows shorter than this (seconds) from the
// chart: the last row is usually a few milliseconds of drain.
const minPlotInterval = 0.25

// Plot geometry, in SVG user units.
const (
	plotWidth   = 1100
	panelHeight = 260
	marginLeft  = 80
	marginRight = 170 // legend column
	marginTop   = 100
	panelGap    = 64
	marginBot   = 44
)

type plotLine struct {
	name  string
	color string
	dash  bool
	width float64 // stroke width; 0 means 2
	ys    []float64
}

// WritePlot writes a self-contained SVG chart of the per-second series: the
// top panel shows submits, acks and receipts per second, the bottom panel
// submit latency p50/p99/max and receipt p99 in milliseconds. The warmup is
// shaded. It opens in any browser; no script, no external resources.
func (r *Result) WritePlot(w io.Writer) error {
	ts := make([]float64, len(r.Series))
	var submits, acks, receipts, errs, p50, p99, pmax, rp99 []float64
	prev := 0.0
	warmupEnd := 0.0
	ts = ts[:0]
	for i, s := range r.Series {
		dt := s.T - prev
		if dt < minPlotInterval && i > 0 {
			continue // the drain's sliver at the end: its rates would be noise
		}
		if dt <= 0 {
			dt = 1
		}
		prev = s.T
		ts = append(ts, s.T)
		if s.Warmup {
			warmupEnd = s.T
		}
		submits = append(submits, float64(s.Submits)/dt)
		acks = append(acks, float64(s.Acks)/dt)
		errs = append(errs, float64(s.Errors)/dt)
		receipts = append(receipts, float64(s.Receipts)/dt)
		ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
		p50 = append(p50, ms(s.P50))
		p99 = append(p99, ms(s.P99))
		pmax = append(pmax, ms(s.Max))
		rp99 = append(rp99, ms(s.ReceiptP99))
	}
	rateLines := []plotLine{
		{name: "submits/s", color: "#1f77b4", ys: submits},
		{name: "acks/s", color: "#2ca02c", dash: true, ys: acks},
	}
	if r.Rate > 0 && len(ts) > 0 {
		offered := make([]float64, len(ts))
		for i := range offered {
			offered[i] = r.Rate
		}
		rateLines = append(rateLines, plotLine{name: "offered/s", color: "#bbbbbb", dash: true, ys: offered})
	}
	if anyNonZero(errs) {
		rateLines = append(rateLines, plotLine{name: "errors/s", color: "#d62728", ys: errs})
	}
	latLines := []plotLine{
		{name: "p50", color: "#2ca02c", ys: p50},
		{name: "p99", color: "#ff7f0e", ys: p99},
		{name: "max", color: "#7f7f7f", dash: true, ys: pmax},
	}
	if r.ReceiptsAsked {
		// Drawn first so that, when receipts follow their responses at
		// once, the submit lines stay visible on top of them.
		rateLines = append([]plotLine{{name: "receipts/s", color: "#9467bd", width: 4, ys: receipts}}, rateLines...)
		latLines = append([]plotLine{{name: "receipt p99", color: "#9467bd", width: 4, ys: rp99}}, latLines...)
	}

	height := marginTop + 2*panelHeight + panelGap + marginBot
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		plotWidth, height, plotWidth, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	title := fmt.Sprintf("smppd bench → %s: %d bind(s) × window %d, %s — %.0f msg/s, p99 %s",
		r.Target, r.Binds, r.Window, r.Mode, r.MsgsPerSecond(), fmtDur(r.Latency.Quantile(0.99)))
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", marginLeft, html.EscapeString(title))
	subs := []string{
		fmt.Sprintf("sent %d, acked %d, errors %d, unanswered %d in %.1fs (warmup excluded)",
			r.Sent, r.Acked, r.ErrorCount(), r.Unanswered, r.Duration.Seconds()),
		"submit latency " + formatPercentiles(r.Latency),
	}
	if r.ReceiptsAsked {
		subs = append(subs,
			fmt.Sprintf("receipts %d (%.0f/s), missing %d, unmatched %d; latency %s", r.Receipts,
				r.ReceiptsPerSecond(), r.ReceiptsMissing, r.ReceiptsUnmatched, formatPercentiles(r.ReceiptLatency)))
	}
	for i, sub := range subs {
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#444444">%s</text>`+"\n", marginLeft, 40+16*i, html.EscapeString(sub))
	}

	xmax := 1.0
	if n := len(ts); n > 0 && ts[n-1] > 0 {
		xmax = ts[n-1]
	}
	panel(&b, ts, xmax, warmupEnd, marginTop, "throughput (per second)", "", rateLines)
	panel(&b, ts, xmax, warmupEnd, marginTop+panelHeight+panelGap, "submit latency (ms)", "ms", latLines)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">seconds since start</text>`+"\n",
		marginLeft+(plotWidth-marginLeft-marginRight)/2, height-8)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func anyNonZero(v []float64) bool {
	for _, f := range v {
		if f != 0 {
			return true
		}
	}
	return false
}

// panel draws one chart with its axes, grid, lines and legend.
func panel(b *strings.Builder, ts []float64, xmax, warmupEnd float64, top int, title, unit string, lines []plotLine) {
	left, right := float64(marginLeft), float64(plotWidth-marginRight)
	y0, y1 := float64(top+panelHeight), float64(top)
	ymax := 0.0
	for _, l := range lines {
		for _, y := range l.ys {
			ymax = math.Max(ymax, y)
		}
	}
	ymax, step := niceScale(ymax)
	px := func(x float64) float64 { return left + (right-left)*x/xmax }
	py := func(y float64) float64 { return y0 - (y0-y1)*y/ymax }

	fmt.Fprintf(b, `<text x="%.0f" y="%.0f" font-weight="bold">%s</text>`+"\n", left, y1-8, html.EscapeString(title))
	if warmupEnd > 0 {
		fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#eeeeee"/>`+"\n",
			left, y1, px(warmupEnd)-left, y0-y1)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" fill="#888888">warmup</text>`+"\n", left+4, y1+14)
	}
	for y := 0.0; y <= ymax*1.0001; y += step {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#dddddd"/>`+"\n", left, py(y), right, py(y))
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, py(y)+4, formatTick(y, unit))
	}
	xstep := niceStep(xmax / 10)
	for x := 0.0; x <= xmax*1.0001; x += xstep {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999999"/>`+"\n", px(x), y0, px(x), y0+4)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", px(x), y0+17, formatTick(x, ""))
	}
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#333333"/>`+"\n",
		left, y1, right-left, y0-y1)
	for i, l := range lines {
		if len(l.ys) > 0 {
			var pts strings.Builder
			for j, y := range l.ys {
				fmt.Fprintf(&pts, "%.1f,%.1f ", px(ts[j]), py(y))
			}
			dash := ""
			if l.dash {
				dash = ` stroke-dasharray="6 4"`
			}
			width := l.width
			if width == 0 {
				width = 2
			}
			fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="%g" stroke-opacity="0.9"%s points="%s"/>`+"\n",
				l.color, width, dash, strings.TrimSpace(pts.String()))
		}
		ly := y1 + 14 + float64(i)*18
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/>`+"\n",
			right+12, ly-4, right+36, ly-4, l.color)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", right+42, ly, html.EscapeString(l.name))
	}
}

// niceScale rounds max up to a readable axis top and returns it with a grid step.
func niceScale(max float64) (top, step float64) {
	if max <= 0 {
		return 1, 0.25
	}
	step = niceStep(max / 5)
	top = math.Ceil(max/step) * step
	return top, step
}

// niceStep rounds raw to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	switch f := raw / p; {
	case f <= 1:
		return p
	case f <= 2:
		return 2 * p
	case f <= 5:
		return 5 * p
	default:
		return 10 * p
	}
}

func formatTick(v float64, unit string) string {
	var s string
	switch {
	case v >= 1e6:
		s = trimFloat(v/1e6) + "M"
	case v >= 1e3 && unit == "":
		s = trimFloat(v/1e3) + "k"
	default:
		s = trimFloat(v)
	}
	return s
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
