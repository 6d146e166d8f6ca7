package pdu

import (
	"errors"
	"fmt"
)

// Errors returned by the codec, wrapped in *Error where a command and field
// are known. Match them with errors.Is; ErrorStatus maps them to the
// command_status a server must answer.
var (
	// ErrCmdLenTooShort means command_length is under 16. The stream can no
	// longer be framed.
	ErrCmdLenTooShort = errors.New("pdu: command_length shorter than the header")
	// ErrCmdLenTooLong means command_length is over the reader's cap. The
	// stream can no longer be framed.
	ErrCmdLenTooLong = errors.New("pdu: command_length over the maximum PDU size")
	// ErrUnknownCommand means command_id is not an SMPP 3.4 command.
	ErrUnknownCommand = errors.New("pdu: unknown command_id")
	// ErrTruncated means the body (or buffer) ends before a field does.
	ErrTruncated = errors.New("pdu: body ends inside a field")
	// ErrCStringNoNUL means the body ends before a C-string's NUL.
	ErrCStringNoNUL = errors.New("pdu: C-string without NUL terminator")
	// ErrFieldTooLong means a C-string or octet string is over its spec
	// maximum.
	ErrFieldTooLong = errors.New("pdu: field longer than its maximum")
	// ErrInvalidField means a field has a value the spec does not allow: a
	// time that is not 16 characters, a dest_flag other than 1 or 2, a
	// C-string with an embedded NUL to encode.
	ErrInvalidField = errors.New("pdu: invalid field value")
	// ErrSMLength means sm_length points past the end of the body.
	ErrSMLength = errors.New("pdu: sm_length disagrees with the body")
	// ErrTLVTruncated means the optional part ends inside a TLV header.
	ErrTLVTruncated = errors.New("pdu: truncated TLV header")
	// ErrTLVLength means a TLV length runs past the body, or disagrees with
	// the fixed size of a known tag.
	ErrTLVLength = errors.New("pdu: invalid TLV length")
	// ErrTLVTooMany means the optional part holds more than MaxTLVs TLVs.
	ErrTLVTooMany = errors.New("pdu: too many TLVs")
	// ErrTLVDuplicate means a known tag appears twice.
	ErrTLVDuplicate = errors.New("pdu: duplicate TLV")
	// ErrTLVValue means a known TLV carries a value the spec does not allow
	// (a receipted_message_id without its NUL, say).
	ErrTLVValue = errors.New("pdu: invalid TLV value")
	// ErrTLVNotAllowed means a TLV is present where the command allows none.
	// The codec itself reports such bytes as ErrTrailingBytes; the sentinel
	// is for handlers that refuse a tag by policy.
	ErrTLVNotAllowed = errors.New("pdu: TLV not allowed")
	// ErrTLVMissing means a TLV the command needs is absent; for handlers.
	ErrTLVMissing = errors.New("pdu: expected TLV missing")
	// ErrTrailingBytes means the body is longer than the command's fields and
	// the command carries no TLVs.
	ErrTrailingBytes = errors.New("pdu: trailing bytes after the body")
)

// Error is a decode or encode failure of one field of one command.
type Error struct {
	ID    CommandID // the command being decoded or encoded
	Field string    // spec name of the field: "short_message", "tlv 0x0424", ...
	Off   int       // offset into the body where the field starts
	Err   error     // one of the Err* sentinels
}

func (e *Error) Error() string {
	return fmt.Sprintf("%v: %s at body offset %d: %v", e.ID, e.Field, e.Off, e.Err)
}

// Unwrap returns the sentinel, for errors.Is.
func (e *Error) Unwrap() error { return e.Err }

// ErrorStatus maps any error of this package to what a server must answer:
// the command_status, whether to answer with generic_nack (else the
// command's own _resp) and whether the connection must be closed after the
// answer because the stream can no longer be framed.
//
//   - command_length under 16 or over the cap: ESME_RINVCMDLEN, generic_nack, fatal.
//   - unknown command_id: ESME_RINVCMDID, generic_nack, not fatal.
//   - a body that ends early or runs on (truncated fields, C-string without
//     NUL, trailing bytes): ESME_RINVCMDLEN, generic_nack (the PDU cannot be
//     parsed), not fatal since command_length still frames the stream.
//   - a field over its maximum or invalid: the field's own status
//     (ESME_RINVSRCADR for source_addr, ESME_RINVPASWD for password, ...,
//     ESME_RINVMSGLEN otherwise), own _resp, not fatal.
//   - sm_length: ESME_RINVMSGLEN, own _resp.
//   - TLVs: 0xC0 (stream, duplicate, over MaxTLVs), 0xC1 (not allowed), 0xC2 (length),
//     0xC3 (missing), 0xC4 (value), own _resp.
//
// Any other error (I/O, say) gives ESME_RSYSERR, generic_nack, fatal.
// A nil error gives ESME_ROK. Responses must never be answered; that rule is
// the caller's.
func ErrorStatus(err error) (status Status, nack bool, fatal bool) {
	switch {
	case err == nil:
		return StatusOK, false, false
	case errors.Is(err, ErrCmdLenTooShort), errors.Is(err, ErrCmdLenTooLong):
		return StatusInvCmdLen, true, true
	case errors.Is(err, ErrUnknownCommand):
		return StatusInvCmdID, true, false
	case errors.Is(err, ErrTruncated), errors.Is(err, ErrCStringNoNUL), errors.Is(err, ErrTrailingBytes):
		return StatusInvCmdLen, true, false
	case errors.Is(err, ErrSMLength):
		return StatusInvMsgLen, false, false
	case errors.Is(err, ErrTLVTruncated), errors.Is(err, ErrTLVDuplicate), errors.Is(err, ErrTLVTooMany):
		return StatusInvOptParStream, false, false
	case errors.Is(err, ErrTLVNotAllowed):
		return StatusOptParNotAllwd, false, false
	case errors.Is(err, ErrTLVLength):
		return StatusInvParLen, false, false
	case errors.Is(err, ErrTLVMissing):
		return StatusMissingOptParam, false, false
	case errors.Is(err, ErrTLVValue):
		return StatusInvOptParamVal, false, false
	case errors.Is(err, ErrFieldTooLong), errors.Is(err, ErrInvalidField):
		var e *Error
		if errors.As(err, &e) {
			return fieldStatus(e.Field), false, false
		}
		return StatusInvMsgLen, false, false
	}
	return StatusSysErr, true, true
}

// fieldStatus is the command_status for a bad value of the named field.
func fieldStatus(field string) Status {
	switch field {
	case "system_id":
		return StatusInvSysID
	case "password":
		return StatusInvPaswd
	case "system_type":
		return StatusInvSysTyp
	case "service_type":
		return StatusInvSerTyp
	case "source_addr", "address_range":
		return StatusInvSrcAdr
	case "destination_addr", "dest_address", "esme_addr":
		return StatusInvDstAdr
	case "dl_name":
		return StatusInvDLName
	case "dest_flag":
		return StatusInvDestFlag
	case "number_of_dests":
		return StatusInvNumDests
	case "message_id":
		return StatusInvMsgID
	case "schedule_delivery_time":
		return StatusInvSched
	case "validity_period":
		return StatusInvExpiry
	}
	return StatusInvMsgLen
}
