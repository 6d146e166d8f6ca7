package bench

import (
	"slices"
	"testing"
	"time"
)

func TestScheduleSpreadsTotalRate(t *testing.T) {
	// 1000/s over 4 sessions: every session sends each 4 ms, phases 1 ms
	// apart, so the merged plan is one message per millisecond.
	const n = 4
	var all []int64
	for i := range n {
		s := newSchedule(1000, i, n)
		for k := range int64(250) {
			all = append(all, s.due(k))
		}
	}
	slices.Sort(all)
	if len(all) != 1000 {
		t.Fatalf("got %d due times, want 1000", len(all))
	}
	for i, d := range all {
		want := int64(i) * int64(time.Millisecond)
		if d != want {
			t.Fatalf("due time %d = %v, want %v", i, time.Duration(d), time.Duration(want))
		}
	}
}

func TestScheduleFractionalInterval(t *testing.T) {
	// 3/s does not divide a second into whole nanoseconds; due times must not
	// drift: message 3k is due at exactly k seconds (to the nanosecond).
	s := newSchedule(3, 0, 1)
	for k := int64(0); k <= 3000; k += 3 {
		want := k / 3 * int64(time.Second)
		if got := s.due(k); got < want-1 || got > want+1 {
			t.Fatalf("due(%d) = %d, want %d", k, got, want)
		}
	}
}
