// Package msgstore is smppd's durable message store: accepted messages, the test-mode due index,
// the delivery receipt queue, the HTTP callback queue and the live outbox, all in one bbolt file.
//
// Every write goes through one committer goroutine that practises group commit: an idle store
// commits a lone operation at once, and a busy store commits everything that arrived while the
// previous fsync ran in a single bbolt transaction (one fsync for the whole group). A write's done
// callback runs only after that fsync returned, so a caller that answers submit_sm with ESME_ROK from
// done(nil) never acknowledges a message a crash could lose. bbolt's own db.Batch is not used: it
// waits up to 10 ms for company even when the store is idle (DESIGN.md decision 3).
//
// Reads (Get, Due, Receipts, …) run in their own read-only transactions, concurrently with the
// committer, and return copies that stay valid after the transaction.
//
// Callbacks: done runs exactly once per operation, on a store goroutine (never the caller's, so
// never under a lock the caller holds), after the group's fsync, with nil or the error. The
// dones of a group run in order on one goroutine, so a done must be quick (hand the result to a
// session's write queue); it may queue further asynchronous operations, but must not call the
// synchronous writes (ExpireReceipts, Prune) or Close, which wait for that same goroutine.
//
// Crash guarantees (with fsync on, i.e. Options.NoSync false):
//   - an operation whose done got nil survives any crash, SIGKILL or power loss included (bbolt
//     writes the meta page last; the fsync covers the whole group);
//   - an operation whose done got an error left no trace (a group is one transaction, all or
//     nothing); one whose done never ran because the process died may or may not be in the
//     file, whole or not at all;
//   - ids are never reused: every Open durably starts a new epoch before NextID can be called;
//   - pending test-mode messages stay in the due index until a Transition moves them, so after a
//     restart Due returns everything that was pending; a final Transition is atomic with its
//     receipt and callback, and a replayed one fails with ErrFinal (no duplicate final receipt);
//   - receipts and callbacks stay queued until acked (at-least-once: a deliver_sm or POST that
//     was sent but not yet acked when the process died is sent again).
package msgstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Errors returned by the store. Callers compare with errors.Is.
var (
	// ErrQueueFull is passed to a Submit's done when MaxQueue submits already wait for the
	// committer: the store is not keeping up and the caller should answer ESME_RMSGQFUL.
	ErrQueueFull = errors.New("msgstore: commit queue full")
	// ErrNotFound reports an unknown message, receipt or callback (or a message of another token).
	ErrNotFound = errors.New("msgstore: not found")
	// ErrClosed is returned by every operation after Close.
	ErrClosed = errors.New("msgstore: store closed")
	// ErrFinal reports a change to a message that already reached a final state.
	ErrFinal = errors.New("msgstore: message already in a final state")
	// ErrExists reports a Submit whose message id is already stored.
	ErrExists = errors.New("msgstore: message id already exists")
	// ErrInvalid reports a value the store refuses to write (zero id, oversized field, time
	// outside the representable range, …). It is detected before the value is queued.
	ErrInvalid = errors.New("msgstore: invalid value")
	// ErrCorrupt reports a stored record that cannot be decoded.
	ErrCorrupt = errors.New("msgstore: corrupt record")
	// ErrSchema reports a data file written by an incompatible version of the store.
	ErrSchema = errors.New("msgstore: unsupported schema version")
)

// schemaVersion is stored under metaSchema. Bump it (and migrate in Open) when the layout of the
// buckets changes; record encodings carry their own version byte.
//
// 2: new callbacks wait in callback_new, without a callback_due entry. A version 1 file is
// valid as version 2 (its callbacks all have due entries); Open only records the new
// version, so that an older build refuses the file rather than miss callback_new.
const schemaVersion = 2

