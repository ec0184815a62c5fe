package wire

import (
	"math"
	"testing"
)

func TestHistBucket(t *testing.T) {
	for us, want := range map[uint64]int{0: 0, 1: 0, 2: 1, 3: 2, 4: 2, 5: 3, 1024: 10, 1025: 11, 1 << 30: 30, 1<<30 + 1: 31, math.MaxUint64: 31} {
		if got := HistBucket(us); got != want {
			t.Errorf("HistBucket(%d) = %d, want %d", us, got, want)
		}
	}
	if HistBound(10) != 1024e-6 || !math.IsInf(HistBound(HistBuckets-1), 1) {
		t.Errorf("bounds %g %g", HistBound(10), HistBound(HistBuckets-1))
	}
}

// TestHistQuantile: a quantile lies in the bucket its rank falls in,
// interpolated, and never past the max.
func TestHistQuantile(t *testing.T) {
	// 10 durations in (512 µs, 1024 µs], 90 in (1.024 ms, 2.048 ms], the
	// longest 1.5 ms.
	h := &Hist{N: 100, Max: 0.0015, Buckets: []uint64{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 90}}
	for _, c := range []struct{ q, lo, hi float64 }{
		{0.05, 0.000512, 0.001024},
		{0.1, 0.001024, 0.001024},
		{0.5, 0.001024, 0.0015},
		{0.99, 0.001024, 0.0015},
		{1, 0.0015, 0.0015},
	} {
		if got := h.Quantile(c.q); got < c.lo || got > c.hi {
			t.Errorf("Quantile(%g) = %g, want in [%g, %g]", c.q, got, c.lo, c.hi)
		}
	}
	if (&Hist{}).Quantile(0.5) != 0 || (*Hist)(nil).Quantile(0.5) != 0 {
		t.Error("an empty histogram has a quantile")
	}
	over := &Hist{N: 1, Max: 4000, Buckets: make([]uint64, HistBuckets)}
	over.Buckets[HistBuckets-1] = 1
	if got := over.Quantile(0.5); got <= HistBound(HistBuckets-2) || got > 4000 {
		t.Errorf("Quantile of the overflow bucket = %g", got)
	}
}
