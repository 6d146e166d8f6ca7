package bench

import "testing"

func TestWindowSettlesOnlyCurrentSequence(t *testing.T) {
	w := newWindow(3)
	slot := <-w.free
	seq1 := w.claim(slot, 100)
	if _, _, ok := w.settle(seq1 + 1<<w.slotBits); ok {
		t.Fatalf("settle(seq of a future generation) matched")
	}
	got, sched, ok := w.settle(seq1)
	if !ok || got != slot || sched != 100 {
		t.Fatalf("settle(%d) = %d, %d, %v; want %d, 100, true", seq1, got, sched, ok, slot)
	}
	if _, _, ok := w.settle(seq1); ok {
		t.Errorf("a duplicate response settled twice")
	}
	w.release(slot)
	seq2 := w.claim(<-w.free, 200)
	if seq2 == seq1 {
		t.Errorf("slot reuse gave the same sequence number %d", seq2)
	}
	if _, _, ok := w.settle(seq1); ok {
		t.Errorf("a late response of the previous occupant settled the new one")
	}
}

func TestWindowSequenceNumbersStayValid(t *testing.T) {
	// sequence_number must be 1..0x7FFFFFFF even after generations wrap.
	for _, size := range []int{1, 2, 50, maxWindow} {
		w := newWindow(size)
		slot := uint16(size - 1)
		w.gens[slot] = uint32(1)<<(31-w.slotBits) - 2
		for range 4 {
			seq := w.claim(slot, 0)
			if seq == 0 || seq > 0x7FFFFFFF {
				t.Fatalf("window %d: sequence number %#x out of range", size, seq)
			}
			if s, _, ok := w.settle(seq); !ok || s != slot {
				t.Fatalf("window %d: settle(%#x) = %d, %v", size, seq, s, ok)
			}
		}
	}
}

func TestWindowOutstanding(t *testing.T) {
	w := newWindow(4)
	a, b := <-w.free, <-w.free
	if got := w.outstanding(); got != 2 {
		t.Errorf("outstanding() = %d, want 2", got)
	}
	w.release(a)
	w.release(b)
	w.release(w.controlSlot()) // control slot never enters the free list
	if got := w.outstanding(); got != 0 {
		t.Errorf("outstanding() = %d, want 0", got)
	}
}
