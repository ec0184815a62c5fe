package runner_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/runner/runnertest"
	"github.com/obz-dev/obz/wire"
)

// rtConc is a runner.Concurrent processor. A number n is answered with n
// outputs [n,0] .. [n,n-1], and 1 with the event itself, passed on; "err"
// is an event error, "stop" stops the input, "fail" fails the stage, and a
// string is an error after the output "before". Event and the workers run
// the same code, rtConcEval.
type rtConc struct {
	workers  atomic.Int32
	evals    atomic.Int64 // events evaluated, by Event or a worker
	answered int          // answers emitted by EmitAnswer
	finished int
}

type rtOut interface{ Emit([]byte) error }

var rtBoom = errors.New("boom")

func rtConcEval(ev *wire.Frame, out rtOut) error {
	p := string(ev.Payload)
	switch p {
	case `"err"`:
		return runner.EventErrorf("test", "bad event")
	case `"stop"`:
		return runner.ErrStop
	case `"fail"`:
		return rtBoom
	case `1`:
		return out.Emit(ev.Payload)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		if err := out.Emit([]byte(`"before"`)); err != nil {
			return err
		}
		return runner.EventErrorf("test", "not a number: %s", p)
	}
	for j := range n {
		if err := out.Emit(fmt.Appendf(nil, "[%d,%d]", n, j)); err != nil {
			return err
		}
	}
	return nil
}

func (c *rtConc) Event(ev *wire.Frame, em *runner.Emitter) error {
	c.evals.Add(1)
	return rtConcEval(ev, em)
}

func (c *rtConc) Finish(*runner.Emitter, wire.EOFKind) error {
	c.finished++
	return nil
}

type rtConcWorker struct{ c *rtConc }

func (w rtConcWorker) Eval(ev *wire.Frame, a *runner.Answer) error {
	w.c.evals.Add(1)
	return rtConcEval(ev, a)
}

func (c *rtConc) NewWorker(io.Writer) (runner.Worker, error) {
	c.workers.Add(1)
	return rtConcWorker{c}, nil
}

func (c *rtConc) EmitAnswer(_ *wire.Frame, a *runner.Answer, em *runner.Emitter) error {
	c.answered++
	return a.EmitTo(em)
}

var _ runner.Concurrent = (*rtConc)(nil)

// rtConcInput is a framed input of n events that give 0, 1 and several
// outputs, an error event of upstream, a watermark every 97 events, and
// the extra payloads at the positions given.
func rtConcInput(n int, extra map[int]string) string {
	var b strings.Builder
	seq := uint64(0)
	for i := 1; i <= n; i++ {
		seq++
		switch {
		case extra[i] != "":
			b.WriteString(runnertest.Data("up", seq, extra[i]))
		case i%211 == 0:
			b.WriteString(runnertest.ErrFrame("up", seq, wire.ErrorInfo{Kind: "csv", Msg: "bad", Stage: "read", Line: int64(i)}, `{}`))
		default:
			b.WriteString(runnertest.Data("up", seq, strconv.Itoa(i%4)))
		}
		if i%97 == 0 {
			fmt.Fprintf(&b, `{"obz":1,"t":"wm","w":"up","at":%d}`+"\n", i)
		}
	}
	b.WriteString(runnertest.EOF("up", seq, wire.Natural))
	return b.String()
}

// TestConcurrentSameBytes: with workers, the output is byte for byte what
// Event gives, over many batches, whatever the number of workers, and the
// workers answered the events.
func TestConcurrentSameBytes(t *testing.T) {
	for _, tt := range []struct {
		name  string
		in    string
		mod   func(*runner.Env)
		check func(t *testing.T, err error)
	}{
		{name: "mixed", in: rtConcInput(20000, map[int]string{500: `"err"`, 7001: `"x"`}),
			check: func(t *testing.T, err error) {
				if err != nil {
					t.Fatal(err)
				}
			}},
		{name: "bare lines", in: "1\n2\nbad\n0\n3\n\"err\"\n1\n",
			check: func(t *testing.T, err error) {
				if err != nil {
					t.Fatal(err)
				}
			}},
		{name: "raw", in: rtConcInput(3000, nil), mod: func(e *runner.Env) { e.Output = runner.Raw },
			check: func(t *testing.T, err error) {
				// Upstream's error events are reported on stderr.
				var ee *runner.ErrorEventsError
				if !errors.As(err, &ee) || ee.Count != 14 {
					t.Fatalf("runner.Run = %v, want 14 error events", err)
				}
			}},
		{name: "on-error fail", in: rtConcInput(20000, map[int]string{9000: `"err"`}), mod: func(e *runner.Env) { e.OnError = runner.ErrorsFail },
			check: func(t *testing.T, err error) {
				var fe *runner.EventFailedError
				if !errors.As(err, &fe) {
					t.Fatalf("runner.Run = %v, want *EventFailedError", err)
				}
			}},
		{name: "stop", in: rtConcInput(20000, map[int]string{12345: `"stop"`}),
			check: func(t *testing.T, err error) {
				if err != nil {
					t.Fatal(err)
				}
			}},
		{name: "stage fails", in: rtConcInput(20000, map[int]string{4321: `"fail"`}),
			check: func(t *testing.T, err error) {
				if !errors.Is(err, rtBoom) {
					t.Fatalf("runner.Run = %v, want boom", err)
				}
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			one := &rtConc{}
			want := runnertest.Run(t, rtSpec, one, tt.in, tt.mod)
			tt.check(t, want.Err)
			if one.workers.Load() != 0 || one.answered != 0 {
				t.Fatalf("without Env.Workers: %d workers, %d answers", one.workers.Load(), one.answered)
			}
			for _, run := range []struct {
				n   int
				all bool
			}{{1, false}, {2, false}, {4, false}, {1, true}, {2, true}, {4, true}} {
				n := run.n
				c := &rtConc{}
				got := runnertest.Run(t, rtSpec, c, tt.in, func(e *runner.Env) {
					if tt.mod != nil {
						tt.mod(e)
					}
					e.Workers, e.DealAll = n, run.all
				})
				tt.check(t, got.Err)
				if !bytes.Equal(got.Out, want.Out) {
					t.Errorf("%d workers: output differs from Event's:\n%s", n, rtFirstDiff(got.Out, want.Out))
				}
				if got.Stderr != want.Stderr {
					t.Errorf("%d workers: stderr %q, want %q", n, got.Stderr, want.Stderr)
				}
				// n workers, and one for the stage's goroutine.
				if int(c.workers.Load()) != n+1 || c.answered == 0 {
					t.Errorf("%d workers: %d workers made, %d answers emitted", n, c.workers.Load(), c.answered)
				}
				if c.finished != one.finished {
					t.Errorf("%d workers: Finish called %d times, want %d", n, c.finished, one.finished)
				}
			}
		})
	}
}

