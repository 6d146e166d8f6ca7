package coding

import (
	"fmt"

	"github.com/smppd/smppd/pdu"
)

// ESMClassUDHI is the esm_class bit that says short_message starts with a
// user data header.
const ESMClassUDHI = 0x40

// Information element identifiers of the concatenation UDH.
const (
	IEIConcat8  = 0x00 // concatenated SM, 8-bit reference
	IEIConcat16 = 0x08 // concatenated SM, 16-bit reference
)

// Concat is the position of one part of a multipart message, whether it
// came from a UDH or from the sar_* TLVs.
type Concat struct {
	Ref   uint16 // reference shared by all parts (8-bit references widen)
	Total uint8  // number of parts, >= 1
	Part  uint8  // this part, 1..Total
}

// SplitUDH splits a short_message whose esm_class has the UDHI bit into the
// user data header (without its length octet) and the text after it.
func SplitUDH(sm []byte) (udh, rest []byte, err error) {
	if len(sm) == 0 {
		return nil, nil, fmt.Errorf("%w: empty short_message", ErrUDH)
	}
	n := int(sm[0])
	if n+1 > len(sm) {
		return nil, nil, fmt.Errorf("%w: UDH length %d past the message", ErrUDH, n)
	}
	return sm[1 : 1+n], sm[1+n:], nil
}

// ConcatFromUDH finds the concatenation element in udh (as returned by
// SplitUDH). Elements are walked in order; a malformed element list is an
// error, while a concatenation element with total 0 or a part outside
// 1..total is ignored, as 3GPP TS 23.040 section 9.2.3.24.1 asks.
func ConcatFromUDH(udh []byte) (Concat, bool, error) {
	var found Concat
	ok := false
	for off := 0; off < len(udh); {
		if len(udh)-off < 2 {
			return Concat{}, false, fmt.Errorf("%w: truncated element at %d", ErrUDH, off)
		}
		iei, l := udh[off], int(udh[off+1])
		if l > len(udh)-off-2 {
			return Concat{}, false, fmt.Errorf("%w: element 0x%02X length %d past the header", ErrUDH, iei, l)
		}
		v := udh[off+2 : off+2+l]
		var c Concat
		switch {
		case iei == IEIConcat8 && l == 3:
			c = Concat{Ref: uint16(v[0]), Total: v[1], Part: v[2]}
		case iei == IEIConcat16 && l == 4:
			c = Concat{Ref: uint16(v[0])<<8 | uint16(v[1]), Total: v[2], Part: v[3]}
		case iei == IEIConcat8 || iei == IEIConcat16:
			return Concat{}, false, fmt.Errorf("%w: concatenation element 0x%02X of length %d", ErrUDH, iei, l)
		default:
			off += 2 + l
			continue
		}
		if c.Total > 0 && c.Part >= 1 && c.Part <= c.Total {
			found, ok = c, true // the last one wins, like a handset
		}
		off += 2 + l
	}
	return found, ok, nil
}

// ConcatFromSAR reads the sar_msg_ref_num, sar_total_segments and
// sar_segment_seqnum TLVs.
func ConcatFromSAR(ts pdu.TLVs) (Concat, bool) {
	ref, total, seq, ok := ts.SAR()
	if !ok || total == 0 || seq == 0 || seq > total {
		return Concat{}, false
	}
	return Concat{Ref: ref, Total: total, Part: seq}, true
}

// ConcatOf returns the concatenation position of a submit_sm or deliver_sm
// from its UDH (when esm_class has UDHI) or else from its sar_* TLVs. ok is
// false for a single-part message; err reports a malformed UDH.
func ConcatOf(esmClass uint8, sm []byte, ts pdu.TLVs) (c Concat, ok bool, err error) {
	if esmClass&ESMClassUDHI != 0 {
		udh, _, err := SplitUDH(sm)
		if err != nil {
			return Concat{}, false, err
		}
		if c, ok, err := ConcatFromUDH(udh); ok || err != nil {
			return c, ok, err
		}
	}
	c, ok = ConcatFromSAR(ts)
	return c, ok, nil
}

// AppendUDH appends a user data header holding only c's concatenation
// element, length octet first: IEI 0x00 when Ref fits 8 bits, else 0x08.
func (c Concat) AppendUDH(b []byte) []byte {
	if c.Ref <= 0xFF {
		return append(b, 5, IEIConcat8, 3, byte(c.Ref), c.Total, c.Part)
	}
	return append(b, 6, IEIConcat16, 4, byte(c.Ref>>8), byte(c.Ref), c.Total, c.Part)
}
