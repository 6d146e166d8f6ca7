package bench

import (
	"hash/maphash"
	"sync"
)

// receiptTracker matches delivery receipts to the submits they are for, by
// message id, across sessions (a server may deliver a receipt on any of the
// token's receiver sessions). A receipt may also arrive before the
// submit_sm_resp that told us its id; it is kept as early and matched when the
// id shows up. Shards keep the lock uncontended between sessions.
type receiptTracker struct {
	seed   maphash.Seed
	shards [64]receiptShard
}

// maxPendingPerShard bounds the memory of a long run against a server that
// sends no receipts: 64 shards × 80,000 ≈ 5M ids (a few hundred MB). Submits
// past it are not tracked; they count as missing all the same.
const maxPendingPerShard = 80_000

type receiptShard struct {
	mu      sync.Mutex
	pending map[string]int64 // message id → scheduled submit time (ns since start)
	early   map[string]int64 // message id → receipt arrival (ns since start)
	// untracked counts submits not kept because pending was full.
	untracked int
	_         [32]byte // keep shards on separate cache lines
}

func newReceiptTracker() *receiptTracker {
	t := &receiptTracker{seed: maphash.MakeSeed()}
	for i := range t.shards {
		t.shards[i].pending = make(map[string]int64)
		t.shards[i].early = make(map[string]int64)
	}
	return t
}

func (t *receiptTracker) shard(id string) *receiptShard {
	return &t.shards[maphash.String(t.seed, id)%uint64(len(t.shards))]
}

func (t *receiptTracker) shardBytes(id []byte) *receiptShard {
	return &t.shards[maphash.Bytes(t.seed, id)%uint64(len(t.shards))]
}

// submitted records that id was accepted for a submit scheduled at sched. If
// its receipt already came, it returns the latency (arrival - sched) and true.
func (t *receiptTracker) submitted(id string, sched int64) (latency int64, matched bool) {
	s := t.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if at, ok := s.early[id]; ok {
		delete(s.early, id)
		return at - sched, true
	}
	if len(s.pending) < maxPendingPerShard {
		s.pending[id] = sched
	} else {
		s.untracked++
	}
	return 0, false
}

// receipt records a final receipt for id arriving at now. If its submit is
// known, it returns the latency and true; otherwise it is kept as early. id
// may alias a frame buffer: it is copied only when kept.
func (t *receiptTracker) receipt(id []byte, now int64) (latency int64, matched bool) {
	s := t.shardBytes(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if sched, ok := s.pending[string(id)]; ok {
		delete(s.pending, string(id))
		return now - sched, true
	}
	if _, dup := s.early[string(id)]; !dup && len(s.early) < maxPendingPerShard {
		s.early[string(id)] = now
	}
	return 0, false
}

// counts returns how many submits still wait for a receipt (untracked ones
// included) and how many receipts match no known submit.
func (t *receiptTracker) counts() (pending, early int) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		pending += len(s.pending) + s.untracked
		early += len(s.early)
		s.mu.Unlock()
	}
	return pending, early
}