// TestConcurrentPassesPayload: an output that is the event's own payload
// is emitted as that payload, so the journal refers to it as Event's does.
func TestConcurrentPassesPayload(t *testing.T) {
	spec := &runner.Spec{Name: "rec", Family: runner.FamilyTransform, PassesPayloads: true}
	in := rtConcInput(5000, nil)
	var want bytes.Buffer
	runnertest.Run(t, spec, &rtConc{}, in, func(e *runner.Env) { e.Journal, e.JournalRefs = &want, true })
	var got bytes.Buffer
	runnertest.Run(t, spec, &rtConc{}, in, func(e *runner.Env) { e.Journal, e.JournalRefs, e.Workers = &got, true, 2 })
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Errorf("journal differs from Event's:\n%s", rtFirstDiff(got.Bytes(), want.Bytes()))
	}
	if !bytes.Contains(want.Bytes(), []byte(`"t":"ref"`)) {
		t.Errorf("the journal has no references: %.300s", want.Bytes())
	}
}

// TestConcurrentNotConcurrent: Env.Workers on a stage that cannot answer
// its events on other goroutines fails the stage, never runs it silently
// another way.
func TestConcurrentNotConcurrent(t *testing.T) {
	res := runnertest.Run(t, rtSpec, &rtRecorder{}, "1\n", func(e *runner.Env) { e.Workers = 2 })
	if res.Err == nil || !strings.Contains(res.Err.Error(), "cannot answer its events on several goroutines") {
		t.Fatalf("runner.Run = %v", res.Err)
	}
	if eof := runnertest.LastEOF(t, runnertest.Frames(t, res.Out)); eof.EOF != wire.Poison {
		t.Errorf("EOF = %+v, want poison", eof)
	}
}

// TestConcurrentStopEndsWorkers: after the stage stops reading an endless
// input, the readers and the workers end.
func TestConcurrentStopEndsWorkers(t *testing.T) {
	before := rtReaderGoroutines()
	in := &rtEndless{line: []byte("2\n")}
	var n atomic.Int64
	c := &rtConc{}
	// "stop" after many events: the workers answer batches read ahead.
	stopper := &rtStopAfter{rtConc: c, n: &n, after: 5000}
	res := runnertest.Run(t, rtSpec, stopper, "", func(e *runner.Env) { e.Stdin, e.Workers = in, 2 })
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	fs := runnertest.Frames(t, res.Out)
	if eof := runnertest.LastEOF(t, fs); eof.EOF != wire.Natural || eof.Count != 2*4999 {
		t.Errorf("EOF = %+v, want natural n %d", eof, 2*4999)
	}
	deadline := time.Now().Add(runnertest.HangGuard)
	for rtReaderGoroutines() > before {
		if time.Now().After(deadline) {
			t.Fatal("the input reader still runs after the stage ended")
		}
		time.Sleep(time.Millisecond)
	}
}

// rtStopAfter stops at the after-th answer it emits.
type rtStopAfter struct {
	*rtConc
	n     *atomic.Int64
	after int64
}

func (s *rtStopAfter) EmitAnswer(ev *wire.Frame, a *runner.Answer, em *runner.Emitter) error {
	if s.n.Add(1) == s.after {
		return runner.ErrStop
	}
	return s.rtConc.EmitAnswer(ev, a, em)
}

func rtFirstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) && i < len(w); i++ {
		if g[i] != w[i] {
			return fmt.Sprintf("line %d: got %s\nwant %s", i+1, g[i], w[i])
		}
	}
	return fmt.Sprintf("got %d lines, want %d", len(g), len(w))
}
