package runner_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/runner/runnertest"
	"github.com/obz-dev/obz/wire"
)

// TestSourceTimeStamps: a source with a status channel (under obz flow)
// stamps the first 16 events of each output batch and then one in 16; one
// without (a shell pipeline) stamps none, so its output stays the same
// from run to run.
func TestSourceTimeStamps(t *testing.T) {
	src := rtSource(func(ctx context.Context, em *runner.Emitter) error {
		for i := range 40 {
			if err := em.Emit([]byte(fmt.Sprint(i))); err != nil {
				return err
			}
		}
		if err := em.Flush(); err != nil { // a new batch
			return err
		}
		return em.Emit([]byte(`"after"`))
	})
	spec := &runner.Spec{Name: "src", Family: runner.FamilySource}
	run := func(status io.Writer) []wire.Frame {
		var out bytes.Buffer
		if err := runner.Run(context.Background(), spec, src, &runner.Env{Stdout: &out, Stderr: io.Discard, Status: status}); err != nil {
			t.Fatal(err)
		}
		return runnertest.Frames(t, out.Bytes())
	}
	before := uint64(time.Now().UnixMicro())
	var stamped []uint64
	for _, f := range run(io.Discard) {
		if f.TS != 0 {
			stamped = append(stamped, f.Seq)
			if f.TS < before || f.TS > uint64(time.Now().UnixMicro()) {
				t.Errorf("event %d stamped %d, not a time of this run", f.Seq, f.TS)
			}
		}
	}
	want := "[1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 33 41]"
	if got := fmt.Sprint(stamped); got != want {
		t.Errorf("stamped events %s, want %s", got, want)
	}
	for _, f := range run(nil) {
		if f.TS != 0 {
			t.Errorf("event %d stamped without a status channel", f.Seq)
		}
	}
}

// TestLatencyMeasured: a processor passes an input event's source time on
// to what it emits for it, and reports the processing time of its batches
// and the end-to-end latency of the stamped events on its status channel.
func TestLatencyMeasured(t *testing.T) {
	ts := uint64(time.Now().Add(-time.Second).UnixMicro())
	in := strings.Join([]string{
		`{"obz":1,"t":"data","w":"up","s":1,"ts":` + fmt.Sprint(ts) + `,"d":1}`,
		`{"obz":1,"t":"data","w":"up","s":2,"d":2}`,
		`{"obz":1,"t":"data","w":"up","s":3,"ts":` + fmt.Sprint(ts) + `,"d":3}`,
		`{"obz":1,"t":"eof","w":"up","n":3,"kind":"natural"}`,
	}, "\n") + "\n"
	var status rtSyncBuffer
	res := runnertest.Run(t, rtSpec, &rtRecorder{}, in, func(e *runner.Env) { e.Status = &status })
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	fs := runnertest.Frames(t, res.Out)
	for i, want := range []uint64{ts, 0, ts} {
		if fs[i].TS != want {
			t.Errorf("output %d has source time %d, want %d (its parent's)", fs[i].Seq, fs[i].TS, want)
		}
	}
	ss := rtStatus(t, status.Bytes())
	last := ss[len(ss)-1]
	if last.Proc == nil || last.Proc.N != 1 || last.Proc.Sum < 0 || len(last.Proc.Buckets) == 0 {
		t.Errorf("processing time %+v, want one batch", last.Proc)
	}
	e2e := last.E2E
	if e2e == nil || e2e.N != 2 {
		t.Fatalf("end-to-end latency %+v, want 2 events", e2e)
	}
	// Stamped a second before: each waited at least that long.
	if e2e.Max < 1 || e2e.Sum < 2 || e2e.Quantile(0.5) < 0.5 || len(e2e.Buckets) != wire.HistBucket(1e6)+1 {
		t.Errorf("end-to-end latency %+v, want 2 of about a second", e2e)
	}
}

// TestHistObserve: the live histogram's buckets, sum and max.
func TestHistObserve(t *testing.T) {
	var h runner.Hist
	if h.Snapshot() != nil {
		t.Fatal("an empty histogram has a snapshot")
	}
	for _, d := range []time.Duration{0, time.Microsecond, 1500 * time.Nanosecond, 3 * time.Millisecond, -time.Second} {
		h.Observe(d)
	}
	s := h.Snapshot()
	// 0, 1 µs and -1 s (as 0) in bucket 0, 1.5 µs in 1 (≤ 2 µs), 3 ms in 12 (≤ 4.096 ms).
	if fmt.Sprint(s.Buckets) != "[3 1 0 0 0 0 0 0 0 0 0 0 1]" || s.N != 5 || s.Max != 0.003 || s.Sum != 0.0030025 {
		t.Errorf("snapshot %+v", s)
	}
}

// TestHistObserveAllocs: the per-batch update allocates nothing.
func TestHistObserveAllocs(t *testing.T) {
	var h runner.Hist
	if n := testing.AllocsPerRun(100, func() { h.Observe(3 * time.Millisecond) }); n != 0 {
		t.Errorf("Observe allocates %v times", n)
	}
}
