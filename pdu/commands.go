package pdu

// PDU is one SMPP command. Every command struct of this package implements
// it with a pointer receiver.
type PDU interface {
	// CommandID returns the command_id of the PDU.
	CommandID() CommandID
	// AppendBody appends the body (without header) to b. It fails with an
	// *Error if a field breaks its maximum or holds an invalid value.
	AppendBody(b []byte) ([]byte, error)
	// DecodeBody decodes b, the whole body, into the receiver, replacing
	// every field. The receiver does not keep b: it decodes from a private
	// copy, so b may be reused at once.
	DecodeBody(b []byte) error
}

// Bind is bind_transmitter, bind_receiver or bind_transceiver.
type Bind struct {
	// Cmd is CmdBindTransmitter, CmdBindReceiver or CmdBindTransceiver;
	// zero means CmdBindTransmitter. DecodeBody keeps it.
	Cmd              CommandID
	SystemID         string // at most 15 octets
	Password         string // 8 octets by spec; up to 64 accepted both ways, the credential store decides
	SystemType       string // at most 12 octets
	InterfaceVersion uint8  // 0x34 for SMPP 3.4
	AddrTON          TON
	AddrNPI          NPI
	AddressRange     string // at most 40 octets
}

// CommandID implements PDU.
func (p *Bind) CommandID() CommandID {
	if p.Cmd == 0 {
		return CmdBindTransmitter
	}
	return p.Cmd
}

// AppendBody implements PDU.
func (p *Bind) AppendBody(b []byte) ([]byte, error) {
	e := encoder{id: p.CommandID(), b: b}
	e.cstring("system_id", p.SystemID, maxSystemID)
	e.cstring("password", p.Password, maxPasswordLenient)
	e.cstring("system_type", p.SystemType, maxSystemType)
	e.u8(p.InterfaceVersion)
	e.u8(uint8(p.AddrTON))
	e.u8(uint8(p.AddrNPI))
	e.cstring("address_range", p.AddressRange, maxAddressRange)
	return e.result()
}

// DecodeBody implements PDU.
func (p *Bind) DecodeBody(b []byte) error {
	d := newDecoder(p.CommandID(), b)
	*p = Bind{
		Cmd:              p.Cmd,
		SystemID:         d.cstring("system_id", maxSystemID),
		Password:         d.cstring("password", maxPasswordLenient),
		SystemType:       d.cstring("system_type", maxSystemType),
		InterfaceVersion: d.u8("interface_version"),
		AddrTON:          TON(d.u8("addr_ton")),
		AddrNPI:          NPI(d.u8("addr_npi")),
		AddressRange:     d.cstring("address_range", maxAddressRange),
	}
	return d.done()
}

// BindResp is bind_transmitter_resp, bind_receiver_resp or
// bind_transceiver_resp.
type BindResp struct {
	// Cmd is the _resp command id; zero means CmdBindTransmitterResp.
	// DecodeBody keeps it.
	Cmd      CommandID
	SystemID string // the SMSC's id, at most 15 octets
	TLVs     TLVs   // sc_interface_version
}

// CommandID implements PDU.
func (p *BindResp) CommandID() CommandID {
	if p.Cmd == 0 {
		return CmdBindTransmitterResp
	}
	return p.Cmd
}

// AppendBody implements PDU.
func (p *BindResp) AppendBody(b []byte) ([]byte, error) {
	e := encoder{id: p.CommandID(), b: b}
	e.cstring("system_id", p.SystemID, maxSystemID)
	e.tlvs(p.TLVs)
	return e.result()
}

// DecodeBody implements PDU.
func (p *BindResp) DecodeBody(b []byte) error {
	d := newDecoder(p.CommandID(), b)
	*p = BindResp{Cmd: p.Cmd, SystemID: d.cstring("system_id", maxSystemID)}
	p.TLVs = d.tlvs()
	return d.done()
}

// Outbind asks an ESME to bind (SMSC to ESME).
type Outbind struct {
	SystemID string
	Password string
}

// CommandID implements PDU.
func (p *Outbind) CommandID() CommandID { return CmdOutbind }

