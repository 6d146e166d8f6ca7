package callback

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/smppd/smppd/internal/msgstore"
	"github.com/smppd/smppd/pdu"
)

// TestEventJSON pins the wire form documented in doc.go and the README.
func TestEventJSON(t *testing.T) {
	var cb msgstore.Callback
	cb.Seq = 42
	cb.TokenID = "tok_8f3a"
	cb.Attempts = 0
	cb.Receipt.MessageID = 0x1000000000001c
	cb.Receipt.State = pdu.StateUndeliverable
	cb.Receipt.ErrCode = "001"
	cb.Receipt.DoneAt = time.Date(2026, 11, 30, 0, 41, 9, 500e6, time.UTC)
	m := &cb.Receipt.Message
	m.Source = pdu.Address{TON: 5, Addr: "ACME"}
	m.Dest = pdu.Address{TON: 1, NPI: 1, Addr: "34600000001"}
	m.SubmitAt = time.Date(2026, 11, 30, 1, 41, 7, 123e6, time.FixedZone("CET", 3600))
	m.TestMode = true
	m.Concat.Ref, m.Concat.Total, m.Concat.Part = 7, 2, 1

	hex := func(id uint64) string { return strconv.FormatUint(id, 16) }
	b := appendBatch(nil, []msgstore.Callback{cb}, "acme", hex)
	// The README example (a request carrying one event), byte for byte, and its
	// signature there.
	const want = `{"events":[{"event_id":"evt_1000000000001c_2a","type":"message.status","attempt":1,"message_id":"1000000000001c","token_id":"tok_8f3a","token_name":"acme","source":"ACME","destination":"34600000001","status":"UNDELIV","final":true,"error_code":"001","submitted_at":"2026-11-30T00:41:07.123Z","done_at":"2026-11-30T00:41:09.500Z","segment":{"ref":7,"total":2,"part":1},"test_mode":true}]}`
	if string(b) != want {
		t.Errorf("marshal() =\n%s\nwant\n%s", b, want)
	}
	const readmeSig = "t=1796000330,v1=262defe74cafd820f693b5d232c02b4cc659214d9bf4dee77c2bb56e9a8471db"
	if got := Sign("whsec_example", time.Unix(1796000330, 0), b); got != readmeSig {
		t.Errorf("Sign(README example) = %s, want %s", got, readmeSig)
	}

	// No HTML escaping: receivers compare raw strings.
	if b := appendBatch(nil, []msgstore.Callback{cb}, "a<b>&c", hex); !strings.Contains(string(b), `"token_name":"a<b>&c"`) {
		t.Errorf("marshal() escaped the token name: %s", b)
	}

	// Not multipart: no segment; intermediate state: final false; empty err: "000".
	cb.Receipt.Message.Concat.Total = 0
	cb.Receipt.State = pdu.StateEnroute
	cb.Receipt.ErrCode = ""
	ev := NewEvent(cb, "", func(uint64) string { return "x" })
	if ev.Segment != nil || ev.Final || ev.ErrorCode != "000" || ev.Status != "ENROUTE" {
		t.Errorf("NewEvent() = %+v, want no segment, final false, error_code 000, status ENROUTE", ev)
	}
}

// marshal is the reference encoding appendBatch must equal: encoding/json without HTML
// escaping.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), nil
}

