package coding

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/smppd/smppd/pdu"
)

func TestEncodeDecode(t *testing.T) {
	tests := []struct {
		name   string
		coding pdu.DataCoding
		text   string
		wire   []byte
	}{
		{"gsm ascii", pdu.CodingDefault, "Hello @ 1", []byte{'H', 'e', 'l', 'l', 'o', ' ', 0x00, ' ', '1'}},
		{"gsm national", pdu.CodingDefault, "£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà", []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 0x0B, 0x0C, 0x0E, 0x0F, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1C, 0x1D, 0x1E, 0x1F, 0x24, 0x40, 0x5B, 0x5C, 0x5D, 0x5E, 0x5F, 0x60, 0x7B, 0x7C, 0x7D, 0x7E, 0x7F}},
		{"gsm extension", pdu.CodingDefault, "€[]{}\\~^|\f", []byte{0x1B, 0x65, 0x1B, 0x3C, 0x1B, 0x3E, 0x1B, 0x28, 0x1B, 0x29, 0x1B, 0x2F, 0x1B, 0x3D, 0x1B, 0x14, 0x1B, 0x40, 0x1B, 0x0A}},
		{"gsm newline", pdu.CodingDefault, "a\r\nb", []byte{'a', 0x0D, 0x0A, 'b'}},
		{"ia5", pdu.CodingIA5, "plain {ascii}", []byte("plain {ascii}")},
		{"latin1", pdu.CodingLatin1, "café ÿ", []byte{'c', 'a', 'f', 0xE9, ' ', 0xFF}},
		{"ucs2", pdu.CodingUCS2, "Привет", []byte{0x04, 0x1F, 0x04, 0x40, 0x04, 0x38, 0x04, 0x32, 0x04, 0x35, 0x04, 0x42}},
		{"ucs2 surrogate pair", pdu.CodingUCS2, "a😀", []byte{0, 'a', 0xD8, 0x3D, 0xDE, 0x00}},
		{"binary", pdu.CodingBinary, "\x00\xff\x80", []byte{0, 0xFF, 0x80}},
		{"empty", pdu.CodingDefault, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Encode(tt.coding, tt.text)
			if err != nil {
				t.Fatalf("Encode() error: %v", err)
			}
			if !bytes.Equal(got, tt.wire) {
				t.Errorf("Encode() = % x, want % x", got, tt.wire)
			}
			back, err := Decode(tt.coding, tt.wire)
			if err != nil {
				t.Fatalf("Decode() error: %v", err)
			}
			if back != tt.text {
				t.Errorf("Decode() = %q, want %q", back, tt.text)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name   string
		coding pdu.DataCoding
		text   string
		err    error
	}{
		{"gsm cyrillic", pdu.CodingDefault, "ok Ж", ErrUnencodable},
		{"gsm invalid utf8", pdu.CodingDefault, "a\xffb", ErrUnencodable},
		{"ia5 accent", pdu.CodingIA5, "é", ErrUnencodable},
		{"latin1 euro", pdu.CodingLatin1, "€", ErrUnencodable},
		{"ucs2 invalid utf8", pdu.CodingUCS2, "\xc3", ErrUnencodable},
		{"unsupported", pdu.CodingJIS, "x", ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Encode(tt.coding, tt.text); !errors.Is(err, tt.err) {
				t.Errorf("Encode() error = %v, want %v", err, tt.err)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name   string
		coding pdu.DataCoding
		wire   []byte
		err    error
	}{
		{"gsm high bit", pdu.CodingDefault, []byte{'a', 0x80}, ErrInvalid},
		{"gsm trailing ESC", pdu.CodingDefault, []byte{'a', 0x1B}, ErrInvalid},
		{"gsm ESC then high bit", pdu.CodingDefault, []byte{0x1B, 0xC0}, ErrInvalid},
		{"ia5 high bit", pdu.CodingIA5, []byte{0xE9}, ErrInvalid},
		{"ucs2 odd", pdu.CodingUCS2, []byte{0, 'a', 0}, ErrInvalid},
		{"ucs2 lone high surrogate", pdu.CodingUCS2, []byte{0xD8, 0x3D}, ErrInvalid},
		{"ucs2 lone low surrogate", pdu.CodingUCS2, []byte{0xDE, 0x00, 0, 'a'}, ErrInvalid},
		{"ucs2 high then non-low", pdu.CodingUCS2, []byte{0xD8, 0x3D, 0, 'a'}, ErrInvalid},
		{"unsupported", pdu.CodingKSC5601, []byte{1}, ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Decode(tt.coding, tt.wire); !errors.Is(err, tt.err) {
				t.Errorf("Decode() error = %v, want %v", err, tt.err)
			}
		})
	}
}

func TestDecodeGSMUnknownEscape(t *testing.T) {
	got, err := DecodeGSM([]byte{0x1B, 'A', 0x1B, 0x1B})
	if err != nil {
		t.Fatal(err)
	}
	if got != "A " {
		t.Errorf("DecodeGSM(ESC A ESC ESC) = %q, want %q", got, "A ")
	}
}

func TestLatin9(t *testing.T) {
	b, err := AppendLatin9(nil, "€ Šœ é")
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0xA4, ' ', 0xA6, 0xBD, ' ', 0xE9}; !bytes.Equal(b, want) {
		t.Errorf("AppendLatin9() = % x, want % x", b, want)
	}
	if got := DecodeLatin9(b); got != "€ Šœ é" {
		t.Errorf("DecodeLatin9() = %q", got)
	}
	if _, err := AppendLatin9(nil, "¤"); !errors.Is(err, ErrUnencodable) {
		t.Errorf("AppendLatin9(¤) error = %v, want ErrUnencodable", err)
	}
}

func TestPackSeptets(t *testing.T) {
	tests := []struct {
		name   string
		text   string
		packed []byte
	}{
		// 3GPP TS 23.038 / common worked examples.
		{"hello", "hellohello", []byte{0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37}},
		{"seven septets get a CR fill", "1234567", []byte{0x31, 0xD9, 0x8C, 0x56, 0xB3, 0xDD, 0x1A}},
		{"eight septets", "12345678", []byte{0x31, 0xD9, 0x8C, 0x56, 0xB3, 0xDD, 0x70}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AppendGSMPacked(nil, tt.text)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.packed) {
				t.Errorf("AppendGSMPacked() = % X, want % X", got, tt.packed)
			}
			back, err := DecodeGSMPacked(tt.packed, -1)
			if err != nil {
				t.Fatal(err)
			}
			if back != tt.text {
				t.Errorf("DecodeGSMPacked(-1) = %q, want %q", back, tt.text)
			}
			n, _ := GSMSeptets(tt.text)
			if back, _ := DecodeGSMPacked(tt.packed, n); back != tt.text {
				t.Errorf("DecodeGSMPacked(%d) = %q, want %q", n, back, tt.text)
			}
		})
	}
	if _, err := UnpackSeptets([]byte{1}, 2); !errors.Is(err, ErrInvalid) {
		t.Errorf("UnpackSeptets(too many) error = %v, want ErrInvalid", err)
	}
}

