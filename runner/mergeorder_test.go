package runner_test

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/obz-dev/obz/journal"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/runner/runnertest"
	"github.com/obz-dev/obz/wire"
)

// moRuns is a runner.MergeOrder from a list.
type moRuns []wire.Run

func (r *moRuns) Next() (wire.Run, error) {
	if len(*r) == 0 {
		return wire.Run{}, io.EOF
	}
	run := (*r)[0]
	*r = (*r)[1:]
	return run, nil
}

// moStream is n data frames of writer w, payloads "w1", "w2", ..., and its EOF.
func moStream(w string, n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		b.WriteString(runnertest.Data(w, uint64(i), fmt.Sprintf(`"%s%d"`, w, i)))
	}
	b.WriteString(runnertest.EOF(w, uint64(n), wire.Natural))
	return b.String()
}

// moGate is a reader whose first Read waits until open is closed.
type moGate struct {
	r    io.Reader
	open <-chan struct{}
}

func (g *moGate) Read(p []byte) (int, error) {
	<-g.open
	return g.r.Read(p)
}

// moCounter counts what is read through it and closes reached once n bytes
// went by (or at the end).
type moCounter struct {
	r       io.Reader
	n       int64
	got     atomic.Int64
	reached chan struct{}
	closed  atomic.Bool
}

func (c *moCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.got.Add(int64(n)) >= c.n || err != nil {
		if c.closed.CompareAndSwap(false, true) {
			close(c.reached)
		}
	}
	return n, err
}

// moWant is the payload order the runs describe.
func moWant(runs []wire.Run) []string {
	var want []string
	next := map[string]int{}
	for _, r := range runs {
		for range r.N {
			next[r.Writer]++
			want = append(want, fmt.Sprintf(`"%s%d"`, r.Writer, next[r.Writer]))
		}
	}
	return want
}

