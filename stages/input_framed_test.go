package stages

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// TestFramedInputWithoutAnyFrame: an edge known to carry frames (obz flow's
// --in-fd) that ends empty lost its writer before it wrote anything; that
// is a broken edge, not an empty input. On stdin an empty stream stays an
// empty input (bare NDJSON may be empty).
func TestFramedInputWithoutAnyFrame(t *testing.T) {
	run := func(framed bool) (error, string) {
		st, err := filterSpec.New(testOptions{spec: &filterSpec, args: []string{"true"}})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		env := &Env{Stdout: &out, Stderr: &bytes.Buffer{},
			Inputs: []Input{{Name: "fd 3", R: strings.NewReader(""), Framed: framed}}}
		return Run(context.Background(), &filterSpec, st, env), out.String()
	}
	err, out := run(true)
	var broken *BrokenInputError
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
