package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/obz-dev/obz/journal"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/stages"
)

func TestPermuteJournalArgs(t *testing.T) {
	var name string
	var err error
	app := newApp(stages.All(), nil, &bytes.Buffer{}, &bytes.Buffer{}, &name, &err)
	tests := []struct{ in, want string }{
		{"obz journal cat j.zst -r", "obz journal cat -r -- j.zst"},
		{"obz journal cat j.zst --from-seq 5 -r", "obz journal cat --from-seq 5 -r -- j.zst"},
		{"obz journal recover a.zst -o b.zst", "obz journal recover -o b.zst -- a.zst"},
		{"obz replay j.zst --speed 1x", "obz replay --speed 1x -- j.zst"},
		{"obz replay runs/x --verify --topology new.toml", "obz replay --verify --topology new.toml -- runs/x"},
		{"obz diff a.zst b.zst", "obz diff -- a.zst b.zst"},
		// An unknown subcommand is refused before (checkCommand); its
		// words are permuted as the command's own (obz runs DIR --json).
		{"obz journal nosuch x -r", "obz journal nosuch x -r"},
		{"obz journal", "obz journal"},
		{"obz filter .a -r", "obz filter -r -- .a"},
	}
	for _, tt := range tests {
		args, err := permuteArgs(strings.Fields(tt.in), app)
		if got := strings.Join(args, " "); err != nil || got != tt.want {
			t.Errorf("permuteArgs(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

// TestJournalTee checks the runner's tee on several stages: the journal
// holds exactly the framed output, and in raw mode the frames the framed
// mode would have written (error events included, which raw mode reports
// on stderr).
func TestJournalTee(t *testing.T) {
	input := "{\"id\":1,\"v\":5}\nnot json\n{\"id\":2,\"v\":9}\n{\"id\":3,\"v\":1}\n"
	for _, tt := range []struct {
		stage string
		set   map[string]any
		args  []string
	}{
		{"gen", map[string]any{"count": 50}, nil},
		{"filter", nil, []string{".v > 2"}},
		{"map", nil, []string{"{id, w: (.v * 2)}"}},
		{"head", map[string]any{"lines": 2}, nil},
	} {
		var framed bytes.Buffer
		var j1 bytes.Buffer
		w1, _ := journal.NewWriter(&j1, nil)
		env := &runner.Env{Stdin: strings.NewReader(input), Stdout: &framed, Stderr: &bytes.Buffer{}, Journal: w1}
		runSpecAllowErrors(t, tt.stage, tt.set, tt.args, env)
		if err := w1.Close(); err != nil {
			t.Fatal(err)
		}
		if got := journalLines(t, j1.Bytes()); got != framed.String() {
			t.Errorf("%s: journal differs from the framed output:\n%s\nwant\n%s", tt.stage, got, framed.String())
		}

		var j2 bytes.Buffer
		w2, _ := journal.NewWriter(&j2, nil)
		env = &runner.Env{Stdin: strings.NewReader(input), Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Output: runner.Raw, Journal: w2}
		runSpecAllowErrors(t, tt.stage, tt.set, tt.args, env)
		if err := w2.Close(); err != nil {
			t.Fatal(err)
		}
		if got := journalLines(t, j2.Bytes()); got != framed.String() {
			t.Errorf("%s -r: journal differs from the framed output:\n%s\nwant\n%s", tt.stage, got, framed.String())
		}
	}
}

// runSpecAllowErrors runs a stage; error events (exit 4) are expected here.
func runSpecAllowErrors(tb testing.TB, name string, set map[string]any, args []string, env *runner.Env) {
	tb.Helper()
	spec := stages.All().Lookup(name)
	st, err := spec.New(specOptions{spec: spec, set: set, args: args})
	if err != nil {
		tb.Fatal(err)
	}
	var ee *runner.ErrorEventsError
	if err := runner.Run(context.Background(), spec, st, env); err != nil && !errors.As(err, &ee) {
		tb.Fatal(err)
	}
}

func journalLines(tb testing.TB, file []byte) string {
	tb.Helper()
	r, err := journal.NewReader(bytes.NewReader(file), int64(len(file)), nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	var b strings.Builder
	for {
		line, err := r.NextLine()
		if err == io.EOF {
			return b.String()
		}
		if err != nil {
			tb.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
}
