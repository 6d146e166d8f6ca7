// Package contrib_test checks the files under contrib/ against the code:
// every metric the Prometheus alert rules and the Grafana dashboard query
// is one smppd exports (or an agreed upstream metric), counters are only
// rated and gauges only deltaed, and the files parse.
package contrib_test

import (
	"encoding/json"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.yaml.in/yaml/v3"

	"github.com/smppd/smppd/internal/metrics"
	"github.com/smppd/smppd/internal/msgstore"
)

// upstreamMetrics are the upstream connector's metrics and the callback
// in-flight gauge, registered by cmd/smppd/serve_metrics.go (package main, which a
// test cannot import: keep this list in step with it). Type: counter,
// gauge or histogram.
var upstreamMetrics = map[string]string{
	"smppd_upstream_up":                      "gauge",
	"smppd_upstream_sessions":                "gauge",
	"smppd_callbacks_in_flight":              "gauge",
	"smppd_upstream_submits_total":           "counter",
	"smppd_upstream_submit_duration_seconds": "histogram",
	"smppd_upstream_receipts_total":          "counter",
	"smppd_upstream_mo_total":                "counter",
}

// capture is a Registerer that keeps the collectors, so their
// descriptions can be read without any sample having been observed.
type capture struct{ cs []prometheus.Collector }

func (c *capture) Register(col prometheus.Collector) error { c.cs = append(c.cs, col); return nil }
func (c *capture) MustRegister(cs ...prometheus.Collector) { c.cs = append(c.cs, cs...) }
func (c *capture) Unregister(prometheus.Collector) bool    { return false }

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// exported returns the name → type of every metric smppd serve registers
// (the same collectors as cmd/smppd/serve.go).
func exported(t *testing.T) map[string]string {
	t.Helper()
	reg := &capture{}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics.New(reg)
	reg.MustRegister(metrics.NewStoreCollector(func() msgstore.Stats { return msgstore.Stats{} }))

	names := map[string]string{}
	for _, c := range reg.cs {
		ch := make(chan *prometheus.Desc, 256)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			if m := fqName.FindStringSubmatch(d.String()); m != nil {
				names[m[1]] = kindOf(m[1])
			}
		}
	}
	// Where a gather knows the type (every metric without labels, and the
	// labelled ones that have a sample), it wins over the naming guess.
	real := prometheus.NewRegistry()
	real.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics.New(real)
	real.MustRegister(metrics.NewStoreCollector(func() msgstore.Stats { return msgstore.Stats{} }))
	families, err := real.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		names[f.GetName()] = strings.ToLower(f.GetType().String())
	}
	for n, k := range upstreamMetrics {
		names[n] = k
	}
	if len(names) < 20 {
		t.Fatalf("found only %d metrics: %v", len(names), names)
	}
	return names
}

// kindOf guesses a metric's type from the naming conventions the lint test
// enforces: counters end in _total, histograms in _seconds or _size.
func kindOf(name string) string {
	switch {
	case strings.HasSuffix(name, "_total"):
		return "counter"
	case strings.HasSuffix(name, "_duration_seconds"), strings.HasSuffix(name, "_batch_size"):
		return "histogram"
	}
	return "gauge"
}

var (
	metricRef = regexp.MustCompile(`\b((?:smppd|process|go)_[a-z0-9_]+)\b`)
	// fnCall finds rate(x...), increase(x...), delta(x...) and friends.
	fnCall = regexp.MustCompile(`\b(rate|irate|increase|delta|idelta|deriv)\(\s*([a-z_:][a-z0-9_:]*)`)
)

// checkExpr reports problems of one PromQL expression: unknown metrics,
// unbalanced brackets, rate over a gauge or delta over a counter.
func checkExpr(t *testing.T, where, expr string, known map[string]string) {
	t.Helper()
	for _, pair := range []string{"()", "[]", "{}"} {
		if strings.Count(expr, pair[:1]) != strings.Count(expr, pair[1:]) {
			t.Errorf("%s: unbalanced %s in %q", where, pair, expr)
		}
	}
	refs := metricRef.FindAllStringSubmatch(expr, -1)
	if len(refs) == 0 && !strings.Contains(expr, "up{") {
		t.Errorf("%s: %q queries no smppd metric", where, expr)
	}
	for _, m := range refs {
		name := m[1]
		base := name
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suf); ok && known[b] == "histogram" {
				base = b
			}
		}
		if _, ok := known[base]; !ok {
			t.Errorf("%s: %q uses %s, which smppd does not export", where, expr, name)
		}
	}
	for _, m := range fnCall.FindAllStringSubmatch(expr, -1) {
		fn, name := m[1], m[2]
		kind := known[name]
		if b, ok := strings.CutSuffix(name, "_bucket"); ok {
			kind = known[b]
		} else if b, ok := strings.CutSuffix(name, "_sum"); ok && known[b] == "histogram" {
			kind = "counter"
		} else if b, ok := strings.CutSuffix(name, "_count"); ok && known[b] == "histogram" {
			kind = "counter"
		}
		switch fn {
		case "rate", "irate", "increase":
			if kind != "counter" && kind != "histogram" {
				t.Errorf("%s: %s() over %s, a %s", where, fn, name, kind)
			}
		default:
			if kind != "gauge" {
				t.Errorf("%s: %s() over %s, a %s (use rate/increase)", where, fn, name, kind)
			}
		}
	}
}

