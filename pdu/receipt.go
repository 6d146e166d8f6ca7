package pdu

import (
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// Errors of the receipt text builder and parser.
var (
	// ErrReceiptField means a Receipt cannot be written in Appendix B form:
	// sub or dlvrd outside 0..999, err longer than 3 characters, an id with
	// a space, or a zero date.
	ErrReceiptField = errors.New("pdu: receipt field out of range")
	// ErrNotReceipt means the text carries no id: or no known stat: and so
	// is not a delivery receipt.
	ErrNotReceipt = errors.New("pdu: not a delivery receipt")
)

// receiptDate is the Appendix B date layout, YYMMDDhhmm.
const receiptDate = "0601021504"

// ReceiptTextMax is how many characters of the original message a receipt's
// text: field carries.
const ReceiptTextMax = 20

// Receipt is the delivery receipt text of SMPP 3.4 Appendix B, carried in
// the short_message of a deliver_sm with esm_class 0x04:
//
//	id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E Text:...
type Receipt struct {
	ID         string    // message id as the SMSC gave it in submit_sm_resp; any form
	Sub, Dlvrd int       // messages submitted and delivered, 0..999
	SubmitDate time.Time // minute precision on the wire (YYMMDDhhmm); the parser also accepts YYMMDDhhmmss
	DoneDate   time.Time
	Stat       MessageState
	Err        string // network-specific error, at most 3 characters, e.g. "000"
	Text       string // the first ReceiptTextMax characters of the message
}

// AppendText appends the receipt text to b in the strict Appendix B form:
// 3-digit sub and dlvrd, YYMMDDhhmm dates in the dates' own location, the
// 7-letter stat word, err padded to "000" when empty, and Text cut to its
// first 20 characters (the cut is the builder's job, not an error).
func (r Receipt) AppendText(b []byte) ([]byte, error) {
	switch {
	case r.ID == "" || containsSpaceOrNUL(r.ID):
		return b, fmt.Errorf("%w: id %q", ErrReceiptField, r.ID)
	case r.Sub < 0 || r.Sub > 999:
		return b, fmt.Errorf("%w: sub %d", ErrReceiptField, r.Sub)
	case r.Dlvrd < 0 || r.Dlvrd > 999:
		return b, fmt.Errorf("%w: dlvrd %d", ErrReceiptField, r.Dlvrd)
	case r.SubmitDate.IsZero() || r.DoneDate.IsZero():
		return b, fmt.Errorf("%w: zero date", ErrReceiptField)
	case len(r.Err) > 3 || containsSpaceOrNUL(r.Err):
		return b, fmt.Errorf("%w: err %q", ErrReceiptField, r.Err)
	}
	errCode := r.Err
	if errCode == "" {
		errCode = "000"
	}
	b = append(b, "id:"...)
	b = append(b, r.ID...)
	b = append(b, " sub:"...)
	b = appendDigits3(b, r.Sub)
	b = append(b, " dlvrd:"...)
	b = appendDigits3(b, r.Dlvrd)
	b = append(b, " submit date:"...)
	b = r.SubmitDate.AppendFormat(b, receiptDate)
	b = append(b, " done date:"...)
	b = r.DoneDate.AppendFormat(b, receiptDate)
	b = append(b, " stat:"...)
	b = append(b, r.Stat.Stat()...)
	b = append(b, " err:"...)
	b = append(b, errCode...)
	b = append(b, " Text:"...)
	b = append(b, truncateRunes(r.Text, ReceiptTextMax)...)
	return b, nil
}

func appendDigits3(b []byte, n int) []byte {
	return append(b, byte('0'+n/100), byte('0'+n/10%10), byte('0'+n%10))
}

func containsSpaceOrNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' || s[i] == 0 {
			return true
		}
	}
	return false
}

// truncateRunes returns the first n characters of s; invalid UTF-8 counts
// one character per byte.
func truncateRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// receiptKey is one field name the parser recognises.
type receiptKey uint8

const (
	keyNone receiptKey = iota
	keyID
	keySub
	keyDlvrd
	keySubmitDate
	keyDoneDate
	keyStat
	keyErr
	keyText
)

// receiptKeys lists the spellings peers use, lower case, colon included.
var receiptKeys = [...]struct {
	name string
	key  receiptKey
}{
	{"id:", keyID},
	{"sub:", keySub},
	{"dlvrd:", keyDlvrd},
	{"submit date:", keySubmitDate},
	{"submit_date:", keySubmitDate},
	{"submitdate:", keySubmitDate},
	{"done date:", keyDoneDate},
	{"done_date:", keyDoneDate},
	{"donedate:", keyDoneDate},
	{"stat:", keyStat},
	{"err:", keyErr},
	{"text:", keyText},
}

