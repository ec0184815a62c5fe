package runner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/runner/runnertest"
	"github.com/obz-dev/obz/wire"
)

// rtRecorder is a pass-through processor that records how the runner drives it.
type rtRecorder struct {
	mu       sync.Mutex
	events   []string
	finished int
	endKind  wire.EOFKind
	aborted  int
	// fail maps a payload to the error Event returns for it.
	fail map[string]error
}

func (r *rtRecorder) Event(ev *wire.Frame, em *runner.Emitter) error {
	r.mu.Lock()
	r.events = append(r.events, string(ev.Payload))
	err := r.fail[string(ev.Payload)]
	r.mu.Unlock()
	if err != nil {
		return err
	}
	return em.Emit(ev.Payload)
}

func (r *rtRecorder) Finish(_ *runner.Emitter, end wire.EOFKind) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.finished++
	r.endKind = end
	return nil
}

func (r *rtRecorder) Abort() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.aborted++
}

var rtSpec = &runner.Spec{Name: "rec", Family: runner.FamilyTransform}

func TestRunBarePassThrough(t *testing.T) {
	rec := &rtRecorder{}
	res := runnertest.Run(t, rtSpec, rec, "{\"a\":1}\n\n  {\"a\":2}  \r\n{\"a\":3}", nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	fs := runnertest.Frames(t, res.Out)
	if got := runnertest.Payloads(fs); strings.Join(got, " ") != `{"a":1} {"a":2} {"a":3}` {
		t.Errorf("payloads = %q", got)
	}
	for i, f := range fs[:3] {
		if f.Writer != "rec" || f.Seq != uint64(i+1) || f.Parent != (wire.Ref{Writer: "-", Seq: uint64(i + 1)}) {
			t.Errorf("frame %d = %+v, want writer rec, seq %d, parent [-,%d]", i, f, i+1, i+1)
		}
	}
	eof := runnertest.LastEOF(t, fs)
	if eof.Count != 3 || eof.EOF != wire.Natural || eof.Writer != "rec" {
		t.Errorf("EOF = %+v, want rec n 3 natural", eof)
	}
	if rec.finished != 1 || rec.endKind != wire.Natural || rec.aborted != 0 {
		t.Errorf("finished %d (%v), aborted %d; want Finish(natural) once", rec.finished, rec.endKind, rec.aborted)
	}
}

func TestRunEnvName(t *testing.T) {
	res := runnertest.Run(t, rtSpec, &rtRecorder{}, `{"a":1}`, func(e *runner.Env) { e.Name = "f1" })
	fs := runnertest.Frames(t, res.Out)
	if fs[0].Writer != "f1" || runnertest.LastEOF(t, fs).Writer != "f1" {
		t.Errorf("frames %+v do not use the writer name f1", fs)
	}
}

// TestRunBrokenEdges covers the edge contracts: every case reports a
// *runner.BrokenInputError naming the upstream, writes a truncated (or worse) EOF
// downstream, and never calls Finish.
func TestRunBrokenEdges(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		problem  string
		wantKind wire.EOFKind
		wantOut  int // data events passed on before the end
	}{
		{
			name:     "gap",
			in:       runnertest.Data("read", 1, `1`) + runnertest.Data("read", 2, `2`) + runnertest.Data("read", 5, `5`) + runnertest.EOF("read", 5, wire.Natural),
			problem:  "input from 'read' has a gap: seq 3..4 missing",
			wantKind: wire.Truncated, wantOut: 3,
		},
		{
			// A seq seen already is a duplicate (see TestRunDuplicates),
			// unless the writer skipped one: then it is a reordering.
			name:     "reordered seq",
			in:       runnertest.Data("read", 1, `1`) + runnertest.Data("read", 3, `3`) + runnertest.Data("read", 2, `2`) + runnertest.EOF("read", 3, wire.Natural),
			problem:  "repeated or reordered seq 2 after 3",
			wantKind: wire.Truncated, wantOut: 3,
		},
		{
			name:     "count mismatch",
			in:       runnertest.Data("read", 1, `1`) + runnertest.Data("read", 2, `2`) + runnertest.EOF("read", 3, wire.Natural),
			problem:  "input from 'read' ended with an EOF count of 3 but 2 events arrived",
			wantKind: wire.Truncated, wantOut: 2,
		},
		{
			name:     "no EOF",
			in:       runnertest.Data("read", 1, `1`) + runnertest.Data("read", 2, `2`) + runnertest.Data("read", 3, `3`),
			problem:  "input from 'read' ended without EOF after 3 events",
			wantKind: wire.Truncated, wantOut: 3,
		},
		{
			name:     "no EOF, last line cut",
			in:       runnertest.Data("read", 1, `1`) + `{"obz":1,"t":"data","w":"read","s":2,"d":{"a":`,
			problem:  "input from 'read' ended without EOF after 1 events",
			wantKind: wire.Truncated, wantOut: 1, // and an error event for the cut line
		},
		{
			name:     "poison upstream",
			in:       runnertest.Data("read", 1, `1`) + runnertest.Data("read", 2, `2`) + runnertest.EOF("read", 2, wire.Poison),
			problem:  "upstream 'read' failed (poison EOF after 2 events)",
			wantKind: wire.Poison, wantOut: 2,
		},
		{
			name:     "truncated upstream",
			in:       runnertest.Data("read", 1, `1`) + runnertest.EOF("read", 1, wire.Truncated),
			problem:  "input from 'read' is truncated",
			wantKind: wire.Truncated, wantOut: 1,
		},
		{
			name:     "data after EOF",
			in:       runnertest.Data("read", 1, `1`) + runnertest.EOF("read", 1, wire.Natural) + runnertest.Data("read", 2, `2`),
			problem:  "input from 'read' sent event seq 2 after its EOF",
			wantKind: wire.Truncated, wantOut: 2,
		},
		{
			name:     "second EOF",
			in:       runnertest.Data("read", 1, `1`) + runnertest.EOF("read", 1, wire.Natural) + runnertest.EOF("read", 1, wire.Stopped),
			problem:  "input from 'read' sent a second EOF",
			wantKind: wire.Truncated, wantOut: 1,
		},
		{
			name:     "one of two writers without EOF",
			in:       runnertest.Data("a", 1, `1`) + runnertest.Data("b", 1, `2`) + runnertest.EOF("a", 1, wire.Natural),
			problem:  "input from 'b' ended without EOF after 1 events",
			wantKind: wire.Truncated, wantOut: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &rtRecorder{}
			res := runnertest.Run(t, rtSpec, rec, tt.in, nil)
			runnertest.WantBroken(t, res.Err, tt.problem)
			fs := runnertest.Frames(t, res.Out)
			eof := runnertest.LastEOF(t, fs)
			if eof.EOF != tt.wantKind {
				t.Errorf("EOF kind = %v, want %v", eof.EOF, tt.wantKind)
			}
			if n := len(runnertest.Payloads(fs)); n != tt.wantOut || eof.Count != uint64(len(fs)-1) {
				t.Errorf("%d data events out, EOF count %d (%d frames); want %d", n, eof.Count, len(fs)-1, tt.wantOut)
			}
			if rec.finished != 0 {
				t.Errorf("Finish called %d times on a broken input", rec.finished)
			}
			if rec.aborted != 1 {
				t.Errorf("Abort called %d times, want 1", rec.aborted)
			}
		})
	}
}

