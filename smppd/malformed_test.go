package smppd_test

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/smppd/smppd/pdu"
	"github.com/smppd/smppd/smppd"
	"github.com/smppd/smppd/smppd/smppdtest"
)

// frame builds a PDU by hand: length 0 means the true length.
func frame(length uint32, id pdu.CommandID, seq uint32, body []byte) []byte {
	if length == 0 {
		length = uint32(pdu.HeaderLen + len(body))
	}
	b := binary.BigEndian.AppendUint32(nil, length)
	b = binary.BigEndian.AppendUint32(b, uint32(id))
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint32(b, seq)
	return append(b, body...)
}

// encode is a well-formed PDU with sequence number seq.
func encode(t *testing.T, seq uint32, p pdu.PDU) []byte {
	t.Helper()
	b, err := pdu.Append(nil, seq, pdu.StatusOK, p)
	if err != nil {
		t.Fatalf("encode %v: %v", p.CommandID(), err)
	}
	return b
}

// body is the body of a well-formed PDU.
func body(t *testing.T, p pdu.PDU) []byte {
	return encode(t, 1, p)[pdu.HeaderLen:]
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func tlv(tag pdu.Tag, value []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(tag))
	b = binary.BigEndian.AppendUint16(b, uint16(len(value)))
	return append(b, value...)
}

type answer struct {
	id     pdu.CommandID
	status pdu.Status
	seq    uint32
}

const testMaxPDULen = 4096

