package gateway

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// IDFormat is how message ids are written on the wire: in submit_sm_resp, in
// the receipt's receipted_message_id TLV and in its "id:" text, always the
// same bytes. The store hands out 64-bit ids that are unique across restarts;
// the format only decides their spelling.
type IDFormat uint8

const (
	// IDHex writes the id in lower-case hexadecimal without leading zeros
	// (e.g. "1a0000002f"). It is the default: short, and free of the
	// leading-zero and case ambiguities that trip up receipt matching.
	IDHex IDFormat = iota
	// IDDecimal writes the id in decimal, for clients that insist on
	// numeric ids (up to 20 digits).
	IDDecimal
	// IDUUID writes the id as a UUID (version 8, RFC 9562) whose last
	// eight octets carry the id.
	IDUUID
)

var errBadIDFormat = errors.New("message id format must be hex, decimal or uuid")

// ParseIDFormat reads a --message-id-format value.
func ParseIDFormat(s string) (IDFormat, error) {
	switch strings.ToLower(s) {
	case "hex", "":
		return IDHex, nil
	case "decimal", "dec":
		return IDDecimal, nil
	case "uuid":
		return IDUUID, nil
	}
	return 0, fmt.Errorf("%w (got %q)", errBadIDFormat, s)
}

func (f IDFormat) String() string {
	switch f {
	case IDHex:
		return "hex"
	case IDDecimal:
		return "decimal"
	case IDUUID:
		return "uuid"
	}
	return "IDFormat(" + strconv.Itoa(int(f)) + ")"
}

// uuidPrefix is the fixed first half of the UUIDs smppd writes: "smppd" in
// ASCII where RFC 9562 leaves room for custom data, and version 8 in the
// high nibble of octet 6.
var uuidPrefix = [8]byte{'s', 'm', 'p', 'p', 'd', 0, 0x80, 0}

// Append appends the spelling of id to b (Format without the string).
func (f IDFormat) Append(b []byte, id uint64) []byte {
	switch f {
	case IDDecimal:
		return strconv.AppendUint(b, id, 10)
	case IDUUID:
		return append(b, f.Format(id)...)
	default:
		return strconv.AppendUint(b, id, 16)
	}
}

// Format spells id.
func (f IDFormat) Format(id uint64) string {
	switch f {
	case IDDecimal:
		return strconv.FormatUint(id, 10)
	case IDUUID:
		var b [16]byte
		copy(b[:8], uuidPrefix[:])
		binary.BigEndian.PutUint64(b[8:], id)
		// The variant bits (10xx) sit in the top of octet 8; the ids the
		// store hands out never reach them (the high bits are a small boot
		// epoch), and Parse checks them.
		b[8] = b[8]&0x3f | 0x80
		h := hex.EncodeToString(b[:])
		return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	default:
		return strconv.FormatUint(id, 16)
	}
}

// Parse reads an id written by Format. Hexadecimal ids are accepted in
// either case, and with leading zeros, since clients normalise ids in many
// ways (reference/smpp34.md, complaint 6).
func (f IDFormat) Parse(s string) (uint64, bool) {
	switch f {
	case IDDecimal:
		id, err := strconv.ParseUint(s, 10, 64)
		return id, err == nil
	case IDUUID:
		h := strings.ReplaceAll(s, "-", "")
		if len(h) != 32 {
			return 0, false
		}
		b, err := hex.DecodeString(h)
		if err != nil {
			return 0, false
		}
		for i := 0; i < 8; i++ {
			if b[i] != uuidPrefix[i] {
				return 0, false
			}
		}
		b[8] &= 0x3f
		return binary.BigEndian.Uint64(b[8:]), true
	default:
		if len(s) == 0 || len(s) > 16+8 {
			return 0, false
		}
		id, err := strconv.ParseUint(s, 16, 64)
		return id, err == nil
	}
}
