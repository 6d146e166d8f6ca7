package gateway

import (
	"strings"

	"github.com/smppd/smppd/pdu"
)

// outcome is what the test-mode simulator decides for a message: its final
// state, the Appendix B err code and, on failures, the network_error_code
// TLV value (type 3 = GSM, then a two-octet code).
type outcome struct {
	state        pdu.MessageState
	errCode      string
	networkError [3]byte
	intermediate bool // send ENROUTE first (when registered_delivery asks for it)
}

// testOutcomes is the documented table (README, "Test mode"): the
// destination's last four digits choose the outcome, so an integration can
// exercise every receipt it must handle. Anything else is delivered.
var testOutcomes = []struct {
	suffix string
	out    outcome
}{
	{"9001", outcome{state: pdu.StateUndeliverable, errCode: "001", networkError: [3]byte{3, 0, 1}}},
	{"9002", outcome{state: pdu.StateRejected, errCode: "002", networkError: [3]byte{3, 0, 2}}},
	{"9003", outcome{state: pdu.StateExpired, errCode: "003"}},
	{"9004", outcome{state: pdu.StateDeleted, errCode: "004"}},
	{"9005", outcome{state: pdu.StateUnknown, errCode: "005"}},
	{"9006", outcome{state: pdu.StateDelivered, errCode: "000", intermediate: true}},
}

// simulate picks the outcome for a test-mode message to dest.
func simulate(dest string) outcome {
	for _, o := range testOutcomes {
		if strings.HasSuffix(dest, o.suffix) {
			return o.out
		}
	}
	return outcome{state: pdu.StateDelivered, errCode: "000"}
}

// wantsReceipt reports whether registered_delivery asks for a receipt of
// state s (§5.2.17): 1 = every final state, 2 = failures only, bit 0x10 =
// intermediate notifications.
func wantsReceipt(registeredDelivery uint8, s pdu.MessageState) bool {
	if !s.Final() {
		return registeredDelivery&regIntermediate != 0
	}
	switch registeredDelivery & regReceiptMask {
	case regReceiptAll:
		return true
	case regReceiptFailures:
		return s != pdu.StateDelivered
	}
	return false
}
