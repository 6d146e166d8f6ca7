package pdu

import (
	"io"
)

// Reader frames PDUs from a byte stream: one PDU at a time into one reused
// buffer. Wrap a net.Conn in a bufio.Reader first so that a frame costs no
// more than one read system call. A Reader is not safe for concurrent use.
type Reader struct {
	r   io.Reader
	max int
	buf []byte
}

// NewReader returns a Reader on r that refuses PDUs whose command_length is
// over maxLen octets (header included); maxLen <= 0 means DefaultMaxLen.
func NewReader(r io.Reader, maxLen int) *Reader {
	if maxLen <= 0 {
		maxLen = DefaultMaxLen
	}
	if maxLen < HeaderLen {
		maxLen = HeaderLen
	}
	return &Reader{r: r, max: maxLen, buf: make([]byte, 0, 512)}
}

// ReadFrame reads the next PDU and returns its header and body. The body
// aliases the Reader's buffer and is valid until the next ReadFrame.
//
// A command_length under 16 or over the cap gives an *Error wrapping
// ErrCmdLenTooShort or ErrCmdLenTooLong, returned with the header so that
// the generic_nack can echo sequence_number; the stream cannot be framed
// after that and must be closed. I/O errors pass through unchanged: io.EOF
// at a PDU boundary, io.ErrUnexpectedEOF inside one. The buffer grows to the
// largest PDU seen (never beyond the cap) and is never shrunk, so steady
// traffic reads frames without allocating.
func (r *Reader) ReadFrame() (Header, []byte, error) {
	hb := r.buf[:HeaderLen:cap(r.buf)]
	if _, err := io.ReadFull(r.r, hb); err != nil {
		return Header{}, nil, err
	}
	h, err := ParseHeader(hb)
	if err != nil {
		return h, nil, &Error{ID: h.ID, Field: "command_length", Err: err}
	}
	if int64(h.Length) > int64(r.max) {
		return h, nil, &Error{ID: h.ID, Field: "command_length", Err: ErrCmdLenTooLong}
	}
	n := int(h.Length)
	if n > cap(r.buf) {
		nb := make([]byte, n)
		copy(nb, hb)
		r.buf = nb[:0]
	}
	frame := r.buf[:n]
	if _, err := io.ReadFull(r.r, frame[HeaderLen:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return h, nil, err
	}
	return h, frame[HeaderLen:n:n], nil
}
