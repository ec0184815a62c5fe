package runner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/runner/runnertest"
	"github.com/obz-dev/obz/wire"
)

// passThrough emits every event it gets.
type passThrough struct{}

func (passThrough) Event(ev *wire.Frame, em *runner.Emitter) error { return em.Emit(ev.Payload) }
func (passThrough) Finish(*runner.Emitter, wire.EOFKind) error     { return nil }

var passSpec = &runner.Spec{Name: "pass", Family: runner.FamilyTransform}

func data(w string, seq uint64, payload string) wire.Frame {
	return wire.Frame{Kind: wire.KindData, Writer: w, Seq: seq, Payload: []byte(payload)}
}

func eof(w string, n uint64, kind wire.EOFKind) wire.Frame {
	return wire.Frame{Kind: wire.KindEOF, Writer: w, Count: n, EOF: kind}
}

// drain reads an in-memory edge to its end.
func drain(t *testing.T, in runner.Inbound) []wire.Frame {
	t.Helper()
	var b runner.InBatch
	for {
		err := in.Read(&b)
		if err == io.EOF {
			return b.Frames
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// runMem runs the pass-through stage over in-memory input edges, each fed
// its frames in the background, and returns its output frames.
func runMem(t *testing.T, mod func(*runner.Env), inputs ...[]wire.Frame) ([]wire.Frame, *runner.Env, error) {
	t.Helper()
	out := runner.NewMemEdge(1 << 16)
	var stderr bytes.Buffer
	env := &runner.Env{Outputs: []runner.Outbound{out}, Stderr: &stderr, Counters: new(runner.Counters)}
	for i, fs := range inputs {
		e := runner.NewMemEdge(64)
		env.Inputs = append(env.Inputs, runner.Input{Name: "mem " + string(rune('a'+i)), Edge: e, Framed: true})
		go func() {
			e.Push(fs...)
			e.Close()
		}()
	}
	if mod != nil {
		mod(env)
	}
	err := runner.Run(context.Background(), passSpec, passThrough{}, env)
	out.Close()
	fs := drain(t, out)
	if n, _ := out.Ack(); n == 0 {
		t.Error("the output edge acknowledged nothing")
	}
	return fs, env, err
}

func TestMemEdgeStage(t *testing.T) {
	fs, env, err := runMem(t, nil, []wire.Frame{data("up", 1, `1`), data("up", 2, `2`), data("up", 3, `3`), eof("up", 3, wire.Natural)})
	if err != nil {
		t.Fatal(err)
	}
	if got := runnertest.Payloads(fs); strings.Join(got, ",") != "1,2,3" {
		t.Errorf("payloads %q", got)
	}
	if e := runnertest.LastEOF(t, fs); e.Writer != "pass" || e.Count != 3 || e.EOF != wire.Natural {
		t.Errorf("EOF %+v, want pass n 3 natural", e)
	}
	if fs[1].Parent != (wire.Ref{Writer: "up", Seq: 2}) {
		t.Errorf("parent %+v", fs[1].Parent)
	}
	if env.Counters.In.Load() != 3 || env.Counters.Duplicates.Load() != 0 {
		t.Errorf("in %d, duplicates %d", env.Counters.In.Load(), env.Counters.Duplicates.Load())
	}
}

// TestMemEdgeFanIn: each in-memory edge is checked on its own (the same
// writer name on both, each with its own seq) and the stage ends after
// both, with the worst kind.
func TestMemEdgeFanIn(t *testing.T) {
	const n = 5000 // several batches per edge
	var a, b []wire.Frame
	for i := uint64(1); i <= n; i++ {
		a = append(a, data("up", i, `"a"`))
		b = append(b, data("up", i, `"b"`))
	}
	a = append(a, eof("up", n, wire.Natural))
	b = append(b, eof("up", n, wire.Stopped))
	fs, _, err := runMem(t, nil, a, b)
	if err != nil {
		t.Fatal(err)
	}
	got := runnertest.Payloads(fs)
	if len(got) != 2*n || strings.Count(strings.Join(got, ""), `"a"`) != n {
		t.Errorf("%d events out, want %d, half of them from a", len(got), 2*n)
	}
	if e := runnertest.LastEOF(t, fs); e.Count != 2*n || e.EOF != wire.Stopped {
		t.Errorf("EOF %+v, want n %d stopped", e, 2*n)
	}
}

// TestMemEdgeDuplicates: frames delivered again (same writer and seq, the
// same EOF) are dropped and counted, not a broken edge; on both edges of a
// fan-in, each with its own count.
func TestMemEdgeDuplicates(t *testing.T) {
	a := []wire.Frame{data("up", 1, `1`), data("up", 2, `2`), data("up", 2, `2`), data("up", 1, `1`), data("up", 3, `3`),
		eof("up", 3, wire.Natural), data("up", 3, `3`), eof("up", 3, wire.Natural)}
	b := []wire.Frame{data("up", 1, `"b"`), data("up", 1, `"b"`), eof("up", 1, wire.Natural)}
	var status, stderr bytes.Buffer
	fs, env, err := runMem(t, func(e *runner.Env) {
		e.Status, e.Stats, e.Stderr = &status, true, &stderr
	}, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if got := runnertest.Payloads(fs); len(got) != 4 {
		t.Errorf("payloads %q, want 4 (duplicates dropped)", got)
	}
	if e := runnertest.LastEOF(t, fs); e.Count != 4 || e.EOF != wire.Natural {
		t.Errorf("EOF %+v, want n 4 natural", e)
	}
	if d := env.Counters.Duplicates.Load(); d != 5 || env.Counters.In.Load() != 4 {
		t.Errorf("duplicates %d, in %d; want 5 and 4", d, env.Counters.In.Load())
	}
	if !strings.Contains(stderr.String(), "duplicates dropped 5") {
		t.Errorf("stats line %q lacks the duplicates", stderr.String())
	}
	var last wire.Status
	for _, line := range bytes.Split(bytes.TrimSpace(status.Bytes()), []byte("\n")) {
		last = wire.Status{}
		if err := json.Unmarshal(line, &last); err != nil {
			t.Fatal(err)
		}
	}
	if last.State != "done" || last.Duplicates != 5 {
		t.Errorf("final status %+v, want done with 5 duplicates", last)
	}
}

// TestMemEdgeStillBroken: a gap, a reordering and a different second EOF
// break the edge on an in-memory edge as on a pipe; so does an edge lost.
func TestMemEdgeStillBroken(t *testing.T) {
	for _, tt := range []struct {
		name    string
		in      []wire.Frame
		problem string
	}{
		{"gap", []wire.Frame{data("up", 1, `1`), data("up", 3, `3`), eof("up", 3, wire.Natural)}, "seq 2..2 missing"},
		{"reordered", []wire.Frame{data("up", 1, `1`), data("up", 3, `3`), data("up", 2, `2`), eof("up", 3, wire.Natural)}, "repeated or reordered seq 2 after 3"},
		{"second EOF", []wire.Frame{data("up", 1, `1`), eof("up", 1, wire.Natural), eof("up", 2, wire.Natural)}, "sent a second EOF"},
		{"no EOF", []wire.Frame{data("up", 1, `1`)}, "ended without EOF after 1 events"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fs, _, err := runMem(t, nil, tt.in)
			runnertest.WantBroken(t, err, tt.problem)
			if e := runnertest.LastEOF(t, fs); e.EOF != wire.Truncated {
				t.Errorf("EOF %+v, want truncated", e)
			}
		})
	}
	t.Run("edge lost", func(t *testing.T) {
		in := runner.NewMemEdge(4)
		in.Push(data("up", 1, `1`))
		in.CloseWithError(errors.New("connection lost"))
		var out bytes.Buffer
		err := runner.Run(context.Background(), passSpec, passThrough{}, &runner.Env{
			Inputs: []runner.Input{{Name: "mem a", Edge: in}}, Stdout: &out, Stderr: io.Discard})
		runnertest.WantBroken(t, err, "reading mem a: connection lost")
	})
}

// TestMemEdgeChain: two stages joined by an in-memory edge, the first
// writing it (Outbound) while the second reads it (Inbound).
func TestMemEdgeChain(t *testing.T) {
	in, mid, out := runner.NewMemEdge(8), runner.NewMemEdge(8), runner.NewMemEdge(1<<12)
	go func() {
		for i := uint64(1); i <= 1000; i++ {
			in.Push(data("src", i, `{"n":1}`))
		}
		in.Push(eof("src", 1000, wire.Natural))
		in.Close()
	}()
	first := make(chan error, 1)
	go func() {
		first <- runner.Run(context.Background(), &runner.Spec{Name: "a"}, passThrough{}, &runner.Env{
			Inputs: []runner.Input{{Name: "mem in", Edge: in, Framed: true}}, Outputs: []runner.Outbound{mid}, Stderr: io.Discard})
		mid.Close()
	}()
	err := runner.Run(context.Background(), &runner.Spec{Name: "b"}, passThrough{}, &runner.Env{
		Inputs: []runner.Input{{Name: "mem mid", Edge: mid, Framed: true}}, Outputs: []runner.Outbound{out}, Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if err := runnertest.Wait(t, first); err != nil {
		t.Fatal(err)
	}
	out.Close()
	fs := drain(t, out)
	if e := runnertest.LastEOF(t, fs); e.Writer != "b" || e.Count != 1000 || e.EOF != wire.Natural {
		t.Errorf("EOF %+v, want b n 1000 natural", e)
	}
	if fs[0].Parent != (wire.Ref{Writer: "a", Seq: 1}) {
		t.Errorf("parent %+v, want [a,1]", fs[0].Parent)
	}
}
