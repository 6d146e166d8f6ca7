package pdu

// TON is a type of number (addr_ton, section 5.2.5).
type TON uint8

// Types of number.
const (
	TONUnknown         TON = 0 // unknown
	TONInternational   TON = 1 // international
	TONNational        TON = 2 // national
	TONNetworkSpecific TON = 3 // network_specific
	TONSubscriber      TON = 4 // subscriber
	TONAlphanumeric    TON = 5 // alphanumeric
	TONAbbreviated     TON = 6 // abbreviated
)

// NPI is a numbering plan indicator (addr_npi, section 5.2.6).
type NPI uint8

// Numbering plan indicators.
const (
	NPIUnknown    NPI = 0  // unknown
	NPIISDN       NPI = 1  // isdn
	NPIData       NPI = 3  // data
	NPITelex      NPI = 4  // telex
	NPILandMobile NPI = 6  // land_mobile
	NPINational   NPI = 8  // national
	NPIPrivate    NPI = 9  // private
	NPIERMES      NPI = 10 // ermes
	NPIInternet   NPI = 14 // internet
	NPIWAP        NPI = 18 // wap
)

// DataCoding is the data_coding field (section 5.2.19): how short_message or
// message_payload is encoded. pdu/coding converts text to and from it.
type DataCoding uint8

// Data codings.
const (
	CodingDefault   DataCoding = 0x00 // default (SMSC default alphabet, GSM 03.38)
	CodingIA5       DataCoding = 0x01 // ia5 (ASCII)
	CodingBinary    DataCoding = 0x02 // binary
	CodingLatin1    DataCoding = 0x03 // latin1 (ISO-8859-1)
	CodingBinary4   DataCoding = 0x04 // binary4
	CodingJIS       DataCoding = 0x05 // jis (X 0208-1990)
	CodingCyrillic  DataCoding = 0x06 // cyrillic (ISO-8859-5)
	CodingHebrew    DataCoding = 0x07 // hebrew (ISO-8859-8)
	CodingUCS2      DataCoding = 0x08 // ucs2 (ISO/IEC-10646)
	CodingPictogram DataCoding = 0x09 // pictogram
	CodingISO2022JP DataCoding = 0x0A // iso2022jp (music codes)
	CodingKanji     DataCoding = 0x0D // kanji (extended kanji JIS X 0212-1990)
	CodingKSC5601   DataCoding = 0x0E // ksc5601
)

// Address is a (TON, NPI, address) triple as it appears in source_addr,
// destination_addr and their like.
type Address struct {
	TON  TON
	NPI  NPI
	Addr string // at most 20 octets in most PDUs (21 with the NUL), 64 in data_sm and alert_notification
}

// MessageState is the message_state of query_sm_resp and of the
// message_state TLV (section 5.2.28).
type MessageState uint8

// Message states. StateScheduled and StateSkipped come from SMPP 5.0.
const (
	StateScheduled     MessageState = 0 // SCHEDULED
	StateEnroute       MessageState = 1 // ENROUTE
	StateDelivered     MessageState = 2 // DELIVERED
	StateExpired       MessageState = 3 // EXPIRED
	StateDeleted       MessageState = 4 // DELETED
	StateUndeliverable MessageState = 5 // UNDELIVERABLE
	StateAccepted      MessageState = 6 // ACCEPTED
	StateUnknown       MessageState = 7 // UNKNOWN
	StateRejected      MessageState = 8 // REJECTED
	StateSkipped       MessageState = 9 // SKIPPED
)

// Stat returns the 7-letter stat word of an Appendix B receipt for s
// (DELIVRD, UNDELIV, …), or "UNKNOWN" for states the appendix does not name.
func (s MessageState) Stat() string {
	switch s {
	case StateScheduled:
		return "SCHEDUL"
	case StateEnroute:
		return "ENROUTE"
	case StateDelivered:
		return "DELIVRD"
	case StateExpired:
		return "EXPIRED"
	case StateDeleted:
		return "DELETED"
	case StateUndeliverable:
		return "UNDELIV"
	case StateAccepted:
		return "ACCEPTD"
	case StateRejected:
		return "REJECTD"
	case StateSkipped:
		return "SKIPPED"
	}
	return "UNKNOWN"
}

// StateFromStat maps a receipt stat word back to its state. It accepts the
// 7-letter words of Appendix B and, because peers write them, the full state
// names (DELIVERED, UNDELIVERABLE, …), in any letter case.
func StateFromStat(word string) (MessageState, bool) {
	var up [16]byte
	if len(word) > len(up) {
		return StateUnknown, false
	}
	for i := 0; i < len(word); i++ {
		c := word[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		up[i] = c
	}
	switch string(up[:len(word)]) {
	case "SCHEDUL", "SCHEDULED":
		return StateScheduled, true
	case "ENROUTE":
		return StateEnroute, true
	case "DELIVRD", "DELIVERED":
		return StateDelivered, true
	case "EXPIRED":
		return StateExpired, true
	case "DELETED":
		return StateDeleted, true
	case "UNDELIV", "UNDELIVERABLE":
		return StateUndeliverable, true
	case "ACCEPTD", "ACCEPTED":
		return StateAccepted, true
	case "UNKNOWN":
		return StateUnknown, true
	case "REJECTD", "REJECTED":
		return StateRejected, true
	case "SKIPPED":
		return StateSkipped, true
	}
	return StateUnknown, false
}

// Final reports whether s is a final state, after which no receipt follows:
// every state but SCHEDULED and ENROUTE. UNKNOWN counts as final because an
// SMSC that reports it has given up tracking the message.
func (s MessageState) Final() bool {
	return s != StateScheduled && s != StateEnroute
}