// alertTemplateFuncs are the Prometheus template functions the rules use.
var alertTemplateFuncs = template.FuncMap{
	"humanize": func(any) string { return "" }, "humanizePercentage": func(any) string { return "" },
	"humanizeDuration": func(any) string { return "" },
}

func TestAlertRules(t *testing.T) {
	b, err := os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	known := exported(t)
	seen := map[string]bool{}
	var all []string
	for _, g := range file.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q is empty", g.Name)
		}
		for _, r := range g.Rules {
			where := "alert " + r.Alert
			if r.Alert == "" || seen[r.Alert] {
				t.Errorf("alert name %q missing or repeated", r.Alert)
			}
			seen[r.Alert] = true
			all = append(all, r.Alert)
			checkExpr(t, where, r.Expr, known)
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for %q: %v", where, r.For, err)
				}
			}
			if !slices.Contains([]string{"critical", "warning", "info"}, r.Labels["severity"]) {
				t.Errorf("%s: severity %q", where, r.Labels["severity"])
			}
			if r.Annotations["summary"] == "" {
				t.Errorf("%s: no summary", where)
			}
			for k, v := range r.Annotations {
				// Prometheus defines $labels and $value the same way.
				tmpl, err := template.New(k).Funcs(alertTemplateFuncs).Option("missingkey=zero").
					Parse("{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$value := .Value}}" + v)
				if err != nil {
					t.Errorf("%s: annotation %s: %v", where, k, err)
					continue
				}
				data := map[string]any{"Labels": map[string]string{"instance": "i", "upstream": "u"}, "ExternalLabels": map[string]string{}, "Value": 1.0}
				if err := tmpl.Execute(io.Discard, data); err != nil {
					t.Errorf("%s: annotation %s: %v", where, k, err)
				}
			}
		}
	}
	// The four: receipts piling up, commit latency, bind failures, upstream down.
	for _, want := range []string{"SmppdReceiptsPilingUp", "SmppdCommitLatencyHigh", "SmppdBindFailuresSpike", "SmppdUpstreamDown"} {
		if !seen[want] {
			t.Errorf("no alert %s (have %v)", want, all)
		}
	}
}

func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile("grafana/smppd-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			ID      int    `json:"id"`
			Type    string `json:"type"`
			Title   string `json:"title"`
			GridPos struct {
				H, W, X, Y int
			} `json:"gridPos"`
			Targets []struct {
				Expr  string `json:"expr"`
				RefID string `json:"refId"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if dash.Title == "" || dash.UID == "" || len(dash.Panels) < 10 {
		t.Fatalf("dashboard: title %q uid %q, %d panels", dash.Title, dash.UID, len(dash.Panels))
	}
	known := exported(t)
	ids := map[int]bool{}
	queried := map[string]bool{}
	for _, p := range dash.Panels {
		where := "panel " + p.Title
		if ids[p.ID] {
			t.Errorf("%s: id %d repeated", where, p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.X+p.GridPos.W > 24 || p.GridPos.W == 0 {
			t.Errorf("%s: gridPos %+v outside the 24 columns", where, p.GridPos)
		}
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("%s: no queries", where)
		}
		for _, tg := range p.Targets {
			checkExpr(t, where, tg.Expr, known)
			for _, m := range metricRef.FindAllStringSubmatch(tg.Expr, -1) {
				queried[m[1]] = true
			}
		}
	}
	// Every smppd metric appears on the dashboard somewhere.
	for name, kind := range known {
		if !strings.HasPrefix(name, "smppd_") {
			continue
		}
		if kind == "histogram" {
			if !queried[name+"_bucket"] && !queried[name+"_sum"] {
				t.Errorf("histogram %s is not on the dashboard", name)
			}
		} else if !queried[name] {
			t.Errorf("%s is not on the dashboard", name)
		}
	}
}