func TestSegments(t *testing.T) {
	tests := []struct {
		name     string
		coding   pdu.DataCoding
		text     string
		udh, sar int
	}{
		{"empty", pdu.CodingDefault, "", 1, 1},
		{"gsm 160", pdu.CodingDefault, strings.Repeat("a", 160), 1, 1},
		{"gsm 161", pdu.CodingDefault, strings.Repeat("a", 161), 2, 2},
		{"gsm 306", pdu.CodingDefault, strings.Repeat("a", 306), 2, 2},
		{"gsm 307", pdu.CodingDefault, strings.Repeat("a", 307), 3, 2},
		{"gsm 80 euros", pdu.CodingDefault, strings.Repeat("€", 80), 1, 1},
		{"gsm 81 euros", pdu.CodingDefault, strings.Repeat("€", 81), 2, 2},
		{"ucs2 70", pdu.CodingUCS2, strings.Repeat("ж", 70), 1, 1},
		{"ucs2 71", pdu.CodingUCS2, strings.Repeat("ж", 71), 2, 2},
		{"ucs2 134", pdu.CodingUCS2, strings.Repeat("ж", 134), 2, 2},
		{"ucs2 135", pdu.CodingUCS2, strings.Repeat("ж", 135), 3, 2},
		{"latin1 140", pdu.CodingLatin1, strings.Repeat("é", 140), 1, 1},
		{"latin1 141", pdu.CodingLatin1, strings.Repeat("é", 141), 2, 2},
		{"binary 269", pdu.CodingBinary, strings.Repeat("x", 269), 3, 2},
		{"not encodable", pdu.CodingDefault, "Ж", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Segments(tt.coding, tt.text); got != tt.udh {
				t.Errorf("Segments() = %d, want %d", got, tt.udh)
			}
			if got := SegmentsSAR(tt.coding, tt.text); got != tt.sar {
				t.Errorf("SegmentsSAR() = %d, want %d", got, tt.sar)
			}
		})
	}
}

