package stages

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/runner/runnertest"
	"github.com/obz-dev/obz/wire"
)

// confInput is how a stage of the conformance suite gets its input.
type confInput int

const (
	confStdin confInput = iota // processors: the runner reads stdin
	confFile                   // sources that read files: a temp file named last
	confNone                   // sources that make events themselves
)

// confCase is how the conformance suite builds one registered stage: the
// smallest valid options that make it pass events through (or keep them).
type confCase struct {
	args  []string
	flags map[string]any
	input confInput
	// ext is the temp input file's extension (confFile).
	ext string
	// endless are the flags that make a confNone source run until stopped.
	endless map[string]any
	// toFile makes a sink write to a temp file named last in its arguments.
	toFile bool
	// want maps the input payloads to the expected output payloads; nil
	// means the stage passes them through.
	want func(in []string) []string
	// files are written into the test's temp dir (@tmp in args and string
	// flags) before the stage is built: a join's reference, say.
	files map[string]string
	// atEnd says the stage emits only when its input ends (stateful), so
	// nothing is expected while input is open.
	atEnd bool
}

// countOf is what agg --count makes of its input.
func countOf(in []string) []string { return []string{fmt.Sprintf(`{"count":%d}`, len(in))} }

// conformance lists every registered stage. A new stage must get an entry:
// TestConformance fails for a stage that has none.
var conformance = map[string]confCase{
	"gen":    {input: confNone, flags: map[string]any{"count": 3}, endless: map[string]any{"count": 0}},
	"read":   {input: confFile, ext: ".ndjson"},
	"filter": {args: []string{"true"}},
	"map":    {args: []string{"."}},
	"head":   {flags: map[string]any{"lines": 1000}},
	"agg":    {flags: map[string]any{"count": true}, want: countOf, atEnd: true},
	"exec":   {args: []string{"cat"}},
	"tee":    {args: []string{"@tmp/tee.ndjson"}},
	"tap":    {},
	"stats":  {},
	"write":  {toFile: true},
	"top":    {flags: map[string]any{"by": "a", "asc": true, "rank-field": ""}, atEnd: true},
	"dedupe": {},
	// no stream key matches the reference, and --left passes such events on
	"join": {flags: map[string]any{"ref": "@tmp/ref.ndjson", "on": "a", "left": true}, files: map[string]string{"ref.ndjson": `{"a":99,"x":1}` + "\n"}},
}

// confStage is one registered stage set up for a conformance check.
type confStage struct {
	spec    *runner.Spec
	c       confCase
	dir     string
	out     string // the sink's output file
	workers int    // runner.Env.Workers, for a runner.Concurrent stage
}

func (cs *confStage) isSink() bool   { return cs.spec.Family == runner.FamilySink }
func (cs *confStage) isSource() bool { return cs.spec.Family == runner.FamilySource }

// args are the case's arguments with @tmp naming the test's temp dir.
func (cs *confStage) args() []string {
	var args []string
	for _, a := range cs.c.args {
		args = append(args, strings.ReplaceAll(a, "@tmp", cs.dir))
	}
	return args
}

