package callback

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// classify maps an HTTP status code to a Result.
func classify(code int) Result {
	switch {
	case code >= 200 && code < 300:
		return ResultSuccess
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests:
		return ResultThrottled
	case code >= 500:
		return ResultServerError
	default:
		return ResultClientError
	}
}

// backoff returns the delay before retry number attempts (1 for the first retry):
// exponential growth from base, capped at max, with full jitter (uniform in [0, cap])
// so that receivers recovering from an outage are not hit by synchronized waves.
func backoff(attempts int, base, max time.Duration) time.Duration {
	d := base
	for i := 1; i < attempts && d < max; i++ {
		d *= 2
	}
	if d > max || d <= 0 {
		d = max
	}
	return rand.N(d + 1)
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date
// (RFC 9110 §10.2.3). ok is false when absent or unparsable; a date in the past is 0.
func parseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64(365*24*time.Hour/time.Second) {
			n = int64(365 * 24 * time.Hour / time.Second)
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
