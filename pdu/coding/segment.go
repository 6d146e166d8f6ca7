package coding

import (
	"fmt"
	"unicode/utf8"

	"github.com/smppd/smppd/pdu"
)

// Capacity of one SMS (140 octets of user data) in each coding's units.
const (
	gsmSingle   = 160 // septets
	gsmConcat   = 153 // septets next to a 6-octet UDH (IEI 0x00)
	octetSingle = 140 // octets: 8-bit data, Latin-1
	octetConcat = 134
	ucs2Single  = 140 // octets (70 UTF-16 units)
	ucs2Concat  = 134 // octets (67 units)
)

// unitsOf returns the length of s in c's units (septets for GSM and IA5,
// octets otherwise) and the per-part capacities without and with a
// concatenation UDH; ok is false when c cannot carry s.
func unitsOf(c pdu.DataCoding, s string) (n, single, concat int, ok bool) {
	switch c {
	case pdu.CodingDefault:
		n, ok = GSMSeptets(s)
		return n, gsmSingle, gsmConcat, ok
	case pdu.CodingIA5:
		for i := 0; i < len(s); i++ {
			if s[i] > 0x7F {
				return 0, 0, 0, false
			}
		}
		return len(s), gsmSingle, gsmConcat, true
	case pdu.CodingLatin1:
		for _, r := range s {
			if r > 0xFF {
				return 0, 0, 0, false
			}
			n++
		}
		return n, octetSingle, octetConcat, utf8.ValidString(s)
	case pdu.CodingUCS2:
		for _, r := range s {
			n += 2
			if r > 0xFFFF {
				n += 2
			}
		}
		return n, ucs2Single, ucs2Concat, utf8.ValidString(s)
	case pdu.CodingBinary, pdu.CodingBinary4:
		return len(s), octetSingle, octetConcat, true
	}
	return 0, 0, 0, false
}

// Segments returns how many SMS parts s needs in coding c when a long text
// is split with a concatenation UDH (IEI 0x00): one part up to 160 GSM
// septets / 140 octets / 70 UCS-2 characters, else parts of 153 septets /
// 134 octets / 67 characters. An escaped GSM character or a surrogate pair
// is never split, so the count is that of Split. Latin-1 is counted as
// 8-bit data, the conservative reading (an SMSC may convert it to GSM).
// It returns 0 when c cannot carry s; the empty text is one part.
func Segments(c pdu.DataCoding, s string) int {
	parts, err := split(c, s, udhLen8)
	if err != nil {
		return 0
	}
	return len(parts)
}

// SegmentsSAR returns how many parts s needs when the parts are tied
// together by the sar_* TLVs instead of a UDH, so each part may use the
// full single-message capacity (160 septets / 140 octets).
func SegmentsSAR(c pdu.DataCoding, s string) int {
	parts, err := split(c, s, 0)
	if err != nil {
		return 0
	}
	return len(parts)
}

// Sizes of the concatenation UDH, length octet included.
const (
	udhLen8  = 6
	udhLen16 = 7
)

// Split encodes s for coding c and cuts it into short_message parts. When
// one part is enough it is returned alone, without UDH. Otherwise each part
// starts with a concatenation UDH built from ref (IEI 0x00 when ref < 256,
// else IEI 0x08) and the caller must set the UDHI bit (0x40) in esm_class.
// No part splits a GSM escape sequence or a UTF-16 surrogate pair. More than
// 255 parts is an error.
func Split(c pdu.DataCoding, s string, ref uint16) ([][]byte, error) {
	udhLen := udhLen8
	if ref > 0xFF {
		udhLen = udhLen16
	}
	parts, err := split(c, s, udhLen)
	if err != nil || len(parts) == 1 {
		return parts, err
	}
	for i, p := range parts {
		udh := Concat{Ref: ref, Total: uint8(len(parts)), Part: uint8(i + 1)}.AppendUDH(make([]byte, 0, udhLen+len(p)))
		parts[i] = append(udh, p...)
	}
	return parts, nil
}

// SplitSAR is Split for parts tied together by the sar_* TLVs: no UDH, each
// part up to the single-message capacity. Set the TLVs with
// pdu.TLVs.SetSAR(ref, uint8(len(parts)), uint8(i+1)).
func SplitSAR(c pdu.DataCoding, s string) ([][]byte, error) {
	return split(c, s, 0)
}

// split encodes s and cuts it into parts that each leave room for a UDH of
// udhLen octets (0: none) in the 140 octets of an SMS.
func split(c pdu.DataCoding, s string, udhLen int) ([][]byte, error) {
	enc, err := Encode(c, s)
	if err != nil {
		return nil, err
	}
	_, single, _, _ := unitsOf(c, "")
	if len(enc) <= single {
		return [][]byte{enc}, nil
	}
	perPart := single - udhLen
	switch single {
	case gsmSingle: // septets: the UDH takes whole septets
		perPart = single - (udhLen*8+6)/7
	default:
		if c == pdu.CodingUCS2 {
			perPart &^= 1
		}
	}
	var parts [][]byte
	for len(enc) > 0 {
		n := min(perPart, len(enc))
		if n < len(enc) {
			n = cutPoint(c, enc, n)
		}
		parts = append(parts, enc[:n:n])
		enc = enc[n:]
		if len(parts) > 255 {
			return nil, fmt.Errorf("coding: text needs more than 255 parts")
		}
	}
	return parts, nil
}

// cutPoint moves a cut at n back so that it does not split a GSM escape
// sequence or a UTF-16 surrogate pair.
func cutPoint(c pdu.DataCoding, enc []byte, n int) int {
	switch c {
	case pdu.CodingDefault:
		// enc[n-1] is an ESC that starts a sequence iff an odd run of ESCs
		// ends there (ESC ESC is itself a sequence).
		run := 0
		for i := n - 1; i >= 0 && enc[i] == esc; i-- {
			run++
		}
		if run%2 == 1 {
			return n - 1
		}
	case pdu.CodingUCS2:
		if n%2 == 1 {
			n--
		}
		if hi := uint16(enc[n-2])<<8 | uint16(enc[n-1]); hi >= 0xD800 && hi < 0xDC00 {
			return n - 2
		}
	}
	return n
}