// AppendBody implements PDU.
func (p *Outbind) AppendBody(b []byte) ([]byte, error) {
	e := encoder{id: CmdOutbind, b: b}
	e.cstring("system_id", p.SystemID, maxSystemID)
	e.cstring("password", p.Password, maxPasswordLenient)
	return e.result()
}

// DecodeBody implements PDU.
func (p *Outbind) DecodeBody(b []byte) error {
	d := newDecoder(CmdOutbind, b)
	*p = Outbind{
		SystemID: d.cstring("system_id", maxSystemID),
		Password: d.cstring("password", maxPasswordLenient),
	}
	return d.done()
}

// emptyBody decodes the body of a command without fields.
func emptyBody(id CommandID, b []byte) error {
	if len(b) != 0 {
		return &Error{ID: id, Field: "body", Err: ErrTrailingBytes}
	}
	return nil
}

// Unbind ends a session.
type Unbind struct{}

// CommandID implements PDU.
func (*Unbind) CommandID() CommandID { return CmdUnbind }

// AppendBody implements PDU.
func (*Unbind) AppendBody(b []byte) ([]byte, error) { return b, nil }

// DecodeBody implements PDU.
func (*Unbind) DecodeBody(b []byte) error { return emptyBody(CmdUnbind, b) }

// UnbindResp answers unbind.
type UnbindResp struct{}

// CommandID implements PDU.
func (*UnbindResp) CommandID() CommandID { return CmdUnbindResp }

// AppendBody implements PDU.
func (*UnbindResp) AppendBody(b []byte) ([]byte, error) { return b, nil }

// DecodeBody implements PDU.
func (*UnbindResp) DecodeBody(b []byte) error { return emptyBody(CmdUnbindResp, b) }

// GenericNack answers a PDU that cannot be identified or parsed.
type GenericNack struct{}

// CommandID implements PDU.
func (*GenericNack) CommandID() CommandID { return CmdGenericNack }

// AppendBody implements PDU.
func (*GenericNack) AppendBody(b []byte) ([]byte, error) { return b, nil }

// DecodeBody implements PDU.
func (*GenericNack) DecodeBody(b []byte) error { return emptyBody(CmdGenericNack, b) }

// EnquireLink is the keepalive probe.
type EnquireLink struct{}

// CommandID implements PDU.
func (*EnquireLink) CommandID() CommandID { return CmdEnquireLink }

// AppendBody implements PDU.
func (*EnquireLink) AppendBody(b []byte) ([]byte, error) { return b, nil }

// DecodeBody implements PDU.
func (*EnquireLink) DecodeBody(b []byte) error { return emptyBody(CmdEnquireLink, b) }

// EnquireLinkResp answers enquire_link.
type EnquireLinkResp struct{}

// CommandID implements PDU.
func (*EnquireLinkResp) CommandID() CommandID { return CmdEnquireLinkResp }

// AppendBody implements PDU.
func (*EnquireLinkResp) AppendBody(b []byte) ([]byte, error) { return b, nil }

// DecodeBody implements PDU.
func (*EnquireLinkResp) DecodeBody(b []byte) error { return emptyBody(CmdEnquireLinkResp, b) }

// SubmitSM is submit_sm: one short message from an ESME.
type SubmitSM struct {
	ServiceType          string // at most 5 octets
	Source               Address
	Dest                 Address
	ESMClass             uint8
	ProtocolID           uint8
	PriorityFlag         uint8
	ScheduleDeliveryTime string // "" or 16 characters, YYMMDDhhmmsstnnp
	ValidityPeriod       string // "" or 16 characters
	RegisteredDelivery   uint8
	ReplaceIfPresent     uint8
	DataCoding           DataCoding
	SMDefaultMsgID       uint8
	ShortMessage         []byte // at most 254 octets; sm_length is its length
	TLVs                 TLVs
}

// CommandID implements PDU.
func (p *SubmitSM) CommandID() CommandID { return CmdSubmitSM }

// AppendBody implements PDU.
func (p *SubmitSM) AppendBody(b []byte) ([]byte, error) { return p.appendBody(CmdSubmitSM, b) }

// DecodeBody implements PDU.
func (p *SubmitSM) DecodeBody(b []byte) error { return p.decodeBody(CmdSubmitSM, b) }

