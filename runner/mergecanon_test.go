package runner

import (
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/obz-dev/obz/wire"
)

// canonInput is the frames of one input: data frames of writer w, a
// watermark after seq wmAfter, then the EOF.
func canonInput(w string, n, wmAfter int) []wire.Frame {
	var fs []wire.Frame
	for i := 1; i <= n; i++ {
		fs = append(fs, wire.Frame{Kind: wire.KindData, Writer: w, Seq: uint64(i)})
		if i == wmAfter {
			fs = append(fs, wire.Frame{Kind: wire.KindWatermark, Writer: w, Time: float64(i)})
		}
	}
	return append(fs, wire.Frame{Kind: wire.KindEOF, Writer: w, Count: uint64(n)})
}

// canonRun feeds the inputs to an ordered merger in random batches that
// arrive in a random interleaving, and returns the order it took them in.
func canonRun(inputs [][]wire.Frame, rng *rand.Rand) []string {
	var arrivals []*batch
	var pending [][]*batch
	for in, fs := range inputs {
		var bs []*batch
		for len(fs) > 0 {
			n := 1 + rng.IntN(min(len(fs), 4))
			bs = append(bs, &batch{InBatch: InBatch{Frames: fs[:n]}, in: in})
			fs = fs[n:]
		}
		bs[len(bs)-1].end = io.EOF
		pending = append(pending, bs)
	}
	for {
		var live []int
		for in := range pending {
			if len(pending[in]) > 0 {
				live = append(live, in)
			}
		}
		if len(live) == 0 {
			break
		}
		in := live[rng.IntN(len(live))]
		arrivals = append(arrivals, pending[in][0])
		pending[in] = pending[in][1:]
	}
	m := newCanonicalMerger(len(inputs), func(string, ...any) {})
	var got []string
	for {
		b, lo, hi := m.next()
		if b == nil {
			if len(arrivals) == 0 {
				return got
			}
			m.add(arrivals[0])
			arrivals = arrivals[1:]
			continue
		}
		for _, f := range b.Frames[lo:hi] {
			got = append(got, fmt.Sprintf("%s/%s/%d", f.Writer, f.Kind, f.Seq))
		}
	}
}

// The ordered merge takes the same order whatever the batches and their
// arrival: smallest seq first, the first input on a tie, control frames
// right after the frame before them.
func TestOrderedMergeIgnoresTiming(t *testing.T) {
	inputs := [][]wire.Frame{canonInput("a", 7, 3), canonInput("b", 4, 0), canonInput("c", 5, 5)}
	want := canonRun(inputs, rand.New(rand.NewPCG(1, 1)))
	if n := len(want); n != 7+1+1+4+1+5+1+1 {
		t.Fatalf("took %d frames: %v", n, want)
	}
	if want[0] != "a/data/1" || want[1] != "b/data/1" || want[2] != "c/data/1" {
		t.Errorf("first frames %v, want a, b, c at seq 1", want[:3])
	}
	if i := slices.Index(want, "a/wm/0"); i < 0 || want[i-1] != "a/data/3" {
		t.Errorf("a's watermark not right after a/3: %v", want)
	}
	for seed := uint64(2); seed < 200; seed++ {
		if got := canonRun(inputs, rand.New(rand.NewPCG(seed, seed))); !slices.Equal(got, want) {
			t.Fatalf("seed %d: order\n%v\nwant\n%v", seed, got, want)
		}
	}
}
