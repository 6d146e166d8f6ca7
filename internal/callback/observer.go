package callback

import "time"

// Result classifies one HTTP attempt. Its String() is a bounded metric label.
type Result uint8

const (
	ResultSuccess     Result = iota // 2xx
	ResultClientError               // 4xx other than 408 and 429, and 1xx/3xx: given up after a few tries
	ResultThrottled                 // 408 or 429: retried, honouring Retry-After
	ResultServerError               // 5xx: retried, honouring Retry-After
	ResultTimeout                   // no answer within Sender.RequestTimeout
	ResultNetwork                   // connection refused, reset, dropped, DNS, TLS…
	ResultInternal                  // not sent: token lookup or request building failed
)

var resultNames = [...]string{"success", "client_error", "throttled", "server_error", "timeout", "network_error", "internal_error"}

func (r Result) String() string {
	if int(r) < len(resultNames) {
		return resultNames[r]
	}
	return "unknown"
}

// retryable reports whether an attempt with this result is tried again (within the retry window).
func (r Result) retryable() bool {
	switch r {
	case ResultThrottled, ResultServerError, ResultTimeout, ResultNetwork, ResultInternal:
		return true
	}
	return false
}

// GiveUpReason says why a callback was abandoned. Its String() is a bounded metric label.
type GiveUpReason uint8

const (
	GiveUpExpired     GiveUpReason = iota // retried for Sender.RetryFor without a 2xx
	GiveUpClientError                     // MaxClientErrorAttempts attempts, the last a 4xx
	GiveUpNoToken                         // the token is gone (Tokens returned ErrTokenNotFound)
	GiveUpNoURL                           // the token has no callback URL any more, or it is not a valid http(s) URL
)

var giveUpNames = [...]string{"expired", "client_error", "token_not_found", "no_url"}

func (g GiveUpReason) String() string {
	if int(g) < len(giveUpNames) {
		return giveUpNames[g]
	}
	return "unknown"
}

// Observer receives the sender's metrics events. The sender calls it from its worker
// goroutines, concurrently; implementations must be cheap and must not block.
// internal/callback imports no metrics library: internal/metrics implements this.
// The names carry a Callback prefix so that one metrics type can implement this and
// the gateway's observer side by side.
type Observer interface {
	// CallbackAttempt is called once per HTTP attempt (not for ResultInternal) with its
	// duration from request start to response headers (or failure).
	CallbackAttempt(r Result, d time.Duration)
	// CallbackRetry is called when a callback is rescheduled after an attempt with result r.
	CallbackRetry(r Result)
	// CallbackDeferred is called when a due callback is pushed back without an attempt because
	// its receiver host already has Sender.PerHost requests in flight and others wait.
	CallbackDeferred()
	// CallbackGiveUp is called when a callback is abandoned and recorded as given up.
	CallbackGiveUp(reason GiveUpReason)
	// CallbackDelivered is called when a callback is acknowledged, with the time from the
	// receipt being queued to the 2xx (end-to-end latency, retries included).
	CallbackDelivered(sinceQueued time.Duration)
}

type nopObserver struct{}

func (nopObserver) CallbackAttempt(Result, time.Duration) {}
func (nopObserver) CallbackRetry(Result)                  {}
func (nopObserver) CallbackDeferred()                     {}
func (nopObserver) CallbackGiveUp(GiveUpReason)           {}
func (nopObserver) CallbackDelivered(time.Duration)       {}