func (p *SubmitSM) appendBody(id CommandID, b []byte) ([]byte, error) {
	e := encoder{id: id, b: b}
	e.cstring("service_type", p.ServiceType, maxServiceType)
	e.addr("source_addr", p.Source, maxAddr)
	e.addr("destination_addr", p.Dest, maxAddr)
	e.u8(p.ESMClass)
	e.u8(p.ProtocolID)
	e.u8(p.PriorityFlag)
	e.time("schedule_delivery_time", p.ScheduleDeliveryTime)
	e.time("validity_period", p.ValidityPeriod)
	e.u8(p.RegisteredDelivery)
	e.u8(p.ReplaceIfPresent)
	e.u8(uint8(p.DataCoding))
	e.u8(p.SMDefaultMsgID)
	e.shortMessage(p.ShortMessage)
	e.tlvs(p.TLVs)
	return e.result()
}

func (p *SubmitSM) decodeBody(id CommandID, b []byte) error {
	d := newDecoder(id, b)
	*p = SubmitSM{
		ServiceType:          d.cstring("service_type", maxServiceType),
		Source:               d.addr("source_addr", maxAddr),
		Dest:                 d.addr("destination_addr", maxAddr),
		ESMClass:             d.u8("esm_class"),
		ProtocolID:           d.u8("protocol_id"),
		PriorityFlag:         d.u8("priority_flag"),
		ScheduleDeliveryTime: d.time("schedule_delivery_time"),
		ValidityPeriod:       d.time("validity_period"),
		RegisteredDelivery:   d.u8("registered_delivery"),
		ReplaceIfPresent:     d.u8("replace_if_present_flag"),
		DataCoding:           DataCoding(d.u8("data_coding")),
		SMDefaultMsgID:       d.u8("sm_default_msg_id"),
		ShortMessage:         d.shortMessage(),
	}
	p.TLVs = d.tlvs()
	return d.done()
}

// DeliverSM is deliver_sm: a message or receipt from the SMSC to an ESME.
// It has the fields of SubmitSM (and converts to it: (*SubmitSM)(p)).
type DeliverSM struct {
	ServiceType          string
	Source               Address
	Dest                 Address
	ESMClass             uint8 // 0x04: the short message is a delivery receipt
	ProtocolID           uint8
	PriorityFlag         uint8
	ScheduleDeliveryTime string // "" in deliver_sm by spec; decoded like submit_sm
	ValidityPeriod       string
	RegisteredDelivery   uint8
	ReplaceIfPresent     uint8
	DataCoding           DataCoding
	SMDefaultMsgID       uint8
	ShortMessage         []byte
	TLVs                 TLVs
}

// CommandID implements PDU.
func (p *DeliverSM) CommandID() CommandID { return CmdDeliverSM }

// AppendBody implements PDU.
func (p *DeliverSM) AppendBody(b []byte) ([]byte, error) {
	return (*SubmitSM)(p).appendBody(CmdDeliverSM, b)
}

// DecodeBody implements PDU.
func (p *DeliverSM) DecodeBody(b []byte) error { return (*SubmitSM)(p).decodeBody(CmdDeliverSM, b) }

// messageIDResp is the body of submit_sm_resp and deliver_sm_resp.
func appendMessageID(id CommandID, b []byte, msgID string) ([]byte, error) {
	e := encoder{id: id, b: b}
	e.cstring("message_id", msgID, maxMessageID)
	return e.result()
}

func decodeMessageID(id CommandID, b []byte) (string, error) {
	d := newDecoder(id, b)
	s := d.cstring("message_id", maxMessageID)
	return s, d.done()
}

// SubmitSMResp answers submit_sm.
type SubmitSMResp struct {
	MessageID string // at most 64 octets
}

// CommandID implements PDU.
func (p *SubmitSMResp) CommandID() CommandID { return CmdSubmitSMResp }

// AppendBody implements PDU.
func (p *SubmitSMResp) AppendBody(b []byte) ([]byte, error) {
	return appendMessageID(CmdSubmitSMResp, b, p.MessageID)
}

