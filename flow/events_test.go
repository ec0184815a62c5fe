package flow

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/obz-dev/obz/wire"
)

// TestWideLatency: the wide stage_ended record sums up a stage's
// histograms as n, sum, p50, p90, p99 and max; a stage that measured none
// has no such key.
func TestWideLatency(t *testing.T) {
	now := time.Now()
	r := &StageResult{Name: "fil", State: StateDone, Started: now, Ended: now, Status: wire.Status{
		// 100 batches: 50 of at most 1 µs, 49 in (1 µs, 2 µs], one of 3 ms.
		Proc: &wire.Hist{N: 100, Sum: 0.003149, Max: 0.003, Buckets: []uint64{50, 49, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
	}}
	b, err := json.Marshal(wide(r, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Proc map[string]float64 `json:"proc"`
		E2E  *map[string]float64
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	p := m.Proc
	if p["n"] != 100 || p["sum_s"] != 0.003149 || p["max_s"] != 0.003 || p["p50_s"] != 0.000001 ||
		p["p90_s"] <= 0.000001 || p["p90_s"] > 0.000002 || p["p99_s"] <= 0.000001 || p["p99_s"] > 0.000002 {
		t.Errorf("proc = %v", p)
	}
	if m.E2E != nil {
		t.Errorf("e2e = %v, want none", *m.E2E)
	}
}
