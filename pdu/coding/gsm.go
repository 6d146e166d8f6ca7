package coding

import (
	"fmt"
	"unicode/utf8"
)

// esc is the GSM 03.38 escape to the extension table.
const esc = 0x1B

// gsmBasic is the GSM 03.38 default alphabet, indexed by septet.
var gsmBasic = [128]rune{
	'@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å',
	'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', 0x1B, 'Æ', 'æ', 'ß', 'É',
	' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
	'¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O',
	'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§',
	'¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
	'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à',
}

// gsmExtension maps the septet after ESC to its character; zero means
// undefined.
var gsmExtension = [128]rune{
	0x0A: '\f',
	0x14: '^',
	0x28: '{',
	0x29: '}',
	0x2F: '\\',
	0x3C: '[',
	0x3D: '~',
	0x3E: ']',
	0x40: '|',
	0x65: '€',
}

// gsmReverse maps a rune to its septet; ext marks the extension table.
type gsmCode struct {
	septet byte
	ext    bool
}

var gsmLatin [256]gsmCode // runes below 256, valid when ok[r]
var gsmLatinOK [256]bool
var gsmOther = map[rune]gsmCode{} // Greek capitals and €: built once, read only

func init() {
	for i, r := range gsmBasic {
		if i == esc {
			continue
		}
		setGSM(r, gsmCode{septet: byte(i)})
	}
	for i, r := range gsmExtension {
		if r != 0 {
			setGSM(r, gsmCode{septet: byte(i), ext: true})
		}
	}
}

func setGSM(r rune, c gsmCode) {
	if r < 256 {
		gsmLatin[r], gsmLatinOK[r] = c, true
		return
	}
	gsmOther[r] = c
}

func gsmLookup(r rune) (gsmCode, bool) {
	if r >= 0 && r < 256 {
		return gsmLatin[r], gsmLatinOK[r]
	}
	c, ok := gsmOther[r]
	return c, ok
}

// GSMSeptets returns how many septets s takes in the GSM 03.38 default
// alphabet (extension characters take two), and false if some character of
// s has no GSM encoding.
func GSMSeptets(s string) (int, bool) {
	n := 0
	for _, r := range s {
		c, ok := gsmLookup(r)
		if !ok {
			return 0, false
		}
		n++
		if c.ext {
			n++
		}
	}
	return n, true
}

// AppendGSM appends s as unpacked GSM 03.38 septets, one per octet, as SMPP
// carries data_coding 0. A character outside the default alphabet and its
// extension table gives an *UnencodableError.
func AppendGSM(b []byte, s string) ([]byte, error) {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return b, &UnencodableError{Coding: "GSM 03.38", Rune: r, Offset: i}
			}
		}
		c, ok := gsmLookup(r)
		if !ok {
			return b, &UnencodableError{Coding: "GSM 03.38", Rune: r, Offset: i}
		}
		if c.ext {
			b = append(b, esc)
		}
		b = append(b, c.septet)
	}
	return b, nil
}

// DecodeGSM decodes unpacked GSM 03.38 septets. An octet with the high bit
// set, or an ESC as the last septet, is an error. ESC before a septet the
// extension table does not define gives the default-alphabet character, as
// 03.38 section 6.2.1.1 asks of a receiver (ESC ESC gives a space).
func DecodeGSM(b []byte) (string, error) {
	out := make([]byte, 0, len(b)+len(b)/2)
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c > 0x7F {
			return "", fmt.Errorf("%w: octet 0x%02X at %d is not a septet", ErrInvalid, c, i)
		}
		if c != esc {
			out = utf8.AppendRune(out, gsmBasic[c])
			continue
		}
		i++
		if i == len(b) {
			return "", fmt.Errorf("%w: ESC at the end", ErrInvalid)
		}
		x := b[i]
		switch {
		case x > 0x7F:
			return "", fmt.Errorf("%w: octet 0x%02X at %d is not a septet", ErrInvalid, x, i)
		case gsmExtension[x] != 0:
			out = utf8.AppendRune(out, gsmExtension[x])
		case x == esc:
			out = append(out, ' ')
		default:
			out = utf8.AppendRune(out, gsmBasic[x])
		}
	}
	return string(out), nil
}

// PackSeptets packs septets (low 7 bits of each octet) into octets, least
// significant bit first, as GSM 03.38 section 6.1.2.1 transmits them. When
// the last octet has 7 spare bits they are filled with CR (0x0D) so that a
// receiver does not read an extra '@'.
func PackSeptets(septets []byte) []byte {
	out := make([]byte, (len(septets)*7+7)/8)
	for i, s := range septets {
		bit := i * 7
		s &= 0x7F
		out[bit/8] |= s << (bit % 8)
		if bit%8 > 1 {
			out[bit/8+1] |= s >> (8 - bit%8)
		}
	}
	if len(septets)%8 == 7 {
		out[len(out)-1] |= 0x0D << 1
	}
	return out
}

// UnpackSeptets unpacks n septets from packed octets. n < 0 means as many
// as fit (len(b)*8/7); n larger than what b holds is an error.
func UnpackSeptets(b []byte, n int) ([]byte, error) {
	max := len(b) * 8 / 7
	if n < 0 {
		n = max
	}
	if n > max {
		return nil, fmt.Errorf("%w: %d septets do not fit in %d octets", ErrInvalid, n, len(b))
	}
	out := make([]byte, n)
	for i := range out {
		bit := i * 7
		v := uint16(b[bit/8]) >> (bit % 8)
		if bit%8 > 1 && bit/8+1 < len(b) {
			v |= uint16(b[bit/8+1]) << (8 - bit%8)
		}
		out[i] = byte(v) & 0x7F
	}
	return out, nil
}

// AppendGSMPacked appends s packed as GSM 03.38 septets.
func AppendGSMPacked(b []byte, s string) ([]byte, error) {
	septets, err := AppendGSM(nil, s)
	if err != nil {
		return b, err
	}
	return append(b, PackSeptets(septets)...), nil
}

// DecodeGSMPacked decodes n packed septets (n < 0: all that fit, dropping a
// trailing CR fill).
func DecodeGSMPacked(b []byte, n int) (string, error) {
	septets, err := UnpackSeptets(b, n)
	if err != nil {
		return "", err
	}
	if n < 0 && len(b)*8%7 == 0 && len(septets) > 0 && len(septets)%8 == 0 && septets[len(septets)-1] == 0x0D {
		septets = septets[:len(septets)-1]
	}
	return DecodeGSM(septets)
}