// Buckets, all created at Open. Integer keys are big-endian so that bbolt's byte order is numeric
// order.
var (
	bucketMeta      = []byte("meta")            // metaSchema, metaEpoch
	bucketMessages  = []byte("messages")        // id → message record
	bucketDue       = []byte("due")             // event time ‖ id → nil: pending test-mode messages
	bucketOutbox    = []byte("outbox")          // id → nil: live messages waiting for the upstream connector
	bucketReceipts  = []byte("receipts")        // receiptKey(token, seq) → receipt record; NextSequence is the seq
	bucketCallbacks = []byte("callbacks")       // seq → record of a rescheduled callback; NextSequence is every callback's seq
	bucketCbDue     = []byte("callback_due")    // next attempt ‖ seq → nil, for the callbacks bucket
	bucketCbNew     = []byte("callback_new")    // seq → record of a callback not attempted yet, due at its enqueue time
	bucketCbFailed  = []byte("callback_failed") // seq → callback record of a callback that gave up

	metaSchema = []byte("schema")
	metaEpoch  = []byte("epoch")

	allBuckets = [][]byte{bucketMeta, bucketMessages, bucketDue, bucketOutbox, bucketReceipts,
		bucketCallbacks, bucketCbDue, bucketCbNew, bucketCbFailed}
)

// Options configure Open. The zero value is usable.
type Options struct {
	// Timeout is how long Open waits for the file lock held by another process. Default 1s.
	Timeout time.Duration
	// NoSync skips fsync. Only for tests and benchmarks: it voids every durability promise.
	NoSync bool
	// Logger receives commit failures. Default slog.Default().
	Logger *slog.Logger
	// MaxQueue bounds the submits waiting for the committer; over it Submit fails fast with
	// ErrQueueFull. Default 65536. Other operations (acks, transitions) are not bounded: they are
	// limited by the caller's windows and must not be refused under load.
	MaxQueue int
	// OnCommit, when set, is copied into Store.OnCommit.
	OnCommit func(batch int, d time.Duration)

	// openFile replaces os.OpenFile for the data file (tests inject write failures with it).
	openFile func(string, int, os.FileMode) (*os.File, error)
}

// Store is the message store. Its methods are safe for concurrent use.
type Store struct {
	// OnCommit, when set before the first write, is called by the committer after every commit
	// attempt with the number of operations in the group and the time the transaction took,
	// fsync included. It must be quick; the lead wires it to Prometheus histograms.
	OnCommit func(batch int, d time.Duration)

	db       *bolt.DB
	log      *slog.Logger
	maxQueue int

	epoch   atomic.Uint64 // high 32 bits of the ids of this run
	counter atomic.Uint64 // low 32 bits; the next id is epoch<<32 | counter+1
	idMu    sync.Mutex    // serialises the epoch bump when counter wraps

	mu      sync.Mutex
	queue   []op
	submits int  // Submit ops in queue, bounded by maxQueue
	closed  bool // no more ops accepted
	wake    chan struct{}

	// callbackHook is SetCallbackHook's function (nil: none).
	callbackHook atomic.Pointer[func([]Callback)]

	completions   chan completion
	committerDone chan struct{}
	completerDone chan struct{}
	closeOnce     sync.Once
	closeErr      error

	counts                              stats // row counts, updated after each successful commit
	batches, committedOps, commitErrors atomic.Uint64
}

// Open opens (creating if needed) the store at path with file mode 0600, creates the buckets,
// checks the schema version and starts a new id epoch, durably, before it returns.
func Open(path string, o Options) (*Store, error) {
	if o.Timeout == 0 {
		o.Timeout = time.Second
	}
	if o.MaxQueue <= 0 {
		o.MaxQueue = 65536
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:  o.Timeout,
		NoSync:   o.NoSync,
		OpenFile: o.openFile,
		// The freelist is rebuilt at Open instead of being written by every commit: commits
		// are the hot path, opens are rare.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("msgstore: open %s: %w", path, err)
	}
	s := &Store{
		OnCommit:      o.OnCommit,
		db:            db,
		log:           o.Logger,
		maxQueue:      o.MaxQueue,
		wake:          make(chan struct{}, 1),
		completions:   make(chan completion, 64),
		committerDone: make(chan struct{}),
		completerDone: make(chan struct{}),
	}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	go s.committer()
	go s.completer()
	return s, nil
}

