package callback

import (
	"strconv"
	"time"
	"unicode/utf8"

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

// appendBatch appends the JSON of Batch{Events: NewEvent(c, tokenName, formatID) for
// each c of cbs} to b, byte for byte what encoding/json writes for it without HTML
// escaping (FuzzAppendBatch holds it to that), without building the Events: the sender
// encodes one per report, and reflection was most of its per-report cost.
func appendBatch(b []byte, cbs []msgstore.Callback, tokenName string, formatID func(uint64) string) []byte {
	b = append(b, `{"events":[`...)
	for i := range cbs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendEvent(b, &cbs[i], tokenName, formatID)
	}
	return append(b, "]}"...)
}

// appendEvent appends one event, fields in Event's order.
func appendEvent(b []byte, cb *msgstore.Callback, tokenName string, formatID func(uint64) string) []byte {
	r := &cb.Receipt
	m := &r.Message
	b = append(b, `{"event_id":"`...)
	b = appendEventID(b, r.MessageID, cb.Seq)
	b = append(b, `","type":"`+EventType+`","attempt":`...)
	b = strconv.AppendInt(b, int64(cb.Attempts)+1, 10)
	b = appendField(b, "message_id", formatID(r.MessageID))
	b = appendField(b, "token_id", cb.TokenID)
	b = appendField(b, "token_name", tokenName)
	b = appendField(b, "source", m.Source.Addr)
	b = appendField(b, "destination", m.Dest.Addr)
	b = appendField(b, "status", r.State.Stat())
	b = append(b, `,"final":`...)
	b = strconv.AppendBool(b, r.State.Final())
	errCode := r.ErrCode
	if errCode == "" {
		errCode = "000"
	}
	b = appendField(b, "error_code", errCode)
	b = appendTimeField(b, "submitted_at", m.SubmitAt)
	b = appendTimeField(b, "done_at", r.DoneAt)
	if c := m.Concat; c.Total > 1 {
		b = append(b, `,"segment":{"ref":`...)
		b = strconv.AppendUint(b, uint64(c.Ref), 10)
		b = append(b, `,"total":`...)
		b = strconv.AppendUint(b, uint64(c.Total), 10)
		b = append(b, `,"part":`...)
		b = strconv.AppendUint(b, uint64(c.Part), 10)
		b = append(b, '}')
	}
	b = append(b, `,"test_mode":`...)
	b = strconv.AppendBool(b, m.TestMode)
	return append(b, '}')
}

// appendEventID appends EventID(messageID, seq).
func appendEventID(b []byte, messageID, seq uint64) []byte {
	b = append(b, "evt_"...)
	b = strconv.AppendUint(b, messageID, 16)
	b = append(b, '_')
	return strconv.AppendUint(b, seq, 16)
}

// appendField appends `,"name":` and v as a JSON string.
func appendField(b []byte, name, v string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendJSONString(b, v)
}

// appendTimeField appends a time field as formatTime does: "" for the zero time.
func appendTimeField(b []byte, name string, t time.Time) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, `":"`...)
	if !t.IsZero() {
		b = appendTime(b, t)
	}
	return append(b, '"')
}

// appendTime appends t.UTC().AppendFormat(b, timeLayout), digit by digit for years
// 0–9999: interpreting the layout took half of an event's encoding time.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return t.AppendFormat(b, timeLayout)
	}
	h, mi, s := t.Clock()
	ms := t.Nanosecond() / 1e6 // truncated, as the layout's .000 does
	return append(b,
		byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+int(mo)/10), byte('0'+int(mo)%10), '-', byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':',
		byte('0'+s/10), byte('0'+s%10), '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted as encoding/json does with HTML escaping off:
// '"' and '\' escaped, control characters as \b \f \n \r \t or \u00XX, invalid
// UTF-8 as \ufffd, and U+2028 and U+2029 escaped (JavaScript line terminators).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendEventIDs appends the Smppd-Event-Id header value of cbs: their event ids,
// comma-separated, in body order.
func appendEventIDs(b []byte, cbs []msgstore.Callback) []byte {
	for i := range cbs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendEventID(b, cbs[i].Receipt.MessageID, cbs[i].Seq)
	}
	return b
}
