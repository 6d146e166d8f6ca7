package bench

import (
	"fmt"
	"strings"

	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/pdu/coding"
)

// template is one pre-encoded submit_sm. Each message copies it and patches
// the sequence number and the destination digits in place, which costs a
// memmove instead of an encode per message.
type template struct {
	b       []byte
	digits  []int // offsets in b of the destination's '#' placeholders
	encoded int   // message octets (short_message or message_payload)
}

const seqOffset = 12 // sequence_number in the header

func buildTemplate(o *Options) (*template, error) {
	text := o.Text
	if text == "" {
		text = generatedText(o.Size)
	}
	coding, body, err := encodeText(o.Coding, text)
	if err != nil {
		return nil, err
	}
	sm := &pdu.SubmitSM{
		Source:     pdu.Address{TON: pdu.TONAlphanumeric, NPI: pdu.NPIUnknown, Addr: o.Source},
		Dest:       pdu.Address{TON: pdu.TONInternational, NPI: pdu.NPIISDN, Addr: o.Dest},
		DataCoding: coding,
	}
	if o.RegisteredDelivery {
		sm.RegisteredDelivery = 1
	}
	if len(body) <= 254 {
		sm.ShortMessage = body
	} else {
		sm.TLVs.SetMessagePayload(body)
	}
	b, err := pdu.Append(nil, 1, pdu.StatusOK, sm)
	if err != nil {
		return nil, fmt.Errorf("%w: encoding the submit_sm: %w", ErrInvalidOptions, err)
	}
	// Body layout (SMPP 3.4 §4.4.1): service_type, source TON, NPI,
	// source_addr, dest TON, NPI, destination_addr.
	destOff := pdu.HeaderLen + len(sm.ServiceType) + 1 + 2 + len(sm.Source.Addr) + 1 + 2
	if destOff+len(o.Dest) > len(b) || string(b[destOff:destOff+len(o.Dest)]) != o.Dest {
		return nil, fmt.Errorf("%w: destination not where SMPP 3.4 puts it in the encoded submit_sm", ErrInvalidOptions)
	}
	t := &template{b: b, encoded: len(body)}
	for i := range len(o.Dest) {
		if o.Dest[i] == '#' {
			t.digits = append(t.digits, destOff+i)
		}
	}
	return t, nil
}

// appendMessage appends the template with seq and the destination digits
// from dest (one byte per '#', most significant first) filled in.
func (t *template) appendMessage(b []byte, seq uint32, dest []byte) []byte {
	start := len(b)
	b = append(b, t.b...)
	m := b[start:]
	m[seqOffset] = byte(seq >> 24)
	m[seqOffset+1] = byte(seq >> 16)
	m[seqOffset+2] = byte(seq >> 8)
	m[seqOffset+3] = byte(seq)
	for i, off := range t.digits {
		m[off] = dest[i]
	}
	return b
}

// odometer is a decimal counter kept as ASCII digits, so the next
// destination costs an increment instead of a division per digit.
type odometer []byte

func newOdometer(width int, start uint64) odometer {
	o := make(odometer, width)
	for i := width - 1; i >= 0; i-- {
		o[i] = byte('0' + start%10)
		start /= 10
	}
	return o
}

// next advances the counter by one, wrapping to all zeros.
func (o odometer) next() {
	for i := len(o) - 1; i >= 0; i-- {
		if o[i] < '9' {
			o[i]++
			return
		}
		o[i] = '0'
	}
}

// generatedText is n characters of readable filler.
func generatedText(n int) string {
	const filler = "smppd bench load test message 0123456789 "
	var sb strings.Builder
	for sb.Len() < n {
		sb.WriteString(filler)
	}
	return sb.String()[:n]
}

// encodeText encodes text for the wire with the project's codings: gsm7 is
// the GSM 03.38 default alphabet as unpacked septets (extension characters
// escaped), latin1 ISO-8859-1, ucs2 UTF-16BE.
func encodeText(name, text string) (pdu.DataCoding, []byte, error) {
	dc := map[string]pdu.DataCoding{"gsm7": pdu.CodingDefault, "latin1": pdu.CodingLatin1, "ucs2": pdu.CodingUCS2}[name]
	b, err := coding.Encode(dc, text)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: --coding %s: %w", ErrInvalidOptions, name, err)
	}
	return dc, b, nil
}
