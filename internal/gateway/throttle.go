package gateway

import (
	"sync"
	"time"
)

// limiter is a token bucket: rate tokens a second, holding at most burst.
// A token's max_tps becomes the rate; the burst lets a client that sends a
// window's worth at once after a pause not be throttled for it (naive
// per-second counters cause the spurious ESME_RTHROTTLED that Jasmin users
// report, reference/smpp34.md complaint 4).
type limiter struct {
	mu     sync.Mutex
	rate   float64 // tokens per second; <= 0 means unlimited
	burst  float64
	tokens float64
	last   time.Time
}

func newLimiter(tps int) *limiter {
	l := &limiter{}
	l.setRate(tps)
	return l
}

// setRate changes the rate in place (a token update takes effect at once).
func (l *limiter) setRate(tps int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rate = float64(tps)
	l.burst = float64(burstFor(tps))
	if l.tokens > l.burst || l.last.IsZero() {
		l.tokens = l.burst
	}
}

// burstFor allows a second's worth of messages, and at least one.
func burstFor(tps int) int {
	if tps < 1 {
		return 1
	}
	return tps
}

// allow takes one token if there is one.
func (l *limiter) allow(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rate <= 0 {
		return true
	}
	if !l.last.IsZero() {
		l.tokens += now.Sub(l.last).Seconds() * l.rate
		if l.tokens > l.burst {
			l.tokens = l.burst
		}
	}
	l.last = now
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}