// flags are the case's flags with @tmp naming the test's temp dir, after
// writing the case's files there.
func (cs *confStage) flags(t *testing.T) map[string]any {
	for name, data := range cs.c.files {
		if err := os.WriteFile(filepath.Join(cs.dir, name), []byte(data), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	fl := map[string]any{}
	for k, v := range cs.c.flags {
		if s, ok := v.(string); ok {
			v = strings.ReplaceAll(s, "@tmp", cs.dir)
		}
		fl[k] = v
	}
	return fl
}

// expect is what the stage should deliver for the input payloads in.
func (cs *confStage) expect(in ...string) string {
	if cs.c.want != nil {
		in = cs.c.want(in)
	}
	return strings.Join(in, " ")
}

// run builds the stage and runs it over in (stdin, or the input file).
func (cs *confStage) run(t *testing.T, ctx context.Context, in io.Reader, flags map[string]any, mod func(*runner.Env)) runnertest.Result {
	t.Helper()
	args := cs.args()
	fl := cs.flags(t)
	for k, v := range flags {
		fl[k] = v
	}
	if cs.c.input == confFile {
		data, err := io.ReadAll(in)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.CreateTemp(cs.dir, "in-*"+cs.c.ext)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(data)
		f.Close()
		args = append(args, f.Name())
		in = strings.NewReader("")
	}
	if cs.c.toFile {
		cs.out = filepath.Join(cs.dir, "out.ndjson")
		os.Remove(cs.out)
		args = append(args, cs.out)
	}
	st, err := cs.spec.New(runnertest.Options{Spec: cs.spec, Argv: args, Flags: fl})
	if err != nil {
		t.Fatalf("%s %q %v: %v", cs.spec.Name, args, fl, err)
	}
	var out, stderr bytes.Buffer
	env := &runner.Env{Stdin: in, Stdout: &out, Stderr: &stderr, Workers: cs.workers}
	if mod != nil {
		mod(env)
	}
	err = runner.Run(ctx, cs.spec, st, env)
	return runnertest.Result{Err: err, Out: out.Bytes(), Stderr: stderr.String()}
}

// delivered returns what the stage passed on: the payloads and error frames
// of its framed output, or the lines of a sink's output file.
func (cs *confStage) delivered(t *testing.T, res runnertest.Result) (data []string, errs []wire.Frame, eof *wire.Frame) {
	t.Helper()
	if cs.isSink() {
		b, err := os.ReadFile(cs.out)
		if err != nil {
			t.Fatalf("%s: no output file: %v (Run: %v)", cs.spec.Name, err, res.Err)
		}
		for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			if l != "" {
				data = append(data, l)
			}
		}
		return data, nil, nil
	}
	fs := runnertest.Frames(t, res.Out)
	e := runnertest.LastEOF(t, fs)
	for _, f := range fs {
		switch f.Kind {
		case wire.KindData:
			data = append(data, string(f.Payload))
		case wire.KindError:
			errs = append(errs, f)
		}
	}
	return data, errs, &e
}

func TestConformance(t *testing.T) {
	for _, spec := range All() {
		c, ok := conformance[spec.Name]
		if !ok {
			t.Errorf("stage %s is registered but has no entry in the conformance table: add one", spec.Name)
			continue
		}
		t.Run(spec.Name, func(t *testing.T) {
			cs := &confStage{spec: spec, c: c, dir: t.TempDir()}
			if c.input == confNone {
				confGenerated(t, cs)
				return
			}
			t.Run("empty input", func(t *testing.T) { confEmpty(t, cs) })
			t.Run("last line without newline", func(t *testing.T) { confLastLine(t, cs) })
			t.Run("malformed line", func(t *testing.T) { confMalformed(t, cs) })
			t.Run("cancelled", func(t *testing.T) { confCancelled(t, cs) })
			if c.input == confStdin {
				t.Run("input without EOF", func(t *testing.T) { confNoEOF(t, cs) })
				t.Run("flushed when idle", func(t *testing.T) { confIdleFlush(t, cs) })
			}
			// A stage whose events workers can answer (obz parallel in
			// one process) keeps the same contract with them.
			if _, ok := runnertest.New(t, spec, cs.args(), cs.flags(t)).(runner.Concurrent); ok {
				cw := &confStage{spec: spec, c: c, dir: cs.dir, workers: 2}
				t.Run("workers/empty input", func(t *testing.T) { confEmpty(t, cw) })
				t.Run("workers/last line without newline", func(t *testing.T) { confLastLine(t, cw) })
				t.Run("workers/malformed line", func(t *testing.T) { confMalformed(t, cw) })
				t.Run("workers/cancelled", func(t *testing.T) { confCancelled(t, cw) })
				if c.input == confStdin {
					t.Run("workers/input without EOF", func(t *testing.T) { confNoEOF(t, cw) })
				}
			}
		})
	}
}

func confEmpty(t *testing.T, cs *confStage) {
	for _, in := range []string{"", "\n\n  \n"} {
		res := cs.run(t, context.Background(), strings.NewReader(in), nil, nil)
		if res.Err != nil {
			t.Fatalf("empty input %q: %v", in, res.Err)
		}
		data, errs, eof := cs.delivered(t, res)
		if strings.Join(data, " ") != cs.expect() || len(errs) != 0 {
			t.Errorf("empty input %q gave %q and %d error events, want %q", in, data, len(errs), cs.expect())
		}
		if eof != nil && (eof.Count != uint64(len(data)) || eof.EOF != wire.Natural) {
			t.Errorf("empty input %q: EOF %+v, want n 0 natural", in, eof)
		}
		if cs.isSink() && len(res.Out) != 0 {
			t.Errorf("sink wrote %q on stdout", res.Out)
		}
	}
}

func confLastLine(t *testing.T, cs *confStage) {
	res := cs.run(t, context.Background(), strings.NewReader("{\"a\":1}\n{\"a\":2}"), nil, nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	data, _, eof := cs.delivered(t, res)
	if want := cs.expect(`{"a":1}`, `{"a":2}`); strings.Join(data, " ") != want {
		t.Errorf("got %q, want %s", data, want)
	}
	if eof != nil && (eof.Count != uint64(len(data)) || eof.EOF != wire.Natural) {
		t.Errorf("EOF %+v, want n 2 natural", eof)
	}
}

// confMalformed: a line that is not JSON becomes an error event with its
// line number and text; sinks report it (exit 4). It never vanishes, and the
// lines after it go on.
func confMalformed(t *testing.T, cs *confStage) {
	res := cs.run(t, context.Background(), strings.NewReader("{\"a\":1}\nnot json\n{\"a\":3}\n"), nil, nil)
	data, errs, eof := cs.delivered(t, res)
	if want := cs.expect(`{"a":1}`, `{"a":3}`); strings.Join(data, " ") != want {
		t.Errorf("got %q, want %s from the events around the bad line", data, want)
	}
	if cs.isSink() {
		var ee *runner.ErrorEventsError
		if !errors.As(res.Err, &ee) || ee.Count != 1 {
			t.Fatalf("Run = %v, want an *ErrorEventsError for 1 event", res.Err)
		}
		if !strings.Contains(res.Stderr, "not json") || !strings.Contains(res.Stderr, "line 2") {
			t.Errorf("stderr %q does not report line 2 and its text", res.Stderr)
		}
		return
	}
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if len(errs) != 1 {
		t.Fatalf("%d error events, want 1", len(errs))
	}
	e := errs[0]
	if e.Err.Kind != "parse" || e.Err.Line != 2 || string(e.Err.Raw) != "not json" {
		t.Errorf("error event %+v %+v, want parse error of line 2 with its text", e, e.Err)
	}
	if eof.Count != uint64(len(data)+1) {
		t.Errorf("EOF count %d, want %d", eof.Count, len(data)+1)
	}
}

// confNoEOF: framed input that ends without an EOF is a broken edge.
func confNoEOF(t *testing.T, cs *confStage) {
	in := runnertest.Data("up", 1, `{"a":1}`) + runnertest.Data("up", 2, `{"a":2}`)
	res := cs.run(t, context.Background(), strings.NewReader(in), nil, nil)
	runnertest.WantBroken(t, res.Err, "input from 'up' ended without EOF after 2 events")
	if cs.isSink() {
		if _, err := os.Stat(cs.out); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a sink with a broken input left an output file (%v)", err)
		}
		return
	}
	fs := runnertest.Frames(t, res.Out)
	if eof := runnertest.LastEOF(t, fs); eof.EOF != wire.Truncated {
		t.Errorf("EOF %+v, want truncated", eof)
	}
	if cs.c.atEnd && len(runnertest.Payloads(fs)) > 0 {
		t.Errorf("a stage that emits at the end emitted %q from a broken input", runnertest.Payloads(fs))
	}
}

// confCancelled: a stop signal ends the stage even while its input stays
// open (a terminal), and what it passes on is marked stopped.
func confCancelled(t *testing.T, cs *confStage) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var in io.Reader
	if cs.c.input == confFile {
		in = strings.NewReader("{\"a\":1}\n{\"a\":2}\n")
	} else {
		pr, pw := io.Pipe()
		defer pw.Close()
		in = pr
	}
	done := make(chan runnertest.Result, 1)
	go func() {
		done <- cs.run(t, ctx, in, nil, func(e *runner.Env) { e.InputIsTerminal = true })
	}()
	var res runnertest.Result
	select {
	case res = <-done:
	case <-time.After(runnertest.HangGuard):
		t.Fatal("the stage did not stop")
	}
	if res.Err != nil {
		t.Fatalf("Run = %v, want nil after a stop", res.Err)
	}
	if cs.isSink() {
		if _, err := os.Stat(cs.out); err == nil {
			t.Error("a stopped sink wrote its output file as if complete")
		}
		return
	}
	if eof := runnertest.LastEOF(t, runnertest.Frames(t, res.Out)); eof.EOF != wire.Stopped {
		t.Errorf("EOF %+v, want stopped", eof)
	}
}

