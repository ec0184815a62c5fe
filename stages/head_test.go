package stages

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/runner/runnertest"
	"github.com/obz-dev/obz/wire"
)

func TestHead(t *testing.T) {
	in := "1\n2\n3\n4\n5\n"
	for _, tt := range []struct {
		n    int
		want string
	}{
		{0, ""},
		{1, "1"},
		{3, "1 2 3"},
		{5, "1 2 3 4 5"},
		{10, "1 2 3 4 5"},
	} {
		t.Run(fmt.Sprint(tt.n), func(t *testing.T) {
			res := runnertest.Run(t, &headSpec, runnertest.New(t, &headSpec, nil, map[string]any{"lines": tt.n}), in, nil)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			fs := runnertest.Frames(t, res.Out)
			if got := strings.Join(runnertest.Payloads(fs), " "); got != tt.want {
				t.Errorf("head -n %d = %q, want %q", tt.n, got, tt.want)
			}
			if eof := runnertest.LastEOF(t, fs); eof.EOF != wire.Natural || eof.Count != uint64(len(fs)-1) {
				t.Errorf("EOF %+v, want natural with the count of what was written", eof)
			}
		})
	}
}

func TestHeadDefault(t *testing.T) {
	var in strings.Builder
	for i := range 20 {
		fmt.Fprintln(&in, i)
	}
	got, res := runnertest.Raw(t, runnertest.New(t, &headSpec, nil, nil), in.String())
	if res.Err != nil || len(got) != 10 {
		t.Errorf("head = %q, %v; want 10 events", got, res.Err)
	}
}

// TestHeadErrorEvents: error events pass through and do not count towards N.
func TestHeadErrorEvents(t *testing.T) {
	res := runnertest.Run(t, &headSpec, runnertest.New(t, &headSpec, nil, map[string]any{"lines": 2}), "1\nbad\n2\n3\n", nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	fs := runnertest.Frames(t, res.Out)
	if len(fs) != 4 || fs[1].Kind != wire.KindError || strings.Join(runnertest.Payloads(fs), " ") != "1 2" || runnertest.LastEOF(t, fs).Count != 3 {
		t.Errorf("frames %+v, want 1, an error, 2 and EOF n 3", fs)
	}
}

// TestHeadStopsBeforeBrokenEnd: head ends naturally once it has N events,
// even if its input would have broken later: what it passed is complete.
func TestHeadStopsBeforeBrokenEnd(t *testing.T) {
	in := runnertest.Data("up", 1, "1") + runnertest.Data("up", 2, "2") + runnertest.Data("up", 3, "3") // no EOF
	res := runnertest.Run(t, &headSpec, runnertest.New(t, &headSpec, nil, map[string]any{"lines": 2}), in, nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if eof := runnertest.LastEOF(t, runnertest.Frames(t, res.Out)); eof.EOF != wire.Natural || eof.Count != 2 {
		t.Errorf("EOF %+v, want natural n 2", eof)
	}
}

func TestHeadUsage(t *testing.T) {
	runnertest.Usage(t, &headSpec, nil, map[string]any{"lines": -1}, "0 or more")
	runnertest.Usage(t, &headSpec, []string{"5"}, nil, "did you mean -n 5?")
}

// TestHeadZeroReadsNothing: head -n 0 ends at once, even on an input that
// never sends anything and never ends.
func TestHeadZeroReadsNothing(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- runner.Run(context.Background(), &headSpec, runnertest.New(t, &headSpec, nil, map[string]any{"lines": 0}), &runner.Env{Stdin: pr, Stdout: &out, Stderr: io.Discard})
	}()
	if err := runnertest.Wait(t, done); err != nil {
		t.Fatal(err)
	}
	if out.String() != runnertest.EOF("head", 0, wire.Natural) {
		t.Errorf("output %q, want only a natural EOF n 0", out.String())
	}
}
