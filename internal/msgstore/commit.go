package msgstore

import (
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"
)

// op is one queued write. apply runs inside the committer's transaction.
//
// How one bad operation is kept from spoiling its group: every apply validates first and writes
// last. Expected failures (ErrNotFound, ErrFinal, ErrExists, an error from Replace's callback) are
// detected by reads before the operation's first write, so such an operation has written nothing
// and the others of the group are committed normally; its done gets its own error. The values
// themselves were encoded and checked (ErrInvalid) in the caller's goroutine before queueing, so
// bbolt's Put cannot refuse them. Should a write still fail halfway through an operation (a bug
// or an exhausted mmap), apply returns a *writeError: the committer rolls the transaction back,
// fails that operation alone and re-runs the group without it in a fresh transaction. apply must
// therefore be safe to run again (it only touches the transaction and the delta).
//
// If the commit itself fails (write or fsync error, e.g. disk full), every operation of the
// group gets that error: none of them is acknowledged, and none of them is in the file.
type op struct {
	apply    func(tx *bolt.Tx, d *delta) error
	done     func(error)
	submit   bool // counts against MaxQueue
	callback bool // may queue a callback (sizes the list handed to the callback hook)
}

// writeError marks an error from a bbolt write inside apply: the transaction holds a partial
// operation and must be rolled back.
type writeError struct{ err error }

func (e *writeError) Error() string { return "msgstore: write: " + e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// put and del wrap bbolt writes so that apply can tell a write failure from a validation result.
func put(b *bolt.Bucket, k, v []byte) error {
	if err := b.Put(k, v); err != nil {
		return &writeError{err}
	}
	return nil
}

func del(b *bolt.Bucket, k []byte) error {
	if err := b.Delete(k); err != nil {
		return &writeError{err}
	}
	return nil
}

// completion carries a committed (or failed) group to the completer.
type completion struct {
	ops       []op
	errs      []error    // per op; nil when every op succeeded
	callbacks []Callback // queued by the commit, for the callback hook
}

// enqueue queues o for the committer, or fails it at once (on another goroutine, so that done
// never runs under a lock the caller holds) when the store is closed or the queue is full.
func (s *Store) enqueue(o op) {
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		go o.done(ErrClosed)
		return
	case o.submit && s.submits >= s.maxQueue:
		s.mu.Unlock()
		go o.done(ErrQueueFull)
		return
	}
	s.queue = append(s.queue, o)
	if o.submit {
		s.submits++
	}
	first := len(s.queue) == 1
	s.mu.Unlock()
	if first {
		s.signal()
	}
}

// signal wakes the committer if it sleeps.
func (s *Store) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// doSync queues apply and waits for its commit.
func (s *Store) doSync(apply func(tx *bolt.Tx, d *delta) error) error {
	ch := make(chan error, 1)
	s.enqueue(op{apply: apply, done: func(err error) { ch <- err }})
	return <-ch
}

// committer is the one goroutine that writes. It takes everything queued, commits it in one
// transaction (one fsync) and hands the group to the completer, then immediately looks again:
// what arrived during that fsync is the next group. With nothing queued it sleeps until enqueue
// signals, so a lone operation on an idle store is committed at once, without a timer.
func (s *Store) committer() {
	defer close(s.committerDone)
	defer close(s.completions)
	for {
		s.mu.Lock()
		batch := s.queue
		s.queue = make([]op, 0, cap(batch))
		s.submits = 0
		closed := s.closed
		s.mu.Unlock()
		if len(batch) == 0 {
			if closed {
				return
			}
			<-s.wake
			continue
		}
		start := time.Now()
		errs, cbs, err := s.commit(batch)
		took := time.Since(start)
		if err != nil {
			s.commitErrors.Add(1)
			s.log.Error("msgstore: commit failed", "ops", len(batch), "err", err)
		} else {
			s.batches.Add(1)
			s.committedOps.Add(uint64(len(batch)))
		}
		if h := s.OnCommit; h != nil {
			h(len(batch), took)
		}
		s.completions <- completion{ops: batch, errs: errs, callbacks: cbs}
	}
}

// completer runs the done callbacks, in commit order, so that a slow callback delays other
// callbacks but never the next commit.
func (s *Store) completer() {
	defer close(s.completerDone)
	for c := range s.completions {
		if len(c.callbacks) > 0 {
			if fn := s.callbackHook.Load(); fn != nil {
				(*fn)(c.callbacks)
			}
		}
		for i, o := range c.ops {
			var err error
			if c.errs != nil {
				err = c.errs[i]
			}
			o.done(err)
		}
	}
}

// commit applies batch in one transaction and commits it. It returns each op's error (nil slice
// when all succeeded), the callbacks the transaction queued (when a hook is set), and the
// transaction's error, if any (already copied into errs).
func (s *Store) commit(batch []op) ([]error, []Callback, error) {
	var errs []error
	setErr := func(i int, err error) {
		if errs == nil {
			errs = make([]error, len(batch))
		}
		errs[i] = err
	}
	skip := func(i int) bool { return errs != nil && errs[i] != nil }
	for {
		tx, err := s.db.Begin(true)
		if err != nil {
			for i := range batch {
				if !skip(i) {
					setErr(i, err)
				}
			}
			return errs, nil, err
		}
		d := delta{wantQueued: s.callbackHook.Load() != nil}
		if d.wantQueued {
			for i := range batch {
				if batch[i].callback && !skip(i) {
					d.cbOps++
				}
			}
		}
		rerun := false
		for i := range batch {
			if skip(i) {
				continue
			}
			err := batch[i].apply(tx, &d)
			if err == nil {
				continue
			}
			setErr(i, err)
			var we *writeError
			if errors.As(err, &we) {
				// Partial write: drop this op and start over with the rest.
				_ = tx.Rollback()
				rerun = true
				break
			}
		}
		if rerun {
			continue
		}
		if err := tx.Commit(); err != nil {
			for i := range batch {
				if !skip(i) {
					setErr(i, err)
				}
			}
			return errs, nil, err
		}
		s.addCounts(&d)
		return errs, d.queued, nil
	}
}
