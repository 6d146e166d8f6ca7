// Package pdu is the SMPP 3.4 wire codec: the 16-octet header, one Go struct
// per command, TLVs as an ordered slice, command_status codes, a framed reader
// that reuses its buffer, and the Appendix B delivery receipt text.
//
// Decoding is bounds-checked and never panics: every field is read with an
// explicit offset against the body, C-strings and octet strings are checked
// against their spec maximums, and every failure is an *Error wrapping one of
// the Err* sentinels. ErrorStatus turns any such error into the command_status
// a server must answer with, and says whether the connection may go on.
//
// Encoding appends to a caller's []byte; command_length is patched in last so
// a PDU is written in one pass without knowing its size up front.
//
// The package imports only the standard library (a test enforces it); text
// codings and concatenation live in pdu/coding.
package pdu

//go:generate go run golang.org/x/tools/cmd/stringer@v0.52.0 -type=CommandID,TON,NPI,DataCoding,MessageState,Tag -linecomment -output=string.go
