package wire

import (
	"math"
	"math/bits"
)

// Status is one line of a stage's status channel: the JSON object a stage
// writes every half second, and once more when it ends, to the file
// descriptor given by --status-fd. obz flow reads it for its live view, its
// summary, the manifest and the metrics (docs/wire.md, "Status channel").
type Status struct {
	Stage    string `json:"stage"`
	State    string `json:"state"` // running, done, failed
	In       uint64 `json:"in"`
	Out      uint64 `json:"out"`
	Errors   uint64 `json:"errors"`
	BytesIn  uint64 `json:"bytes_in"`
	BytesOut uint64 `json:"bytes_out"`
	// Duplicates counts the frames an input delivered again and the stage
	// dropped (an at-least-once edge after a reconnect).
	Duplicates uint64  `json:"duplicates,omitempty"`
	Elapsed    float64 `json:"elapsed_s"`
	WaitIn     float64 `json:"wait_in_s"`  // time blocked waiting for input
	WaitOut    float64 `json:"wait_out_s"` // time blocked writing output (backpressure)
	Error      string  `json:"error,omitempty"`
	// ErrorKinds counts the error events by kind (parse, expr, ...).
	ErrorKinds map[string]uint64 `json:"error_kinds,omitempty"`
	// Broken is set on the last line when an input edge broke (no EOF, a
	// gap, a wrong count, a failed upstream): the edge contract failed.
	Broken bool `json:"broken,omitempty"`
	// Proc is the processing time of the stage's input batches, the time
	// blocked writing output left out; nil for a source, or before the
	// first batch.
	Proc *Hist `json:"proc,omitempty"`
	// E2E is the end-to-end latency of the input events that carry a
	// source time (Frame.TS): from the source's emitting them to this
	// stage's having processed them. nil when none came.
	E2E *Hist `json:"e2e,omitempty"`
}

// Busy is the share of the stage's time spent working rather than waiting
// for input or for its consumers: the busiest stage is the bottleneck.
func (st Status) Busy() float64 {
	if st.Elapsed <= 0 {
		return 0
	}
	return max(0, 1-(st.WaitIn+st.WaitOut)/st.Elapsed)
}

// BusySeconds is the time the stage spent working: its elapsed time less
// the time it waited for input or for its consumers. Over a run, the stage
// that worked longest is the bottleneck: a short-lived stage may be busy
// all of its little time.
func (st Status) BusySeconds() float64 {
	return max(0, st.Elapsed-st.WaitIn-st.WaitOut)
}

// HistBuckets is the number of buckets of a Hist: bucket i counts the
// durations of at most 2^i microseconds (and more than 2^(i-1)), i = 0 ..
// HistBuckets-2 (1 µs to 2^30 µs, about 18 minutes); the last one counts
// anything longer.
const HistBuckets = 32

// HistBound returns the upper bound of bucket i in seconds; +Inf for the last.
func HistBound(i int) float64 {
	if i >= HistBuckets-1 {
		return math.Inf(1)
	}
	return float64(uint64(1)<<i) / 1e6
}

// HistBucket returns the bucket of a duration of us microseconds.
func HistBucket(us uint64) int {
	if us <= 1 {
		return 0
	}
	return min(bits.Len64(us-1), HistBuckets-1)
}

// Hist is a histogram of durations on the status channel: the per-batch
// processing time or the end-to-end latency a stage measured since it
// started (docs/wire.md, "The status channel").
type Hist struct {
	N   uint64  `json:"n"`     // durations observed
	Sum float64 `json:"sum_s"` // their sum, in seconds
	Max float64 `json:"max_s"` // the longest, in seconds
	// Buckets counts the durations per bucket (HistBucket), not
	// cumulative, with trailing empty buckets left out.
	Buckets []uint64 `json:"b"`
}

// Quantile estimates the q-quantile (0 < q ≤ 1) in seconds: the bucket the
// rank falls in, interpolated linearly within it and capped by Max. Its
// error is below the bucket's width: a factor of 2. It is 0 for an empty
// histogram.
func (h *Hist) Quantile(q float64) float64 {
	if h == nil || h.N == 0 {
		return 0
	}
	if q >= 1 {
		return h.Max
	}
	rank := q * float64(h.N)
	var seen float64
	for i, n := range h.Buckets {
		if n == 0 {
			continue
		}
		if seen+float64(n) >= rank {
			lo := 0.0
			if i > 0 {
				lo = HistBound(i - 1)
			}
			hi := HistBound(i)
			if math.IsInf(hi, 1) || hi > h.Max {
				hi = h.Max
			}
			v := lo + (hi-lo)*(rank-seen)/float64(n)
			return min(max(v, 0), h.Max)
		}
		seen += float64(n)
	}
	return h.Max
}