func TestSplitAndJoin(t *testing.T) {
	tests := []struct {
		name   string
		coding pdu.DataCoding
		text   string
		ref    uint16
		parts  int
	}{
		{"single", pdu.CodingDefault, "short", 7, 1},
		{"gsm escape at the cut", pdu.CodingDefault, strings.Repeat("a", 152) + "€" + strings.Repeat("b", 10), 7, 2},
		{"gsm 16-bit ref", pdu.CodingDefault, strings.Repeat("a", 305), 0x1234, 3},
		{"ucs2 surrogate at the cut", pdu.CodingUCS2, strings.Repeat("ж", 66) + "😀" + "zzz", 9, 2},
		{"latin1", pdu.CodingLatin1, strings.Repeat("é", 300), 200, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts, err := Split(tt.coding, tt.text, tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			if len(parts) != tt.parts {
				t.Fatalf("Split() gave %d parts, want %d", len(parts), tt.parts)
			}
			var joined []byte
			for i, p := range parts {
				if len(parts) == 1 {
					joined = p
					break
				}
				c, ok, err := ConcatOf(ESMClassUDHI, p, nil)
				if err != nil || !ok {
					t.Fatalf("ConcatOf(part %d) = %v, %v", i+1, ok, err)
				}
				if want := (Concat{Ref: tt.ref, Total: uint8(len(parts)), Part: uint8(i + 1)}); c != want {
					t.Errorf("ConcatOf(part %d) = %+v, want %+v", i+1, c, want)
				}
				_, body, _ := SplitUDH(p)
				if len(p) > 140 && tt.coding != pdu.CodingDefault {
					t.Errorf("part %d is %d octets, over 140", i+1, len(p))
				}
				if tt.coding == pdu.CodingDefault && len(p) > 160 {
					t.Errorf("part %d is %d octets", i+1, len(p))
				}
				if _, err := Decode(tt.coding, body); err != nil {
					t.Errorf("part %d does not decode on its own: %v", i+1, err)
				}
				joined = append(joined, body...)
			}
			got, err := Decode(tt.coding, joined)
			if err != nil || got != tt.text {
				t.Errorf("joined parts = %q, %v; want the text back", got, err)
			}
		})
	}
}

func TestConcatOf(t *testing.T) {
	var sar pdu.TLVs
	sar.SetSAR(0x4242, 3, 2)
	tests := []struct {
		name string
		esm  uint8
		sm   []byte
		tlvs pdu.TLVs
		want Concat
		ok   bool
		err  error
	}{
		{"udh 8-bit", 0x40, []byte{5, 0, 3, 0xAB, 2, 1, 'h'}, nil, Concat{0xAB, 2, 1}, true, nil},
		{"udh 16-bit after another element", 0x40, []byte{9, 0x24, 1, 0, 0x08, 4, 0x12, 0x34, 4, 4, 'x'}, nil, Concat{0x1234, 4, 4}, true, nil},
		{"sar", 0, []byte("hi"), sar, Concat{0x4242, 3, 2}, true, nil},
		{"udhi but no concat, then sar", 0x40, []byte{3, 0x24, 1, 0, 'x'}, sar, Concat{0x4242, 3, 2}, true, nil},
		{"udh part 0 ignored", 0x40, []byte{5, 0, 3, 1, 2, 0}, nil, Concat{}, false, nil},
		{"plain", 0, []byte("hi"), nil, Concat{}, false, nil},
		{"udh length past message", 0x40, []byte{9, 0, 3}, nil, Concat{}, false, ErrUDH},
		{"element past header", 0x40, []byte{3, 0, 3, 1}, nil, Concat{}, false, ErrUDH},
		{"concat element wrong size", 0x40, []byte{4, 0, 2, 1, 1}, nil, Concat{}, false, ErrUDH},
		{"empty with udhi", 0x40, nil, nil, Concat{}, false, ErrUDH},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := ConcatOf(tt.esm, tt.sm, tt.tlvs)
			if !errors.Is(err, tt.err) {
				t.Fatalf("ConcatOf() error = %v, want %v", err, tt.err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" || ok != tt.ok {
				t.Errorf("ConcatOf() = %+v, %v, want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestBest(t *testing.T) {
	if got := Best("Hello €"); got != pdu.CodingDefault {
		t.Errorf("Best(GSM text) = %v", got)
	}
	if got := Best("Привет"); got != pdu.CodingUCS2 {
		t.Errorf("Best(Cyrillic) = %v", got)
	}
}
