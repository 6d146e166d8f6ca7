package msgstore

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"testing"
)

// TestCommitFailureFailsWholeGroup breaks the data file under a running store (its descriptor is
// swapped for a read-only one, so the commit's writes fail as on a full or failing disk): every
// operation of that group gets the error, none of them is in the file after a reopen, and the
// store commits again once the disk is back.
func TestCommitFailureFailsWholeGroup(t *testing.T) {
	path := newPath(t)
	var dataFile *os.File
	s := openTest(t, path, Options{openFile: func(name string, flag int, mode os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, mode)
		dataFile = f
		return f, err
	}})
	g := newGate(s)
	before := testMsg(s, "tok", true)
	beforeDone := make(chan error, 1)
	s.Submit(before, func(err error) { beforeDone <- err })
	<-g.entered // committed; the committer waits in OnCommit

	fd := int(dataFile.Fd())
	saved, err := syscall.Dup(fd)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(saved)
	ro, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := syscall.Dup3(int(ro.Fd()), fd, 0); err != nil {
		t.Fatal(err)
	}

	const n = 50
	failed := make([]*Message, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for i := range failed {
		failed[i] = testMsg(s, "tok", i%2 == 1)
		wg.Add(1)
		s.Submit(failed[i], func(err error) {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
			wg.Done()
		})
	}
	// A transition in the same group fails as well.
	trDone := make(chan error, 1)
	s.Transition(Transition{ID: before.ID, State: 2, Receipt: true}, func(err error) { trDone <- err })
	close(g.release)
	if err := <-beforeDone; err != nil {
		t.Fatalf("submit before the failure: %v", err)
	}
	wg.Wait()
	if len(errs) != n {
		t.Fatalf("%d dones, want %d", len(errs), n)
	}
	for _, err := range errs {
		if err == nil {
			t.Fatal("a submit of the failed commit got done(nil)")
		}
	}
	if err := <-trDone; err == nil {
		t.Error("the transition of the failed commit got done(nil)")
	}
	if st := s.Stats(); st.CommitErrors != 1 || st.Messages != 1 || st.Receipts != 0 {
		t.Errorf("Stats() = %+v, want 1 commit error and only the first message counted", st)
	}

	// The disk comes back.
	if err := syscall.Dup3(saved, fd, 0); err != nil {
		t.Fatal(err)
	}
	after := testMsg(s, "tok", true)
	submit(t, s, after)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTest(t, path, Options{})
	for _, m := range []*Message{before, after} {
		if _, err := s.Get(m.ID); err != nil {
			t.Errorf("Get(%d) acknowledged message = %v", m.ID, err)
		}
	}
	for _, m := range failed {
		if _, err := s.Get(m.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%d) of a failed commit = %v, want ErrNotFound", m.ID, err)
		}
	}
	if rs, _ := s.Receipts("tok", 0, 0); len(rs) != 0 {
		t.Errorf("receipt of the failed transition is stored: %+v", rs)
	}
	if st := s.Stats(); st.Messages != 2 || st.Pending != 2 {
		t.Errorf("Stats() after reopen = %+v, want 2 messages pending", st)
	}
	checkConsistency(t, s)
}
