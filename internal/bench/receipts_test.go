package bench

import "testing"

func TestReceiptTrackerMatchesEitherOrder(t *testing.T) {
	tr := newReceiptTracker()
	// Usual order: the response (with the id) first, then the receipt.
	if _, ok := tr.submitted("a1", 100); ok {
		t.Fatal("submitted(a1) matched before any receipt")
	}
	if lat, ok := tr.receipt([]byte("a1"), 350); !ok || lat != 250 {
		t.Errorf("receipt(a1) = %d, %v; want 250, true", lat, ok)
	}
	// Receipt overtakes the response (other session, or server order).
	if _, ok := tr.receipt([]byte("b2"), 900); ok {
		t.Fatal("receipt(b2) matched before its submit")
	}
	if lat, ok := tr.submitted("b2", 400); !ok || lat != 500 {
		t.Errorf("submitted(b2) = %d, %v; want 500, true", lat, ok)
	}
	// A duplicate receipt for a settled id stays unmatched, and a submit
	// without receipt stays pending.
	tr.receipt([]byte("a1"), 1000)
	tr.submitted("c3", 1)
	if pending, early := tr.counts(); pending != 1 || early != 1 {
		t.Errorf("counts() = %d pending, %d early; want 1, 1", pending, early)
	}
}
