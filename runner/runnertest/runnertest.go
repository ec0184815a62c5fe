// Package runnertest has helpers for testing stages with the runner: a fake
// Options, frame builders and decoders, and Run, which captures a stage's
// output. Like net/http/httptest, only tests import it.
package runnertest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

// HangGuard bounds a wait that only fails if something never happens.
const HangGuard = 5 * time.Second

// Options is a fake runner.Options: flags not given take the spec's defaults.
type Options struct {
	Spec  *runner.Spec
	Flags map[string]any
	Argv  []string
}

func (o Options) get(name string) any {
	if v, ok := o.Flags[name]; ok {
		return v
	}
	if o.Spec != nil {
		for _, f := range o.Spec.Flags {
			if f.Name == name {
				return f.Default
			}
		}
	}
	return nil
}

func (o Options) String(n string) string          { v, _ := o.get(n).(string); return v }
func (o Options) Bool(n string) bool              { v, _ := o.get(n).(bool); return v }
func (o Options) Int(n string) int                { v, _ := o.get(n).(int); return v }
func (o Options) Float(n string) float64          { v, _ := o.get(n).(float64); return v }
func (o Options) Duration(n string) time.Duration { v, _ := o.get(n).(time.Duration); return v }
func (o Options) Strings(n string) []string       { v, _ := o.get(n).([]string); return v }
func (o Options) IsSet(n string) bool             { _, ok := o.Flags[n]; return ok }
func (o Options) Args() []string                  { return o.Argv }

// New builds a registered stage from args and flags, failing on an error.
func New(t testing.TB, spec *runner.Spec, args []string, flags map[string]any) runner.Stage {
	t.Helper()
	st, err := spec.New(Options{Spec: spec, Argv: args, Flags: flags})
	if err != nil {
		t.Fatalf("%s %q: %v", spec.Name, args, err)
	}
	return st
}

// Usage checks that spec refuses args and flags with a usage error that
// mentions substr.
func Usage(t testing.TB, spec *runner.Spec, args []string, flags map[string]any, substr string) {
	t.Helper()
	_, err := spec.New(Options{Spec: spec, Argv: args, Flags: flags})
	var ue *runner.UsageError
	if !errors.As(err, &ue) {
		t.Fatalf("%s %q: err = %v, want a *UsageError", spec.Name, args, err)
	}
	if !strings.Contains(ue.Error(), substr) {
		t.Errorf("%s %q: %q does not mention %q", spec.Name, args, ue.Error(), substr)
	}
}

// Data is a data frame's line.
func Data(w string, seq uint64, payload string) string {
	f := wire.Frame{Kind: wire.KindData, Writer: w, Seq: seq, Payload: []byte(payload)}
	return string(wire.AppendFrame(nil, &f))
}

// EOF is an EOF frame's line.
func EOF(w string, n uint64, kind wire.EOFKind) string {
	f := wire.Frame{Kind: wire.KindEOF, Writer: w, Count: n, EOF: kind}
	return string(wire.AppendFrame(nil, &f))
}

// ErrFrame is an error frame's line.
func ErrFrame(w string, seq uint64, info wire.ErrorInfo, payload string) string {
	f := wire.Frame{Kind: wire.KindError, Writer: w, Seq: seq, Err: &info}
	if payload != "" {
		f.Payload = []byte(payload)
	}
	return string(wire.AppendFrame(nil, &f))
}

// Frames decodes framed output; it fails the test on a line that is not a frame.
func Frames(t testing.TB, out []byte) []wire.Frame {
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

// LastEOF returns the output's last frame, which must be its only EOF.
func LastEOF(t testing.TB, fs []wire.Frame) wire.Frame {
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

// Payloads are the payloads of the data frames.
func Payloads(fs []wire.Frame) []string {
	var ps []string
	for _, f := range fs {
		if f.Kind == wire.KindData {
			ps = append(ps, string(f.Payload))
		}
	}
	return ps
}

// Result is what a stage run left.
type Result struct {
	Err    error
	Out    []byte
	Stderr string
}

// Run runs st of spec over in, with env changed by mod.
func Run(t testing.TB, spec *runner.Spec, st runner.Stage, in string, mod func(*runner.Env)) Result {
	t.Helper()
	var out, stderr bytes.Buffer
	env := &runner.Env{Stdin: strings.NewReader(in), Stdout: &out, Stderr: &stderr}
	if mod != nil {
		mod(env)
	}
	err := runner.Run(context.Background(), spec, st, env)
	return Result{Err: err, Out: out.Bytes(), Stderr: stderr.String()}
}

// spec is the spec Raw runs stages with.
var spec = &runner.Spec{Name: "rec", Family: runner.FamilyTransform}

// Raw runs a stage in raw mode and returns its output lines.
func Raw(t testing.TB, st runner.Stage, in string) (lines []string, res Result) {
	t.Helper()
	res = Run(t, spec, st, in, func(e *runner.Env) { e.Output = runner.Raw })
	out := strings.TrimSuffix(string(res.Out), "\n")
	if out == "" {
		return nil, res
	}
	return strings.Split(out, "\n"), res
}

// WantBroken checks that err is a broken input that mentions substr.
func WantBroken(t testing.TB, err error, substr string) *runner.BrokenInputError {
	t.Helper()
	var be *runner.BrokenInputError
	if !errors.As(err, &be) {
		t.Fatalf("Run = %v (%T), want a *BrokenInputError", err, err)
	}
	if !strings.Contains(be.Error(), substr) {
		t.Fatalf("BrokenInputError %q does not mention %q", be.Error(), substr)
	}
	return be
}

// FrameReader reads output frames one at a time, failing the test if one
// never comes.
type FrameReader struct {
	t     testing.TB
	lines chan []byte
}

// NewFrameReader reads frames from r in the background.
func NewFrameReader(t testing.TB, r io.Reader) *FrameReader {
	fr := &FrameReader{t: t, lines: make(chan []byte, 100)}
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

// Next returns the next frame.
func (fr *FrameReader) Next() wire.Frame {
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
	case <-time.After(HangGuard):
		fr.t.Fatal("no output frame arrived")
	}
	panic("unreachable")
}

// Wait waits for Run's result on done, failing the test if it never comes.
func Wait(t testing.TB, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(HangGuard):
		t.Fatal("Run did not return")
	}
	return nil
}

// Emitter returns an emitter that writes raw payloads to w, for benchmarks
// that drive a stage's methods directly.
func Emitter(w io.Writer) *runner.Emitter { return runner.NewRawEmitter(w) }
