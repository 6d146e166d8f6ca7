package bench

import "time"

// schedule is the open-loop send plan of one session: message k is due at
// phase + k*interval after the run started. Sessions get evenly spread phases
// so that the total offered load is smooth rather than N simultaneous bursts.
//
// Latency is measured from due, not from when the message actually went out,
// so if the server stalls and the window fills, the messages that wait for a
// slot carry that wait in their latency (no coordinated omission).
type schedule struct {
	interval float64 // ns between this session's messages
	phase    float64 // ns
}

// newSchedule splits a total rate (messages/s) across sessions; session i of n
// starts i/n of an interval late.
func newSchedule(totalRate float64, i, n int) schedule {
	perSession := totalRate / float64(n)
	interval := float64(time.Second) / perSession
	return schedule{interval: interval, phase: interval * float64(i) / float64(n)}
}

// due is when message k should be sent, in ns since the run started.
func (s schedule) due(k int64) int64 {
	return int64(s.phase + float64(k)*s.interval)
}