// init creates the buckets, checks the schema, bumps the id epoch and counts rows, in one
// fsynced transaction.
func (s *Store) init() error {
	var epoch uint64
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("msgstore: create bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(metaSchema); v == nil {
			if err := meta.Put(metaSchema, u64(schemaVersion)); err != nil {
				return err
			}
		} else if len(v) == 8 && binary.BigEndian.Uint64(v) == 1 {
			if err := meta.Put(metaSchema, u64(schemaVersion)); err != nil { // see schemaVersion
				return err
			}
		} else if len(v) != 8 || binary.BigEndian.Uint64(v) != schemaVersion {
			return fmt.Errorf("%w: file has %x, this build reads %d", ErrSchema, v, schemaVersion)
		}
		var err error
		if epoch, err = bumpEpoch(meta); err != nil {
			return err
		}
		rows := countRows(tx)
		s.addCounts(&rows)
		return nil
	})
	if err != nil {
		return fmt.Errorf("msgstore: init: %w", err)
	}
	s.epoch.Store(epoch)
	return nil
}

// bumpEpoch stores and returns the next id epoch.
func bumpEpoch(meta *bolt.Bucket) (uint64, error) {
	var epoch uint64
	if v := meta.Get(metaEpoch); len(v) == 8 {
		epoch = binary.BigEndian.Uint64(v)
	}
	epoch++
	if epoch >= 1<<32 {
		return 0, errors.New("msgstore: id epochs exhausted")
	}
	return epoch, meta.Put(metaEpoch, u64(epoch))
}

// NextID returns a new message id: unique across restarts and crashes, and strictly increasing
// within one run. It does no I/O: Open persisted (and fsynced) a fresh boot epoch that forms the
// high 32 bits; the low 32 bits count within the run. An id handed out but never submitted is
// simply skipped. Only after 2³²−1 ids in one run does a call write a new epoch.
func (s *Store) NextID() uint64 {
	for {
		epoch := s.epoch.Load()
		n := s.counter.Add(1)
		if n < 1<<32 {
			return epoch<<32 | n
		}
		s.newEpoch(epoch)
	}
}

// newEpoch moves to a new epoch once the counter of epoch wrapped.
func (s *Store) newEpoch(old uint64) {
	s.idMu.Lock()
	defer s.idMu.Unlock()
	if s.epoch.Load() != old {
		return // another caller already moved on
	}
	var epoch uint64
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		epoch, err = bumpEpoch(tx.Bucket(bucketMeta))
		return err
	})
	if err != nil {
		// Without a durable new epoch no id is safe; this only happens on a failing disk,
		// after four billion messages in one run.
		panic(fmt.Sprintf("msgstore: cannot persist a new id epoch: %v", err))
	}
	s.counter.Store(0)
	s.epoch.Store(epoch)
}

// Close stops accepting operations, commits what is queued, runs the remaining done callbacks
// and closes the file. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.signal()
		<-s.committerDone
		<-s.completerDone
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// Stats is a snapshot of the store's sizes and committer counters.
type Stats struct {
	Messages  int // stored messages, final ones included
	Pending   int // test-mode messages in the due index
	Receipts  int // queued receipts, all tokens
	Callbacks int // queued HTTP callbacks
	Outbox    int // live messages waiting for the upstream connector

	CallbacksFailed int // callbacks that gave up (kept for inspection)
	Queued          int // operations waiting for the committer now

	CommitBatches uint64 // committed transactions (groups)
	CommittedOps  uint64 // operations in those transactions
	CommitErrors  uint64 // failed transactions
}

// stats holds the row counts; the committer adds each batch's delta after its commit.
type stats struct {
	mu                                                       sync.Mutex
	messages, pending, receipts, callbacks, outbox, cbFailed int
}

// delta counts what one batch changes; it is applied only if the batch commits.
type delta struct {
	messages, pending, receipts, callbacks, outbox, cbFailed int

	// queued collects the callbacks the transaction queued, for the callback hook
	// (only when wantQueued: without a hook nothing is copied).
	queued     []Callback
	wantQueued bool
	cbOps      int // operations in the group that may queue a callback: queued's capacity

	// maxID is at least the highest message id in the transaction's messages bucket, once
	// maxIDKnown: newSubmitOp's shortcut for proving a new id unused without a B-tree lookup.
	maxID      uint64
	maxIDKnown bool
}