// DecodeBody implements PDU.
func (p *SubmitSMResp) DecodeBody(b []byte) (err error) {
	p.MessageID, err = decodeMessageID(CmdSubmitSMResp, b)
	return err
}

// DeliverSMResp answers deliver_sm. MessageID is empty by spec.
type DeliverSMResp struct {
	MessageID string
}

// CommandID implements PDU.
func (p *DeliverSMResp) CommandID() CommandID { return CmdDeliverSMResp }

// AppendBody implements PDU.
func (p *DeliverSMResp) AppendBody(b []byte) ([]byte, error) {
	return appendMessageID(CmdDeliverSMResp, b, p.MessageID)
}

// DecodeBody implements PDU.
func (p *DeliverSMResp) DecodeBody(b []byte) (err error) {
	p.MessageID, err = decodeMessageID(CmdDeliverSMResp, b)
	return err
}

// DataSM is data_sm: a message whose payload travels in TLVs.
type DataSM struct {
	ServiceType        string
	Source             Address // at most 64 octets
	Dest               Address // at most 64 octets
	ESMClass           uint8
	RegisteredDelivery uint8
	DataCoding         DataCoding
	TLVs               TLVs
}

// CommandID implements PDU.
func (p *DataSM) CommandID() CommandID { return CmdDataSM }

// AppendBody implements PDU.
func (p *DataSM) AppendBody(b []byte) ([]byte, error) {
	e := encoder{id: CmdDataSM, b: b}
	e.cstring("service_type", p.ServiceType, maxServiceType)
	e.addr("source_addr", p.Source, maxAddr65)
	e.addr("destination_addr", p.Dest, maxAddr65)
	e.u8(p.ESMClass)
	e.u8(p.RegisteredDelivery)
	e.u8(uint8(p.DataCoding))
	e.tlvs(p.TLVs)
	return e.result()
}

// DecodeBody implements PDU.
func (p *DataSM) DecodeBody(b []byte) error {
	d := newDecoder(CmdDataSM, b)
	*p = DataSM{
		ServiceType:        d.cstring("service_type", maxServiceType),
		Source:             d.addr("source_addr", maxAddr65),
		Dest:               d.addr("destination_addr", maxAddr65),
		ESMClass:           d.u8("esm_class"),
		RegisteredDelivery: d.u8("registered_delivery"),
		DataCoding:         DataCoding(d.u8("data_coding")),
	}
	p.TLVs = d.tlvs()
	return d.done()
}

// DataSMResp answers data_sm.
type DataSMResp struct {
	MessageID string
	TLVs      TLVs
}

// CommandID implements PDU.
func (p *DataSMResp) CommandID() CommandID { return CmdDataSMResp }

// AppendBody implements PDU.
func (p *DataSMResp) AppendBody(b []byte) ([]byte, error) {
	e := encoder{id: CmdDataSMResp, b: b}
	e.cstring("message_id", p.MessageID, maxMessageID)
	e.tlvs(p.TLVs)
	return e.result()
}

// DecodeBody implements PDU.
func (p *DataSMResp) DecodeBody(b []byte) error {
	d := newDecoder(CmdDataSMResp, b)
	*p = DataSMResp{MessageID: d.cstring("message_id", maxMessageID)}
	p.TLVs = d.tlvs()
	return d.done()
}

// QuerySM asks for the state of a message.
type QuerySM struct {
	MessageID string
	Source    Address
}

// CommandID implements PDU.
func (p *QuerySM) CommandID() CommandID { return CmdQuerySM }

// AppendBody implements PDU.
func (p *QuerySM) AppendBody(b []byte) ([]byte, error) {
	e := encoder{id: CmdQuerySM, b: b}
	e.cstring("message_id", p.MessageID, maxMessageID)
	e.addr("source_addr", p.Source, maxAddr)
	return e.result()
}

// DecodeBody implements PDU.
func (p *QuerySM) DecodeBody(b []byte) error {
	d := newDecoder(CmdQuerySM, b)
	*p = QuerySM{
		MessageID: d.cstring("message_id", maxMessageID),
		Source:    d.addr("source_addr", maxAddr),
	}
	return d.done()
}

