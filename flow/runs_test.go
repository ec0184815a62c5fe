package flow

import (
	"os"
	"testing"
	"time"
)

func TestPlanPrune(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	run := func(dir, flow string, age time.Duration, size int64) *RunInfo {
		return &RunInfo{Dir: dir, Flow: flow, Started: now.Add(-age), Status: RunDone, Size: size}
	}
	// Oldest first, as ListRuns returns them.
	runs := []*RunInfo{
		run("a1", "a", 10*24*time.Hour, 100),
		run("b1", "b", 9*24*time.Hour, 100),
		run("a2", "a", 3*24*time.Hour, 100),
		run("a3", "a", 2*time.Hour, 100),
		run("b2", "b", time.Hour, 100),
	}
	removed := func(o PruneOptions) string {
		o.Now = now
		var s string
		for _, d := range PlanPrune(runs, o) {
			if d.Remove {
				s += d.Run.Dir + " "
			}
		}
		return s
	}
	cases := []struct {
		name string
		o    PruneOptions
		want string
	}{
		{"keep per flow", PruneOptions{Keep: 1}, "a1 b1 a2 "},
		{"keep 2", PruneOptions{Keep: 2}, "a1 "},
		{"older than a week", PruneOptions{OlderThan: 7 * 24 * time.Hour}, "a1 b1 "},
		{"max size, oldest first", PruneOptions{MaxSize: 250}, "a1 b1 a2 "},
		{"max size never the newest", PruneOptions{MaxSize: 1}, "a1 b1 a2 a3 "},
		{"any criterion", PruneOptions{Keep: 2, OlderThan: 5 * 24 * time.Hour}, "a1 b1 "},
	}
	for _, c := range cases {
		if got := removed(c.o); got != c.want {
			t.Errorf("%s: removed %q, want %q", c.name, got, c.want)
		}
	}

	// A run that a later run resumed is kept unless forced; a running run
	// (a live pid: this test's) always.
	runs[0].NeededBy = []string{"a2"}
	runs[1].Status = RunRunning
	if got, want := removed(PruneOptions{Keep: 1}), "a2 "; got != want {
		t.Errorf("protected: removed %q, want %q", got, want)
	}
	if got, want := removed(PruneOptions{Keep: 1, Force: true}), "a1 a2 "; got != want {
		t.Errorf("forced: removed %q, want %q", got, want)
	}
	if got, want := removed(PruneOptions{MaxSize: 1}), "a2 a3 "; got != want {
		t.Errorf("protected, max size: removed %q, want %q", got, want)
	}
}

func TestRunStatusRunning(t *testing.T) {
	m := &Result{Stages: []*StageResult{{State: StateRunning, PID: os.Getpid()}}}
	if s := runStatus(m); s != RunRunning {
		t.Errorf("a stage with a live pid: %s, want running", s)
	}
	m.Stages[0].PID = 0
	if s := runStatus(m); s != RunKilled {
		t.Errorf("no live pid: %s, want killed", s)
	}
	m.Ended = time.Now()
	m.Stages[0].State = StateDone
	if s := runStatus(m); s != RunDone {
		t.Errorf("ended, every stage done: %s, want done", s)
	}
	m.Interrupted = true
	if s := runStatus(m); s != RunStopped {
		t.Errorf("interrupted: %s, want stopped", s)
	}
}

func TestParseAgeSize(t *testing.T) {
	for in, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "36h": 36 * time.Hour, "1.5d": 36 * time.Hour, "90m": 90 * time.Minute} {
		if got, err := ParseAge(in); err != nil || got != want {
			t.Errorf("ParseAge(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"7", "d", "-1d", "7x", ""} {
		if _, err := ParseAge(in); err == nil {
			t.Errorf("ParseAge(%q): no error", in)
		}
	}
	for in, want := range map[string]int64{"1GiB": 1 << 30, "1GB": 1e9, "500MB": 500e6, "200M": 200 << 20, "4096": 4096, "2 KiB": 2048, "1.5kib": 1536} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"1XB", "GiB", "-1G", ""} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q): no error", in)
		}
	}
}