// journalFrames returns the frames that a stage's journal lines (run
// lines included) stand for.
func journalFrames(t *testing.T, lines []byte) []byte {
	t.Helper()
	b, err := journal.Frames(lines, "")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// moJournalRuns returns the order frames' runs in a journal, coalesced.
func moJournalRuns(t *testing.T, journal []byte) []wire.Run {
	t.Helper()
	var runs []wire.Run
	for _, f := range runnertest.Frames(t, journalFrames(t, journal)) {
		if f.Kind != wire.KindOrder {
			continue
		}
		for _, r := range f.Runs {
			if n := len(runs); n > 0 && runs[n-1].Writer == r.Writer {
				runs[n-1].N += r.N
			} else {
				runs = append(runs, r)
			}
		}
	}
	return runs
}

// TestMergeOrderFollowed: whichever input arrives first, a stage given a
// recorded merge order consumes its inputs in that order, and journals
// the same order again. The inputs are larger than the runner's buffers,
// so the input that is not wanted yet is held back (backpressure).
func TestMergeOrderFollowed(t *testing.T) {
	const na, nb = 5000, 10000
	runs := []wire.Run{{Writer: "a", N: 10}, {Writer: "b", N: 3}, {Writer: "a", N: 4000}, {Writer: "b", N: 9997}, {Writer: "a", N: 990}}
	want := moWant(runs)
	for _, first := range []string{"a", "b"} {
		t.Run(first+" first", func(t *testing.T) {
			// The other input is let through only once a good part of
			// the first one was read.
			streams := map[string]string{"a": moStream("a", na), "b": moStream("b", nb)}
			other := map[string]string{"a": "b", "b": "a"}[first]
			counter := &moCounter{r: strings.NewReader(streams[first]), n: int64(len(streams[first]) / 2), reached: make(chan struct{})}
			ins := map[string]io.Reader{first: counter, other: &moGate{r: strings.NewReader(streams[other]), open: counter.reached}}
			order := moRuns(runs)
			var journal bytes.Buffer
			rec := &rtRecorder{}
			res := runnertest.Run(t, rtSpec, rec, "", func(e *runner.Env) {
				e.Inputs = []runner.Input{{Name: "fd 3", R: ins["a"]}, {Name: "fd 4", R: ins["b"]}}
				e.MergeOrder = &order
				e.Journal = &journal
			})
			if res.Err != nil {
				t.Fatalf("%v\n%s", res.Err, res.Stderr)
			}
			if res.Stderr != "" {
				t.Errorf("stderr: %s", res.Stderr)
			}
			got := runnertest.Payloads(runnertest.Frames(t, res.Out))
			if len(got) != len(want) {
				t.Fatalf("%d events out, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("event %d is %s, want %s (the recorded order)", i+1, got[i], want[i])
				}
			}
			if eof := runnertest.LastEOF(t, runnertest.Frames(t, res.Out)); eof.Count != na+nb || eof.EOF != wire.Natural {
				t.Errorf("EOF %+v", eof)
			}
			if jr := moJournalRuns(t, journal.Bytes()); fmt.Sprint(jr) != fmt.Sprint(runs) {
				t.Errorf("journaled order %v, want %v", jr, runs)
			}
		})
	}
}

// TestMergeOrderRecorded: without a recorded order the stage merges in
// arrival order and journals that order (and only to the journal): the
// runs describe its output exactly.
func TestMergeOrderRecorded(t *testing.T) {
	var journal bytes.Buffer
	in3 := runnertest.ErrFrame("c", 1, wire.ErrorInfo{Kind: "expr", Msg: "m", Stage: "c"}, `1`) + "not json\n" + runnertest.Data("c", 2, `"c2"`) + runnertest.EOF("c", 2, wire.Natural)
	res := runnertest.Run(t, rtSpec, &rtRecorder{}, "", func(e *runner.Env) {
		e.Inputs = []runner.Input{{Name: "fd 3", R: strings.NewReader(moStream("a", 3000))},
			{Name: "fd 4", R: strings.NewReader(moStream("b", 7000))}, {Name: "fd 5", R: strings.NewReader(in3)}}
		e.Journal = &journal
	})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	out := runnertest.Frames(t, res.Out)
	for _, f := range out {
		if f.Kind == wire.KindOrder {
			t.Fatal("an order frame in the output")
		}
	}
	// The output's data-lane frames, by the writer of their parent (the
	// unreadable line has none: it counts for its input's writer, c).
	var fromOut []wire.Run
	for _, f := range out {
		if f.Kind != wire.KindData && f.Kind != wire.KindError {
			continue
		}
		w := f.Parent.Writer
		if w == "" {
			w = "c"
		}
		if n := len(fromOut); n > 0 && fromOut[n-1].Writer == w {
			fromOut[n-1].N++
		} else {
			fromOut = append(fromOut, wire.Run{Writer: w, N: 1})
		}
	}
	if jr := moJournalRuns(t, journal.Bytes()); fmt.Sprint(jr) != fmt.Sprint(fromOut) {
		t.Errorf("journaled order %v, output order %v", jr, fromOut)
	}
	// Order frames come before the EOF, which is the journal's last frame.
	if fs := runnertest.Frames(t, journalFrames(t, journal.Bytes())); fs[len(fs)-1].Kind != wire.KindEOF {
		t.Errorf("journal ends with %v", fs[len(fs)-1].Kind)
	}
}

// TestMergeOrderCannotFollow: a recorded order that names a writer no input
// has, or more events than an input holds, is reported and the rest is
// merged in arrival order: nothing is lost and the stage does not hang.
func TestMergeOrderCannotFollow(t *testing.T) {
	for _, tc := range []struct {
		name string
		runs []wire.Run
		msg  string
	}{
		{"unknown writer", []wire.Run{{Writer: "a", N: 2}, {Writer: "x", N: 5}}, "takes events from 'x', which is on none of the inputs"},
		{"input ends short", []wire.Run{{Writer: "b", N: 2}, {Writer: "a", N: 9000}}, "takes 4000 more events from 'a', but its input ended"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			order := moRuns(tc.runs)
			res := runnertest.Run(t, rtSpec, &rtRecorder{}, "", func(e *runner.Env) {
				e.Inputs = []runner.Input{{Name: "fd 3", R: strings.NewReader(moStream("a", 5000))}, {Name: "fd 4", R: strings.NewReader(moStream("b", 7000))}}
				e.MergeOrder = &order
			})
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if !strings.Contains(res.Stderr, tc.msg) || !strings.Contains(res.Stderr, "merged in arrival order") {
				t.Errorf("stderr %q, want %q", res.Stderr, tc.msg)
			}
			got := runnertest.Payloads(runnertest.Frames(t, res.Out))
			if len(got) != 12000 {
				t.Errorf("%d events out, want 12000", len(got))
			}
			want := moWant(tc.runs[:1])
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("event %d is %s, want %s", i+1, got[i], want[i])
				}
			}
		})
	}
}

// TestOrderFrameOnInputIgnored: an order frame is journal-only; a stage
// that reads one (a journal replayed by hand) neither forwards it nor
// counts it.
func TestOrderFrameOnInputIgnored(t *testing.T) {
	of := string(wire.AppendFrame(nil, &wire.Frame{Kind: wire.KindOrder, Writer: "m", Runs: []wire.Run{{Writer: "a", N: 1}}}))
	res := runnertest.Run(t, rtSpec, &rtRecorder{}, runnertest.Data("a", 1, `1`)+of+runnertest.EOF("a", 1, wire.Natural), nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	for _, f := range runnertest.Frames(t, res.Out) {
		if f.Kind == wire.KindOrder {
			t.Fatal("the order frame was forwarded")
		}
	}
}