// QuerySMResp answers query_sm.
type QuerySMResp struct {
	MessageID    string
	FinalDate    string // "" or 16 characters
	MessageState MessageState
	ErrorCode    uint8 // network error code
}

// CommandID implements PDU.
func (p *QuerySMResp) CommandID() CommandID { return CmdQuerySMResp }

// AppendBody implements PDU.
func (p *QuerySMResp) AppendBody(b []byte) ([]byte, error) {
	e := encoder{id: CmdQuerySMResp, b: b}
	e.cstring("message_id", p.MessageID, maxMessageID)
	e.time("final_date", p.FinalDate)
	e.u8(uint8(p.MessageState))
	e.u8(p.ErrorCode)
	return e.result()
}

// DecodeBody implements PDU.
func (p *QuerySMResp) DecodeBody(b []byte) error {
	d := newDecoder(CmdQuerySMResp, b)
	*p = QuerySMResp{
		MessageID:    d.cstring("message_id", maxMessageID),
		FinalDate:    d.time("final_date"),
		MessageState: MessageState(d.u8("message_state")),
		ErrorCode:    d.u8("error_code"),
	}
	return d.done()
}

// CancelSM cancels one message or every pending message from Source to Dest.
type CancelSM struct {
	ServiceType string
	MessageID   string
	Source      Address
	Dest        Address
}

// CommandID implements PDU.
func (p *CancelSM) CommandID() CommandID { return CmdCancelSM }

// AppendBody implements PDU.
func (p *CancelSM) AppendBody(b []byte) ([]byte, error) {
	e := encoder{id: CmdCancelSM, b: b}
	e.cstring("service_type", p.ServiceType, maxServiceType)
	e.cstring("message_id", p.MessageID, maxMessageID)
	e.addr("source_addr", p.Source, maxAddr)
	e.addr("destination_addr", p.Dest, maxAddr)
	return e.result()
}

// DecodeBody implements PDU.
func (p *CancelSM) DecodeBody(b []byte) error {
	d := newDecoder(CmdCancelSM, b)
	*p = CancelSM{
		ServiceType: d.cstring("service_type", maxServiceType),
		MessageID:   d.cstring("message_id", maxMessageID),
		Source:      d.addr("source_addr", maxAddr),
		Dest:        d.addr("destination_addr", maxAddr),
	}
	return d.done()
}

// CancelSMResp answers cancel_sm.
type CancelSMResp struct{}

// CommandID implements PDU.
func (*CancelSMResp) CommandID() CommandID { return CmdCancelSMResp }

// AppendBody implements PDU.
func (*CancelSMResp) AppendBody(b []byte) ([]byte, error) { return b, nil }

// DecodeBody implements PDU.
func (*CancelSMResp) DecodeBody(b []byte) error { return emptyBody(CmdCancelSMResp, b) }

// ReplaceSM replaces a pending message.
type ReplaceSM struct {
	MessageID            string
	Source               Address
	ScheduleDeliveryTime string
	ValidityPeriod       string
	RegisteredDelivery   uint8
	SMDefaultMsgID       uint8
	ShortMessage         []byte
}

// CommandID implements PDU.
func (p *ReplaceSM) CommandID() CommandID { return CmdReplaceSM }

// AppendBody implements PDU.
func (p *ReplaceSM) AppendBody(b []byte) ([]byte, error) {
	e := encoder{id: CmdReplaceSM, b: b}
	e.cstring("message_id", p.MessageID, maxMessageID)
	e.addr("source_addr", p.Source, maxAddr)
	e.time("schedule_delivery_time", p.ScheduleDeliveryTime)
	e.time("validity_period", p.ValidityPeriod)
	e.u8(p.RegisteredDelivery)
	e.u8(p.SMDefaultMsgID)
	e.shortMessage(p.ShortMessage)
	return e.result()
}

// DecodeBody implements PDU.
func (p *ReplaceSM) DecodeBody(b []byte) error {
	d := newDecoder(CmdReplaceSM, b)
	*p = ReplaceSM{
		MessageID:            d.cstring("message_id", maxMessageID),
		Source:               d.addr("source_addr", maxAddr),
		ScheduleDeliveryTime: d.time("schedule_delivery_time"),
		ValidityPeriod:       d.time("validity_period"),
		RegisteredDelivery:   d.u8("registered_delivery"),
		SMDefaultMsgID:       d.u8("sm_default_msg_id"),
		ShortMessage:         d.shortMessage(),
	}
	return d.done()
}

