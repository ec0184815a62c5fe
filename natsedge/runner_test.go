package natsedge

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

// pass is a stage that passes each payload on: enough to drive the runner
// over a JetStream edge.
type pass struct{}

func (pass) Event(f *wire.Frame, em *runner.Emitter) error { return em.Emit(f.Payload) }
func (pass) Finish(*runner.Emitter, wire.EOFKind) error    { return nil }

var passSpec = &runner.Spec{Name: "pass", Family: runner.FamilyTransform}

// TestRunnerOverJetStream: a stage's output edge is an Out, the next
// stage's input edge an In; the runner's edge contract holds across it,
// and the second stage writes what one stage on a pipe writes.
func TestRunnerOverJetStream(t *testing.T) {
	nc := testServer(t)
	s := Stream{Subject: "flow.run1.a-b"}
	input := frames("src", 1, 10000, true)

	out := newOut(t, nc, s, OutOptions{})
	var stderr bytes.Buffer
	err := runner.Run(context.Background(), passSpec, pass{}, &runner.Env{Name: "a",
		Stdin: bytes.NewReader(input), Stderr: &stderr, Outputs: []runner.Outbound{out}})
	if err != nil {
		t.Fatalf("stage a: %v\n%s", err, stderr.String())
	}

	in := newIn(t, nc, s, "b")
	defer in.Close()
	var got bytes.Buffer
	err = runner.Run(context.Background(), passSpec, pass{}, &runner.Env{Name: "b", Stderr: &stderr, Stdout: &got,
		Inputs: []runner.Input{{Name: "subject " + s.Subject, Edge: ackingIn{in}, Framed: true}}})
	if err != nil {
		t.Fatalf("stage b: %v\n%s", err, stderr.String())
	}

	// The same two stages on a pipe.
	var mid, want bytes.Buffer
	if err := runner.Run(context.Background(), passSpec, pass{}, &runner.Env{Name: "a", Stdin: bytes.NewReader(input), Stdout: &mid, Stderr: &stderr}); err != nil {
		t.Fatal(err)
	}
	if err := runner.Run(context.Background(), passSpec, pass{}, &runner.Env{Name: "b", Stdin: &mid, Stdout: &want, Stderr: &stderr}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Errorf("over JetStream: %d bytes, over a pipe: %d bytes, not the same", got.Len(), want.Len())
	}
}

// ackingIn acknowledges a batch when the runner asks for the next one: by
// then the stage has handled its frames.
type ackingIn struct{ in *In }

func (a ackingIn) Read(b *runner.InBatch) error {
	if err := a.in.Ack(context.Background(), true); err != nil {
		return err
	}
	return a.in.Read(b)
}

// TestDiscardOldGap: with discard old, frames dropped from a full stream
// before anyone read them are a gap the reading stage reports: the edge is
// broken, loudly.
func TestDiscardOldGap(t *testing.T) {
	nc := testServer(t)
	s := Stream{Subject: "edge.old", Discard: "old", MaxMsgs: 3, Retention: "limits"}
	send(t, newOut(t, nc, s, OutOptions{}), frames("src", 1, 1000, true))
	in := newIn(t, nc, s, "b")
	defer in.Close()
	var stderr bytes.Buffer
	err := runner.Run(context.Background(), passSpec, pass{}, &runner.Env{Name: "b", Stderr: &stderr, Stdout: io.Discard,
		Inputs: []runner.Input{{Name: "subject " + s.Subject, Edge: ackingIn{in}, Framed: true}}})
	var broken *runner.BrokenInputError
	if !errors.As(err, &broken) {
		t.Fatalf("a stage reading a stream that dropped 800 frames (8 messages of 100): %v, want a broken input", err)
	}
	if p := strings.Join(broken.Problems, "\n"); !strings.Contains(p, `has a gap: seq 1..800 missing`) {
		t.Errorf("problems: %s", p)
	}
}
