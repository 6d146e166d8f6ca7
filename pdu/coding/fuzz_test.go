package coding

import (
	"bytes"
	"testing"

	"github.com/smppd/smppd/pdu"
)

// FuzzGSMDecode checks that GSM 03.38 decoding never panics, that what
// decodes re-encodes and decodes to the same text, and that septet packing
// round-trips.
func FuzzGSMDecode(f *testing.F) {
	f.Add([]byte("Hello, world"))
	f.Add([]byte{0x1B, 0x65, 0x1B, 0x3C, 0x00, 0x7F, 0x1B, 0x1B, 0x1B, 'A'})
	f.Add([]byte{0x1B})
	f.Add([]byte{0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37})
	f.Fuzz(func(t *testing.T, data []byte) {
		if s, err := DecodeGSM(data); err == nil {
			enc, err := AppendGSM(nil, s)
			if err != nil {
				t.Fatalf("AppendGSM(DecodeGSM(%x)) error: %v", data, err)
			}
			s2, err := DecodeGSM(enc)
			if err != nil || s2 != s {
				t.Fatalf("GSM round trip of %x: %q → %x → %q, %v", data, s, enc, s2, err)
			}
			if n, ok := GSMSeptets(s); !ok || n != len(enc) {
				t.Fatalf("GSMSeptets(%q) = %d, %v; encoding has %d", s, n, ok, len(enc))
			}
		}
		septets := make([]byte, len(data))
		for i, c := range data {
			septets[i] = c & 0x7F
		}
		packed := PackSeptets(septets)
		back, err := UnpackSeptets(packed, len(septets))
		if err != nil || !bytes.Equal(back, septets) {
			t.Fatalf("UnpackSeptets(PackSeptets(%x)) = %x, %v", septets, back, err)
		}
		_, _ = DecodeGSMPacked(data, -1)
		_, _ = DecodeGSMPacked(data, len(data))
	})
}

// FuzzTextCodings checks every coding's decoder for panics and exact
// round trips of what decodes.
func FuzzTextCodings(f *testing.F) {
	f.Add(uint8(8), []byte{0xD8, 0x3D, 0xDE, 0x00, 0, 'a'})
	f.Add(uint8(3), []byte("caf\xe9"))
	f.Add(uint8(0), []byte{0x1B, 0x65})
	f.Fuzz(func(t *testing.T, dc uint8, data []byte) {
		c := pdu.DataCoding(dc)
		s, err := Decode(c, data)
		if err != nil {
			return
		}
		enc, err := Encode(c, s)
		if err != nil {
			t.Fatalf("Encode(%v, Decode(%x)) error: %v", c, data, err)
		}
		if c != pdu.CodingDefault && !bytes.Equal(enc, data) { // GSM maps unknown escapes to base characters
			t.Fatalf("%v round trip of %x gave %x", c, data, enc)
		}
		if n := Segments(c, s); n < 1 {
			t.Fatalf("Segments(%v, %q) = %d for an encodable text", c, s, n)
		}
		parts, err := Split(c, s, 0x1234)
		if err != nil {
			if len(enc) < 255*130 {
				t.Fatalf("Split(%v, %q) error: %v", c, s, err)
			}
			return
		}
		var joined []byte
		for _, p := range parts {
			if len(parts) > 1 {
				_, body, err := SplitUDH(p)
				if err != nil {
					t.Fatal(err)
				}
				p = body
			}
			joined = append(joined, p...)
		}
		if !bytes.Equal(joined, enc) {
			t.Fatalf("Split(%v) parts join to %x, want %x", c, joined, enc)
		}
	})
}