// ReplaceSMResp answers replace_sm.
type ReplaceSMResp struct{}

// CommandID implements PDU.
func (*ReplaceSMResp) CommandID() CommandID { return CmdReplaceSMResp }

// AppendBody implements PDU.
func (*ReplaceSMResp) AppendBody(b []byte) ([]byte, error) { return b, nil }

// DecodeBody implements PDU.
func (*ReplaceSMResp) DecodeBody(b []byte) error { return emptyBody(CmdReplaceSMResp, b) }

// maxDests is the spec maximum of number_of_dests in submit_multi.
const maxDests = 254

// DestAddr is one destination of submit_multi: an SME address (dest_flag 1)
// or, when DLName is set, a distribution list name (dest_flag 2).
type DestAddr struct {
	DLName string // set for a distribution list; at most 20 octets
	Addr   Address
}

// SubmitMulti is submit_multi: one message to up to 254 destinations.
type SubmitMulti struct {
	ServiceType          string
	Source               Address
	Dests                []DestAddr
	ESMClass             uint8
	ProtocolID           uint8
	PriorityFlag         uint8
	ScheduleDeliveryTime string
	ValidityPeriod       string
	RegisteredDelivery   uint8
	ReplaceIfPresent     uint8
	DataCoding           DataCoding
	SMDefaultMsgID       uint8
	ShortMessage         []byte
	TLVs                 TLVs
}

// CommandID implements PDU.
func (p *SubmitMulti) CommandID() CommandID { return CmdSubmitMulti }

// AppendBody implements PDU.
func (p *SubmitMulti) AppendBody(b []byte) ([]byte, error) {
	e := encoder{id: CmdSubmitMulti, b: b}
	e.cstring("service_type", p.ServiceType, maxServiceType)
	e.addr("source_addr", p.Source, maxAddr)
	if len(p.Dests) > maxDests {
		e.fail("number_of_dests", ErrFieldTooLong)
	}
	e.u8(uint8(len(p.Dests)))
	for _, da := range p.Dests {
		if da.DLName != "" {
			e.u8(2)
			e.cstring("dl_name", da.DLName, maxDLName)
		} else {
			e.u8(1)
			e.addr("destination_addr", da.Addr, maxAddr)
		}
	}
	e.u8(p.ESMClass)
	e.u8(p.ProtocolID)
	e.u8(p.PriorityFlag)
	e.time("schedule_delivery_time", p.ScheduleDeliveryTime)
	e.time("validity_period", p.ValidityPeriod)
	e.u8(p.RegisteredDelivery)
	e.u8(p.ReplaceIfPresent)
	e.u8(uint8(p.DataCoding))
	e.u8(p.SMDefaultMsgID)
	e.shortMessage(p.ShortMessage)
	e.tlvs(p.TLVs)
	return e.result()
}

