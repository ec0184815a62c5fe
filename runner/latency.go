package runner

import (
	"sync/atomic"
	"time"

	"github.com/obz-dev/obz/wire"
)

// Hist is a live histogram of durations with the fixed buckets of
// wire.Hist: Observe is a few atomic adds and never allocates, so a stage
// can update it per batch while the status channel reads it.
type Hist struct {
	b   [wire.HistBuckets]atomic.Uint64
	sum atomic.Int64 // nanoseconds
	max atomic.Int64 // nanoseconds
}

// Observe adds one duration (a negative one counts as 0).
func (h *Hist) Observe(d time.Duration) {
	d = max(d, 0)
	h.b[wire.HistBucket(uint64((d+time.Microsecond-1)/time.Microsecond))].Add(1)
	h.sum.Add(int64(d))
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// Snapshot returns the histogram so far, nil when it is empty.
func (h *Hist) Snapshot() *wire.Hist {
	var s wire.Hist
	last := -1
	var b [wire.HistBuckets]uint64
	for i := range b {
		b[i] = h.b[i].Load()
		s.N += b[i]
		if b[i] > 0 {
			last = i
		}
	}
	if last < 0 {
		return nil
	}
	s.Buckets = append([]uint64(nil), b[:last+1]...)
	s.Sum = time.Duration(h.sum.Load()).Seconds()
	s.Max = time.Duration(h.max.Load()).Seconds()
	return &s
}

// stampEvery is the sampling of a source's events that carry their source
// time: every event of an output batch's first stampEvery, then one in
// stampEvery. A small or slow flow (short batches) has every event
// stamped; a fast one fewer (one in 8 of 250-byte events in 64 KiB
// batches), so that the bytes and the work the stamps cost stay out of the
// way.
const stampEvery = 16

// stampNow says whether a source's data event that has n events before it
// in its output batch carries its source time.
func stampNow(n int) bool { return n < stampEvery || n%stampEvery == 0 }

// sourceTime is the source time (wire.Frame.TS) of an event emitted now.
func sourceTime(now time.Time) uint64 { return uint64(now.UnixMicro()) }

// sinceSource is how long ago source time ts was, at now.
func sinceSource(ts uint64, now time.Time) time.Duration {
	return time.Duration(now.UnixMicro()-int64(ts)) * time.Microsecond
}
