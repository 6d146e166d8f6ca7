package callback

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/smppd/smppd/internal/msgstore"
)

// EventType is the value of Event.Type for delivery reports. Receivers should ignore
// events of types they do not know: more may be added.
const EventType = "message.status"

// timeLayout is RFC 3339 in UTC with milliseconds, e.g. "2026-11-30T00:41:07.123Z".
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// Batch is the JSON body POSTed to a token's callback URL: {"events":[…]}, one to
// Sender.MaxBatch events, always wrapped so that receivers parse one format. Receivers
// handle each event on its own (dedupe on event_id); a 2xx acknowledges them all.
type Batch struct {
	Events []Event `json:"events"`
}

// Event is one delivery report, an element of Batch.Events; one per receipt.
// The field names are a public contract (README "HTTP delivery reports"): add, never rename.
type Event struct {
	// EventID is stable across retries of the same callback: receivers dedupe on it.
	EventID string `json:"event_id"`
	Type    string `json:"type"`
	// Attempt counts deliveries of this event, 1 for the first.
	Attempt int `json:"attempt"`

	MessageID   string `json:"message_id"` // as returned in submit_sm_resp
	TokenID     string `json:"token_id"`
	TokenName   string `json:"token_name"`
	Source      string `json:"source"`
	Destination string `json:"destination"`
	// Status is the Appendix B stat word: DELIVRD, EXPIRED, DELETED, UNDELIV, ACCEPTD,
	// UNKNOWN, REJECTD, or ENROUTE for an intermediate notification.
	Status string `json:"status"`
	// Final is false only for intermediate notifications (registered_delivery bit 0x10).
	Final bool `json:"final"`
	// ErrorCode is the Appendix B err field, three digits ("000" when delivered).
	ErrorCode   string   `json:"error_code"`
	SubmittedAt string   `json:"submitted_at"` // RFC 3339, UTC
	DoneAt      string   `json:"done_at"`      // RFC 3339, UTC: when the message reached Status
	Segment     *Segment `json:"segment,omitempty"`
	TestMode    bool     `json:"test_mode"`
}

// Segment describes one part of a concatenated (multipart) message; absent otherwise.
// Each part has its own message_id and its own callback.
type Segment struct {
	Ref   uint16 `json:"ref"`   // concatenation reference shared by all parts
	Total uint8  `json:"total"` // number of parts
	Part  uint8  `json:"part"`  // 1-based index of this part
}

// EventID returns the dedupe key of a queued callback: the message id and the queue
// sequence, both unique across restarts, so a new key never repeats an old one.
func EventID(messageID, seq uint64) string {
	return "evt_" + strconv.FormatUint(messageID, 16) + "_" + strconv.FormatUint(seq, 16)
}

// NewEvent builds the payload of a queued callback. formatID renders the message id
// the way submit_sm_resp did.
func NewEvent(cb msgstore.Callback, tokenName string, formatID func(uint64) string) Event {
	r := cb.Receipt
	m := r.Message
	ev := Event{
		EventID:     EventID(r.MessageID, cb.Seq),
		Type:        EventType,
		Attempt:     cb.Attempts + 1,
		MessageID:   formatID(r.MessageID),
		TokenID:     cb.TokenID,
		TokenName:   tokenName,
		Source:      m.Source.Addr,
		Destination: m.Dest.Addr,
		Status:      r.State.Stat(),
		Final:       r.State.Final(),
		ErrorCode:   r.ErrCode,
		SubmittedAt: formatTime(m.SubmitAt),
		DoneAt:      formatTime(r.DoneAt),
		TestMode:    m.TestMode,
	}
	if ev.ErrorCode == "" {
		ev.ErrorCode = "000"
	}
	if c := m.Concat; c.Total > 1 {
		ev.Segment = &Segment{Ref: c.Ref, Total: c.Total, Part: c.Part}
	}
	return ev
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// marshal encodes v without HTML escaping of <, > and & (addresses may contain them,
// and the escaped form only confuses receivers that compare raw strings).
func marshal(v any) ([]byte, error) {
	var b jsonBuffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b, []byte{'\n'}), nil
}

type jsonBuffer []byte

func (b *jsonBuffer) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }
