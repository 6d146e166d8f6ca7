package msgstore

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/smppd/smppd/pdu"
)

// Record encodings: a version byte, then the fields in a fixed order, append-style. Integers are
// uvarints, strings and byte slices are a uvarint length and the bytes, times are zig-zag varints
// of Unix nanoseconds with 0 standing for the zero time. Adding a field means a new version byte
// and a decoder that still reads the old one.
const (
	messageVersion  = 1
	receiptVersion  = 1
	callbackVersion = 1
)

// Limits checked before a value is queued, far above anything SMPP carries, so that a record is
// always decodable and always fits a bbolt value.
const (
	maxToken  = 255      // token ids: one length byte in receipt keys
	maxString = 1 << 10  // addresses, service types, error codes, URLs
	maxBytes  = 64 << 10 // Body (a PDU body is capped at 64 KiB by the reader) and Text
)

// Message flag bits.
const (
	flagTestMode = 1 << iota
	flagOutbox
	flagFinal
)

// minTime and maxTime bound the times a record can hold (int64 nanoseconds since 1970).
var (
	minTime = time.Unix(0, math.MinInt64+1)
	maxTime = time.Unix(0, math.MaxInt64)
)

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func appendTime(b []byte, t time.Time) []byte { return binary.AppendVarint(b, unixNano(t)) }

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendAddress(b []byte, a pdu.Address) []byte {
	b = append(b, byte(a.TON), byte(a.NPI))
	return appendString(b, a.Addr)
}

// checkTime reports whether t is representable.
func checkTime(name string, t time.Time) error {
	if t.IsZero() || (!t.Before(minTime) && !t.After(maxTime)) {
		return nil
	}
	return fmt.Errorf("%w: %s %v out of range", ErrInvalid, name, t)
}

func checkString(name, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%w: %s is %d bytes, max %d", ErrInvalid, name, len(s), max)
	}
	return nil
}

// validate checks what the encoding needs: a non-zero id, a token, bounded fields, times in range.
func (m *Message) validate() error {
	if m.ID == 0 {
		return fmt.Errorf("%w: message id 0", ErrInvalid)
	}
	if m.TokenID == "" {
		return fmt.Errorf("%w: empty token id", ErrInvalid)
	}
	if err := checkString("token id", m.TokenID, maxToken); err != nil {
		return err
	}
	for _, c := range []struct {
		name string
		s    string
	}{{"source", m.Source.Addr}, {"destination", m.Dest.Addr},
		{"service type", m.ServiceType}, {"error code", m.ErrCode}} {
		if err := checkString(c.name, c.s, maxString); err != nil {
			return err
		}
	}
	if len(m.Body) > maxBytes || len(m.Text) > maxBytes {
		return fmt.Errorf("%w: body %d / text %d bytes, max %d", ErrInvalid, len(m.Body), len(m.Text), maxBytes)
	}
	for _, c := range []struct {
		name string
		t    time.Time
	}{{"SubmitAt", m.SubmitAt}, {"ScheduleAt", m.ScheduleAt}, {"ExpireAt", m.ExpireAt},
		{"DoneAt", m.DoneAt}, {"DueAt", m.DueAt}} {
		if err := checkTime(c.name, c.t); err != nil {
			return err
		}
	}
	return nil
}

// AppendBinary appends the record encoding of m to b. It does not validate; Submit does.
func (m *Message) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, messageVersion)
	b = binary.AppendUvarint(b, m.ID)
	b = appendString(b, m.TokenID)
	var flags byte
	if m.TestMode {
		flags |= flagTestMode
	}
	if m.Outbox {
		flags |= flagOutbox
	}
	if m.Final {
		flags |= flagFinal
	}
	b = append(b, flags)
	b = appendAddress(b, m.Source)
	b = appendAddress(b, m.Dest)
	b = appendString(b, m.ServiceType)
	b = append(b, m.ESMClass, m.ProtocolID, m.PriorityFlag, m.RegisteredDelivery,
		byte(m.DataCoding), byte(m.State))
	b = appendBytes(b, m.Body)
	b = appendBytes(b, m.Text)
	b = binary.BigEndian.AppendUint16(b, m.Concat.Ref)
	b = append(b, m.Concat.Total, m.Concat.Part)
	b = appendTime(b, m.SubmitAt)
	b = appendTime(b, m.ScheduleAt)
	b = appendTime(b, m.ExpireAt)
	b = appendTime(b, m.DoneAt)
	b = appendTime(b, m.DueAt)
	b = appendString(b, m.ErrCode)
	b = append(b, m.NetworkError[:]...)
	return b, nil
}

// decoder reads a record with a sticky error: after the first failure every read returns zero
// values, and err says where it went wrong. It never panics on input.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(field string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at offset %d", ErrCorrupt, field, d.off)
	}
}

func (d *decoder) byte(field string) byte {
	if d.err != nil || d.off >= len(d.b) {
		d.fail(field)
		return 0
	}
	v := d.b[d.off]
	d.off++
	return v
}

func (d *decoder) uvarint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail(field)
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint(field string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.fail(field)
		return 0
	}
	d.off += n
	return v
}

// raw returns the next length-prefixed bytes, aliasing the input.
func (d *decoder) raw(field string, max int) []byte {
	n := d.uvarint(field)
	if d.err != nil {
		return nil
	}
	if n > uint64(max) || n > uint64(len(d.b)-d.off) {
		d.fail(field)
		return nil
	}
	v := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return v
}

func (d *decoder) string(field string, max int) string { return string(d.raw(field, max)) }

// stringOr is string, returning known without a copy when the value is known (a reader that asked
// for one token's records knows their token id).
func (d *decoder) stringOr(field string, max int, known string) string {
	if v := d.raw(field, max); string(v) != known {
		return string(v)
	}
	return known
}

// bytes returns a copy (nil when empty): values must outlive the bbolt transaction.
func (d *decoder) bytes(field string, max int) []byte {
	v := d.raw(field, max)
	if len(v) == 0 {
		return nil
	}
	return append([]byte(nil), v...)
}

func (d *decoder) time(field string) time.Time {
	n := d.varint(field)
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func (d *decoder) address(field string) pdu.Address {
	ton := d.byte(field)
	npi := d.byte(field)
	return pdu.Address{TON: pdu.TON(ton), NPI: pdu.NPI(npi), Addr: d.string(field, maxString)}
}

func (d *decoder) end() error {
	if d.err == nil && d.off != len(d.b) {
		d.fail("trailing bytes")
	}
	return d.err
}

// UnmarshalBinary decodes a record written by AppendBinary into m. Strings and byte slices are
// copies, not views of b.
func (m *Message) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	if err := m.decode(&d); err != nil {
		return err
	}
	return d.end()
}

func (m *Message) decode(d *decoder) error {
	if v := d.byte("version"); d.err == nil && v != messageVersion {
		return fmt.Errorf("%w: message record version %d", ErrCorrupt, v)
	}
	var n Message
	n.ID = d.uvarint("id")
	n.TokenID = d.string("token id", maxString)
	flags := d.byte("flags")
	n.TestMode = flags&flagTestMode != 0
	n.Outbox = flags&flagOutbox != 0
	n.Final = flags&flagFinal != 0
	n.Source = d.address("source")
	n.Dest = d.address("destination")
	n.ServiceType = d.string("service type", maxString)
	n.ESMClass = d.byte("esm_class")
	n.ProtocolID = d.byte("protocol_id")
	n.PriorityFlag = d.byte("priority_flag")
	n.RegisteredDelivery = d.byte("registered_delivery")
	n.DataCoding = pdu.DataCoding(d.byte("data_coding"))
	n.State = pdu.MessageState(d.byte("state"))
	n.Body = d.bytes("body", maxBytes)
	n.Text = d.bytes("text", maxBytes)
	n.Concat.Ref = uint16(d.byte("concat"))<<8 | uint16(d.byte("concat"))
	n.Concat.Total = d.byte("concat")
	n.Concat.Part = d.byte("concat")
	n.SubmitAt = d.time("submit time")
	n.ScheduleAt = d.time("schedule time")
	n.ExpireAt = d.time("expire time")
	n.DoneAt = d.time("done time")
	n.DueAt = d.time("due time")
	n.ErrCode = d.string("error code", maxString)
	n.NetworkError[0] = d.byte("network error")
	n.NetworkError[1] = d.byte("network error")
	n.NetworkError[2] = d.byte("network error")
	if d.err != nil {
		return d.err
	}
	*m = n
	return nil
}

// receiptTextMax bounds the Text kept in a receipt's snapshot: the receipt's "text:" field shows
// the first 20 characters, 40 bytes leave room for two-byte codings.
const receiptTextMax = 40

