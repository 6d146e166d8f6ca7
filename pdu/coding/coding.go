// Package coding converts message text to and from the data_coding schemes
// SMPP carries (GSM 03.38 default alphabet, IA5, Latin-1/-15, UCS-2 and
// binary), counts the SMS segments a text needs, and reads and builds the
// concatenation information of multipart messages (UDH IEI 0x00 and 0x08,
// and the sar_* TLVs).
//
// Every decoder returns an error for bytes it cannot decode; none panics.
package coding

import (
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/smppd/smppd/pdu"
)

// Errors of the package; match with errors.Is.
var (
	// ErrInvalid means the octets are not valid in the coding.
	ErrInvalid = errors.New("coding: invalid octets for the coding")
	// ErrUnencodable means a character has no encoding in the coding;
	// the error is an *UnencodableError.
	ErrUnencodable = errors.New("coding: character not encodable")
	// ErrUnsupported means the data_coding is not one this package converts.
	ErrUnsupported = errors.New("coding: unsupported data_coding")
	// ErrUDH means a user data header is malformed.
	ErrUDH = errors.New("coding: malformed user data header")
)

// UnencodableError names the character that has no encoding.
type UnencodableError struct {
	Coding string
	Rune   rune
	Offset int // byte offset in the input string
}

func (e *UnencodableError) Error() string {
	return fmt.Sprintf("coding: %q at offset %d has no %s encoding", e.Rune, e.Offset, e.Coding)
}

// Is makes errors.Is(err, ErrUnencodable) true.
func (e *UnencodableError) Is(target error) bool { return target == ErrUnencodable }

// Encode encodes s for data_coding c: GSM 03.38 unpacked septets for
// CodingDefault, ASCII for CodingIA5, ISO-8859-1 for CodingLatin1, UTF-16BE
// for CodingUCS2 (characters beyond the BMP as surrogate pairs, which every
// current handset reads), and the raw bytes of s for the binary codings.
func Encode(c pdu.DataCoding, s string) ([]byte, error) {
	switch c {
	case pdu.CodingDefault:
		return AppendGSM(nil, s)
	case pdu.CodingIA5:
		return appendASCII(nil, s)
	case pdu.CodingLatin1:
		return AppendLatin1(nil, s)
	case pdu.CodingUCS2:
		return AppendUCS2(nil, s)
	case pdu.CodingBinary, pdu.CodingBinary4:
		return []byte(s), nil
	}
	return nil, fmt.Errorf("%w: %v", ErrUnsupported, c)
}

// Decode decodes b, encoded with data_coding c, to a UTF-8 string. The
// binary codings come back byte for byte.
func Decode(c pdu.DataCoding, b []byte) (string, error) {
	switch c {
	case pdu.CodingDefault:
		return DecodeGSM(b)
	case pdu.CodingIA5:
		for i, x := range b {
			if x > 0x7F {
				return "", fmt.Errorf("%w: octet 0x%02X at %d is not ASCII", ErrInvalid, x, i)
			}
		}
		return string(b), nil
	case pdu.CodingLatin1:
		return DecodeLatin1(b), nil
	case pdu.CodingUCS2:
		return DecodeUCS2(b)
	case pdu.CodingBinary, pdu.CodingBinary4:
		return string(b), nil
	}
	return "", fmt.Errorf("%w: %v", ErrUnsupported, c)
}

// Best returns the most compact coding that carries s: CodingDefault when
// every character is in GSM 03.38, else CodingUCS2.
func Best(s string) pdu.DataCoding {
	if _, ok := GSMSeptets(s); ok {
		return pdu.CodingDefault
	}
	return pdu.CodingUCS2
}

func appendASCII(b []byte, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if s[i] > 0x7F {
			r, _ := utf8.DecodeRuneInString(s[i:])
			return b, &UnencodableError{Coding: "IA5", Rune: r, Offset: i}
		}
	}
	return append(b, s...), nil
}

