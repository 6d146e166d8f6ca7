package pdu

import (
	"bytes"
	"unsafe"
)

// Field size limits of SMPP 3.4, in octets including the NUL of a C-string.
const (
	maxSystemID        = 16
	maxPasswordLenient = 65 // spec: 9; up to 64 characters accepted both ways, the token store decides
	maxSystemType      = 13
	maxAddressRange    = 41
	maxServiceType     = 6
	maxAddr            = 21
	maxAddr65          = 65 // data_sm and alert_notification addresses
	maxTime            = 17
	maxMessageID       = 65
	maxShortMessage    = 254
	maxDLName          = 21
)

// readCString reads the C-string at b[off:] of at most max octets including
// its NUL and returns its content (aliasing b) and the offset after the NUL.
// It fails with ErrFieldTooLong when no NUL lies within max octets, and with
// ErrCStringNoNUL when b ends first.
func readCString(b []byte, off, max int) ([]byte, int, error) {
	if off > len(b) {
		return nil, off, ErrTruncated
	}
	win := b[off:]
	tooLong := false
	if len(win) > max {
		win = win[:max]
		tooLong = true
	}
	i := bytes.IndexByte(win, 0)
	if i < 0 {
		if tooLong {
			return nil, off, ErrFieldTooLong
		}
		if len(win) == 0 {
			return nil, off, ErrTruncated
		}
		return nil, off, ErrCStringNoNUL
	}
	return win[:i:i], off + i + 1, nil
}

// decoder reads the fields of one body in order. The first failure sticks
// and later reads return zero values, so a body decoder reads straight
// through and checks d.err once at the end.
//
// The body is copied once into own; strings alias own through unsafe.String
// and octet strings (short_message, TLV values) are sub-slices of own. The
// string regions (C-string contents) and the octet-string regions never
// overlap, and own is not reachable as []byte except through those octet
// slices, so the strings stay immutable. That makes a decoded submit_sm cost
// one allocation for all its fields instead of one per field.
type decoder struct {
	id  CommandID
	own []byte
	off int
	err error
}

// fieldTrace, when set, is called with the span of every field the decoder
// reads. Only the golden-file test sets it, to annotate the hex dumps; it is
// nil in production and costs one nil check per field.
var fieldTrace func(field string, kind byte, start, end int)

// mark reports a field to fieldTrace; kind is 'c' for a C-string, 'i' for
// an integer, 'o' for an octet string.
func (d *decoder) mark(field string, kind byte, start int) {
	if fieldTrace != nil && d.err == nil {
		fieldTrace(field, kind, start, d.off)
	}
}

func newDecoder(id CommandID, body []byte) decoder {
	var own []byte
	if len(body) > 0 {
		own = make([]byte, len(body))
		copy(own, body)
	}
	return decoder{id: id, own: own}
}

func (d *decoder) fail(field string, off int, err error) {
	if d.err == nil {
		d.err = &Error{ID: d.id, Field: field, Off: off, Err: err}
	}
}

func str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func (d *decoder) cstring(field string, max int) string {
	return str(d.cbytes(field, max))
}

// cbytes reads a C-string and returns its content (without NUL) aliasing
// the decoder's buffer.
func (d *decoder) cbytes(field string, max int) []byte {
	if d.err != nil {
		return nil
	}
	v, off, err := readCString(d.own, d.off, max)
	if err != nil {
		d.fail(field, d.off, err)
		return nil
	}
	start := d.off
	d.off = off
	d.mark(field, 'c', start)
	return v
}

// time reads an absolute or relative time field: empty or exactly 16
// characters ending in '+', '-' or 'R' (section 7.1).
func (d *decoder) time(field string) string { return str(d.timeBytes(field)) }

func (d *decoder) timeBytes(field string) []byte {
	start := d.off
	b := d.cbytes(field, maxTime)
	if d.err == nil && !validTime(str(b)) {
		d.fail(field, start, ErrInvalidField)
		return nil
	}
	return b
}

func validTime(s string) bool {
	if s == "" {
		return true
	}
	if len(s) != 16 {
		return false
	}
	for i := 0; i < 12; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	switch s[15] {
	case '+', '-', 'R':
		return true
	}
	return false
}

func (d *decoder) u8(field string) uint8 {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.own) {
		d.fail(field, d.off, ErrTruncated)
		return 0
	}
	v := d.own[d.off]
	d.off++
	d.mark(field, 'i', d.off-1)
	return v
}

func (d *decoder) u32(field string) uint32 {
	if d.err != nil {
		return 0
	}
	if len(d.own)-d.off < 4 {
		d.fail(field, d.off, ErrTruncated)
		return 0
	}
	b := d.own[d.off:]
	d.off += 4
	d.mark(field, 'i', d.off-4)
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// addr reads a (ton, npi, address) triple; errors name the address field.
func (d *decoder) addr(field string, max int) Address {
	var a Address
	if fieldTrace == nil {
		a.TON = TON(d.u8(field))
		a.NPI = NPI(d.u8(field))
	} else {
		a.TON = TON(d.u8(field + " ton"))
		a.NPI = NPI(d.u8(field + " npi"))
	}
	a.Addr = d.cstring(field, max)
	return a
}

// shortMessage reads sm_length and short_message. A nil slice stands for
// an empty message.
func (d *decoder) shortMessage() []byte {
	n := int(d.u8("sm_length"))
	if d.err != nil {
		return nil
	}
	if n > len(d.own)-d.off {
		d.fail("short_message", d.off, ErrSMLength)
		return nil
	}
	if n == 0 {
		return nil
	}
	v := d.own[d.off : d.off+n : d.off+n]
	d.off += n
	d.mark("short_message", 'o', d.off-n)
	return v
}

// tlvs decodes the rest of the body as the optional part.
func (d *decoder) tlvs() TLVs {
	if d.err != nil || d.off >= len(d.own) {
		return nil
	}
	ts, err := decodeTLVs(d.own[d.off:], d.off, d.id)
	if err != nil {
		d.err = err
		return nil
	}
	if fieldTrace != nil {
		off := d.off
		for _, tv := range ts {
			fieldTrace("tlv "+tv.Tag.String(), 't', off, off+4+len(tv.Value))
			off += 4 + len(tv.Value)
		}
	}
	d.off = len(d.own)
	return ts
}

// done reports the sticky error, or ErrTrailingBytes when the body holds
// more than the command's fields.
func (d *decoder) done() error {
	if d.err == nil && d.off != len(d.own) {
		d.fail("body", d.off, ErrTrailingBytes)
	}
	return d.err
}

// encoder appends fields; the first failure sticks, like decoder.
type encoder struct {
	id  CommandID
	b   []byte
	err error
}

func (e *encoder) fail(field string, err error) {
	if e.err == nil {
		e.err = &Error{ID: e.id, Field: field, Err: err}
	}
}

func (e *encoder) cstring(field, s string, max int) {
	if len(s)+1 > max {
		e.fail(field, ErrFieldTooLong)
		return
	}
	if containsNUL(s) {
		e.fail(field, ErrInvalidField)
		return
	}
	e.b = append(e.b, s...)
	e.b = append(e.b, 0)
}

func containsNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}

func (e *encoder) time(field, s string) {
	if !validTime(s) {
		e.fail(field, ErrInvalidField)
		return
	}
	e.cstring(field, s, maxTime)
}

func (e *encoder) u8(v uint8) { e.b = append(e.b, v) }

func (e *encoder) u32(v uint32) {
	e.b = append(e.b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func (e *encoder) addr(field string, a Address, max int) {
	e.b = append(e.b, byte(a.TON), byte(a.NPI))
	e.cstring(field, a.Addr, max)
}

func (e *encoder) shortMessage(sm []byte) {
	if len(sm) > maxShortMessage {
		e.fail("short_message", ErrFieldTooLong)
		return
	}
	e.b = append(e.b, byte(len(sm)))
	e.b = append(e.b, sm...)
}

func (e *encoder) tlvs(ts TLVs) {
	if e.err != nil {
		return
	}
	e.b, e.err = appendTLVs(e.b, e.id, ts)
}

func (e *encoder) result() ([]byte, error) { return e.b, e.err }
