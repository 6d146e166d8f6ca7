package gateway

import "github.com/smppd/smppd/pdu"

// TODO(lead): switch to pdu/coding's concatenation view once it lands.

type concat struct {
	ref         uint16
	total, part uint8
}

// concatOf reads the concatenation info of one part, from its UDH (IEI 0x00
// or 0x08) or from the sar_* TLVs.
func concatOf(esmClass uint8, text []byte, tlvs pdu.TLVs) (concat, bool) {
	if ref, total, seq, ok := tlvs.SAR(); ok {
		return concat{ref: ref, total: total, part: seq}, true
	}
	if esmClass&esmUDHI == 0 || len(text) == 0 {
		return concat{}, false
	}
	udhl := int(text[0])
	if udhl+1 > len(text) {
		return concat{}, false
	}
	ies := text[1 : 1+udhl]
	for len(ies) >= 2 {
		iei, l := ies[0], int(ies[1])
		if 2+l > len(ies) {
			break
		}
		v := ies[2 : 2+l]
		switch {
		case iei == 0x00 && l == 3:
			return concat{ref: uint16(v[0]), total: v[1], part: v[2]}, true
		case iei == 0x08 && l == 4:
			return concat{ref: uint16(v[0])<<8 | uint16(v[1]), total: v[2], part: v[3]}, true
		}
		ies = ies[2+l:]
	}
	return concat{}, false
}

// countSegments is how many SMS parts a long text (message_payload) needs
// in its coding: 153 septets / 134 octets / 67 UCS-2 characters per part
// with a concatenation UDH, or one part when it fits 160/140/70.
func countSegments(dc pdu.DataCoding, text []byte) int {
	single, multi := 140, 134 // octets
	switch dc {
	case pdu.CodingDefault, pdu.CodingIA5:
		single, multi = 160, 153 // unpacked septets, one octet each
	case pdu.CodingUCS2:
		single, multi = 140, 134
	}
	if len(text) <= single {
		return 1
	}
	return (len(text) + multi - 1) / multi
}
