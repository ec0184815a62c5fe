package stages

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/runner/runnertest"
	"github.com/obz-dev/obz/wire"
)

// TestFramedInputWithoutAnyFrame: an edge known to carry frames (obz flow's
// --in-fd) that ends empty lost its writer before it wrote anything; that
// is a broken edge, not an empty input. On stdin an empty stream stays an
// empty input (bare NDJSON may be empty).
func TestFramedInputWithoutAnyFrame(t *testing.T) {
	run := func(framed bool) (error, string) {
		st, err := filterSpec.New(runnertest.Options{Spec: &filterSpec, Argv: []string{"true"}})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		env := &runner.Env{Stdout: &out, Stderr: &bytes.Buffer{},
			Inputs: []runner.Input{{Name: "fd 3", R: strings.NewReader(""), Framed: framed}}}
		return runner.Run(context.Background(), &filterSpec, st, env), out.String()
	}
	err, out := run(true)
	var broken *runner.BrokenInputError
	if !errors.As(err, &broken) || !strings.Contains(err.Error(), "input fd 3 ended without any frame") {
		t.Errorf("framed empty input: err = %v, want a broken input naming fd 3", err)
	}
	if !strings.Contains(out, `"kind":"truncated"`) {
		t.Errorf("framed empty input: output %q lacks a truncated EOF", out)
	}
	if err, out := run(false); err != nil || !strings.Contains(out, `"kind":"natural"`) {
		t.Errorf("empty stdin-like input: err = %v, output %q; want a natural end", err, out)
	}
}

// TestStatusErrorKindsAndBroken: the status channel's last line counts
// error events by kind and says when an input edge broke.
func TestStatusErrorKindsAndBroken(t *testing.T) {
	last := func(framed bool, input string) wire.Status {
		st, err := filterSpec.New(runnertest.Options{Spec: &filterSpec, Argv: []string{".a > 0"}})
		if err != nil {
			t.Fatal(err)
		}
		var status bytes.Buffer
		env := &runner.Env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Status: &status,
			Inputs: []runner.Input{{Name: "fd 3", R: strings.NewReader(input), Framed: framed}}}
		runner.Run(context.Background(), &filterSpec, st, env)
		lines := strings.Split(strings.TrimSpace(status.String()), "\n")
		var s wire.Status
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := last(false, "{\"a\":1}\nnot json\n{\"a\":\"x\"}\n{\"a\":2}\n[1]\n")
	if s.ErrorKinds["parse"] != 1 || s.ErrorKinds["expr"] != 1 || s.Broken {
		t.Errorf("status = %+v, want parse 1, expr 1 (a string > 0 is fine in jq; [1] | .a fails), not broken", s)
	}
	if s := last(true, ""); !s.Broken || s.State != "failed" {
		t.Errorf("status of a framed input without frames = %+v, want broken, failed", s)
	}
}