// AppendBinary appends the record encoding of r (its Seq is the key, not part of the record).
// Of r.Message it keeps only the snapshot a deliver_sm receipt and an HTTP callback need (see
// Receipt.Message); the rest is not stored.
func (r *Receipt) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, receiptVersion)
	b = binary.AppendUvarint(b, r.MessageID)
	b = appendString(b, r.TokenID)
	b = append(b, byte(r.State))
	b = appendString(b, r.ErrCode)
	b = appendTime(b, r.DoneAt)
	b = appendTime(b, r.QueuedAt)
	b = binary.AppendUvarint(b, uint64(r.Attempts))
	m := &r.Message
	var flags byte
	if m.TestMode {
		flags |= flagTestMode
	}
	b = append(b, flags)
	b = appendAddress(b, m.Source)
	b = appendAddress(b, m.Dest)
	b = appendString(b, m.ServiceType)
	b = append(b, m.ESMClass, m.ProtocolID, m.PriorityFlag, m.RegisteredDelivery, byte(m.DataCoding))
	b = appendBytes(b, m.Text[:min(len(m.Text), receiptTextMax)])
	b = binary.BigEndian.AppendUint16(b, m.Concat.Ref)
	b = append(b, m.Concat.Total, m.Concat.Part)
	b = appendTime(b, m.SubmitAt)
	b = append(b, m.NetworkError[:]...)
	return b, nil
}

// UnmarshalBinary decodes a record written by AppendBinary into r, leaving r.Seq alone.
func (r *Receipt) UnmarshalBinary(b []byte) error { return r.unmarshalOf(b, "") }

// stored returns r as decoding its record gives it back (what AppendBinary keeps, times
// in UTC without monotonic reading), without encoding it: the callback hook hands out
// in memory what a read of the store would return (TestReceiptStored holds the two
// equal).
func (r *Receipt) stored() Receipt {
	n := Receipt{
		Seq: r.Seq, MessageID: r.MessageID, TokenID: r.TokenID, State: r.State, ErrCode: r.ErrCode,
		DoneAt: storedTime(r.DoneAt), QueuedAt: storedTime(r.QueuedAt), Attempts: r.Attempts,
	}
	m, o := &n.Message, &r.Message
	m.TestMode = o.TestMode
	m.Source, m.Dest, m.ServiceType = o.Source, o.Dest, o.ServiceType
	m.ESMClass, m.ProtocolID, m.PriorityFlag, m.RegisteredDelivery, m.DataCoding = o.ESMClass, o.ProtocolID, o.PriorityFlag, o.RegisteredDelivery, o.DataCoding
	if len(o.Text) > 0 {
		m.Text = o.Text[:min(len(o.Text), receiptTextMax):min(len(o.Text), receiptTextMax)]
	}
	m.Concat = o.Concat
	m.SubmitAt = storedTime(o.SubmitAt)
	m.NetworkError = o.NetworkError
	n.linkMessage()
	return n
}

// storedTime is t as a record gives it back: UTC, nanoseconds, no monotonic reading.
func storedTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.Unix(0, t.UnixNano()).UTC()
}

// unmarshalOf is UnmarshalBinary for a record expected to be tokenID's: the token id string is
// shared instead of copied.
func (r *Receipt) unmarshalOf(b []byte, tokenID string) error {
	d := decoder{b: b}
	if err := r.decodeOf(&d, tokenID); err != nil {
		return err
	}
	return d.end()
}

func (r *Receipt) decode(d *decoder) error { return r.decodeOf(d, "") }

func (r *Receipt) decodeOf(d *decoder, tokenID string) error {
	if v := d.byte("version"); d.err == nil && v != receiptVersion {
		return fmt.Errorf("%w: receipt record version %d", ErrCorrupt, v)
	}
	n := Receipt{Seq: r.Seq}
	n.MessageID = d.uvarint("message id")
	n.TokenID = d.stringOr("token id", maxString, tokenID)
	n.State = pdu.MessageState(d.byte("state"))
	n.ErrCode = d.string("error code", maxString)
	n.DoneAt = d.time("done time")
	n.QueuedAt = d.time("queued time")
	n.Attempts = int(min(d.uvarint("attempts"), math.MaxInt32))
	m := &n.Message
	m.TestMode = d.byte("flags")&flagTestMode != 0
	m.Source = d.address("source")
	m.Dest = d.address("destination")
	m.ServiceType = d.string("service type", maxString)
	m.ESMClass = d.byte("esm_class")
	m.ProtocolID = d.byte("protocol_id")
	m.PriorityFlag = d.byte("priority_flag")
	m.RegisteredDelivery = d.byte("registered_delivery")
	m.DataCoding = pdu.DataCoding(d.byte("data_coding"))
	m.Text = d.bytes("text", receiptTextMax)
	m.Concat.Ref = uint16(d.byte("concat"))<<8 | uint16(d.byte("concat"))
	m.Concat.Total = d.byte("concat")
	m.Concat.Part = d.byte("concat")
	m.SubmitAt = d.time("submit time")
	m.NetworkError[0] = d.byte("network error")
	m.NetworkError[1] = d.byte("network error")
	m.NetworkError[2] = d.byte("network error")
	if d.err != nil {
		return d.err
	}
	n.linkMessage()
	*r = n
	return nil
}

