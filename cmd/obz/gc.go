package main

import (
	"math"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// A stage on gojq's general path allocates a few KiB of short-lived
// garbage per event, and with Go's default GOGC=100 the collector takes
// about 30 % of the stage's CPU. A stage's live heap is small (a batch of
// input, one of output, the expression), so obz stages collect less often:
// GOGC=400, unless the user set GOGC. The safety net: a soft memory limit of
// 1 GiB (unless GOMEMLIMIT is set), and once the live heap passes 256 MiB
// (an agg of many keys, a join's reference) the stage goes back to Go's
// defaults, so that a big heap is not multiplied by 5, nor collected over
// and over at the limit. docs/performance.md has the figures.
const (
	stageGCPercent = 400
	stageMemLimit  = 1 << 30
	stageLiveMax   = 256 << 20
	gcCheckEvery   = time.Second
)

// gcTuning is the collector setting of a stage process.
type gcTuning struct {
	percent  bool // GOGC is ours to set
	limit    bool // GOMEMLIMIT is ours to set
	defaults bool // back to Go's defaults: the live heap grew big
}

// newGCTuning says what a stage process may set, given its environment.
func newGCTuning(getenv func(string) string) gcTuning {
	return gcTuning{percent: getenv("GOGC") == "", limit: getenv("GOMEMLIMIT") == ""}
}

// apply sets the collector for a live heap of live bytes; it reports
// whether there is anything left to watch.
func (g *gcTuning) apply(live uint64) bool {
	if !g.percent || g.defaults {
		return false
	}
	if live > stageLiveMax {
		g.defaults = true
		debug.SetGCPercent(100)
		if g.limit {
			debug.SetMemoryLimit(math.MaxInt64)
		}
		return false
	}
	return true
}

// tuneGC sets the collector of a stage process (see stageGCPercent) and
// watches its live heap until the stage ends (stop).
func tuneGC(getenv func(string) string) (stop func()) {
	g := newGCTuning(getenv)
	if !g.percent {
		return func() {}
	}
	debug.SetGCPercent(stageGCPercent)
	if g.limit {
		debug.SetMemoryLimit(stageMemLimit)
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(gcCheckEvery)
		defer t.Stop()
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		for {
			select {
			case <-t.C:
				metrics.Read(sample)
				if !g.apply(sample[0].Value.Uint64()) {
					return
				}
			case <-done:
				return
			}
		}
	}()
	return func() { close(done) }
}
