package pdu

import "fmt"

// Status is an SMPP command_status. String gives the ESME_* name of the spec,
// or "ESME_0x%08X" for codes SMPP 3.4 does not define (vendor codes 0x400–0x4FF
// among them), so a log line or metric label always names the code.
type Status uint32

// Status codes of SMPP 3.4 (section 5.1.3).
const (
	StatusOK              Status = 0x00 // ESME_ROK: success
	StatusInvMsgLen       Status = 0x01 // ESME_RINVMSGLEN: message length is invalid
	StatusInvCmdLen       Status = 0x02 // ESME_RINVCMDLEN: command length is invalid
	StatusInvCmdID        Status = 0x03 // ESME_RINVCMDID: invalid command id
	StatusInvBndSts       Status = 0x04 // ESME_RINVBNDSTS: incorrect bind status for the command
	StatusAlyBnd          Status = 0x05 // ESME_RALYBND: already bound
	StatusInvPrtFlg       Status = 0x06 // ESME_RINVPRTFLG: invalid priority flag
	StatusInvRegDlvFlg    Status = 0x07 // ESME_RINVREGDLVFLG: invalid registered delivery flag
	StatusSysErr          Status = 0x08 // ESME_RSYSERR: system error
	StatusInvSrcAdr       Status = 0x0A // ESME_RINVSRCADR: invalid source address
	StatusInvDstAdr       Status = 0x0B // ESME_RINVDSTADR: invalid destination address
	StatusInvMsgID        Status = 0x0C // ESME_RINVMSGID: message id is invalid
	StatusBindFail        Status = 0x0D // ESME_RBINDFAIL: bind failed
	StatusInvPaswd        Status = 0x0E // ESME_RINVPASWD: invalid password
	StatusInvSysID        Status = 0x0F // ESME_RINVSYSID: invalid system id
	StatusCancelFail      Status = 0x11 // ESME_RCANCELFAIL: cancel_sm failed
	StatusReplaceFail     Status = 0x13 // ESME_RREPLACEFAIL: replace_sm failed
	StatusMsgQFul         Status = 0x14 // ESME_RMSGQFUL: message queue full
	StatusInvSerTyp       Status = 0x15 // ESME_RINVSERTYP: invalid service type
	StatusInvNumDests     Status = 0x33 // ESME_RINVNUMDESTS: invalid number of destinations
	StatusInvDLName       Status = 0x34 // ESME_RINVDLNAME: invalid distribution list name
	StatusInvDestFlag     Status = 0x40 // ESME_RINVDESTFLAG: invalid destination flag (submit_multi)
	StatusInvSubRep       Status = 0x42 // ESME_RINVSUBREP: invalid submit with replace request
	StatusInvEsmClass     Status = 0x43 // ESME_RINVESMCLASS: invalid esm_class field data
	StatusCntSubDL        Status = 0x44 // ESME_RCNTSUBDL: cannot submit to distribution list
	StatusSubmitFail      Status = 0x45 // ESME_RSUBMITFAIL: submit_sm or submit_multi failed
	StatusInvSrcTON       Status = 0x48 // ESME_RINVSRCTON: invalid source address TON
	StatusInvSrcNPI       Status = 0x49 // ESME_RINVSRCNPI: invalid source address NPI
	StatusInvDstTON       Status = 0x50 // ESME_RINVDSTTON: invalid destination address TON
	StatusInvDstNPI       Status = 0x51 // ESME_RINVDSTNPI: invalid destination address NPI
	StatusInvSysTyp       Status = 0x53 // ESME_RINVSYSTYP: invalid system_type field
	StatusInvRepFlag      Status = 0x54 // ESME_RINVREPFLAG: invalid replace_if_present flag
	StatusInvNumMsgs      Status = 0x55 // ESME_RINVNUMMSGS: invalid number of messages
	StatusThrottled       Status = 0x58 // ESME_RTHROTTLED: throttling error (ESME exceeded allowed message limits)
	StatusInvSched        Status = 0x61 // ESME_RINVSCHED: invalid scheduled delivery time
	StatusInvExpiry       Status = 0x62 // ESME_RINVEXPIRY: invalid message validity period (expiry time)
	StatusInvDftMsgID     Status = 0x63 // ESME_RINVDFTMSGID: predefined message invalid or not found
	StatusXTAppn          Status = 0x64 // ESME_RX_T_APPN: ESME receiver temporary app error code
	StatusXPAppn          Status = 0x65 // ESME_RX_P_APPN: ESME receiver permanent app error code
	StatusXRAppn          Status = 0x66 // ESME_RX_R_APPN: ESME receiver reject message error code
	StatusQueryFail       Status = 0x67 // ESME_RQUERYFAIL: query_sm request failed
	StatusInvOptParStream Status = 0xC0 // ESME_RINVOPTPARSTREAM: error in the optional part of the PDU body
	StatusOptParNotAllwd  Status = 0xC1 // ESME_ROPTPARNOTALLWD: optional parameter not allowed
	StatusInvParLen       Status = 0xC2 // ESME_RINVPARLEN: invalid parameter length
	StatusMissingOptParam Status = 0xC3 // ESME_RMISSINGOPTPARAM: expected optional parameter missing
	StatusInvOptParamVal  Status = 0xC4 // ESME_RINVOPTPARAMVAL: invalid optional parameter value
	StatusDeliveryFailure Status = 0xFE // ESME_RDELIVERYFAILURE: delivery failure (data_sm_resp)
	StatusUnknownErr      Status = 0xFF // ESME_RUNKNOWNERR: unknown error
)