// keyAt reports the key starting at s[i] (ASCII case-insensitive) and its
// length. A key counts only at the start of s or after a space.
func keyAt(s []byte, i int) (receiptKey, int) {
	if i > 0 && s[i-1] != ' ' {
		return keyNone, 0
	}
	for _, k := range receiptKeys {
		if len(s)-i >= len(k.name) && equalFoldASCII(s[i:i+len(k.name)], k.name) {
			return k.key, len(k.name)
		}
	}
	return keyNone, 0
}

func equalFoldASCII(b []byte, lower string) bool {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// ParseReceipt reads a delivery receipt text, tolerating what peers send:
// fields in any order, keys in any letter case (text: or Text:,
// submit_date: for submit date:), missing sub, dlvrd, dates, err and text,
// dates of 10 or 12 digits, full state names (DELIVERED) for stat words, and
// message ids of any form (hex, decimal with leading zeros, UUIDs), kept
// verbatim. The text field runs to the end of the input, except that a key
// not yet seen ends it, so a receipt that puts text: first still parses.
// Values that do not parse (a sub of "abc", a date of "yesterday") are left
// zero rather than failing the whole receipt; only a missing id: or an
// unknown stat: word give ErrNotReceipt. Dates are taken as UTC.
func ParseReceipt(b []byte) (Receipt, error) {
	var (
		r           Receipt
		seen        [keyText + 1]bool
		cur         = keyNone
		valStart    int
		haveStat    bool
		statUnknown bool
	)
	finish := func(end int) {
		if cur == keyNone {
			return
		}
		v := b[valStart:end]
		if cur != keyText {
			v = trimSpaces(v)
		} else {
			v = trimTrailingSpaces(trimLeadingSpace(v))
		}
		switch cur {
		case keyID:
			r.ID = string(v)
		case keySub:
			r.Sub, _ = parseSmallInt(v)
		case keyDlvrd:
			r.Dlvrd, _ = parseSmallInt(v)
		case keySubmitDate:
			r.SubmitDate = parseReceiptDate(v)
		case keyDoneDate:
			r.DoneDate = parseReceiptDate(v)
		case keyStat:
			st, ok := StateFromStat(string(v))
			r.Stat, haveStat, statUnknown = st, true, !ok
		case keyErr:
			r.Err = string(v)
		case keyText:
			r.Text = string(v)
		}
	}
	for i := 0; i < len(b); i++ {
		k, n := keyAt(b, i)
		if k == keyNone || seen[k] {
			continue
		}
		finish(i)
		seen[k] = true
		cur = k
		valStart = i + n
		i += n - 1
	}
	finish(len(b))
	if r.ID == "" {
		return Receipt{}, fmt.Errorf("%w: no id", ErrNotReceipt)
	}
	if !haveStat || statUnknown {
		return Receipt{}, fmt.Errorf("%w: no known stat", ErrNotReceipt)
	}
	return r, nil
}

func trimSpaces(v []byte) []byte { return trimTrailingSpaces(trimLeadingSpaces(v)) }

func trimLeadingSpaces(v []byte) []byte {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	return v
}

// trimLeadingSpace drops the one space some peers put after "text:".
func trimLeadingSpace(v []byte) []byte {
	if len(v) > 0 && v[0] == ' ' {
		return v[1:]
	}
	return v
}

func trimTrailingSpaces(v []byte) []byte {
	for len(v) > 0 {
		switch v[len(v)-1] {
		case ' ', '\t', '\r', '\n', 0:
			v = v[:len(v)-1]
			continue
		}
		break
	}
	return v
}

func parseSmallInt(v []byte) (int, bool) {
	if len(v) == 0 || len(v) > 9 {
		return 0, false
	}
	n, err := strconv.Atoi(string(v))
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

func parseReceiptDate(v []byte) time.Time {
	layout := ""
	switch len(v) {
	case 10:
		layout = receiptDate
	case 12:
		layout = "060102150405"
	default:
		return time.Time{}
	}
	if !utf8.Valid(v) {
		return time.Time{}
	}
	t, err := time.ParseInLocation(layout, string(v), time.UTC)
	if err != nil {
		return time.Time{}
	}
	return t
}