// TestMalformedInput drives raw bytes into a session and checks each
// documented answer; a bound sibling session must keep working after every
// row and nothing may leak (TestMain).
func TestMalformedInput(t *testing.T) {
	srv := smppdtest.NewUnstartedServer(t, smppdtest.OK, testCreds)
	srv.MaxPDULen = testMaxPDULen
	srv.Start()

	sibling := smppdtest.Dial(t, srv.Addr)
	sibling.Bind(pdu.CmdBindTransceiver, "other", "secret")

	validSubmit := body(t, submit())
	// sm_length 16 with no short_message: a length that cuts the body.
	shortSM := submit()
	shortSM.ShortMessage = nil
	cut := body(t, shortSM)
	cut[len(cut)-1] = 16

	tests := []struct {
		name   string
		bindAs pdu.CommandID // bind first (0: stay unbound)
		input  func(t *testing.T) []byte
		want   []answer
		closed bool // the server closes after the answers
		reason smppd.CloseReason
	}{
		{
			name:  "command_length under 16",
			input: func(*testing.T) []byte { return frame(8, pdu.CmdSubmitSM, 7, make([]byte, 8)) },
			want:  []answer{{pdu.CmdGenericNack, pdu.StatusInvCmdLen, 7}}, closed: true, reason: smppd.ProtocolError,
		},
		{
			name:   "command_length over the cap",
			bindAs: pdu.CmdBindTransceiver,
			input:  func(*testing.T) []byte { return frame(testMaxPDULen+1, pdu.CmdSubmitSM, 9, nil) },
			want:   []answer{{pdu.CmdGenericNack, pdu.StatusInvCmdLen, 9}}, closed: true, reason: smppd.ProtocolError,
		},
		{
			name:  "command_length 0x7FFFFFFF before bind",
			input: func(*testing.T) []byte { return frame(0x7FFFFFFF, pdu.CmdBindTransmitter, 10, nil) },
			want:  []answer{{pdu.CmdGenericNack, pdu.StatusInvCmdLen, 10}}, closed: true, reason: smppd.ProtocolError,
		},
		{
			name:   "truncated submit_sm body",
			bindAs: pdu.CmdBindTransceiver,
			input:  func(*testing.T) []byte { return frame(0, pdu.CmdSubmitSM, 11, validSubmit[:5]) },
			want:   []answer{{pdu.CmdGenericNack, pdu.StatusInvCmdLen, 11}},
		},
		{
			name:   "empty submit_sm body",
			bindAs: pdu.CmdBindTransmitter,
			input:  func(*testing.T) []byte { return frame(0, pdu.CmdSubmitSM, 12, nil) },
			want:   []answer{{pdu.CmdGenericNack, pdu.StatusInvCmdLen, 12}},
		},
		{
			name:   "command_length shorter than the body it carries",
			bindAs: pdu.CmdBindTransmitter,
			// sm_length says 16 but command_length ends the PDU before the
			// message; the 16 octets meant as short_message frame as an
			// enquire_link of their own.
			input: func(t *testing.T) []byte {
				return cat(frame(0, pdu.CmdSubmitSM, 13, cut), frame(0, pdu.CmdEnquireLink, 14, nil))
			},
			want: []answer{{pdu.CmdSubmitSMResp, pdu.StatusInvMsgLen, 13}, {pdu.CmdEnquireLinkResp, pdu.StatusOK, 14}},
		},
		{
			name:   "trailing bytes after query_sm",
			bindAs: pdu.CmdBindTransmitter,
			input: func(t *testing.T) []byte {
				return frame(0, pdu.CmdQuerySM, 15, cat(body(t, &pdu.QuerySM{MessageID: "1"}), []byte("junk")))
			},
			want: []answer{{pdu.CmdGenericNack, pdu.StatusInvCmdLen, 15}},
		},
		{
			name:   "duplicated TLV",
			bindAs: pdu.CmdBindTransceiver,
			input: func(t *testing.T) []byte {
				return frame(0, pdu.CmdSubmitSM, 16, cat(validSubmit,
					tlv(pdu.TagUserMessageReference, []byte{0, 1}), tlv(pdu.TagUserMessageReference, []byte{0, 2})))
			},
			want: []answer{{pdu.CmdSubmitSMResp, pdu.StatusInvOptParStream, 16}},
		},
		{
			name:   "TLV length past the body",
			bindAs: pdu.CmdBindTransceiver,
			input: func(t *testing.T) []byte {
				return frame(0, pdu.CmdSubmitSM, 17, cat(validSubmit, []byte{0x04, 0x24, 0x00, 0x40, 'x'}))
			},
			want: []answer{{pdu.CmdSubmitSMResp, pdu.StatusInvParLen, 17}},
		},
		{
			name:   "TLV of a fixed size with the wrong length",
			bindAs: pdu.CmdBindTransceiver,
			input: func(t *testing.T) []byte {
				return frame(0, pdu.CmdSubmitSM, 18, cat(validSubmit, tlv(pdu.TagUserMessageReference, []byte{1, 2, 3})))
			},
			want: []answer{{pdu.CmdSubmitSMResp, pdu.StatusInvParLen, 18}},
		},
		{
			name:  "C-string without NUL in bind",
			input: func(*testing.T) []byte { return frame(0, pdu.CmdBindTransmitter, 19, []byte("useruseruser")) },
			want:  []answer{{pdu.CmdGenericNack, pdu.StatusInvCmdLen, 19}},
		},
		{
			name: "system_id over its maximum",
			input: func(t *testing.T) []byte {
				return frame(0, pdu.CmdBindTransmitter, 20, cat([]byte(strings.Repeat("u", 30)+"\x00"), []byte("pass\x00\x00\x34\x00\x00\x00")))
			},
			want: []answer{{pdu.CmdBindTransmitterResp, pdu.StatusInvSysID, 20}},
		},
		{
			name: "absurd password length",
			input: func(t *testing.T) []byte {
				return frame(0, pdu.CmdBindTransceiver, 21, cat([]byte("user\x00"+strings.Repeat("p", 500)+"\x00"), []byte("\x00\x34\x00\x00\x00")))
			},
			want: []answer{{pdu.CmdBindTransceiverResp, pdu.StatusInvPaswd, 21}},
		},
		{
			name: "absurd bind fields with good credentials",
			input: func(t *testing.T) []byte {
				return encode(t, 22, &pdu.Bind{Cmd: pdu.CmdBindReceiver, SystemID: testUser, Password: testPass,
					SystemType: strings.Repeat("t", 12), InterfaceVersion: 0xFF, AddrTON: 0xFF, AddrNPI: 0xFF,
					AddressRange: strings.Repeat("9", 40)})
			},
			want: []answer{{pdu.CmdBindReceiverResp, pdu.StatusOK, 22}},
		},
		{
			name: "wrong password, then retry within the limit",
			input: func(t *testing.T) []byte {
				return cat(encode(t, 23, &pdu.Bind{SystemID: testUser, Password: "nope"}), encode(t, 24, &pdu.Bind{SystemID: testUser, Password: testPass}))
			},
			want: []answer{{pdu.CmdBindTransmitterResp, pdu.StatusInvPaswd, 23}, {pdu.CmdBindTransmitterResp, pdu.StatusOK, 24}},
		},
		{
			name: "too many failed binds",
			input: func(t *testing.T) []byte {
				return cat(encode(t, 25, &pdu.Bind{SystemID: testUser, Password: "a"}), encode(t, 26, &pdu.Bind{SystemID: "x", Password: "b"}),
					encode(t, 27, &pdu.Bind{SystemID: testUser, Password: "c"}))
			},
			want: []answer{{pdu.CmdBindTransmitterResp, pdu.StatusInvPaswd, 25}, {pdu.CmdBindTransmitterResp, pdu.StatusInvPaswd, 26},
				{pdu.CmdBindTransmitterResp, pdu.StatusInvPaswd, 27}},
			closed: true, reason: smppd.BindFailed,
		},
		{
			name:  "unknown command id before bind",
			input: func(*testing.T) []byte { return frame(0, 0x00000099, 28, []byte("x")) },
			want:  []answer{{pdu.CmdGenericNack, pdu.StatusInvCmdID, 28}},
		},
		{
			name:   "unknown command id when bound",
			bindAs: pdu.CmdBindTransceiver,
			input:  func(*testing.T) []byte { return frame(0, 0x00010000, 29, nil) },
			want:   []answer{{pdu.CmdGenericNack, pdu.StatusInvCmdID, 29}},
		},
		{
			name:   "responses to nothing are ignored",
			bindAs: pdu.CmdBindTransceiver,
			input: func(t *testing.T) []byte {
				return cat(encode(t, 30, &pdu.DeliverSMResp{}), encode(t, 31, &pdu.GenericNack{}), encode(t, 32, &pdu.UnbindResp{}),
					encode(t, 33, &pdu.EnquireLinkResp{}), frame(0, 0x80000099, 34, []byte("?")), encode(t, 35, &pdu.SubmitSMResp{MessageID: "1"}))
			},
			want: nil,
		},
		{
			name:  "generic_nack before bind is not answered",
			input: func(t *testing.T) []byte { return encode(t, 36, &pdu.GenericNack{}) },
			want:  nil,
		},
		{
			name:  "submit_sm before bind",
			input: func(t *testing.T) []byte { return encode(t, 37, submit()) },
			want:  []answer{{pdu.CmdSubmitSMResp, pdu.StatusInvBndSts, 37}},
		},
		{
			name: "each known request before bind",
			input: func(t *testing.T) []byte {
				return cat(encode(t, 38, &pdu.QuerySM{MessageID: "1"}), encode(t, 39, &pdu.CancelSM{MessageID: "1"}),
					encode(t, 40, &pdu.ReplaceSM{MessageID: "1"}), encode(t, 41, &pdu.DataSM{}),
					encode(t, 42, &pdu.SubmitMulti{Dests: []pdu.DestAddr{{Addr: pdu.Address{Addr: "1"}}}}),
					encode(t, 43, &pdu.DeliverSM{}), encode(t, 44, &pdu.Unbind{}), encode(t, 45, &pdu.Outbind{SystemID: "x"}),
					encode(t, 46, &pdu.AlertNotification{}))
			},
			want: []answer{{pdu.CmdQuerySMResp, pdu.StatusInvBndSts, 38}, {pdu.CmdCancelSMResp, pdu.StatusInvBndSts, 39},
				{pdu.CmdReplaceSMResp, pdu.StatusInvBndSts, 40}, {pdu.CmdDataSMResp, pdu.StatusInvBndSts, 41},
				{pdu.CmdSubmitMultiResp, pdu.StatusInvBndSts, 42}, {pdu.CmdDeliverSMResp, pdu.StatusInvBndSts, 43},
				{pdu.CmdUnbindResp, pdu.StatusInvBndSts, 44}, {pdu.CmdGenericNack, pdu.StatusInvBndSts, 45},
				{pdu.CmdGenericNack, pdu.StatusInvBndSts, 46}},
		},
		{
			name: "flood before bind",
			input: func(t *testing.T) []byte {
				var b []byte
				for i := range smppd.DefaultMaxUnboundRequests + 10 {
					b = append(b, encode(t, uint32(100+i), submit())...)
				}
				return b
			},
			want: func() []answer {
				var a []answer
				for i := range smppd.DefaultMaxUnboundRequests + 1 {
					a = append(a, answer{pdu.CmdSubmitSMResp, pdu.StatusInvBndSts, uint32(100 + i)})
				}
				return a
			}(),
			closed: true, reason: smppd.ProtocolError,
		},
		{
			name:  "enquire_link answered before bind",
			input: func(t *testing.T) []byte { return encode(t, 47, &pdu.EnquireLink{}) },
			want:  []answer{{pdu.CmdEnquireLinkResp, pdu.StatusOK, 47}},
		},
		{
			name:   "second bind",
			bindAs: pdu.CmdBindTransmitter,
			input: func(t *testing.T) []byte {
				return encode(t, 48, &pdu.Bind{Cmd: pdu.CmdBindTransceiver, SystemID: testUser, Password: testPass})
			},
			want: []answer{{pdu.CmdBindTransceiverResp, pdu.StatusAlyBnd, 48}},
		},
		{
			name:   "submit on a receiver",
			bindAs: pdu.CmdBindReceiver,
			input: func(t *testing.T) []byte {
				return cat(encode(t, 49, submit()), encode(t, 50, &pdu.QuerySM{MessageID: "1"}), encode(t, 51, &pdu.DataSM{}))
			},
			want: []answer{{pdu.CmdSubmitSMResp, pdu.StatusInvBndSts, 49}, {pdu.CmdQuerySMResp, pdu.StatusInvBndSts, 50},
				{pdu.CmdDataSMResp, pdu.StatusInvBndSts, 51}},
		},
		{
			name:   "deliver_sm from a client",
			bindAs: pdu.CmdBindTransceiver,
			input:  func(t *testing.T) []byte { return encode(t, 52, &pdu.DeliverSM{}) },
			want:   []answer{{pdu.CmdDeliverSMResp, pdu.StatusInvCmdID, 52}},
		},
		{
			name:   "unbind twice",
			bindAs: pdu.CmdBindTransceiver,
			input:  func(t *testing.T) []byte { return cat(encode(t, 53, &pdu.Unbind{}), encode(t, 54, &pdu.Unbind{})) },
			want:   []answer{{pdu.CmdUnbindResp, pdu.StatusOK, 53}}, closed: true, reason: smppd.ClientUnbind,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := smppdtest.Dial(t, srv.Addr)
			if tt.bindAs != 0 {
				c.Bind(tt.bindAs, testUser, testPass)
			}
			s := waitSession(t, srv, func(s *smppd.Session) bool { return s.RemoteAddr().String() == c.Conn.LocalAddr().String() })
			c.SendRaw(tt.input(t))
			for _, w := range tt.want {
				c.Expect(w.id, w.status, w.seq)
			}
			if tt.closed {
				if extra := c.ExpectClosed(); len(extra) > 0 && tt.reason != smppd.ClientUnbind {
					t.Errorf("after the answers got %v, want close", extra)
				}
				waitClosed(t, s)
				if got := s.CloseReason(); got != tt.reason {
					t.Errorf("close reason = %v, want %v", got, tt.reason)
				}
			} else {
				// Nothing else was sent: the next answer is the probe's.
				seq := c.Send(&pdu.EnquireLink{})
				c.Expect(pdu.CmdEnquireLinkResp, pdu.StatusOK, seq)
			}
			seq := sibling.Send(submit())
			sibling.Expect(pdu.CmdSubmitSMResp, pdu.StatusOK, seq)
		})
	}
}

// waitClosed waits for the session's context, which ends after the close
// reason is recorded.
func waitClosed(t *testing.T, s *smppd.Session) {
	t.Helper()
	select {
	case <-s.Context().Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("session still open")
	}
}
