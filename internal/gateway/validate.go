package gateway

import (
	"time"

	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/pdu/coding"
)

// Submission is a submit_sm, data_sm or one destination of a submit_multi
// after validation: everything the gateway needs to store and answer it.
type submission struct {
	serviceType        string
	source, dest       pdu.Address
	esmClass           uint8
	protocolID         uint8
	priority           uint8
	registeredDelivery uint8
	dataCoding         pdu.DataCoding
	text               []byte // short_message, or message_payload when short_message is empty
	tlvs               pdu.TLVs
	scheduleAt         time.Time
	expireAt           time.Time
}

// esm_class message-type bits an ESME may set on a submission: default,
// SME delivery acknowledgement, user acknowledgement (§5.2.12). The MC-only
// types (0x04 receipt, 0x20 intermediate notification, ...) are refused.
const (
	esmTypeMask    = 0x3c
	esmTypeDefault = 0x00
	esmSMEAck      = 0x08
	esmUserAck     = 0x10
	esmUDHI        = 0x40

	esmReceipt      = 0x04 // MC delivery receipt, on deliver_sm
	esmIntermediate = 0x20 // intermediate delivery notification, on deliver_sm
)

// registered_delivery bits (§5.2.17).
const (
	regReceiptMask     = 0x03
	regReceiptAll      = 0x01
	regReceiptFailures = 0x02
	regIntermediate    = 0x10
	regReserved        = 0xe0
)

// checkAddress validates an address for the given role. Status codes follow
// §5.1.3: a bad TON/NPI gets its own code, a malformed address the address
// code of its role.
func checkAddress(a pdu.Address, source bool) pdu.Status {
	badTON, badNPI, badAddr := pdu.StatusInvDstTON, pdu.StatusInvDstNPI, pdu.StatusInvDstAdr
	if source {
		badTON, badNPI, badAddr = pdu.StatusInvSrcTON, pdu.StatusInvSrcNPI, pdu.StatusInvSrcAdr
	}
	if a.TON > pdu.TONAbbreviated {
		return badTON
	}
	switch a.NPI {
	case pdu.NPIUnknown, pdu.NPIISDN, pdu.NPIData, pdu.NPITelex, pdu.NPILandMobile,
		pdu.NPINational, pdu.NPIPrivate, pdu.NPIERMES, pdu.NPIInternet, pdu.NPIWAP:
	default:
		return badNPI
	}
	if a.Addr == "" {
		if source {
			return pdu.StatusOK // the MC's default source address applies
		}
		return badAddr
	}
	if len(a.Addr) > 20 {
		return badAddr
	}
	switch a.TON {
	case pdu.TONAlphanumeric:
		// GSM 03.40 alphanumeric originators: up to 11 characters.
		if len(a.Addr) > 11 || !printable(a.Addr) {
			return badAddr
		}
	case pdu.TONInternational, pdu.TONNational, pdu.TONSubscriber, pdu.TONNetworkSpecific, pdu.TONAbbreviated:
		if !digits(a.Addr) {
			return badAddr
		}
	default: // unknown TON: digits with an optional leading '+', or a short alphanumeric sender
		if !(digits(a.Addr) || (a.Addr[0] == '+' && len(a.Addr) > 1 && digits(a.Addr[1:])) ||
			(source && len(a.Addr) <= 11 && printable(a.Addr))) {
			return badAddr
		}
	}
	return pdu.StatusOK
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return len(s) > 0
}

// checkDataCoding accepts the 3.4 data_coding values (§5.2.19) and the
// GSM 03.38 coding groups clients use for message classes and MWI.
func checkDataCoding(dc pdu.DataCoding) bool {
	return dc <= 0x0e || dc >= 0xc0
}

// common holds the fields submit_sm, data_sm and submit_multi share.
type common struct {
	esmClass, registeredDelivery, priority, replaceIfPresent, defaultMsgID uint8
	dataCoding                                                             pdu.DataCoding
	schedule, validity                                                     string
	shortMessage                                                           []byte
	tlvs                                                                   pdu.TLVs
}

// checkCommon validates the non-address fields and resolves the text,
// schedule and expiry. maxValidity caps how long a message may wait.
func checkCommon(c common, now time.Time, defaultValidity, maxValidity time.Duration) (text []byte, scheduleAt, expireAt time.Time, st pdu.Status) {
	if c.esmClass&esmTypeMask != esmTypeDefault && c.esmClass&esmTypeMask != esmSMEAck && c.esmClass&esmTypeMask != esmUserAck {
		return nil, scheduleAt, expireAt, pdu.StatusInvEsmClass
	}
	if c.registeredDelivery&regReserved != 0 || c.registeredDelivery&regReceiptMask == 0x03 {
		return nil, scheduleAt, expireAt, pdu.StatusInvRegDlvFlg
	}
	if c.priority > 3 {
		return nil, scheduleAt, expireAt, pdu.StatusInvPrtFlg
	}
	if c.replaceIfPresent > 1 {
		return nil, scheduleAt, expireAt, pdu.StatusInvRepFlag
	}
	if c.defaultMsgID != 0 {
		// Canned messages are an MC feature smppd does not offer.
		return nil, scheduleAt, expireAt, pdu.StatusInvDftMsgID
	}
	if !checkDataCoding(c.dataCoding) {
		return nil, scheduleAt, expireAt, pdu.StatusSubmitFail
	}
	text = c.shortMessage
	if payload, ok := c.tlvs.MessagePayload(); ok {
		if len(c.shortMessage) > 0 {
			// §5.3.2.32: message_payload and short_message are exclusive.
			return nil, scheduleAt, expireAt, pdu.StatusOptParNotAllwd
		}
		text = payload
	}
	if c.esmClass&esmUDHI != 0 {
		if _, _, err := coding.SplitUDH(text); err != nil {
			return nil, scheduleAt, expireAt, pdu.StatusInvMsgLen
		}
	}
	var err error
	if scheduleAt, err = parseSMPPTime(c.schedule, now); err != nil {
		return nil, scheduleAt, expireAt, pdu.StatusInvSched
	}
	if !scheduleAt.IsZero() && scheduleAt.Sub(now) > maxValidity {
		return nil, scheduleAt, expireAt, pdu.StatusInvSched
	}
	if expireAt, err = parseSMPPTime(c.validity, now); err != nil {
		return nil, scheduleAt, expireAt, pdu.StatusInvExpiry
	}
	if expireAt.IsZero() {
		expireAt = now.Add(defaultValidity)
		if scheduleAt.After(now) {
			expireAt = scheduleAt.Add(defaultValidity)
		}
	}
	if !expireAt.After(now) || expireAt.Sub(now) > maxValidity+defaultValidity {
		return nil, scheduleAt, expireAt, pdu.StatusInvExpiry
	}
	return text, scheduleAt, expireAt, pdu.StatusOK
}
