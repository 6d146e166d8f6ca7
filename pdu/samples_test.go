package pdu

// sample is one PDU of the test corpus: the goldens, the round trips, the
// differential tests and the fuzz seeds all start from these.
type sample struct {
	name   string
	seq    uint32
	status Status
	pdu    PDU
}

func tlvsOf(ts ...TLV) TLVs { return TLVs(ts) }

// samples returns a fresh corpus with every command of SMPP 3.4 at least once.
func samples() []sample {
	src := Address{TON: TONInternational, NPI: NPIISDN, Addr: "447700900001"}
	dst := Address{TON: TONInternational, NPI: NPIISDN, Addr: "447700900002"}
	var scv TLVs
	scv.SetSCInterfaceVersion(0x34)
	var receipt TLVs
	receipt.SetReceiptedMessageID("1f2e3d4c")
	receipt.SetMessageState(StateDelivered)
	receipt.SetNetworkErrorCode(3, 0)
	var sar TLVs
	sar.SetSAR(0x1234, 2, 1)
	text160 := make([]byte, 160)
	for i := range text160 {
		text160[i] = 'a' + byte(i%26)
	}
	return []sample{
		{"bind_transmitter", 1, StatusOK, &Bind{Cmd: CmdBindTransmitter, SystemID: "smppclient1", Password: "password", SystemType: "VMA", InterfaceVersion: 0x34, AddrTON: TONInternational, AddrNPI: NPIISDN, AddressRange: "^44"}},
		{"bind_receiver", 2, StatusOK, &Bind{Cmd: CmdBindReceiver, SystemID: "rx", Password: "secret", InterfaceVersion: 0x34}},
		{"bind_transceiver", 3, StatusOK, &Bind{Cmd: CmdBindTransceiver, SystemID: "trx", Password: "a-long-password-of-33-characters!", InterfaceVersion: 0x34}},
		{"bind_transmitter_resp", 1, StatusOK, &BindResp{Cmd: CmdBindTransmitterResp, SystemID: "smppd", TLVs: scv}},
		{"bind_receiver_resp", 2, StatusOK, &BindResp{Cmd: CmdBindReceiverResp, SystemID: "smppd"}},
		{"bind_transceiver_resp", 3, StatusInvPaswd, &BindResp{Cmd: CmdBindTransceiverResp}},
		{"outbind", 4, StatusOK, &Outbind{SystemID: "smsc", Password: "pw"}},
		{"unbind", 5, StatusOK, &Unbind{}},
		{"unbind_resp", 5, StatusOK, &UnbindResp{}},
		{"generic_nack", 6, StatusInvCmdID, &GenericNack{}},
		{"enquire_link", 7, StatusOK, &EnquireLink{}},
		{"enquire_link_resp", 7, StatusOK, &EnquireLinkResp{}},
		{"submit_sm", 8, StatusOK, &SubmitSM{ServiceType: "CMT", Source: src, Dest: dst, RegisteredDelivery: 1, DataCoding: CodingDefault, ShortMessage: []byte("Hello, world")}},
		{"submit_sm_160", 9, StatusOK, &SubmitSM{Source: Address{TON: TONAlphanumeric, Addr: "smppd"}, Dest: dst, ValidityPeriod: "000001000000000R", ScheduleDeliveryTime: "261130120000000+", ShortMessage: text160}},
		{"submit_sm_sar", 10, StatusOK, &SubmitSM{Source: src, Dest: dst, DataCoding: CodingUCS2, ShortMessage: []byte{0, 'h', 0, 'i'}, TLVs: append(sar, TLV{Tag: 0x1401, Value: []byte("vendor")})}},
		{"submit_sm_payload", 11, StatusOK, &SubmitSM{Source: src, Dest: dst, TLVs: TLVs{{Tag: TagMessagePayload, Value: []byte("a payload in a TLV")}}}},
		{"submit_sm_resp", 8, StatusOK, &SubmitSMResp{MessageID: "1f2e3d4c"}},
		{"submit_sm_resp_error", 9, StatusThrottled, &SubmitSMResp{}},
		{"deliver_sm", 12, StatusOK, &DeliverSM{Source: dst, Dest: src, ESMClass: 0x04, ShortMessage: []byte("id:1f2e3d4c sub:001 dlvrd:001 submit date:2611301200 done date:2611301201 stat:DELIVRD err:000 Text:Hello, world"), TLVs: receipt}},
		{"deliver_sm_resp", 12, StatusOK, &DeliverSMResp{}},
		{"data_sm", 13, StatusOK, &DataSM{ServiceType: "WAP", Source: src, Dest: dst, RegisteredDelivery: 1, DataCoding: CodingBinary, TLVs: TLVs{{Tag: TagMessagePayload, Value: []byte{1, 2, 3}}}}},
		{"data_sm_resp", 13, StatusOK, &DataSMResp{MessageID: "77", TLVs: TLVs{{Tag: TagAdditionalStatusInfoText, Value: []byte("ok\x00")}}}},
		{"query_sm", 14, StatusOK, &QuerySM{MessageID: "1f2e3d4c", Source: src}},
		{"query_sm_resp", 14, StatusOK, &QuerySMResp{MessageID: "1f2e3d4c", FinalDate: "261130120100000+", MessageState: StateDelivered}},
		{"cancel_sm", 15, StatusOK, &CancelSM{MessageID: "1f2e3d4c", Source: src, Dest: dst}},
		{"cancel_sm_resp", 15, StatusOK, &CancelSMResp{}},
		{"replace_sm", 16, StatusOK, &ReplaceSM{MessageID: "1f2e3d4c", Source: src, ValidityPeriod: "000002000000000R", RegisteredDelivery: 1, ShortMessage: []byte("replaced")}},
		{"replace_sm_resp", 16, StatusOK, &ReplaceSMResp{}},
		{"submit_multi", 17, StatusOK, &SubmitMulti{Source: src, Dests: []DestAddr{{Addr: dst}, {DLName: "friends"}, {Addr: Address{TON: TONNational, NPI: NPIISDN, Addr: "07700900003"}}}, RegisteredDelivery: 1, ShortMessage: []byte("to many")}},
		{"submit_multi_resp", 17, StatusOK, &SubmitMultiResp{MessageID: "m-1", Unsuccess: []UnsuccessSME{{Addr: Address{TON: TONNational, NPI: NPIISDN, Addr: "07700900003"}, Status: StatusInvDstAdr}}}},
		{"alert_notification", 18, StatusOK, &AlertNotification{Source: src, ESME: Address{TON: TONInternational, NPI: NPIISDN, Addr: "447700900009"}, TLVs: TLVs{{Tag: TagMSAvailabilityStatus, Value: []byte{0}}}}},
	}
}
