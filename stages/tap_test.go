package stages

import (
	"strings"
	"testing"
	"time"

	"github.com/obz-dev/obz/runner/runnertest"
	"github.com/obz-dev/obz/wire"
)

func tapRun(t *testing.T, flags map[string]any, in string) runnertest.Result {
	t.Helper()
	st, err := tapSpec.New(runnertest.Options{Spec: &tapSpec, Flags: flags})
	if err != nil {
		t.Fatal(err)
	}
	return runnertest.Run(t, &tapSpec, st, in, nil)
}

func TestTapSamples(t *testing.T) {
	in := runnertest.Data("up", 1, `{"a":1}`) + runnertest.Data("up", 2, `{"a":2}`) +
		runnertest.ErrFrame("up", 3, wire.ErrorInfo{Kind: "parse", Msg: "bad", Stage: "read", Line: 3, Raw: []byte("oops")}, "") +
		runnertest.Data("up", 4, `{"a":4}`) + runnertest.Data("up", 5, `{"a":5}`) + runnertest.EOF("up", 5, wire.Natural)
	for _, c := range []struct {
		flags map[string]any
		want  string
	}{
		{nil, "[tap #1 up/1] {\"a\":1}\n[tap #2 up/2] {\"a\":2}\n[tap #3 up/4] {\"a\":4}\n[tap #4 up/5] {\"a\":5}\n"},
		{map[string]any{"first": 1}, "[tap #1 up/1] {\"a\":1}\n"},
		{map[string]any{"every": 2}, "[tap #2 up/2] {\"a\":2}\n[tap #4 up/5] {\"a\":5}\n"},
		{map[string]any{"first": 1, "every": 3}, "[tap #1 up/1] {\"a\":1}\n[tap #3 up/4] {\"a\":4}\n"},
		{map[string]any{"errors": true}, "[tap #err1 up/3] error from read (parse): bad: oops\n"},
		{map[string]any{"first": 1, "width": 3}, "[tap #1 up/1] {\"a... (7 bytes)\n"},
	} {
		res := tapRun(t, c.flags, in)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		if res.Stderr != c.want {
			t.Errorf("%v: stderr\n%s\nwant\n%s", c.flags, res.Stderr, c.want)
		}
		fs := runnertest.Frames(t, res.Out)
		if got := strings.Join(runnertest.Payloads(fs), " "); got != `{"a":1} {"a":2} {"a":4} {"a":5}` {
			t.Errorf("%v: passed on %s", c.flags, got)
		}
		if fs[2].Kind != wire.KindError || fs[2].Parent.Seq != 3 || string(fs[2].Err.Raw) != "oops" {
			t.Errorf("%v: error event %+v", c.flags, fs[2])
		}
	}
}

func TestTapRateSummary(t *testing.T) {
	res := tapRun(t, map[string]any{"rate": true}, "{\"a\":1}\n{\"a\":2}\n")
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if !strings.Contains(res.Stderr, "[tap] input ended: 2 events (14 bytes), 0 error events") {
		t.Errorf("stderr %q", res.Stderr)
	}
}

func TestTapBrokenInput(t *testing.T) {
	res := tapRun(t, nil, runnertest.Data("up", 1, `{"a":1}`))
	runnertest.WantBroken(t, res.Err, "ended without EOF")
	if eof := runnertest.LastEOF(t, runnertest.Frames(t, res.Out)); eof.EOF != wire.Truncated {
		t.Errorf("EOF %+v", eof)
	}
}

func TestTapUsage(t *testing.T) {
	for _, f := range []map[string]any{{"first": -1}, {"every": -2}, {"width": -1}} {
		if _, err := tapSpec.New(runnertest.Options{Spec: &tapSpec, Flags: f}); err == nil {
			t.Errorf("%v: no usage error", f)
		}
	}
}

// tick reports a period once it has passed, whatever the event rate.
func TestTick(t *testing.T) {
	k := tick{every: 5 * time.Millisecond}
	k.reset(time.Now())
	start := time.Now()
	n := 0
	for time.Since(start) < runnertest.HangGuard {
		if _, due := k.due(); due {
			n++
			if n == 2 {
				break
			}
		}
	}
	if n != 2 {
		t.Fatal("tick never became due")
	}
	if time.Since(start) < 10*time.Millisecond {
		t.Errorf("two periods of 5ms passed in %v", time.Since(start))
	}
}
