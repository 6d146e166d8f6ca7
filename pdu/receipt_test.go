package pdu

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func date(s string) time.Time {
	t, err := time.Parse("060102150405", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestReceiptAppendText(t *testing.T) {
	tests := []struct {
		name string
		r    Receipt
		want string
		err  error
	}{
		{
			name: "delivered",
			r:    Receipt{ID: "1f2e3d4c", Sub: 1, Dlvrd: 1, SubmitDate: date("261130120059"), DoneDate: date("261130120130"), Stat: StateDelivered, Err: "000", Text: "Hello, world"},
			want: "id:1f2e3d4c sub:001 dlvrd:001 submit date:2611301200 done date:2611301201 stat:DELIVRD err:000 Text:Hello, world",
		},
		{
			name: "text cut to 20 characters, err defaulted",
			r:    Receipt{ID: "0042", SubmitDate: date("261130120000"), DoneDate: date("261130130000"), Stat: StateUndeliverable, Text: "ñandú ñandú ñandú ñandú"},
			want: "id:0042 sub:000 dlvrd:000 submit date:2611301200 done date:2611301300 stat:UNDELIV err:000 Text:ñandú ñandú ñandú ña",
		},
		{name: "sub too big", r: Receipt{ID: "1", Sub: 1000, SubmitDate: date("261130120000"), DoneDate: date("261130120000")}, err: ErrReceiptField},
		{name: "negative dlvrd", r: Receipt{ID: "1", Dlvrd: -1, SubmitDate: date("261130120000"), DoneDate: date("261130120000")}, err: ErrReceiptField},
		{name: "err too long", r: Receipt{ID: "1", Err: "1234", SubmitDate: date("261130120000"), DoneDate: date("261130120000")}, err: ErrReceiptField},
		{name: "no id", r: Receipt{SubmitDate: date("261130120000"), DoneDate: date("261130120000")}, err: ErrReceiptField},
		{name: "id with space", r: Receipt{ID: "a b", SubmitDate: date("261130120000"), DoneDate: date("261130120000")}, err: ErrReceiptField},
		{name: "zero date", r: Receipt{ID: "1"}, err: ErrReceiptField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.r.AppendText(nil)
			if !errors.Is(err, tt.err) {
				t.Fatalf("AppendText() error = %v, want %v", err, tt.err)
			}
			if string(got) != tt.want {
				t.Errorf("AppendText() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseReceipt(t *testing.T) {
	full := Receipt{ID: "1f2e3d4c", Sub: 1, Dlvrd: 1, SubmitDate: date("261130120000"), DoneDate: date("261130120100"), Stat: StateDelivered, Err: "000", Text: "Hello, world"}
	tests := []struct {
		name string
		in   string
		want Receipt
		err  error
	}{
		{"spec form", "id:1f2e3d4c sub:001 dlvrd:001 submit date:2611301200 done date:2611301201 stat:DELIVRD err:000 Text:Hello, world", full, nil},
		{"lower-case text", "id:1f2e3d4c sub:001 dlvrd:001 submit date:2611301200 done date:2611301201 stat:DELIVRD err:000 text:Hello, world", full, nil},
		{"any order", "stat:DELIVRD err:000 id:1f2e3d4c done date:2611301201 dlvrd:001 submit date:2611301200 sub:001 text:Hello, world", full, nil},
		{"text first", "text:Hello, world id:1f2e3d4c sub:001 dlvrd:001 submit date:2611301200 done date:2611301201 stat:DELIVRD err:000", full, nil},
		{"only id and stat", "id:77 stat:UNDELIV", Receipt{ID: "77", Stat: StateUndeliverable}, nil},
		{"seconds in dates, underscores", "id:00012 submit_date:261130120000 done_date:261130120130 stat:DELIVERED", Receipt{ID: "00012", SubmitDate: date("261130120000"), DoneDate: date("261130120130"), Stat: StateDelivered}, nil},
		{"uuid id, upper-case keys", "ID:3F2504E0-4F89-11D3-9A0C-0305E82C3301 SUB:001 DLVRD:000 STAT:REJECTD ERR:0B1", Receipt{ID: "3F2504E0-4F89-11D3-9A0C-0305E82C3301", Sub: 1, Stat: StateRejected, Err: "0B1"}, nil},
		{"text keeps keys already seen", "id:9 stat:DELIVRD text:id:1 stat:x", Receipt{ID: "9", Stat: StateDelivered, Text: "id:1 stat:x"}, nil},
		{"empty text", "id:9 stat:EXPIRED err:000 Text:", Receipt{ID: "9", Stat: StateExpired, Err: "000"}, nil},
		{"bad numbers left zero", "id:9 sub:abc dlvrd:-1 submit date:yesterday stat:ACCEPTD", Receipt{ID: "9", Stat: StateAccepted}, nil},
		{"no id", "sub:001 stat:DELIVRD", Receipt{}, ErrNotReceipt},
		{"no stat", "id:9 sub:001", Receipt{}, ErrNotReceipt},
		{"unknown stat", "id:9 stat:HAPPY", Receipt{}, ErrNotReceipt},
		{"plain message", "Hello, world", Receipt{}, ErrNotReceipt},
		{"key inside a word is not a key", "id:9 substat:DELIVRD", Receipt{}, ErrNotReceipt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseReceipt([]byte(tt.in))
			if !errors.Is(err, tt.err) {
				t.Fatalf("ParseReceipt() error = %v, want %v", err, tt.err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseReceipt() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReceiptRoundTrip(t *testing.T) {
	for _, st := range []MessageState{StateEnroute, StateDelivered, StateExpired, StateDeleted, StateUndeliverable, StateAccepted, StateUnknown, StateRejected} {
		r := Receipt{ID: "abc-123", Sub: 1, Dlvrd: 0, SubmitDate: date("261130235900"), DoneDate: date("261201000100"), Stat: st, Err: "011", Text: "short"}
		b, err := r.AppendText(nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseReceipt(b)
		if err != nil {
			t.Fatalf("ParseReceipt(%q) error: %v", b, err)
		}
		if diff := cmp.Diff(r, got); diff != "" {
			t.Errorf("round trip of %v (-want +got):\n%s", st, diff)
		}
	}
}
