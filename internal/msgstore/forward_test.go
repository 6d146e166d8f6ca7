package msgstore

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/smppd/smppd/pdu"
)

func TestForwardedLeavesOutboxAndMaps(t *testing.T) {
	path := newPath(t)
	s := openTest(t, path, Options{})
	m := testMsg(s, "tok", false)
	submit(t, s, m)
	if got := s.Stats().Outbox; got != 1 {
		t.Fatalf("Outbox = %d, want 1", got)
	}
	f := Forward{ID: m.ID, Upstream: "up1", UpstreamID: "a1b", ExpireAt: t0.Add(time.Hour)}
	if err := wait(t, func(done func(error)) { s.Forwarded(f, done) }); err != nil {
		t.Fatalf("Forwarded = %v", err)
	}
	// Replayed (a second submit_sm_resp, or a bug): refused, nothing changes.
	if err := wait(t, func(done func(error)) { s.Forwarded(f, done) }); !errors.Is(err, ErrExists) {
		t.Errorf("second Forwarded = %v, want ErrExists", err)
	}
	s.Close()

	// After a restart the message is not in the outbox and the mapping is there.
	s = openTest(t, path, Options{})
	if out, err := s.Outbox(0, 0); err != nil || len(out) != 0 {
		t.Fatalf("Outbox after restart = %v, %v; want empty", out, err)
	}
	if got := s.Stats().Outbox; got != 0 {
		t.Errorf("Stats().Outbox = %d, want 0", got)
	}
	got, err := s.Get(m.ID)
	if err != nil || got.Outbox || got.Final || got.State != pdu.StateEnroute {
		t.Errorf("Get = %+v, %v; want pending, not in the outbox", got, err)
	}
	if id, err := s.LookupForward("up1", "2587", "a1b"); err != nil || id != m.ID {
		t.Errorf("LookupForward = %d, %v; want %d", id, err, m.ID)
	}
	if _, err := s.LookupForward("up2", "a1b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("LookupForward(other upstream) = %v, want ErrNotFound", err)
	}

	// Expiry forgets the mapping and names the message.
	if ids, err := s.ExpireForwards(t0.Add(30*time.Minute), 0); err != nil || len(ids) != 0 {
		t.Errorf("ExpireForwards(early) = %v, %v", ids, err)
	}
	if ids, err := s.ExpireForwards(t0.Add(time.Hour), 0); err != nil || !slices.Equal(ids, []uint64{m.ID}) {
		t.Errorf("ExpireForwards = %v, %v; want [%d]", ids, err, m.ID)
	}
	if _, err := s.LookupForward("up1", "a1b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("LookupForward after expiry = %v, want ErrNotFound", err)
	}
}

func TestForwardedErrors(t *testing.T) {
	s := openTest(t, newPath(t), Options{})
	if _, err := s.LookupForward("up", "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("LookupForward on a fresh store = %v, want ErrNotFound", err)
	}
	final := testMsg(s, "tok", false)
	submit(t, s, final)
	if err := wait(t, func(done func(error)) {
		s.Transition(Transition{ID: final.ID, State: pdu.StateExpired, Final: true}, done)
	}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    Forward
		want error
	}{
		{"unknown message", Forward{ID: 99, Upstream: "u", UpstreamID: "1"}, ErrNotFound},
		{"final message", Forward{ID: final.ID, Upstream: "u", UpstreamID: "1"}, ErrFinal},
		{"no upstream id", Forward{ID: final.ID, Upstream: "u"}, ErrInvalid},
		{"no upstream", Forward{ID: final.ID, UpstreamID: "1"}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := wait(t, func(done func(error)) { s.Forwarded(tt.f, done) }); !errors.Is(err, tt.want) {
				t.Errorf("Forwarded = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestMOQueue(t *testing.T) {
	path := newPath(t)
	s := openTest(t, path, Options{})
	if got, err := s.MOs("a", 0, 0); err != nil || len(got) != 0 {
		t.Fatalf("MOs on a fresh store = %v, %v", got, err)
	}
	for i, tok := range []string{"a", "b", "a"} {
		mo := &MO{TokenID: tok, Upstream: "up", Source: pdu.Address{TON: 1, NPI: 1, Addr: "447700900001"},
			Dest: pdu.Address{Addr: "4477001"}, Body: []byte{byte(i)}, ReceivedAt: t0.Add(time.Duration(i) * time.Minute)}
		if err := wait(t, func(done func(error)) { s.EnqueueMO(mo, done) }); err != nil {
			t.Fatalf("EnqueueMO = %v", err)
		}
	}
	if err := wait(t, func(done func(error)) { s.EnqueueMO(&MO{}, done) }); !errors.Is(err, ErrInvalid) {
		t.Errorf("EnqueueMO without token = %v, want ErrInvalid", err)
	}
	s.Close()
	s = openTest(t, path, Options{})
	toks, err := s.MOTokens()
	if err != nil || !slices.Equal(toks, []string{"a", "b"}) {
		t.Errorf("MOTokens = %v, %v", toks, err)
	}
	got, err := s.MOs("a", 0, 0)
	if err != nil || len(got) != 2 || got[0].Body[0] != 0 || got[1].Body[0] != 2 || got[0].Source.Addr != "447700900001" {
		t.Fatalf("MOs(a) = %+v, %v", got, err)
	}
	if err := wait(t, func(done func(error)) { s.AckMO("a", got[0].Seq, done) }); err != nil {
		t.Errorf("AckMO = %v", err)
	}
	if err := wait(t, func(done func(error)) { s.AckMO("a", got[0].Seq, done) }); !errors.Is(err, ErrNotFound) {
		t.Errorf("second AckMO = %v, want ErrNotFound", err)
	}
	if rest, _ := s.MOs("a", 0, 0); len(rest) != 1 || rest[0].Seq != got[1].Seq {
		t.Errorf("MOs(a) after ack = %+v", rest)
	}
	if n, err := s.ExpireMOs(t0.Add(90*time.Second), 0); err != nil || n != 1 {
		t.Errorf("ExpireMOs = %d, %v; want 1 (b's)", n, err)
	}
	if toks, _ := s.MOTokens(); !slices.Equal(toks, []string{"a"}) {
		t.Errorf("MOTokens after expiry = %v", toks)
	}
}
