package callback

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header names set on every callback request.
const (
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256>" where the MAC is
	// computed with the token's callback secret over "<t>.<raw body>".
	SignatureHeader = "Smppd-Signature"
	// EventIDHeader lists the event_id of every event in the body, comma-separated in
	// body order, so that a receiver can drop a duplicate delivery before parsing it.
	EventIDHeader = "Smppd-Event-Id"
)

// DefaultTolerance is the largest clock difference Verify accepts between the signed
// timestamp and the receiver's clock when the caller passes a tolerance of zero.
const DefaultTolerance = 5 * time.Minute

// Errors returned by Verify.
var (
	// ErrNoSignature: the header is missing, malformed, or has no v1 signature.
	ErrNoSignature = errors.New("callback: no valid signature header")
	// ErrTimestamp: the signed timestamp is outside the tolerance (a replay or a skewed clock).
	ErrTimestamp = errors.New("callback: signature timestamp outside tolerance")
	// ErrSignatureMismatch: no v1 signature in the header matches the body and secret.
	ErrSignatureMismatch = errors.New("callback: signature mismatch")
)

// Sign returns the SignatureHeader value for body signed with secret at time t. The
// secret is used exactly as shown at token creation, "whsec_" prefix included.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a SignatureHeader value against the raw request body, as a receiver
// must before trusting a callback. The header may carry several v1 entries (any one
// matching is enough) and unknown keys, which are ignored so that the scheme can grow.
// tolerance bounds |now - t|; zero means DefaultTolerance, a negative value disables
// the check (tests only: without it a captured request can be replayed forever).
func Verify(secret, header string, body []byte, tolerance time.Duration) error {
	return verifyAt(secret, header, body, tolerance, time.Now())
}

func verifyAt(secret, header string, body []byte, tolerance time.Duration, now time.Time) error {
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil && len(b) == sha256.Size {
				sigs = append(sigs, b)
			}
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrNoSignature
	}
	if tolerance == 0 {
		tolerance = DefaultTolerance
	}
	if tolerance > 0 {
		if d := now.Sub(time.Unix(unix, 0)); d > tolerance || d < -tolerance {
			return fmt.Errorf("%w: signed %s ago", ErrTimestamp, d.Round(time.Second))
		}
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return ErrSignatureMismatch
}