// linkMessage sets the fields of r.Message that a record does not store twice: the
// message's identity and its state as of the receipt.
func (r *Receipt) linkMessage() {
	m := &r.Message
	m.ID, m.TokenID, m.State, m.ErrCode, m.DoneAt = r.MessageID, r.TokenID, r.State, r.ErrCode, r.DoneAt
	m.Final = finalState(r.State)
}

// AppendBinary appends the record encoding of c (its Seq is the key, not part of the record).
func (c *Callback) AppendBinary(b []byte) ([]byte, error) {
	b = c.appendHead(b)
	b = binary.AppendUvarint(b, c.Receipt.Seq)
	return c.Receipt.AppendBinary(b)
}

// appendHead appends the fields of c's record that precede the receipt's seq and
// record: a record is head ‖ uvarint(Receipt.Seq) ‖ the receipt's own record, so a
// submit can encode head and receipt before the commit and join them there, once the
// receipt's seq is known (callbackRecord).
func (c *Callback) appendHead(b []byte) []byte {
	b = append(b, callbackVersion)
	b = appendString(b, c.TokenID)
	b = appendString(b, c.URL)
	b = appendTime(b, c.NextAttempt)
	b = appendTime(b, c.FirstAttempt)
	b = binary.AppendUvarint(b, uint64(c.Attempts))
	b = appendString(b, c.LastError)
	return appendTime(b, c.LastAttempt)
}

// callbackRecord joins an encoded head (appendHead), the receipt's seq and the
// receipt's encoded record into a callback record, in one allocation.
func callbackRecord(head []byte, receiptSeq uint64, receipt []byte) []byte {
	rec := make([]byte, 0, len(head)+binary.MaxVarintLen64+len(receipt))
	rec = append(rec, head...)
	rec = binary.AppendUvarint(rec, receiptSeq)
	return append(rec, receipt...)
}

// callbackNextAttempt decodes only the NextAttempt of a callback record: what deleting
// its schedule entry needs, without the copies of a full decode.
func callbackNextAttempt(b []byte) (time.Time, error) {
	_, t, err := callbackRoute(b)
	return t, err
}

// callbackRoute decodes only the URL (not copied) and NextAttempt of a callback record:
// what a read needs to pass over one or to stop at one not due yet.
func callbackRoute(b []byte) (url []byte, next time.Time, err error) {
	d := decoder{b: b}
	if v := d.byte("version"); d.err == nil && v != callbackVersion {
		return nil, time.Time{}, fmt.Errorf("%w: callback record version %d", ErrCorrupt, v)
	}
	d.raw("token id", maxString)
	url = d.raw("url", maxString)
	next = d.time("next attempt")
	return url, next, d.err
}

// UnmarshalBinary decodes a record written by AppendBinary into c, leaving c.Seq alone.
func (c *Callback) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	if v := d.byte("version"); d.err == nil && v != callbackVersion {
		return fmt.Errorf("%w: callback record version %d", ErrCorrupt, v)
	}
	n := Callback{Seq: c.Seq}
	n.TokenID = d.string("token id", maxString)
	n.URL = d.string("url", maxString)
	n.NextAttempt = d.time("next attempt")
	n.FirstAttempt = d.time("first attempt")
	n.Attempts = int(min(d.uvarint("attempts"), math.MaxInt32))
	n.LastError = d.string("last error", maxString)
	n.LastAttempt = d.time("last attempt")
	n.Receipt.Seq = d.uvarint("receipt seq")
	if d.err != nil {
		return d.err
	}
	if err := n.Receipt.decode(&d); err != nil {
		return err
	}
	if err := d.end(); err != nil {
		return err
	}
	*c = n
	return nil
}
