package stages

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

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
			res := rtRunSpec(t, &headSpec, rtNew(t, &headSpec, nil, map[string]any{"lines": tt.n}), in, nil)
			if res.err != nil {
				t.Fatal(res.err)
			}
			fs := rtFrames(t, res.out)
			if got := strings.Join(rtPayloads(fs), " "); got != tt.want {
				t.Errorf("head -n %d = %q, want %q", tt.n, got, tt.want)
			}
			if eof := rtLastEOF(t, fs); eof.EOF != wire.Natural || eof.Count != uint64(len(fs)-1) {
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
	got, res := rtRaw(t, rtNew(t, &headSpec, nil, nil), in.String())
	if res.err != nil || len(got) != 10 {
		t.Errorf("head = %q, %v; want 10 events", got, res.err)
	}
}

// TestHeadErrorEvents: error events pass through and do not count towards N.
func TestHeadErrorEvents(t *testing.T) {
	res := rtRunSpec(t, &headSpec, rtNew(t, &headSpec, nil, map[string]any{"lines": 2}), "1\nbad\n2\n3\n", nil)
	if res.err != nil {
		t.Fatal(res.err)
	}
	fs := rtFrames(t, res.out)
	if len(fs) != 4 || fs[1].Kind != wire.KindError || strings.Join(rtPayloads(fs), " ") != "1 2" || rtLastEOF(t, fs).Count != 3 {
		t.Errorf("frames %+v, want 1, an error, 2 and EOF n 3", fs)
	}
}

// TestHeadStopsBeforeBrokenEnd: head ends naturally once it has N events,
// even if its input would have broken later: what it passed is complete.
func TestHeadStopsBeforeBrokenEnd(t *testing.T) {
	in := rtData("up", 1, "1") + rtData("up", 2, "2") + rtData("up", 3, "3") // no EOF
	res := rtRunSpec(t, &headSpec, rtNew(t, &headSpec, nil, map[string]any{"lines": 2}), in, nil)
	if res.err != nil {
		t.Fatal(res.err)
	}
	if eof := rtLastEOF(t, rtFrames(t, res.out)); eof.EOF != wire.Natural || eof.Count != 2 {
		t.Errorf("EOF %+v, want natural n 2", eof)
	}
}

func TestHeadUsage(t *testing.T) {
	rtUsage(t, &headSpec, nil, map[string]any{"lines": -1}, "0 or more")
	rtUsage(t, &headSpec, []string{"5"}, nil, "did you mean -n 5?")
}

// TestHeadZeroReadsNothing: head -n 0 ends at once, even on an input that
// never sends anything and never ends.
func TestHeadZeroReadsNothing(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), &headSpec, rtNew(t, &headSpec, nil, map[string]any{"lines": 0}), &Env{Stdin: pr, Stdout: &out, Stderr: io.Discard})
	}()
	if err := rtWait(t, done); err != nil {
		t.Fatal(err)
	}
	if out.String() != rtEOF("head", 0, wire.Natural) {
		t.Errorf("output %q, want only a natural EOF n 0", out.String())
	}
}