// confIdleFlush: an event is passed on while the input stays open.
func confIdleFlush(t *testing.T, cs *confStage) {
	if cs.isSink() || cs.c.atEnd {
		return // output comes (or is committed) at the end
	}
	pr, pw := io.Pipe()
	or, ow := io.Pipe()
	defer or.Close()
	st, err := cs.spec.New(runnertest.Options{Spec: cs.spec, Argv: cs.args(), Flags: cs.flags(t)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- runner.Run(context.Background(), cs.spec, st, &runner.Env{Stdin: pr, Stdout: ow, Stderr: io.Discard})
		ow.Close()
	}()
	out := runnertest.NewFrameReader(t, or)
	go io.WriteString(pw, "{\"a\":1}\n")
	if f := out.Next(); f.Kind != wire.KindData || string(f.Payload) != `{"a":1}` {
		t.Fatalf("got %+v, want the event while input is open", f)
	}
	pw.Close()
	if f := out.Next(); f.Kind != wire.KindEOF {
		t.Fatalf("got %+v, want EOF", f)
	}
	if err := runnertest.Wait(t, done); err != nil {
		t.Fatal(err)
	}
}

// confGenerated checks a source that makes its own events: it ends with a
// natural EOF holding the count, and a stop ends an endless one.
func confGenerated(t *testing.T, cs *confStage) {
	res := cs.run(t, context.Background(), nil, nil, nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	fs := runnertest.Frames(t, res.Out)
	eof := runnertest.LastEOF(t, fs)
	if eof.EOF != wire.Natural || eof.Count != uint64(len(fs)-1) || eof.Count == 0 {
		t.Errorf("EOF %+v after %d frames, want natural with their count", eof, len(fs)-1)
	}
	for i, f := range fs[:len(fs)-1] {
		if f.Seq != uint64(i+1) || f.Writer != cs.spec.Name {
			t.Errorf("frame %d: %+v", i, f)
		}
	}

	if cs.c.endless == nil {
		return
	}
	or, ow := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := cs.spec.New(runnertest.Options{Spec: cs.spec, Flags: cs.c.endless})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- runner.Run(ctx, cs.spec, st, &runner.Env{Stdout: ow, Stderr: io.Discard})
		ow.Close()
	}()
	out := runnertest.NewFrameReader(t, or)
	out.Next()
	cancel()
	n := uint64(1)
	for {
		f := out.Next()
		if f.Kind == wire.KindEOF {
			if f.EOF != wire.Stopped || f.Count != n {
				t.Errorf("EOF %+v after %d events, want stopped", f, n)
			}
			break
		}
		n++
	}
	if err := runnertest.Wait(t, done); err != nil {
		t.Fatal(err)
	}
}