// DecodeBody implements PDU.
func (p *SubmitMulti) DecodeBody(b []byte) error {
	d := newDecoder(CmdSubmitMulti, b)
	*p = SubmitMulti{
		ServiceType: d.cstring("service_type", maxServiceType),
		Source:      d.addr("source_addr", maxAddr),
	}
	start := d.off
	n := int(d.u8("number_of_dests"))
	switch {
	case d.err != nil:
	case n > maxDests:
		d.fail("number_of_dests", start, ErrInvalidField)
	case 2*n > len(d.own)-d.off:
		// Each destination takes at least two octets: refuse before allocating.
		d.fail("dest_address", d.off, ErrTruncated)
	case n > 0:
		p.Dests = make([]DestAddr, n)
		for i := range p.Dests {
			flagOff := d.off
			switch d.u8("dest_flag") {
			case 1:
				p.Dests[i].Addr = d.addr("destination_addr", maxAddr)
			case 2:
				nameOff := d.off
				p.Dests[i].DLName = d.cstring("dl_name", maxDLName)
				if d.err == nil && p.Dests[i].DLName == "" {
					// An empty name lists nobody, and would not survive a
					// round trip: DestAddr tells the two kinds apart by it.
					d.fail("dl_name", nameOff, ErrInvalidField)
				}
			default:
				d.fail("dest_flag", flagOff, ErrInvalidField)
			}
		}
	}
	p.ESMClass = d.u8("esm_class")
	p.ProtocolID = d.u8("protocol_id")
	p.PriorityFlag = d.u8("priority_flag")
	p.ScheduleDeliveryTime = d.time("schedule_delivery_time")
	p.ValidityPeriod = d.time("validity_period")
	p.RegisteredDelivery = d.u8("registered_delivery")
	p.ReplaceIfPresent = d.u8("replace_if_present_flag")
	p.DataCoding = DataCoding(d.u8("data_coding"))
	p.SMDefaultMsgID = d.u8("sm_default_msg_id")
	p.ShortMessage = d.shortMessage()
	p.TLVs = d.tlvs()
	if err := d.done(); err != nil {
		*p = SubmitMulti{}
		return err
	}
	return nil
}

// UnsuccessSME is one destination submit_multi could not accept.
type UnsuccessSME struct {
	Addr   Address
	Status Status // error_status_code
}

// SubmitMultiResp answers submit_multi.
type SubmitMultiResp struct {
	MessageID string
	Unsuccess []UnsuccessSME
}

// CommandID implements PDU.
func (p *SubmitMultiResp) CommandID() CommandID { return CmdSubmitMultiResp }

// AppendBody implements PDU.
func (p *SubmitMultiResp) AppendBody(b []byte) ([]byte, error) {
	e := encoder{id: CmdSubmitMultiResp, b: b}
	e.cstring("message_id", p.MessageID, maxMessageID)
	if len(p.Unsuccess) > 255 {
		e.fail("no_unsuccess", ErrFieldTooLong)
	}
	e.u8(uint8(len(p.Unsuccess)))
	for _, u := range p.Unsuccess {
		e.addr("destination_addr", u.Addr, maxAddr)
		e.u32(uint32(u.Status))
	}
	return e.result()
}

// DecodeBody implements PDU.
func (p *SubmitMultiResp) DecodeBody(b []byte) error {
	d := newDecoder(CmdSubmitMultiResp, b)
	*p = SubmitMultiResp{MessageID: d.cstring("message_id", maxMessageID)}
	n := int(d.u8("no_unsuccess"))
	switch {
	case d.err != nil:
	case 7*n > len(d.own)-d.off:
		// Each entry takes at least seven octets: refuse before allocating.
		d.fail("unsuccess_sme", d.off, ErrTruncated)
	case n > 0:
		p.Unsuccess = make([]UnsuccessSME, n)
		for i := range p.Unsuccess {
			p.Unsuccess[i].Addr = d.addr("destination_addr", maxAddr)
			p.Unsuccess[i].Status = Status(d.u32("error_status_code"))
		}
	}
	if err := d.done(); err != nil {
		*p = SubmitMultiResp{}
		return err
	}
	return nil
}

// AlertNotification tells an ESME that a mobile station became available.
type AlertNotification struct {
	Source Address // at most 64 octets
	ESME   Address // esme_addr, at most 64 octets
	TLVs   TLVs    // ms_availability_status
}

// CommandID implements PDU.
func (p *AlertNotification) CommandID() CommandID { return CmdAlertNotification }

// AppendBody implements PDU.
func (p *AlertNotification) AppendBody(b []byte) ([]byte, error) {
	e := encoder{id: CmdAlertNotification, b: b}
	e.addr("source_addr", p.Source, maxAddr65)
	e.addr("esme_addr", p.ESME, maxAddr65)
	e.tlvs(p.TLVs)
	return e.result()
}

// DecodeBody implements PDU.
func (p *AlertNotification) DecodeBody(b []byte) error {
	d := newDecoder(CmdAlertNotification, b)
	*p = AlertNotification{
		Source: d.addr("source_addr", maxAddr65),
		ESME:   d.addr("esme_addr", maxAddr65),
	}
	p.TLVs = d.tlvs()
	return d.done()
}
