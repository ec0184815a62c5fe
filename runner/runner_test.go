package runner

import (
	"bufio"
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

	"github.com/obz-dev/obz/wire"
)

// testOptions is a fake Options: flags not given take the spec's defaults.
type testOptions struct {
	spec  *Spec
	flags map[string]any
	args  []string
}

func (o testOptions) get(name string) any {
	if v, ok := o.flags[name]; ok {
		return v
	}
	if o.spec != nil {
		for _, f := range o.spec.Flags {
			if f.Name == name {
				return f.Default
			}
		}
	}
	return nil
}

func (o testOptions) String(n string) string          { v, _ := o.get(n).(string); return v }
func (o testOptions) Bool(n string) bool              { v, _ := o.get(n).(bool); return v }
func (o testOptions) Int(n string) int                { v, _ := o.get(n).(int); return v }
func (o testOptions) Float(n string) float64          { v, _ := o.get(n).(float64); return v }
func (o testOptions) Duration(n string) time.Duration { v, _ := o.get(n).(time.Duration); return v }
func (o testOptions) Strings(n string) []string       { v, _ := o.get(n).([]string); return v }
func (o testOptions) IsSet(n string) bool             { _, ok := o.flags[n]; return ok }
func (o testOptions) Args() []string                  { return o.args }

// rtHangGuard bounds a wait that only fails if something never happens.
const rtHangGuard = 5 * time.Second

func rtData(w string, seq uint64, payload string) string {
	f := wire.Frame{Kind: wire.KindData, Writer: w, Seq: seq, Payload: []byte(payload)}
	return string(wire.AppendFrame(nil, &f))
}

func rtEOF(w string, n uint64, kind wire.EOFKind) string {
	f := wire.Frame{Kind: wire.KindEOF, Writer: w, Count: n, EOF: kind}
	return string(wire.AppendFrame(nil, &f))
}

func rtErrFrame(w string, seq uint64, info wire.ErrorInfo, payload string) string {
	f := wire.Frame{Kind: wire.KindError, Writer: w, Seq: seq, Err: &info}
	if payload != "" {
		f.Payload = []byte(payload)
	}
	return string(wire.AppendFrame(nil, &f))
}

// rtFrames decodes framed output; it fails the test on a line that is not a frame.
func rtFrames(t testing.TB, out []byte) []wire.Frame {
	t.Helper()
	var fs []wire.Frame
	for _, line := range bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var f wire.Frame
		if err := wire.Decode(bytes.Clone(line), &f); err != nil {
			t.Fatalf("output line %q is not a frame: %v", line, err)
		}
		fs = append(fs, f)
	}
	return fs
}

// rtLastEOF returns the output's last frame, which must be an EOF.
func rtLastEOF(t testing.TB, fs []wire.Frame) wire.Frame {
	t.Helper()
	if len(fs) == 0 || fs[len(fs)-1].Kind != wire.KindEOF {
		t.Fatalf("output does not end with an EOF frame: %+v", fs)
	}
	for _, f := range fs[:len(fs)-1] {
		if f.Kind == wire.KindEOF {
			t.Fatalf("more than one EOF frame in the output: %+v", fs)
		}
	}
	return fs[len(fs)-1]
}

func rtPayloads(fs []wire.Frame) []string {
	var ps []string
	for _, f := range fs {
		if f.Kind == wire.KindData {
			ps = append(ps, string(f.Payload))
		}
	}
	return ps
}

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

func (r *rtRecorder) Event(ev *wire.Frame, em *Emitter) error {
	r.mu.Lock()
	r.events = append(r.events, string(ev.Payload))
	err := r.fail[string(ev.Payload)]
	r.mu.Unlock()
	if err != nil {
		return err
	}
	return em.Emit(ev.Payload)
}