// AppendLatin1 appends s in ISO-8859-1.
func AppendLatin1(b []byte, s string) ([]byte, error) {
	for i, r := range s {
		if r > 0xFF || (r == utf8.RuneError && !validAt(s, i)) {
			return b, &UnencodableError{Coding: "ISO-8859-1", Rune: r, Offset: i}
		}
		b = append(b, byte(r))
	}
	return b, nil
}

// DecodeLatin1 decodes ISO-8859-1; every octet is a character.
func DecodeLatin1(b []byte) string {
	out := make([]byte, 0, len(b)+len(b)/4)
	for _, x := range b {
		out = utf8.AppendRune(out, rune(x))
	}
	return string(out)
}

// latin9 lists the eight positions where ISO-8859-15 differs from -1.
var latin9 = [...]struct {
	b byte
	r rune
}{{0xA4, '€'}, {0xA6, 'Š'}, {0xA8, 'š'}, {0xB4, 'Ž'}, {0xB8, 'ž'}, {0xBC, 'Œ'}, {0xBD, 'œ'}, {0xBE, 'Ÿ'}}

// AppendLatin9 appends s in ISO-8859-15 (Latin-9, Latin-1 with €).
func AppendLatin9(b []byte, s string) ([]byte, error) {
next:
	for i, r := range s {
		for _, m := range latin9 {
			if m.r == r {
				b = append(b, m.b)
				continue next
			}
			if rune(m.b) == r { // displaced Latin-1 characters (¤ ¦ ¨ ´ ¸ ¼ ½ ¾)
				return b, &UnencodableError{Coding: "ISO-8859-15", Rune: r, Offset: i}
			}
		}
		if r > 0xFF || (r == utf8.RuneError && !validAt(s, i)) {
			return b, &UnencodableError{Coding: "ISO-8859-15", Rune: r, Offset: i}
		}
		b = append(b, byte(r))
	}
	return b, nil
}

// DecodeLatin9 decodes ISO-8859-15; every octet is a character.
func DecodeLatin9(b []byte) string {
	out := make([]byte, 0, len(b)+len(b)/4)
next:
	for _, x := range b {
		for _, m := range latin9 {
			if m.b == x {
				out = utf8.AppendRune(out, m.r)
				continue next
			}
		}
		out = utf8.AppendRune(out, rune(x))
	}
	return string(out)
}

// validAt reports whether the RuneError at s[i] was really U+FFFD in the
// input rather than an invalid byte.
func validAt(s string, i int) bool {
	_, size := utf8.DecodeRuneInString(s[i:])
	return size == 3
}

// AppendUCS2 appends s as UTF-16BE. Invalid UTF-8 in s is an error.
func AppendUCS2(b []byte, s string) ([]byte, error) {
	for i, r := range s {
		if r == utf8.RuneError && !validAt(s, i) {
			return b, &UnencodableError{Coding: "UCS-2", Rune: r, Offset: i}
		}
		if r > 0xFFFF {
			r1, r2 := utf16.EncodeRune(r)
			b = append(b, byte(r1>>8), byte(r1), byte(r2>>8), byte(r2))
			continue
		}
		b = append(b, byte(r>>8), byte(r))
	}
	return b, nil
}

// DecodeUCS2 decodes UTF-16BE (UCS-2 plus surrogate pairs). An odd length
// or an unpaired surrogate is an error.
func DecodeUCS2(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", fmt.Errorf("%w: odd UCS-2 length %d", ErrInvalid, len(b))
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i += 2 {
		u := rune(b[i])<<8 | rune(b[i+1])
		switch {
		case utf16.IsSurrogate(u):
			if u >= 0xDC00 || i+3 >= len(b) {
				return "", fmt.Errorf("%w: unpaired surrogate at %d", ErrInvalid, i)
			}
			u2 := rune(b[i+2])<<8 | rune(b[i+3])
			r := utf16.DecodeRune(u, u2)
			if r == utf8.RuneError {
				return "", fmt.Errorf("%w: unpaired surrogate at %d", ErrInvalid, i)
			}
			out = utf8.AppendRune(out, r)
			i += 2
		default:
			out = utf8.AppendRune(out, u)
		}
	}
	return string(out), nil
}
