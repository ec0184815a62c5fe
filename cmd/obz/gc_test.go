package main

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestGCTuning(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	if g := newGCTuning(env(map[string]string{"GOGC": "100"})); g.percent || !g.limit {
		t.Errorf("GOGC set: %+v, want the percent left alone", g)
	}
	if g := newGCTuning(env(map[string]string{"GOMEMLIMIT": "2GiB"})); !g.percent || g.limit {
		t.Errorf("GOMEMLIMIT set: %+v, want the limit left alone", g)
	}

	stop := tuneGC(env(nil))
	stop()
	if p := debug.SetGCPercent(100); p != stageGCPercent {
		t.Errorf("GC percent %d, want %d", p, stageGCPercent)
	}
	if l := debug.SetMemoryLimit(-1); l != stageMemLimit {
		t.Errorf("memory limit %d, want %d", l, stageMemLimit)
	}

	// A big live heap brings Go's defaults back, once.
	debug.SetGCPercent(stageGCPercent)
	debug.SetMemoryLimit(stageMemLimit)
	g := newGCTuning(env(nil))
	if !g.apply(stageLiveMax / 2) {
		t.Error("a small live heap stopped the watch")
	}
	if p := debug.SetGCPercent(-1); p != stageGCPercent {
		t.Errorf("a small live heap changed the percent to %d", p)
	}
	debug.SetGCPercent(stageGCPercent)
	if g.apply(stageLiveMax + 1) {
		t.Error("a big live heap did not end the watch")
	}
	if p := debug.SetGCPercent(-1); p != 100 {
		t.Errorf("after a big live heap: GC percent %d, want 100", p)
	}
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		t.Errorf("after a big live heap: memory limit %d, want none", l)
	}
}