func (r *rtRecorder) Finish(_ *Emitter, end wire.EOFKind) error {
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

var rtSpec = &Spec{Name: "rec", Family: FamilyTransform}

type rtResult struct {
	err    error
	out    []byte
	stderr string
}

// rtRun runs st over in, with env changed by mod.
func rtRun(t testing.TB, st Stage, in string, mod func(*Env)) rtResult {
	t.Helper()
	return rtRunSpec(t, rtSpec, st, in, mod)
}

// rtRunSpec is rtRun for a registered stage.
func rtRunSpec(t testing.TB, spec *Spec, st Stage, in string, mod func(*Env)) rtResult {
	t.Helper()
	var out, stderr bytes.Buffer
	env := &Env{Stdin: strings.NewReader(in), Stdout: &out, Stderr: &stderr}
	if mod != nil {
		mod(env)
	}
	err := Run(context.Background(), spec, st, env)
	return rtResult{err: err, out: out.Bytes(), stderr: stderr.String()}
}

func rtWantBroken(t testing.TB, err error, substr string) *BrokenInputError {
	t.Helper()
	var be *BrokenInputError
	if !errors.As(err, &be) {
		t.Fatalf("Run = %v (%T), want a *BrokenInputError", err, err)
	}
	if !strings.Contains(be.Error(), substr) {
		t.Fatalf("BrokenInputError %q does not mention %q", be.Error(), substr)
	}
	return be
}

func TestRunBarePassThrough(t *testing.T) {
	rec := &rtRecorder{}
	res := rtRun(t, rec, "{\"a\":1}\n\n  {\"a\":2}  \r\n{\"a\":3}", nil)
	if res.err != nil {
		t.Fatal(res.err)
	}
	fs := rtFrames(t, res.out)
	if got := rtPayloads(fs); strings.Join(got, " ") != `{"a":1} {"a":2} {"a":3}` {
		t.Errorf("payloads = %q", got)
	}
	for i, f := range fs[:3] {
		if f.Writer != "rec" || f.Seq != uint64(i+1) || f.Parent != (wire.Ref{Writer: "-", Seq: uint64(i + 1)}) {
			t.Errorf("frame %d = %+v, want writer rec, seq %d, parent [-,%d]", i, f, i+1, i+1)
		}
	}
	eof := rtLastEOF(t, fs)
	if eof.Count != 3 || eof.EOF != wire.Natural || eof.Writer != "rec" {
		t.Errorf("EOF = %+v, want rec n 3 natural", eof)
	}
	if rec.finished != 1 || rec.endKind != wire.Natural || rec.aborted != 0 {
		t.Errorf("finished %d (%v), aborted %d; want Finish(natural) once", rec.finished, rec.endKind, rec.aborted)
	}
}

func TestRunEnvName(t *testing.T) {
	res := rtRun(t, &rtRecorder{}, `{"a":1}`, func(e *Env) { e.Name = "f1" })
	fs := rtFrames(t, res.out)
	if fs[0].Writer != "f1" || rtLastEOF(t, fs).Writer != "f1" {
		t.Errorf("frames %+v do not use the writer name f1", fs)
	}
}

// TestRunBrokenEdges covers the edge contracts: every case reports a
// *BrokenInputError naming the upstream, writes a truncated (or worse) EOF
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
			in:       rtData("read", 1, `1`) + rtData("read", 2, `2`) + rtData("read", 5, `5`) + rtEOF("read", 5, wire.Natural),
			problem:  "input from 'read' has a gap: seq 3..4 missing",
			wantKind: wire.Truncated, wantOut: 3,
		},
		{
			// A seq seen already is a duplicate (see TestRunDuplicates),
			// unless the writer skipped one: then it is a reordering.
			name:     "reordered seq",
			in:       rtData("read", 1, `1`) + rtData("read", 3, `3`) + rtData("read", 2, `2`) + rtEOF("read", 3, wire.Natural),
			problem:  "repeated or reordered seq 2 after 3",
			wantKind: wire.Truncated, wantOut: 3,
		},
		{
			name:     "count mismatch",
			in:       rtData("read", 1, `1`) + rtData("read", 2, `2`) + rtEOF("read", 3, wire.Natural),
			problem:  "input from 'read' ended with an EOF count of 3 but 2 events arrived",
			wantKind: wire.Truncated, wantOut: 2,
		},
		{
			name:     "no EOF",
			in:       rtData("read", 1, `1`) + rtData("read", 2, `2`) + rtData("read", 3, `3`),
			problem:  "input from 'read' ended without EOF after 3 events",
			wantKind: wire.Truncated, wantOut: 3,
		},
		{
			name:     "no EOF, last line cut",
			in:       rtData("read", 1, `1`) + `{"obz":1,"t":"data","w":"read","s":2,"d":{"a":`,
			problem:  "input from 'read' ended without EOF after 1 events",
			wantKind: wire.Truncated, wantOut: 1, // and an error event for the cut line
		},
		{
			name:     "poison upstream",
			in:       rtData("read", 1, `1`) + rtData("read", 2, `2`) + rtEOF("read", 2, wire.Poison),
			problem:  "upstream 'read' failed (poison EOF after 2 events)",
			wantKind: wire.Poison, wantOut: 2,
		},
		{
			name:     "truncated upstream",
			in:       rtData("read", 1, `1`) + rtEOF("read", 1, wire.Truncated),
			problem:  "input from 'read' is truncated",
			wantKind: wire.Truncated, wantOut: 1,
		},
		{
			name:     "data after EOF",
			in:       rtData("read", 1, `1`) + rtEOF("read", 1, wire.Natural) + rtData("read", 2, `2`),
			problem:  "input from 'read' sent event seq 2 after its EOF",
			wantKind: wire.Truncated, wantOut: 2,
		},
		{
			name:     "second EOF",
			in:       rtData("read", 1, `1`) + rtEOF("read", 1, wire.Natural) + rtEOF("read", 1, wire.Stopped),
			problem:  "input from 'read' sent a second EOF",
			wantKind: wire.Truncated, wantOut: 1,
		},
		{
			name:     "one of two writers without EOF",
			in:       rtData("a", 1, `1`) + rtData("b", 1, `2`) + rtEOF("a", 1, wire.Natural),
			problem:  "input from 'b' ended without EOF after 1 events",
			wantKind: wire.Truncated, wantOut: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &rtRecorder{}
			res := rtRun(t, rec, tt.in, nil)
			rtWantBroken(t, res.err, tt.problem)
			fs := rtFrames(t, res.out)
			eof := rtLastEOF(t, fs)
			if eof.EOF != tt.wantKind {
				t.Errorf("EOF kind = %v, want %v", eof.EOF, tt.wantKind)
			}
			if n := len(rtPayloads(fs)); n != tt.wantOut || eof.Count != uint64(len(fs)-1) {
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

func TestRunStoppedUpstream(t *testing.T) {
	rec := &rtRecorder{}
	res := rtRun(t, rec, rtData("read", 1, `1`)+rtEOF("read", 1, wire.Stopped), nil)
	if res.err != nil {
		t.Fatal(res.err)
	}
	if eof := rtLastEOF(t, rtFrames(t, res.out)); eof.EOF != wire.Stopped || eof.Count != 1 {
		t.Errorf("EOF = %+v, want n 1 stopped", eof)
	}
	if rec.finished != 1 || rec.endKind != wire.Stopped {
		t.Errorf("Finish called %d times with %v, want once with stopped", rec.finished, rec.endKind)
	}
}

func TestRunReadError(t *testing.T) {
	in := io.MultiReader(strings.NewReader(rtData("read", 1, `1`)), rtErrReader{errors.New("disk on fire")})
	res := rtRun(t, &rtRecorder{}, "", func(e *Env) { e.Inputs = []Input{{Name: "fd 3", R: in}} })
	rtWantBroken(t, res.err, "reading fd 3: disk on fire")
	if eof := rtLastEOF(t, rtFrames(t, res.out)); eof.EOF != wire.Truncated {
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
		done <- Run(context.Background(), rtSpec, rec, &Env{
			Inputs: []Input{{Name: "fd 3", R: ar}, {Name: "fd 4", R: br}},
			Stdout: ow, Stderr: io.Discard,
		})
		ow.Close()
	}()
	out := rtNewFrameReader(t, or)

	go func() {
		io.WriteString(aw, rtData("up", 1, `"a1"`)+rtData("up", 2, `"a2"`)+rtEOF("up", 2, wire.Natural))
		aw.Close()
	}()
	for _, want := range []string{`"a1"`, `"a2"`} {
		if f := out.next(); f.Kind != wire.KindData || string(f.Payload) != want {
			t.Fatalf("got %+v, want data %s", f, want)
		}
	}
	go func() {
		io.WriteString(bw, rtData("up", 1, `"b1"`)+rtEOF("up", 1, wire.Stopped))
		bw.Close()
	}()
	// The frame after a's events is b's, not an EOF: a's end is not the stage's end.
	if f := out.next(); f.Kind != wire.KindData || string(f.Payload) != `"b1"` || f.Seq != 3 {
		t.Fatalf("got %+v, want data \"b1\" seq 3", f)
	}
	// The worst kind wins: natural and stopped give stopped.
	if f := out.next(); f.Kind != wire.KindEOF || f.Count != 3 || f.EOF != wire.Stopped {
		t.Fatalf("got %+v, want EOF n 3 stopped", f)
	}
	if err := rtWait(t, done); err != nil {
		t.Fatal(err)
	}
	if rec.finished != 1 {
		t.Errorf("Finish called %d times", rec.finished)
	}
}

func TestRunFanInOneBroken(t *testing.T) {
	rec := &rtRecorder{}
	res := rtRun(t, rec, "", func(e *Env) {
		e.Inputs = []Input{
			{Name: "fd 3", R: strings.NewReader(rtData("a", 1, `1`) + rtEOF("a", 1, wire.Natural))},
			{Name: "fd 4", R: strings.NewReader(rtData("b", 1, `2`) + rtData("b", 2, `3`))},
		}
	})
	be := rtWantBroken(t, res.err, "input from 'b' ended without EOF after 2 events")
	if strings.Contains(be.Error(), "'a'") {
		t.Errorf("the healthy input is blamed: %v", be)
	}
	fs := rtFrames(t, res.out)
	if eof := rtLastEOF(t, fs); eof.EOF != wire.Truncated || eof.Count != 3 {
		t.Errorf("EOF = %+v, want n 3 truncated", eof)
	}
	if rec.finished != 0 {
		t.Error("Finish called although an input broke")
	}
}

func TestRunForwardsErrorFrames(t *testing.T) {
	info := wire.ErrorInfo{Kind: "expr", Msg: "cannot compare", Stage: "map", Line: 7}
	in := rtData("up", 1, `{"a":1}`) +
		rtErrFrame("up", 2, info, `{"a":"x"}`) +
		rtErrFrame("up", 3, wire.ErrorInfo{Kind: "parse", Msg: "invalid JSON", Stage: "read", Line: 9, Raw: []byte("not json")}, "") +
		rtData("up", 4, `{"a":3}`) +
		rtEOF("up", 4, wire.Natural)
	rec := &rtRecorder{}
	res := rtRun(t, rec, in, nil)
	if res.err != nil {
		t.Fatal(res.err)
	}
	if len(rec.events) != 2 {
		t.Errorf("processor saw %q; error events must not reach it", rec.events)
	}
	fs := rtFrames(t, res.out)
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
	if eof := rtLastEOF(t, fs); eof.Count != 4 {
		t.Errorf("EOF count = %d, want 4 (error events count)", eof.Count)
	}
}

func TestRunMalformedLine(t *testing.T) {
	rec := &rtRecorder{}
	res := rtRun(t, rec, "{\"a\":1}\nnot json\n{\"a\":2}\n", nil)
	if res.err != nil {
		t.Fatal(res.err)
	}
	fs := rtFrames(t, res.out)
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
	if fs[2].Seq != 3 || rtLastEOF(t, fs).Count != 3 {
		t.Errorf("seq or count wrong after the error frame: %+v", fs)
	}
	if len(rec.events) != 2 || rec.finished != 1 {
		t.Errorf("processor saw %q, finished %d", rec.events, rec.finished)
	}
}

func TestRunEventErrorGoesToErrorLane(t *testing.T) {
	rec := &rtRecorder{fail: map[string]error{`{"a":2}`: EventErrorf("expr", "boom")}}
	res := rtRun(t, rec, "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n", nil)
	if res.err != nil {
		t.Fatal(res.err)
	}
	fs := rtFrames(t, res.out)
	e := fs[1]
	if e.Kind != wire.KindError || e.Err == nil || e.Err.Kind != "expr" || e.Err.Msg != "boom" || e.Err.Line != 2 ||
		string(e.Payload) != `{"a":2}` || e.Parent != (wire.Ref{Writer: "-", Seq: 2}) {
		t.Errorf("error frame = %+v %+v", e, e.Err)
	}
	if got := rtPayloads(fs); len(got) != 2 {
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
		{name: "event error", in: "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n", fail: map[string]error{`{"a":2}`: EventErrorf("expr", "boom")}, kind: "expr", line: 2},
		{name: "upstream error frame", in: rtData("up", 1, `1`) + rtErrFrame("up", 2, wire.ErrorInfo{Kind: "csv", Msg: "bad", Stage: "read", Line: 5}, `2`) + rtData("up", 3, `3`) + rtEOF("up", 3, wire.Natural), kind: "csv", line: 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &rtRecorder{fail: tt.fail}
			res := rtRun(t, rec, tt.in, func(e *Env) { e.OnError = ErrorsFail })
			var fe *EventFailedError
			if !errors.As(res.err, &fe) {
				t.Fatalf("Run = %v, want *EventFailedError", res.err)
			}
			if fe.Info.Kind != tt.kind || fe.Info.Line != tt.line {
				t.Errorf("failed on %+v, want kind %s line %d", fe.Info, tt.kind, tt.line)
			}
			fs := rtFrames(t, res.out)
			eof := rtLastEOF(t, fs)
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
	res := rtRun(t, rec, "1\n2\n3\n", nil)
	if !errors.Is(res.err, boom) {
		t.Fatalf("Run = %v, want boom", res.err)
	}
	if eof := rtLastEOF(t, rtFrames(t, res.out)); eof.EOF != wire.Poison || eof.Count != 1 {
		t.Errorf("EOF = %+v, want poison n 1", eof)
	}
}

func TestRunErrStop(t *testing.T) {
	var in strings.Builder
	for i := 1; i <= 5; i++ {
		in.WriteString(rtData("up", uint64(i), fmt.Sprint(i)))
	}
	in.WriteString(rtEOF("up", 5, wire.Natural))
	rec := &rtRecorder{fail: map[string]error{`3`: ErrStop}}
	res := rtRun(t, rec, in.String(), nil)
	if res.err != nil {
		t.Fatal(res.err)
	}
	fs := rtFrames(t, res.out)
	if got := rtPayloads(fs); strings.Join(got, ",") != "1,2" {
		t.Errorf("data out = %q", got)
	}
	if eof := rtLastEOF(t, fs); eof.EOF != wire.Natural || eof.Count != 2 {
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
	rec := &rtRecorder{fail: map[string]error{`{"a":1}`: ErrStop}}
	res := rtRun(t, rec, "", func(e *Env) { e.Stdin = in })
	if res.err != nil {
		t.Fatal(res.err)
	}
	deadline := time.Now().Add(rtHangGuard)
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
		err := Run(context.Background(), rtSpec, rec, &Env{Stdin: strings.NewReader("1\n2\n"), Stdout: rtEPIPE{}, Stderr: io.Discard})
		if err != nil {
			t.Errorf("Run = %v, want nil when stdout is closed", err)
		}
	})
	t.Run("closed pipe", func(t *testing.T) {
		ir, iw := io.Pipe()
		or, ow := io.Pipe()
		done := make(chan error, 1)
		go func() {
			done <- Run(context.Background(), rtSpec, &rtRecorder{}, &Env{Stdin: ir, Stdout: ow, Stderr: io.Discard})
		}()
		go io.WriteString(iw, "1\n")
		out := rtNewFrameReader(t, or)
		out.next()
		or.Close() // downstream goes away, like `| head -1`
		go func() {
			for i := 0; ; i++ {
				if _, err := fmt.Fprintf(iw, "%d\n", i); err != nil {
					return
				}
			}
		}()
		if err := rtWait(t, done); err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
		ir.Close()
	})
	t.Run("source", func(t *testing.T) {
		src := rtSource(func(ctx context.Context, em *Emitter) error {
			for {
				if err := em.Emit([]byte("1")); err != nil {
					return err
				}
				if err := em.Flush(); err != nil {
					return err
				}
			}
		})
		if err := Run(context.Background(), &Spec{Name: "src", Family: FamilySource}, src, &Env{Stdout: rtEPIPE{}, Stderr: io.Discard}); err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	})
}

type rtSource func(ctx context.Context, em *Emitter) error

func (f rtSource) Produce(ctx context.Context, em *Emitter) error { return f(ctx, em) }

// rtFrameReader reads output frames one at a time, failing the test if one
// never comes.
type rtFrameReader struct {
	t     testing.TB
	lines chan []byte
}

func rtNewFrameReader(t testing.TB, r io.Reader) *rtFrameReader {
	fr := &rtFrameReader{t: t, lines: make(chan []byte, 100)}
	go func() {
		defer close(fr.lines)
		br := bufio.NewReader(r)
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				fr.lines <- line
			}
			if err != nil {
				return
			}
		}
	}()
	return fr
}

func (fr *rtFrameReader) next() wire.Frame {
	fr.t.Helper()
	select {
	case line, ok := <-fr.lines:
		if !ok {
			fr.t.Fatal("output ended, want another frame")
		}
		var f wire.Frame
		if err := wire.Decode(bytes.TrimSuffix(line, []byte("\n")), &f); err != nil {
			fr.t.Fatalf("output line %q: %v", line, err)
		}
		return f
	case <-time.After(rtHangGuard):
		fr.t.Fatal("no output frame arrived")
	}
	panic("unreachable")
}

func rtWait(t testing.TB, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(rtHangGuard):
		t.Fatal("Run did not return")
	}
	return nil
}

