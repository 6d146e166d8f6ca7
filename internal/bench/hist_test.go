package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistogramSmallValuesExact(t *testing.T) {
	var h Histogram
	for v := range 256 {
		h.Record(time.Duration(v))
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0, 0},
		{0.5, 127},
		{0.9, 230},
		{1, 255},
	}
	for _, tt := range tests {
		if got := h.Quantile(tt.q); got != tt.want {
			t.Errorf("Quantile(%v) = %d, want %d", tt.q, got, tt.want)
		}
	}
}

func TestHistogramRelativeErrorBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	vals := make([]int64, 20000)
	for i := range vals {
		// Log-uniform from 1 µs to 10 s, the range latencies live in.
		v := int64(math.Exp(rng.Float64()*math.Log(1e7)) * 1e3)
		vals[i] = v
		h.Record(time.Duration(v))
	}
	slices.Sort(vals)
	for _, q := range []float64{0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 0.9999} {
		rank := int(math.Ceil(q*float64(len(vals)))) - 1
		exact := vals[rank]
		got := int64(h.Quantile(q))
		if got < exact {
			t.Errorf("Quantile(%v) = %d, under the exact %d", q, got, exact)
		}
		if rel := float64(got-exact) / float64(exact); rel > RelativeError {
			t.Errorf("Quantile(%v) = %d, exact %d: relative error %.5f over the bound %.5f", q, got, exact, rel, RelativeError)
		}
	}
	if h.Max() != time.Duration(vals[len(vals)-1]) || h.Min() != time.Duration(vals[0]) {
		t.Errorf("Min/Max = %d/%d, want %d/%d", h.Min(), h.Max(), vals[0], vals[len(vals)-1])
	}
}

func TestHistogramBucketsCoverEveryValue(t *testing.T) {
	// Every bucket's high edge maps back to the bucket, and the next value
	// starts the next bucket: no gaps, no overlaps, no index out of range.
	for i := 0; i < numBuckets-1; i++ {
		hi := bucketHigh(i)
		if got := bucketOf(hi); got != i {
			t.Fatalf("bucketOf(bucketHigh(%d)=%d) = %d", i, hi, got)
		}
		if got := bucketOf(hi + 1); got != i+1 {
			t.Fatalf("bucketOf(%d) = %d, want %d", hi+1, got, i+1)
		}
	}
	if got := bucketOf(math.MaxInt64); got != numBuckets-1 {
		t.Errorf("bucketOf(MaxInt64) = %d, want %d", got, numBuckets-1)
	}
}

func TestHistogramMergeEqualsRecordingAll(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var a, b, all Histogram
	for i := range 5000 {
		v := time.Duration(rng.Int64N(int64(time.Second)))
		all.Record(v)
		if i%3 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
	}
	a.Merge(&b)
	same := a.Count() == all.Count() && a.Min() == all.Min() && a.Max() == all.Max()
	for q := 0.0; q <= 1; q += 0.001 {
		same = same && a.Quantile(q) == all.Quantile(q)
	}
	if !same {
		t.Errorf("merged histogram differs from one that recorded everything: count %d vs %d, p99 %v vs %v",
			a.Count(), all.Count(), a.Quantile(0.99), all.Quantile(0.99))
	}
}

func TestHistogramResetForgetsValues(t *testing.T) {
	var h Histogram
	h.Record(time.Second)
	h.Reset()
	h.Record(time.Millisecond)
	if h.Count() != 1 || h.Max() != time.Millisecond || h.Quantile(1) != time.Millisecond || h.Quantile(0.5) > time.Millisecond {
		t.Errorf("after Reset and one value: count %d, max %v, p50 %v", h.Count(), h.Max(), h.Quantile(0.5))
	}
}

func TestHistogramEmptyAndNegative(t *testing.T) {
	var h Histogram
	if h.Quantile(0.99) != 0 || h.Max() != 0 || h.Mean() != 0 {
		t.Errorf("empty histogram: Quantile %v Max %v Mean %v, want zeros", h.Quantile(0.99), h.Max(), h.Mean())
	}
	h.Record(-5)
	if h.Count() != 1 || h.Max() != 0 {
		t.Errorf("after Record(-5): Count %d Max %v, want 1 and 0", h.Count(), h.Max())
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	for i := 0; b.Loop(); i++ {
		h.Record(time.Duration(i&0xFFFFF) * time.Microsecond)
	}
}