// SetCallbackHook makes the store hand every callback it queues to fn, after the commit
// that queued it and before that commit's done functions run, in commit order, from
// one goroutine; fn owns the slice. It lets a sender take new callbacks from memory
// instead of reading them back (msgstore stays the record: the sender still reads the
// store at start, for retries, and for whatever fn could not take). fn must be quick
// and must not wait for the store. nil removes the hook.
func (s *Store) SetCallbackHook(fn func([]Callback)) {
	if fn == nil {
		s.callbackHook.Store(nil)
		return
	}
	s.callbackHook.Store(&fn)
}

// addQueued records a callback the transaction queued, for the hook. The slice is sized
// for the whole group at once: a Callback is large, and doubling copied it repeatedly
// in the committer.
func (d *delta) addQueued(c *Callback) {
	if d.queued == nil {
		d.queued = make([]Callback, 0, max(d.cbOps, 1))
	}
	d.queued = append(d.queued, *c)
}

// Stats returns the current sizes and counters. It does not touch the file.
func (s *Store) Stats() Stats {
	s.counts.mu.Lock()
	st := Stats{
		Messages:        s.counts.messages,
		Pending:         s.counts.pending,
		Receipts:        s.counts.receipts,
		Callbacks:       s.counts.callbacks,
		Outbox:          s.counts.outbox,
		CallbacksFailed: s.counts.cbFailed,
	}
	s.counts.mu.Unlock()
	s.mu.Lock()
	st.Queued = len(s.queue)
	s.mu.Unlock()
	st.CommitBatches = s.batches.Load()
	st.CommittedOps = s.committedOps.Load()
	st.CommitErrors = s.commitErrors.Load()
	return st
}

func (s *Store) addCounts(d *delta) {
	s.counts.mu.Lock()
	s.counts.messages += d.messages
	s.counts.pending += d.pending
	s.counts.receipts += d.receipts
	s.counts.callbacks += d.callbacks
	s.counts.outbox += d.outbox
	s.counts.cbFailed += d.cbFailed
	s.counts.mu.Unlock()
}

// countRows counts the rows of every bucket (once, at Open).
func countRows(tx *bolt.Tx) delta {
	var st delta
	st.messages = tx.Bucket(bucketMessages).Stats().KeyN
	st.pending = tx.Bucket(bucketDue).Stats().KeyN
	st.outbox = tx.Bucket(bucketOutbox).Stats().KeyN
	st.callbacks = tx.Bucket(bucketCbDue).Stats().KeyN + tx.Bucket(bucketCbNew).Stats().KeyN
	st.cbFailed = tx.Bucket(bucketCbFailed).Stats().KeyN
	st.receipts = tx.Bucket(bucketReceipts).Stats().KeyN
	return st
}

// u64 returns v as an 8-byte big-endian key.
func u64(v uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v)
}

// timeKey returns the 16-byte key t ‖ id of the time-ordered indexes. Times before 1970 sort as
// 1970 (the store never schedules in the past century).
func timeKey(t time.Time, id uint64) []byte {
	return appendTimeKey(make([]byte, 0, 16), t, id)
}

// appendTimeKey appends timeKey(t, id) to b.
func appendTimeKey(b []byte, t time.Time, id uint64) []byte {
	var n uint64
	if ns := unixNano(t); ns > 0 {
		n = uint64(ns)
	}
	b = binary.BigEndian.AppendUint64(b, n)
	return binary.BigEndian.AppendUint64(b, id)
}

// timeKeyBound returns the smallest key after every entry at or before t.
func timeKeyBound(t time.Time) []byte {
	var n uint64
	if ns := unixNano(t); ns > 0 {
		n = uint64(ns)
	}
	return u64(n + 1)
}

// view runs fn in a read-only transaction; after Close it returns ErrClosed.
func (s *Store) view(fn func(tx *bolt.Tx) error) error {
	err := s.db.View(fn)
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}