// String returns the ESME_* name of s. It is written by hand rather than by
// stringer because unknown codes must keep an ESME_-prefixed, hex form.
func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ESME_ROK"
	case StatusInvMsgLen:
		return "ESME_RINVMSGLEN"
	case StatusInvCmdLen:
		return "ESME_RINVCMDLEN"
	case StatusInvCmdID:
		return "ESME_RINVCMDID"
	case StatusInvBndSts:
		return "ESME_RINVBNDSTS"
	case StatusAlyBnd:
		return "ESME_RALYBND"
	case StatusInvPrtFlg:
		return "ESME_RINVPRTFLG"
	case StatusInvRegDlvFlg:
		return "ESME_RINVREGDLVFLG"
	case StatusSysErr:
		return "ESME_RSYSERR"
	case StatusInvSrcAdr:
		return "ESME_RINVSRCADR"
	case StatusInvDstAdr:
		return "ESME_RINVDSTADR"
	case StatusInvMsgID:
		return "ESME_RINVMSGID"
	case StatusBindFail:
		return "ESME_RBINDFAIL"
	case StatusInvPaswd:
		return "ESME_RINVPASWD"
	case StatusInvSysID:
		return "ESME_RINVSYSID"
	case StatusCancelFail:
		return "ESME_RCANCELFAIL"
	case StatusReplaceFail:
		return "ESME_RREPLACEFAIL"
	case StatusMsgQFul:
		return "ESME_RMSGQFUL"
	case StatusInvSerTyp:
		return "ESME_RINVSERTYP"
	case StatusInvNumDests:
		return "ESME_RINVNUMDESTS"
	case StatusInvDLName:
		return "ESME_RINVDLNAME"
	case StatusInvDestFlag:
		return "ESME_RINVDESTFLAG"
	case StatusInvSubRep:
		return "ESME_RINVSUBREP"
	case StatusInvEsmClass:
		return "ESME_RINVESMCLASS"
	case StatusCntSubDL:
		return "ESME_RCNTSUBDL"
	case StatusSubmitFail:
		return "ESME_RSUBMITFAIL"
	case StatusInvSrcTON:
		return "ESME_RINVSRCTON"
	case StatusInvSrcNPI:
		return "ESME_RINVSRCNPI"
	case StatusInvDstTON:
		return "ESME_RINVDSTTON"
	case StatusInvDstNPI:
		return "ESME_RINVDSTNPI"
	case StatusInvSysTyp:
		return "ESME_RINVSYSTYP"
	case StatusInvRepFlag:
		return "ESME_RINVREPFLAG"
	case StatusInvNumMsgs:
		return "ESME_RINVNUMMSGS"
	case StatusThrottled:
		return "ESME_RTHROTTLED"
	case StatusInvSched:
		return "ESME_RINVSCHED"
	case StatusInvExpiry:
		return "ESME_RINVEXPIRY"
	case StatusInvDftMsgID:
		return "ESME_RINVDFTMSGID"
	case StatusXTAppn:
		return "ESME_RX_T_APPN"
	case StatusXPAppn:
		return "ESME_RX_P_APPN"
	case StatusXRAppn:
		return "ESME_RX_R_APPN"
	case StatusQueryFail:
		return "ESME_RQUERYFAIL"
	case StatusInvOptParStream:
		return "ESME_RINVOPTPARSTREAM"
	case StatusOptParNotAllwd:
		return "ESME_ROPTPARNOTALLWD"
	case StatusInvParLen:
		return "ESME_RINVPARLEN"
	case StatusMissingOptParam:
		return "ESME_RMISSINGOPTPARAM"
	case StatusInvOptParamVal:
		return "ESME_RINVOPTPARAMVAL"
	case StatusDeliveryFailure:
		return "ESME_RDELIVERYFAILURE"
	case StatusUnknownErr:
		return "ESME_RUNKNOWNERR"
	}
	return fmt.Sprintf("ESME_0x%08X", uint32(s))
}

// Known reports whether s is one of the SMPP 3.4 codes above.
func (s Status) Known() bool {
	switch s {
	case StatusOK, StatusInvMsgLen, StatusInvCmdLen, StatusInvCmdID, StatusInvBndSts, StatusAlyBnd, StatusInvPrtFlg, StatusInvRegDlvFlg, StatusSysErr, StatusInvSrcAdr, StatusInvDstAdr, StatusInvMsgID, StatusBindFail, StatusInvPaswd, StatusInvSysID, StatusCancelFail, StatusReplaceFail, StatusMsgQFul, StatusInvSerTyp, StatusInvNumDests, StatusInvDLName, StatusInvDestFlag, StatusInvSubRep, StatusInvEsmClass, StatusCntSubDL, StatusSubmitFail, StatusInvSrcTON, StatusInvSrcNPI, StatusInvDstTON, StatusInvDstNPI, StatusInvSysTyp, StatusInvRepFlag, StatusInvNumMsgs, StatusThrottled, StatusInvSched, StatusInvExpiry, StatusInvDftMsgID, StatusXTAppn, StatusXPAppn, StatusXRAppn, StatusQueryFail, StatusInvOptParStream, StatusOptParNotAllwd, StatusInvParLen, StatusMissingOptParam, StatusInvOptParamVal, StatusDeliveryFailure, StatusUnknownErr:
		return true
	}
	return false
}
