package bench

import (
	"math/bits"
	"sync/atomic"
)

// maxWindow bounds Options.Window so that a slot index and a generation both
// fit in the 31 bits a sequence_number may use.
const maxWindow = 1 << 15

// window tracks the outstanding submit_sm of one session without a map: the
// low slotBits of a sequence_number name a slot, the high bits a generation
// that changes every time the slot is reused, so a late or duplicate response
// can never be taken for the current occupant. Slot n (one past the window)
// is reserved for control requests (bind, unbind).
//
// The sender owns gens; seqs and sched are written by the sender and read by
// the reader goroutine, so they are atomics; free hands slots back from the
// reader to the sender and is also the window's semaphore.
type window struct {
	size     int
	slotBits uint
	mask     uint32
	gens     []uint32
	seqs     []atomic.Uint32
	sched    []atomic.Int64 // scheduled send time, ns since the run started
	free     chan uint16
}

func newWindow(size int) *window {
	slotBits := uint(bits.Len(uint(size))) // room for slots 0..size (control)
	w := &window{
		size:     size,
		slotBits: slotBits,
		mask:     1<<slotBits - 1,
		gens:     make([]uint32, size+1),
		seqs:     make([]atomic.Uint32, size+1),
		sched:    make([]atomic.Int64, size+1),
		free:     make(chan uint16, size),
	}
	for i := range size {
		w.free <- uint16(i)
	}
	return w
}

// controlSlot is the slot used for bind and unbind.
func (w *window) controlSlot() uint16 { return uint16(w.size) }

// claim marks slot as carrying a request scheduled at sched and returns its
// sequence number. Only the sender calls it, for a slot it took from free.
func (w *window) claim(slot uint16, sched int64) uint32 {
	maxGen := uint32(1)<<(31-w.slotBits) - 1
	g := w.gens[slot] + 1
	if g > maxGen {
		g = 1 // generation 0 is never used, so sequence_number is never 0
	}
	w.gens[slot] = g
	seq := g<<w.slotBits | uint32(slot)
	w.sched[slot].Store(sched)
	w.seqs[slot].Store(seq)
	return seq
}

// settle matches a response's sequence number to its request: it returns the
// slot and the request's scheduled time, and frees the slot's sequence so a
// duplicate response is ignored. ok is false for a sequence number this
// window has no request outstanding for.
func (w *window) settle(seq uint32) (slot uint16, sched int64, ok bool) {
	s := seq & w.mask
	if int(s) > w.size || seq == 0 {
		return 0, 0, false
	}
	if !w.seqs[s].CompareAndSwap(seq, 0) {
		return 0, 0, false
	}
	return uint16(s), w.sched[s].Load(), true
}

// release returns a settled request slot to the sender.
func (w *window) release(slot uint16) {
	if int(slot) < w.size {
		w.free <- slot
	}
}

// outstanding is the number of request slots in use.
func (w *window) outstanding() int { return w.size - len(w.free) }