// A stage of a flow trusts its input's payloads (an obz stage wrote
// them), so the last line of a writer killed in the middle of a frame must
// be refused as a frame, not decoded: cut just after its payload's "}", it
// decodes, to a payload without that "}" (a sink wrote such a line once).
func TestRunTornFrameFromObzStage(t *testing.T) {
	rec := &rtRecorder{}
	in := runnertest.Data("read", 1, `{"a":1}`) + `{"obz":1,"t":"data","w":"read","s":2,"d":{"a":2}`
	res := runnertest.Run(t, rtSpec, rec, "", func(e *runner.Env) {
		e.Inputs = []runner.Input{{Name: "from read", R: strings.NewReader(in), Framed: true}}
	})
	runnertest.WantBroken(t, res.Err, "input from 'read' ended without EOF after 1 events")
	if len(rec.events) != 1 || rec.events[0] != `{"a":1}` {
		t.Fatalf("stage got %q, want only the whole event", rec.events)
	}
	if !strings.Contains(string(res.Out), `torn frame`) {
		t.Errorf("no torn frame error event in the output:\n%s", res.Out)
	}
}

func TestRunStoppedUpstream(t *testing.T) {
	rec := &rtRecorder{}
	res := runnertest.Run(t, rtSpec, rec, runnertest.Data("read", 1, `1`)+runnertest.EOF("read", 1, wire.Stopped), nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if eof := runnertest.LastEOF(t, runnertest.Frames(t, res.Out)); eof.EOF != wire.Stopped || eof.Count != 1 {
		t.Errorf("EOF = %+v, want n 1 stopped", eof)
	}
	if rec.finished != 1 || rec.endKind != wire.Stopped {
		t.Errorf("Finish called %d times with %v, want once with stopped", rec.finished, rec.endKind)
	}
}

func TestRunReadError(t *testing.T) {
	in := io.MultiReader(strings.NewReader(runnertest.Data("read", 1, `1`)), rtErrReader{errors.New("disk on fire")})
	res := runnertest.Run(t, rtSpec, &rtRecorder{}, "", func(e *runner.Env) { e.Inputs = []runner.Input{{Name: "fd 3", R: in}} })
	runnertest.WantBroken(t, res.Err, "reading fd 3: disk on fire")
	if eof := runnertest.LastEOF(t, runnertest.Frames(t, res.Out)); eof.EOF != wire.Truncated {
		t.Errorf("EOF = %+v, want truncated", eof)
	}
}

type rtErrReader struct{ err error }

func (r rtErrReader) Read([]byte) (int, error) { return 0, r.err }

// TestRunFanIn reads two inputs: each edge is checked on its own (both have
// a writer "up" with its own seq), and the stage's EOF comes only after both
// ended.
func TestRunFanIn(t *testing.T) {
	ar, aw := io.Pipe()
	br, bw := io.Pipe()
	or, ow := io.Pipe()
	defer or.Close()
	rec := &rtRecorder{}
	done := make(chan error, 1)
	go func() {
		done <- runner.Run(context.Background(), rtSpec, rec, &runner.Env{
			Inputs: []runner.Input{{Name: "fd 3", R: ar}, {Name: "fd 4", R: br}},
			Stdout: ow, Stderr: io.Discard,
		})
		ow.Close()
	}()
	out := runnertest.NewFrameReader(t, or)

	go func() {
		io.WriteString(aw, runnertest.Data("up", 1, `"a1"`)+runnertest.Data("up", 2, `"a2"`)+runnertest.EOF("up", 2, wire.Natural))
		aw.Close()
	}()
	for _, want := range []string{`"a1"`, `"a2"`} {
		if f := out.Next(); f.Kind != wire.KindData || string(f.Payload) != want {
			t.Fatalf("got %+v, want data %s", f, want)
		}
	}
	go func() {
		io.WriteString(bw, runnertest.Data("up", 1, `"b1"`)+runnertest.EOF("up", 1, wire.Stopped))
		bw.Close()
	}()
	// The frame after a's events is b's, not an EOF: a's end is not the stage's end.
	if f := out.Next(); f.Kind != wire.KindData || string(f.Payload) != `"b1"` || f.Seq != 3 {
		t.Fatalf("got %+v, want data \"b1\" seq 3", f)
	}
	// The worst kind wins: natural and stopped give stopped.
	if f := out.Next(); f.Kind != wire.KindEOF || f.Count != 3 || f.EOF != wire.Stopped {
		t.Fatalf("got %+v, want EOF n 3 stopped", f)
	}
	if err := runnertest.Wait(t, done); err != nil {
		t.Fatal(err)
	}
	if rec.finished != 1 {
		t.Errorf("Finish called %d times", rec.finished)
	}
}

func TestRunFanInOneBroken(t *testing.T) {
	rec := &rtRecorder{}
	res := runnertest.Run(t, rtSpec, rec, "", func(e *runner.Env) {
		e.Inputs = []runner.Input{
			{Name: "fd 3", R: strings.NewReader(runnertest.Data("a", 1, `1`) + runnertest.EOF("a", 1, wire.Natural))},
			{Name: "fd 4", R: strings.NewReader(runnertest.Data("b", 1, `2`) + runnertest.Data("b", 2, `3`))},
		}
	})
	be := runnertest.WantBroken(t, res.Err, "input from 'b' ended without EOF after 2 events")
	if strings.Contains(be.Error(), "'a'") {
		t.Errorf("the healthy input is blamed: %v", be)
	}
	fs := runnertest.Frames(t, res.Out)
	if eof := runnertest.LastEOF(t, fs); eof.EOF != wire.Truncated || eof.Count != 3 {
		t.Errorf("EOF = %+v, want n 3 truncated", eof)
	}
	if rec.finished != 0 {
		t.Error("Finish called although an input broke")
	}
}

func TestRunForwardsErrorFrames(t *testing.T) {
	info := wire.ErrorInfo{Kind: "expr", Msg: "cannot compare", Stage: "map", Line: 7}
	in := runnertest.Data("up", 1, `{"a":1}`) +
		runnertest.ErrFrame("up", 2, info, `{"a":"x"}`) +
		runnertest.ErrFrame("up", 3, wire.ErrorInfo{Kind: "parse", Msg: "invalid JSON", Stage: "read", Line: 9, Raw: []byte("not json")}, "") +
		runnertest.Data("up", 4, `{"a":3}`) +
		runnertest.EOF("up", 4, wire.Natural)
	rec := &rtRecorder{}
	res := runnertest.Run(t, rtSpec, rec, in, nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if len(rec.events) != 2 {
		t.Errorf("processor saw %q; error events must not reach it", rec.events)
	}
	fs := runnertest.Frames(t, res.Out)
	if len(fs) != 5 {
		t.Fatalf("got %d frames, want 5: %+v", len(fs), fs)
	}
	e := fs[1]
	if e.Kind != wire.KindError || e.Writer != "rec" || e.Seq != 2 || e.Parent != (wire.Ref{Writer: "up", Seq: 2}) {
		t.Errorf("forwarded error frame = %+v, want rec seq 2 parent [up,2]", e)
	}
	if e.Err == nil || e.Err.Kind != "expr" || e.Err.Msg != "cannot compare" || e.Err.Stage != "map" || e.Err.Line != 7 || string(e.Payload) != `{"a":"x"}` {
		t.Errorf("forwarded error frame lost its info or payload: %+v %+v", e, e.Err)
	}
	r := fs[2]
	if r.Kind != wire.KindError || r.Seq != 3 || r.Err == nil || string(r.Err.Raw) != "not json" || r.Err.Stage != "read" || r.Err.Line != 9 || r.Payload != nil {
		t.Errorf("forwarded raw error frame = %+v %+v", r, r.Err)
	}
	if eof := runnertest.LastEOF(t, fs); eof.Count != 4 {
		t.Errorf("EOF count = %d, want 4 (error events count)", eof.Count)
	}
}

func TestRunMalformedLine(t *testing.T) {
	rec := &rtRecorder{}
	res := runnertest.Run(t, rtSpec, rec, "{\"a\":1}\nnot json\n{\"a\":2}\n", nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	fs := runnertest.Frames(t, res.Out)
	if len(fs) != 4 {
		t.Fatalf("got %d frames, want 4: %+v", len(fs), fs)
	}
	e := fs[1]
	if e.Kind != wire.KindError || e.Seq != 2 || e.Err == nil || e.Err.Kind != "parse" || e.Err.Line != 2 || e.Err.Stage != "rec" || string(e.Err.Raw) != "not json" {
		t.Errorf("error frame = %+v %+v, want parse error of line 2 with its raw text", e, e.Err)
	}
	if !e.Parent.IsZero() {
		t.Errorf("a local error frame has parent %v", e.Parent)
	}
	if fs[2].Seq != 3 || runnertest.LastEOF(t, fs).Count != 3 {
		t.Errorf("seq or count wrong after the error frame: %+v", fs)
	}
	if len(rec.events) != 2 || rec.finished != 1 {
		t.Errorf("processor saw %q, finished %d", rec.events, rec.finished)
	}
}

func TestRunEventErrorGoesToErrorLane(t *testing.T) {
	rec := &rtRecorder{fail: map[string]error{`{"a":2}`: runner.EventErrorf("expr", "boom")}}
	res := runnertest.Run(t, rtSpec, rec, "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n", nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	fs := runnertest.Frames(t, res.Out)
	e := fs[1]
	if e.Kind != wire.KindError || e.Err == nil || e.Err.Kind != "expr" || e.Err.Msg != "boom" || e.Err.Line != 2 ||
		string(e.Payload) != `{"a":2}` || e.Parent != (wire.Ref{Writer: "-", Seq: 2}) {
		t.Errorf("error frame = %+v %+v", e, e.Err)
	}
	if got := runnertest.Payloads(fs); len(got) != 2 {
		t.Errorf("data out = %q, want 2", got)
	}
}

func TestRunOnErrorFail(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		fail     map[string]error
		kind     string
		line     int64
	}{
		{name: "malformed line", in: "{\"a\":1}\n{oops\n{\"a\":3}\n", kind: "parse", line: 2},
		{name: "event error", in: "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n", fail: map[string]error{`{"a":2}`: runner.EventErrorf("expr", "boom")}, kind: "expr", line: 2},
		{name: "upstream error frame", in: runnertest.Data("up", 1, `1`) + runnertest.ErrFrame("up", 2, wire.ErrorInfo{Kind: "csv", Msg: "bad", Stage: "read", Line: 5}, `2`) + runnertest.Data("up", 3, `3`) + runnertest.EOF("up", 3, wire.Natural), kind: "csv", line: 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &rtRecorder{fail: tt.fail}
			res := runnertest.Run(t, rtSpec, rec, tt.in, func(e *runner.Env) { e.OnError = runner.ErrorsFail })
			var fe *runner.EventFailedError
			if !errors.As(res.Err, &fe) {
				t.Fatalf("runner.Run = %v, want *EventFailedError", res.Err)
			}
			if fe.Info.Kind != tt.kind || fe.Info.Line != tt.line {
				t.Errorf("failed on %+v, want kind %s line %d", fe.Info, tt.kind, tt.line)
			}
			fs := runnertest.Frames(t, res.Out)
			eof := runnertest.LastEOF(t, fs)
			if eof.EOF != wire.Poison || eof.Count != 1 {
				t.Errorf("EOF = %+v, want poison n 1", eof)
			}
			for _, f := range fs {
				if f.Kind == wire.KindError {
					t.Errorf("error frame written under --on-error fail: %+v", f)
				}
			}
			if rec.finished != 0 || rec.aborted != 1 {
				t.Errorf("finished %d, aborted %d; want Abort only", rec.finished, rec.aborted)
			}
			for _, ev := range rec.events {
				if ev == `{"a":3}` || ev == `3` {
					t.Error("an event after the fatal one was processed")
				}
			}
		})
	}
}

func TestRunStageFails(t *testing.T) {
	boom := errors.New("boom")
	rec := &rtRecorder{fail: map[string]error{`2`: boom}}
	res := runnertest.Run(t, rtSpec, rec, "1\n2\n3\n", nil)
	if !errors.Is(res.Err, boom) {
		t.Fatalf("runner.Run = %v, want boom", res.Err)
	}
	if eof := runnertest.LastEOF(t, runnertest.Frames(t, res.Out)); eof.EOF != wire.Poison || eof.Count != 1 {
		t.Errorf("EOF = %+v, want poison n 1", eof)
	}
}

func TestRunErrStop(t *testing.T) {
	var in strings.Builder
	for i := 1; i <= 5; i++ {
		in.WriteString(runnertest.Data("up", uint64(i), fmt.Sprint(i)))
	}
	in.WriteString(runnertest.EOF("up", 5, wire.Natural))
	rec := &rtRecorder{fail: map[string]error{`3`: runner.ErrStop}}
	res := runnertest.Run(t, rtSpec, rec, in.String(), nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	fs := runnertest.Frames(t, res.Out)
	if got := runnertest.Payloads(fs); strings.Join(got, ",") != "1,2" {
		t.Errorf("data out = %q", got)
	}
	if eof := runnertest.LastEOF(t, fs); eof.EOF != wire.Natural || eof.Count != 2 {
		t.Errorf("EOF = %+v, want natural n 2", eof)
	}
	if rec.finished != 1 || len(rec.events) != 3 {
		t.Errorf("finished %d, events %q", rec.finished, rec.events)
	}
}

// TestRunErrStopLeavesInputAlone: after a stage stops reading (head), more
// upstream input must not crash the reader goroutine, which must end.
func TestRunErrStopLeavesInputAlone(t *testing.T) {
	before := rtReaderGoroutines()
	in := &rtEndless{line: []byte("{\"a\":1}\n")}
	rec := &rtRecorder{fail: map[string]error{`{"a":1}`: runner.ErrStop}}
	res := runnertest.Run(t, rtSpec, rec, "", func(e *runner.Env) { e.Stdin = in })
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	deadline := time.Now().Add(runnertest.HangGuard)
	for rtReaderGoroutines() > before {
		if time.Now().After(deadline) {
			t.Fatalf("the input reader still runs after the stage ended (%d reads)", in.reads())
		}
		runtime.Gosched()
	}
}

func rtReaderGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return bytes.Count(buf, []byte("runner.readInput("))
}

// rtEndless returns one line per Read, forever.
type rtEndless struct {
	mu   sync.Mutex
	line []byte
	n    int
}

func (r *rtEndless) Read(p []byte) (int, error) {
	r.mu.Lock()
	r.n++
	r.mu.Unlock()
	return copy(p, r.line), nil
}

func (r *rtEndless) reads() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

type rtEPIPE struct{}

func (rtEPIPE) Write([]byte) (int, error) { return 0, syscall.EPIPE }

func TestRunDownstreamGone(t *testing.T) {
	t.Run("EPIPE", func(t *testing.T) {
		rec := &rtRecorder{}
		err := runner.Run(context.Background(), rtSpec, rec, &runner.Env{Stdin: strings.NewReader("1\n2\n"), Stdout: rtEPIPE{}, Stderr: io.Discard})
		if err != nil {
			t.Errorf("runner.Run = %v, want nil when stdout is closed", err)
		}
	})
	t.Run("closed pipe", func(t *testing.T) {
		ir, iw := io.Pipe()
		or, ow := io.Pipe()
		done := make(chan error, 1)
		go func() {
			done <- runner.Run(context.Background(), rtSpec, &rtRecorder{}, &runner.Env{Stdin: ir, Stdout: ow, Stderr: io.Discard})
		}()
		go io.WriteString(iw, "1\n")
		out := runnertest.NewFrameReader(t, or)
		out.Next()
		or.Close() // downstream goes away, like `| head -1`
		go func() {
			for i := 0; ; i++ {
				if _, err := fmt.Fprintf(iw, "%d\n", i); err != nil {
					return
				}
			}
		}()
		if err := runnertest.Wait(t, done); err != nil {
			t.Errorf("runner.Run = %v, want nil", err)
		}
		ir.Close()
	})
	t.Run("source", func(t *testing.T) {
		src := rtSource(func(ctx context.Context, em *runner.Emitter) error {
			for {
				if err := em.Emit([]byte("1")); err != nil {
					return err
				}
				if err := em.Flush(); err != nil {
					return err
				}
			}
		})
		if err := runner.Run(context.Background(), &runner.Spec{Name: "src", Family: runner.FamilySource}, src, &runner.Env{Stdout: rtEPIPE{}, Stderr: io.Discard}); err != nil {
			t.Errorf("runner.Run = %v, want nil", err)
		}
	})
}

type rtSource func(ctx context.Context, em *runner.Emitter) error

func (f rtSource) Produce(ctx context.Context, em *runner.Emitter) error { return f(ctx, em) }

// TestRunIdleFlush: an event is written out as soon as input goes idle, not
// when a batch fills up or input ends.
func TestRunIdleFlush(t *testing.T) {
	ir, iw := io.Pipe()
	or, ow := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- runner.Run(context.Background(), rtSpec, &rtRecorder{}, &runner.Env{Stdin: ir, Stdout: ow, Stderr: io.Discard})
		ow.Close()
	}()
	out := runnertest.NewFrameReader(t, or)
	for i := 1; i <= 3; i++ {
		go fmt.Fprintf(iw, "{\"n\":%d}\n", i)
		if f := out.Next(); f.Kind != wire.KindData || f.Seq != uint64(i) {
			t.Fatalf("got %+v, want data seq %d", f, i)
		}
	}
	iw.Close()
	if f := out.Next(); f.Kind != wire.KindEOF || f.Count != 3 {
		t.Fatalf("got %+v, want EOF n 3", f)
	}
	if err := runnertest.Wait(t, done); err != nil {
		t.Fatal(err)
	}
}

// TestRunCancelDrains: after the stop signal a processor drains its input;
// when the input ends the stage finishes with a stopped EOF.
func TestRunCancelDrains(t *testing.T) {
	ir, iw := io.Pipe()
	or, ow := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &rtRecorder{}
	done := make(chan error, 1)
	go func() {
		done <- runner.Run(ctx, rtSpec, rec, &runner.Env{Stdin: ir, Stdout: ow, Stderr: io.Discard})
		ow.Close()
	}()
	out := runnertest.NewFrameReader(t, or)
	go io.WriteString(iw, "1\n")
	out.Next()
	cancel()
	go func() {
		io.WriteString(iw, "2\n") // still drained after the signal
		iw.Close()
	}()
	if f := out.Next(); f.Kind != wire.KindData || string(f.Payload) != "2" {
		t.Fatalf("got %+v, want the drained event 2", f)
	}
	if f := out.Next(); f.Kind != wire.KindEOF || f.EOF != wire.Stopped || f.Count != 2 {
		t.Fatalf("got %+v, want EOF n 2 stopped", f)
	}
	if err := runnertest.Wait(t, done); err != nil {
		t.Fatal(err)
	}
	if rec.finished != 1 || rec.endKind != wire.Stopped {
		t.Errorf("Finish called %d times with %v, want once with stopped", rec.finished, rec.endKind)
	}
}

// TestRunCancelledBeforeStart: a stage whose context is already cancelled
// still drains what its input holds and ends stopped.
func TestRunCancelledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	err := runner.Run(ctx, rtSpec, &rtRecorder{}, &runner.Env{Stdin: strings.NewReader("1\n2\n"), Stdout: &out, Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	fs := runnertest.Frames(t, out.Bytes())
	if eof := runnertest.LastEOF(t, fs); eof.EOF != wire.Stopped || eof.Count != 2 {
		t.Errorf("EOF = %+v, want n 2 stopped", eof)
	}
}

func TestRunCancelTerminalInput(t *testing.T) {
	ir, iw := io.Pipe()
	defer iw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out rtSyncBuffer
	rec := &rtRecorder{}
	done := make(chan error, 1)
	go func() {
		done <- runner.Run(ctx, rtSpec, rec, &runner.Env{Stdin: ir, Stdout: &out, Stderr: io.Discard, InputIsTerminal: true})
	}()
	io.WriteString(iw, "1\n")
	cancel()
	if err := runnertest.Wait(t, done); err != nil {
		t.Fatal(err)
	}
	if eof := runnertest.LastEOF(t, runnertest.Frames(t, out.Bytes())); eof.EOF != wire.Stopped {
		t.Errorf("EOF = %+v, want stopped", eof)
	}
	if rec.finished != 1 {
		t.Error("Finish not called after a stop on terminal input")
	}
}

func TestRunDrainTimeout(t *testing.T) {
	ir, iw := io.Pipe()
	defer iw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out rtSyncBuffer
	rec := &rtRecorder{}
	done := make(chan error, 1)
	go func() {
		done <- runner.Run(ctx, rtSpec, rec, &runner.Env{Stdin: ir, Stdout: &out, Stderr: io.Discard, DrainTimeout: time.Millisecond})
	}()
	runnertest.WantBroken(t, runnertest.Wait(t, done), "did not end within the drain timeout")
	if eof := runnertest.LastEOF(t, runnertest.Frames(t, out.Bytes())); eof.EOF != wire.Truncated {
		t.Errorf("EOF = %+v, want truncated", eof)
	}
	if rec.finished != 0 {
		t.Error("Finish called on an input that never ended")
	}
}

func TestRunSource(t *testing.T) {
	t.Run("natural", func(t *testing.T) {
		var out bytes.Buffer
		src := rtSource(func(ctx context.Context, em *runner.Emitter) error {
			em.Emit([]byte(`1`))
			return em.Emit([]byte(`2`))
		})
		if err := runner.Run(context.Background(), &runner.Spec{Name: "src", Family: runner.FamilySource}, src, &runner.Env{Stdout: &out, Stderr: io.Discard}); err != nil {
			t.Fatal(err)
		}
		fs := runnertest.Frames(t, out.Bytes())
		if fs[0].Writer != "src" || !fs[0].Parent.IsZero() {
			t.Errorf("source frame %+v", fs[0])
		}
		if eof := runnertest.LastEOF(t, fs); eof.EOF != wire.Natural || eof.Count != 2 {
			t.Errorf("EOF = %+v, want natural n 2", eof)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		or, ow := io.Pipe()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		src := rtSource(func(ctx context.Context, em *runner.Emitter) error {
			for i := 0; ctx.Err() == nil; i++ {
				if err := em.Emit([]byte(fmt.Sprint(i))); err != nil {
					return err
				}
				if err := em.Flush(); err != nil {
					return err
				}
			}
			return nil
		})
		done := make(chan error, 1)
		go func() {
			done <- runner.Run(ctx, &runner.Spec{Name: "src", Family: runner.FamilySource}, src, &runner.Env{Stdout: ow, Stderr: io.Discard})
			ow.Close()
		}()
		out := runnertest.NewFrameReader(t, or)
		out.Next()
		cancel()
		var n uint64 = 1
		for {
			f := out.Next()
			if f.Kind == wire.KindEOF {
				if f.EOF != wire.Stopped || f.Count != n {
					t.Errorf("EOF = %+v, want stopped n %d", f, n)
				}
				break
			}
			n++
		}
		if err := runnertest.Wait(t, done); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("fails", func(t *testing.T) {
		var out bytes.Buffer
		boom := errors.New("boom")
		src := rtSource(func(ctx context.Context, em *runner.Emitter) error {
			em.Emit([]byte(`1`))
			return boom
		})
		err := runner.Run(context.Background(), &runner.Spec{Name: "src", Family: runner.FamilySource}, src, &runner.Env{Stdout: &out, Stderr: io.Discard})
		if !errors.Is(err, boom) {
			t.Fatalf("runner.Run = %v, want boom", err)
		}
		if eof := runnertest.LastEOF(t, runnertest.Frames(t, out.Bytes())); eof.EOF != wire.Poison || eof.Count != 1 {
			t.Errorf("EOF = %+v, want poison n 1", eof)
		}
	})
}

// rtSyncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type rtSyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *rtSyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *rtSyncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

func rtStatus(t *testing.T, b []byte) []wire.Status {
	t.Helper()
	var ss []wire.Status
	dec := json.NewDecoder(bytes.NewReader(b))
	for dec.More() {
		var s wire.Status
		if err := dec.Decode(&s); err != nil {
			t.Fatalf("status line: %v in %q", err, b)
		}
		ss = append(ss, s)
	}
	if len(ss) == 0 {
		t.Fatal("no status lines")
	}
	return ss
}

func TestRunStatus(t *testing.T) {
	var status rtSyncBuffer
	res := runnertest.Run(t, rtSpec, &rtRecorder{}, "1\n2\nbad\n3\n", func(e *runner.Env) {
		e.Status = &status
		e.StatusEvery = time.Millisecond
		e.Name = "f1"
	})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	ss := rtStatus(t, status.Bytes())
	for _, s := range ss[:len(ss)-1] {
		if s.State != "running" || s.Stage != "f1" {
			t.Errorf("status %+v, want running f1", s)
		}
	}
	last := ss[len(ss)-1]
	if last.State != "done" || last.Stage != "f1" || last.In != 4 || last.Out != 3 || last.Errors != 1 || last.BytesIn != 10 || last.BytesOut != uint64(len(res.Out)) {
		t.Errorf("final status %+v, want done in 4 out 3 errors 1 bytes_in 10 bytes_out %d", last, len(res.Out))
	}

	status = rtSyncBuffer{}
	res = runnertest.Run(t, rtSpec, &rtRecorder{}, runnertest.Data("up", 1, "1"), func(e *runner.Env) { e.Status = &status })
	last = rtStatus(t, status.Bytes())[0]
	ss = rtStatus(t, status.Bytes())
	last = ss[len(ss)-1]
	if last.State != "failed" || !strings.Contains(last.Error, "ended without EOF") {
		t.Errorf("final status %+v, want failed with the problem", last)
	}
}

func TestRunStats(t *testing.T) {
	res := runnertest.Run(t, rtSpec, &rtRecorder{}, "1\n2\n", func(e *runner.Env) { e.Stats = true })
	if !strings.HasPrefix(res.Stderr, "obz rec: in 2, out 2, errors 0,") {
		t.Errorf("stats line %q", res.Stderr)
	}
}

func TestRunRawMode(t *testing.T) {
	in := runnertest.Data("up", 1, `{"a":1}`) + "not json\n" + runnertest.ErrFrame("up", 2, wire.ErrorInfo{Kind: "expr", Msg: "boom", Stage: "map", Line: 4}, `{"a":2}`) +
		runnertest.Data("up", 3, `{"a":3}`) + runnertest.EOF("up", 3, wire.Natural)
	res := runnertest.Run(t, rtSpec, &rtRecorder{}, in, func(e *runner.Env) { e.Output = runner.Raw })
	var ee *runner.ErrorEventsError
	if !errors.As(res.Err, &ee) || ee.Count != 2 || ee.Where != "stderr" {
		t.Fatalf("runner.Run = %v, want *runner.ErrorEventsError for 2 events on stderr", res.Err)
	}
	if string(res.Out) != "{\"a\":1}\n{\"a\":3}\n" {
		t.Errorf("raw output %q", res.Out)
	}
	for _, want := range []string{"error event from rec line 2 (frame)", "not json", "error event from map line 4 (expr): boom: {\"a\":2}"} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("stderr %q lacks %q", res.Stderr, want)
		}
	}
}

func TestRunPrettyMode(t *testing.T) {
	res := runnertest.Run(t, rtSpec, &rtRecorder{}, `{"a":[1,{"b":null}],"c":{}}`+"\n", func(e *runner.Env) { e.Output = runner.Pretty })
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	want := "{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n    }\n  ],\n  \"c\": {}\n}\n"
	if string(res.Out) != want {
		t.Errorf("pretty output:\n%s\nwant:\n%s", res.Out, want)
	}
	res = runnertest.Run(t, rtSpec, &rtRecorder{}, `{"a":"x"}`, func(e *runner.Env) { e.Output, e.Color = runner.Pretty, true })
	if !bytes.Contains(res.Out, []byte("\x1b[34;1m"+`"a"`+"\x1b[0m")) || !bytes.Contains(res.Out, []byte("\x1b[32m"+`"x"`+"\x1b[0m")) {
		t.Errorf("coloured output %q lacks key and string colours", res.Out)
	}
	res = runnertest.Run(t, rtSpec, &rtRecorder{}, "oops\n", func(e *runner.Env) { e.Output = runner.Pretty })
	var ee *runner.ErrorEventsError
	if !errors.As(res.Err, &ee) || ee.Count != 1 || !strings.Contains(res.Stderr, "(parse)") {
		t.Errorf("runner.Run = %v, stderr %q; want the error event reported", res.Err, res.Stderr)
	}
}

func TestRunMaxLine(t *testing.T) {
	long := `{"x":"` + strings.Repeat("y", 2000) + `"}`
	res := runnertest.Run(t, rtSpec, &rtRecorder{}, "1\n"+long+"\n2\n", func(e *runner.Env) { e.MaxLine = 1024 })
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	fs := runnertest.Frames(t, res.Out)
	if len(fs) != 4 || fs[1].Kind != wire.KindError || fs[1].Err.Kind != "too-long" || fs[1].Err.Line != 2 {
		t.Fatalf("frames %+v, want a too-long error for line 2 between two events", fs)
	}
	if got := runnertest.Payloads(fs); strings.Join(got, ",") != "1,2" {
		t.Errorf("data %q, want the lines around the long one", got)
	}
}

// TestRunDrainTimeoutBusyInput: the drain timeout bounds the wait after a
// stop signal even when input never goes idle (an upstream that ignores
// the signal and keeps writing).
func TestRunDrainTimeoutBusyInput(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// A stage slower than its input: the input never goes idle.
	done := make(chan error, 1)
	go func() {
		done <- runner.Run(ctx, rtSpec, rtSlow{}, &runner.Env{Stdin: &rtEndless{line: bytes.Repeat([]byte("{\"a\":1}\n"), 100)},
			Stdout: io.Discard, Stderr: io.Discard, DrainTimeout: time.Millisecond})
	}()
	runnertest.WantBroken(t, runnertest.Wait(t, done), "did not end within the drain timeout")
}

// rtSlow is a pass-through processor slower than any input.
type rtSlow struct{}

func (rtSlow) Event(ev *wire.Frame, em *runner.Emitter) error {
	time.Sleep(50 * time.Microsecond)
	return em.Emit(ev.Payload)
}

func (rtSlow) Finish(*runner.Emitter, wire.EOFKind) error { return nil }
