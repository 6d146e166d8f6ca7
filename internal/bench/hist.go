package bench

import (
	"math"
	"math/bits"
	"time"
)

// Histogram layout: log-linear buckets, as in HdrHistogram. Values below
// subCount are counted exactly; above, every power-of-two range is split into
// subCount/2 equal buckets, so a bucket's width is at most 1/(subCount/2) of
// its lowest value. Quantiles report a bucket's highest value, clamped to the
// recorded maximum, so they never under-report and over-report by less than
// 1/128 (0.79 %).
const (
	subBits    = 8
	subCount   = 1 << subBits // 256 exact values, then 128 buckets per doubling
	subHalf    = subCount / 2
	numBuckets = subCount + (63-subBits)*subHalf // covers every positive int64
)

// RelativeError is the bound on how far a reported quantile can be above the
// true value, as a fraction of it.
const RelativeError = 1.0 / subHalf

// chunkLen buckets are allocated together, on first use: latencies of one run
// span a few powers of two, so a histogram touches a few KiB instead of the
// 57 KiB that all buckets take, which matters with thousands of sessions.
const (
	chunkLen  = subHalf
	numChunks = (numBuckets + chunkLen - 1) / chunkLen
)

// Histogram counts durations (nanoseconds) with a bounded relative error. The
// zero value is ready to use. It is not safe for concurrent use: each worker
// records into its own and a collector merges them.
type Histogram struct {
	chunks [numChunks]*[chunkLen]uint64
	total  uint64
	min    int64
	max    int64
	sum    float64
}

func bucketOf(v int64) int {
	if v < subCount {
		if v < 0 {
			return 0
		}
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - subBits // >= 1
	top := int(uint64(v) >> uint(shift))     // in [subHalf, subCount)
	return subCount + (shift-1)*subHalf + (top - subHalf)
}

// bucketHigh is the highest value that falls into bucket i.
func bucketHigh(i int) int64 {
	if i < subCount {
		return int64(i)
	}
	shift := (i-subCount)/subHalf + 1
	top := uint64((i-subCount)%subHalf + subHalf)
	hi := (top+1)<<uint(shift) - 1
	if hi > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(hi)
}

// Record counts one value. Negative values count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	i := bucketOf(v)
	c := h.chunks[i/chunkLen]
	if c == nil {
		c = new([chunkLen]uint64)
		h.chunks[i/chunkLen] = c
	}
	c[i%chunkLen]++
	if h.total == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.total++
	h.sum += float64(v)
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.total }

// Max is the largest recorded value, exact.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Min is the smallest recorded value, exact.
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }

// Mean is the exact mean of the recorded values.
func (h *Histogram) Mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.total))
}

// Quantile returns the value below or at which a fraction q (0..1) of the
// recorded values fall, within RelativeError above the true value. It is 0
// for an empty histogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	if q <= 0 {
		return time.Duration(h.min)
	}
	if q >= 1 {
		return time.Duration(h.max)
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for i := range numBuckets {
		c := h.chunks[i/chunkLen]
		if c == nil {
			continue
		}
		seen += c[i%chunkLen]
		if seen >= rank {
			v := bucketHigh(i)
			if v > h.max {
				v = h.max
			}
			if v < h.min {
				v = h.min
			}
			return time.Duration(v)
		}
	}
	return time.Duration(h.max)
}

// Merge adds every value recorded in o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.total == 0 {
		return
	}
	for ci, oc := range o.chunks {
		if oc == nil {
			continue
		}
		c := h.chunks[ci]
		if c == nil {
			c = new([chunkLen]uint64)
			h.chunks[ci] = c
		}
		for i, n := range oc {
			c[i] += n
		}
	}
	if h.total == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.total += o.total
	h.sum += o.sum
}

// Reset empties h for reuse, keeping the chunks it allocated.
func (h *Histogram) Reset() {
	for _, c := range h.chunks {
		if c != nil {
			clear(c[:])
		}
	}
	h.total, h.min, h.max, h.sum = 0, 0, 0, 0
}
