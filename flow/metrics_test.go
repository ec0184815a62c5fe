package flow

import (
	"strings"
	"testing"
	"time"

	"github.com/obz-dev/obz/wire"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestCollectorErrorKindsAndBroken: error events by kind and broken input
// edges, from the stages' status, as metrics.
func TestCollectorErrorKindsAndBroken(t *testing.T) {
	st := &Stage{Name: "big", Argv: []string{"filter", "true"}}
	p := &proc{st: st, lifecycle: lifecycle{res: &StageResult{Name: "big", State: StateFailed, ExitCode: 1, Ended: time.Now(),
		Status: wire.Status{Errors: 3, ErrorKinds: map[string]uint64{"parse": 2, "expr": 1}, Broken: true}}}}
	sup := &supervisor{res: &Result{Flow: "f"}, procs: map[string]*proc{"big": p}, order: []*Stage{st}}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{sup})
	want := `
# HELP obz_stage_error_events_by_kind_total Error events a stage has written, forwarded or reported, by kind (parse, expr, late ...).
# TYPE obz_stage_error_events_by_kind_total counter
obz_stage_error_events_by_kind_total{flow="f",kind="expr",stage="big"} 1
obz_stage_error_events_by_kind_total{flow="f",kind="parse",stage="big"} 2
# HELP obz_stage_input_broken 1 when a stage ended because an input edge broke its contract (no EOF, a gap, a wrong count, a failed upstream).
# TYPE obz_stage_input_broken gauge
obz_stage_input_broken{flow="f",stage="big"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "obz_stage_error_events_by_kind_total", "obz_stage_input_broken"); err != nil {
		t.Error(err)
	}
}