// TestRunIdleFlush: an event is written out as soon as input goes idle, not
// when a batch fills up or input ends.
func TestRunIdleFlush(t *testing.T) {
	ir, iw := io.Pipe()
	or, ow := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), rtSpec, &rtRecorder{}, &Env{Stdin: ir, Stdout: ow, Stderr: io.Discard})
		ow.Close()
	}()
	out := rtNewFrameReader(t, or)
	for i := 1; i <= 3; i++ {
		go fmt.Fprintf(iw, "{\"n\":%d}\n", i)
		if f := out.next(); f.Kind != wire.KindData || f.Seq != uint64(i) {
			t.Fatalf("got %+v, want data seq %d", f, i)
		}
	}
	iw.Close()
	if f := out.next(); f.Kind != wire.KindEOF || f.Count != 3 {
		t.Fatalf("got %+v, want EOF n 3", f)
	}
	if err := rtWait(t, done); err != nil {
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
		done <- Run(ctx, rtSpec, rec, &Env{Stdin: ir, Stdout: ow, Stderr: io.Discard})
		ow.Close()
	}()
	out := rtNewFrameReader(t, or)
	go io.WriteString(iw, "1\n")
	out.next()
	cancel()
	go func() {
		io.WriteString(iw, "2\n") // still drained after the signal
		iw.Close()
	}()
	if f := out.next(); f.Kind != wire.KindData || string(f.Payload) != "2" {
		t.Fatalf("got %+v, want the drained event 2", f)
	}
	if f := out.next(); f.Kind != wire.KindEOF || f.EOF != wire.Stopped || f.Count != 2 {
		t.Fatalf("got %+v, want EOF n 2 stopped", f)
	}
	if err := rtWait(t, done); err != nil {
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
	err := Run(ctx, rtSpec, &rtRecorder{}, &Env{Stdin: strings.NewReader("1\n2\n"), Stdout: &out, Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	fs := rtFrames(t, out.Bytes())
	if eof := rtLastEOF(t, fs); eof.EOF != wire.Stopped || eof.Count != 2 {
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
		done <- Run(ctx, rtSpec, rec, &Env{Stdin: ir, Stdout: &out, Stderr: io.Discard, InputIsTerminal: true})
	}()
	io.WriteString(iw, "1\n")
	cancel()
	if err := rtWait(t, done); err != nil {
		t.Fatal(err)
	}
	if eof := rtLastEOF(t, rtFrames(t, out.Bytes())); eof.EOF != wire.Stopped {
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
		done <- Run(ctx, rtSpec, rec, &Env{Stdin: ir, Stdout: &out, Stderr: io.Discard, DrainTimeout: time.Millisecond})
	}()
	rtWantBroken(t, rtWait(t, done), "did not end within the drain timeout")
	if eof := rtLastEOF(t, rtFrames(t, out.Bytes())); eof.EOF != wire.Truncated {
		t.Errorf("EOF = %+v, want truncated", eof)
	}
	if rec.finished != 0 {
		t.Error("Finish called on an input that never ended")
	}
}

func TestRunSource(t *testing.T) {
	t.Run("natural", func(t *testing.T) {
		var out bytes.Buffer
		src := rtSource(func(ctx context.Context, em *Emitter) error {
			em.Emit([]byte(`1`))
			return em.Emit([]byte(`2`))
		})
		if err := Run(context.Background(), &Spec{Name: "src", Family: FamilySource}, src, &Env{Stdout: &out, Stderr: io.Discard}); err != nil {
			t.Fatal(err)
		}
		fs := rtFrames(t, out.Bytes())
		if fs[0].Writer != "src" || !fs[0].Parent.IsZero() {
			t.Errorf("source frame %+v", fs[0])
		}
		if eof := rtLastEOF(t, fs); eof.EOF != wire.Natural || eof.Count != 2 {
			t.Errorf("EOF = %+v, want natural n 2", eof)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		or, ow := io.Pipe()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		src := rtSource(func(ctx context.Context, em *Emitter) error {
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
			done <- Run(ctx, &Spec{Name: "src", Family: FamilySource}, src, &Env{Stdout: ow, Stderr: io.Discard})
			ow.Close()
		}()
		out := rtNewFrameReader(t, or)
		out.next()
		cancel()
		var n uint64 = 1
		for {
			f := out.next()
			if f.Kind == wire.KindEOF {
				if f.EOF != wire.Stopped || f.Count != n {
					t.Errorf("EOF = %+v, want stopped n %d", f, n)
				}
				break
			}
			n++
		}
		if err := rtWait(t, done); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("fails", func(t *testing.T) {
		var out bytes.Buffer
		boom := errors.New("boom")
		src := rtSource(func(ctx context.Context, em *Emitter) error {
			em.Emit([]byte(`1`))
			return boom
		})
		err := Run(context.Background(), &Spec{Name: "src", Family: FamilySource}, src, &Env{Stdout: &out, Stderr: io.Discard})
		if !errors.Is(err, boom) {
			t.Fatalf("Run = %v, want boom", err)
		}
		if eof := rtLastEOF(t, rtFrames(t, out.Bytes())); eof.EOF != wire.Poison || eof.Count != 1 {
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
	res := rtRun(t, &rtRecorder{}, "1\n2\nbad\n3\n", func(e *Env) {
		e.Status = &status
		e.StatusEvery = time.Millisecond
		e.Name = "f1"
	})
	if res.err != nil {
		t.Fatal(res.err)
	}
	ss := rtStatus(t, status.Bytes())
	for _, s := range ss[:len(ss)-1] {
		if s.State != "running" || s.Stage != "f1" {
			t.Errorf("status %+v, want running f1", s)
		}
	}
	last := ss[len(ss)-1]
	if last.State != "done" || last.Stage != "f1" || last.In != 4 || last.Out != 3 || last.Errors != 1 || last.BytesIn != 10 || last.BytesOut != uint64(len(res.out)) {
		t.Errorf("final status %+v, want done in 4 out 3 errors 1 bytes_in 10 bytes_out %d", last, len(res.out))
	}

	status = rtSyncBuffer{}
	res = rtRun(t, &rtRecorder{}, rtData("up", 1, "1"), func(e *Env) { e.Status = &status })
	last = rtStatus(t, status.Bytes())[0]
	ss = rtStatus(t, status.Bytes())
	last = ss[len(ss)-1]
	if last.State != "failed" || !strings.Contains(last.Error, "ended without EOF") {
		t.Errorf("final status %+v, want failed with the problem", last)
	}
}

func TestRunStats(t *testing.T) {
	res := rtRun(t, &rtRecorder{}, "1\n2\n", func(e *Env) { e.Stats = true })
	if !strings.HasPrefix(res.stderr, "obz rec: in 2, out 2, errors 0,") {
		t.Errorf("stats line %q", res.stderr)
	}
}

func TestRunRawMode(t *testing.T) {
	in := "{\"a\":1}\nnot json\n" + rtErrFrame("up", 1, wire.ErrorInfo{Kind: "expr", Msg: "boom", Stage: "map", Line: 4}, `{"a":2}`) + rtEOF("up", 1, wire.Natural) + "{\"a\":3}"
	res := rtRun(t, &rtRecorder{}, in, func(e *Env) { e.Output = Raw })
	var ee *ErrorEventsError
	if !errors.As(res.err, &ee) || ee.Count != 2 || ee.Where != "stderr" {
		t.Fatalf("Run = %v, want *ErrorEventsError for 2 events on stderr", res.err)
	}
	if string(res.out) != "{\"a\":1}\n{\"a\":3}\n" {
		t.Errorf("raw output %q", res.out)
	}
	for _, want := range []string{"error event from rec line 2 (parse)", "not json", "error event from map line 4 (expr): boom: {\"a\":2}"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("stderr %q lacks %q", res.stderr, want)
		}
	}
}

func TestRunPrettyMode(t *testing.T) {
	res := rtRun(t, &rtRecorder{}, `{"a":[1,{"b":null}],"c":{}}`+"\n", func(e *Env) { e.Output = Pretty })
	if res.err != nil {
		t.Fatal(res.err)
	}
	want := "{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n    }\n  ],\n  \"c\": {}\n}\n"
	if string(res.out) != want {
		t.Errorf("pretty output:\n%s\nwant:\n%s", res.out, want)
	}
	res = rtRun(t, &rtRecorder{}, `{"a":"x"}`, func(e *Env) { e.Output, e.Color = Pretty, true })
	if !bytes.Contains(res.out, []byte(colorKey+`"a"`+colorReset)) || !bytes.Contains(res.out, []byte(colorString+`"x"`+colorReset)) {
		t.Errorf("coloured output %q lacks key and string colours", res.out)
	}
	res = rtRun(t, &rtRecorder{}, "oops\n", func(e *Env) { e.Output = Pretty })
	var ee *ErrorEventsError
	if !errors.As(res.err, &ee) || ee.Count != 1 || !strings.Contains(res.stderr, "(parse)") {
		t.Errorf("Run = %v, stderr %q; want the error event reported", res.err, res.stderr)
	}
}

func TestRunMaxLine(t *testing.T) {
	long := `{"x":"` + strings.Repeat("y", 2000) + `"}`
	res := rtRun(t, &rtRecorder{}, "1\n"+long+"\n2\n", func(e *Env) { e.MaxLine = 1024 })
	if res.err != nil {
		t.Fatal(res.err)
	}
	fs := rtFrames(t, res.out)
	if len(fs) != 4 || fs[1].Kind != wire.KindError || fs[1].Err.Kind != "too-long" || fs[1].Err.Line != 2 {
		t.Fatalf("frames %+v, want a too-long error for line 2 between two events", fs)
	}
	if got := rtPayloads(fs); strings.Join(got, ",") != "1,2" {
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
		done <- Run(ctx, rtSpec, rtSlow{}, &Env{Stdin: &rtEndless{line: bytes.Repeat([]byte("{\"a\":1}\n"), 100)},
			Stdout: io.Discard, Stderr: io.Discard, DrainTimeout: time.Millisecond})
	}()
	rtWantBroken(t, rtWait(t, done), "did not end within the drain timeout")
}

// rtSlow is a pass-through processor slower than any input.
type rtSlow struct{}

func (rtSlow) Event(ev *wire.Frame, em *Emitter) error {
	time.Sleep(50 * time.Microsecond)
	return em.Emit(ev.Payload)
}

func (rtSlow) Finish(*Emitter, wire.EOFKind) error { return nil }