// FuzzAppendBatch holds the sender's hand-written encoder to encoding/json's output
// for the documented types, byte for byte, whatever the strings hold (quotes,
// control characters, invalid UTF-8, U+2028) and whatever the numbers are.
func FuzzAppendBatch(f *testing.F) {
	f.Add("acme", "ACME", "34600000001", "001", uint64(0x1000000000001c), uint64(42), 0, byte(5), byte(2), uint16(7), byte(2), byte(1), true, int64(1796000330123))
	f.Add("a<b>&c \"q\" \\ \t\n\x00\x1f\x7f", "\xff\xfe", "\u2028\u2029 é 😀", "", uint64(0), uint64(0), 7, byte(0), byte(0), uint16(0), byte(1), byte(0), false, int64(0))
	f.Add("", "", "", "\b\f\r", ^uint64(0), ^uint64(0), 1<<30, byte(8), byte(255), uint16(65535), byte(255), byte(255), true, int64(-1))
	f.Fuzz(func(t *testing.T, name, src, dst, errCode string, msgID, seq uint64, attempts int, state, total byte, ref uint16, part, flags byte, test bool, ms int64) {
		if attempts < 0 || attempts > 1<<40 {
			attempts = 0
		}
		var cb msgstore.Callback
		cb.Seq, cb.TokenID, cb.Attempts = seq, name+"_id", attempts
		r := &cb.Receipt
		r.MessageID, r.State, r.ErrCode = msgID, pdu.MessageState(state), errCode
		if ms != 0 {
			r.DoneAt = time.UnixMilli(ms)
			r.Message.SubmitAt = time.UnixMilli(ms / 2).In(time.FixedZone("X", 3600))
		}
		r.Message.Source.Addr, r.Message.Dest.Addr = src, dst
		r.Message.Concat.Ref, r.Message.Concat.Total, r.Message.Concat.Part = ref, total, part
		r.Message.TestMode = test
		other := cb
		other.Seq++
		other.Receipt.Message.Concat.Total = flags
		cbs := []msgstore.Callback{cb, other}
		formatID := func(id uint64) string { return strconv.FormatUint(id, 10) + src[:min(len(src), 2)] }

		events := []Event{NewEvent(cb, name, formatID), NewEvent(other, name, formatID)}
		want, err := marshal(Batch{Events: events})
		if err != nil {
			t.Fatal(err)
		}
		got := appendBatch(nil, cbs, name, formatID)
		if !bytes.Equal(got, want) {
			t.Fatalf("appendBatch() =\n%s\nencoding/json:\n%s", got, want)
		}
		if !utf8.Valid(got) || !json.Valid(got) {
			t.Fatalf("appendBatch() wrote invalid JSON or UTF-8: %q", got)
		}
		if ids := string(appendEventIDs(nil, cbs)); ids != events[0].EventID+","+events[1].EventID {
			t.Fatalf("appendEventIDs() = %q, want the events' ids", ids)
		}
	})
}

// appendTime writes what the layout writes, at the edges of its fast path too.
func TestAppendTime(t *testing.T) {
	times := []time.Time{
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 6, 15, 12, 30, 0, 0, time.UTC),
		time.Date(2026, 11, 30, 0, 41, 7, 123456789, time.FixedZone("x", -5*3600-1800)),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		times = append(times, time.Unix(rng.Int64N(300<<30)-(100<<30), rng.Int64N(1e9)))
	}
	for _, tm := range times {
		if got, want := string(appendTime(nil, tm)), tm.UTC().Format(timeLayout); got != want {
			t.Fatalf("appendTime(%v) = %q, want %q", tm, got, want)
		}
	}
}

// BenchmarkAppendBatch encodes a full batch of MaxBatch events: the sender's JSON cost
// per request.
func BenchmarkAppendBatch(b *testing.B) {
	cbs := make([]msgstore.Callback, DefaultMaxBatch)
	for i := range cbs {
		c := &cbs[i]
		c.Seq, c.TokenID = uint64(i+1), "tok_8f3a"
		c.Receipt.MessageID, c.Receipt.State, c.Receipt.ErrCode = uint64(1<<32+i), pdu.StateDelivered, "000"
		c.Receipt.DoneAt = time.Date(2026, 11, 30, 0, 41, 9, 500e6, time.UTC)
		c.Receipt.Message.Source = pdu.Address{TON: 5, Addr: "ACME"}
		c.Receipt.Message.Dest = pdu.Address{TON: 1, NPI: 1, Addr: "34600000001"}
		c.Receipt.Message.SubmitAt = time.Date(2026, 11, 30, 0, 41, 7, 123e6, time.UTC)
		c.Receipt.Message.TestMode = true
	}
	format := func(id uint64) string { return strconv.FormatUint(id, 10) }
	buf := make([]byte, 0, 512*len(cbs))
	b.ReportAllocs()
	for b.Loop() {
		buf = appendBatch(buf[:0], cbs, "acme", format)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(cbs)), "ns/event")
}
