package flow

import (
	"fmt"
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

// TestCollectorLatency: the stages' histograms of processing time and
// end-to-end latency are served as Prometheus histograms, cumulative,
// labelled by flow and stage; a stage that measured none has none.
func TestCollectorLatency(t *testing.T) {
	src := &Stage{Name: "src", Argv: []string{"gen"}}
	fil := &Stage{Name: "fil", Argv: []string{"filter", "true"}}
	procs := map[string]*proc{
		"src": {st: src, lifecycle: lifecycle{res: &StageResult{Name: "src", State: StateRunning}}},
		"fil": {st: fil, lifecycle: lifecycle{res: &StageResult{Name: "fil", State: StateRunning, Status: wire.Status{
			Proc: &wire.Hist{N: 3, Sum: 0.0003, Max: 0.0002, Buckets: []uint64{0, 0, 0, 0, 0, 0, 1, 2}},
			E2E:  &wire.Hist{N: 2, Sum: 0.02, Max: 0.015, Buckets: []uint64{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1}},
		}}}},
	}
	sup := &supervisor{res: &Result{Flow: "f"}, procs: procs, order: []*Stage{src, fil}}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{sup})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, mf := range mfs {
		if !strings.HasSuffix(mf.GetName(), "_seconds") {
			continue
		}
		for _, m := range mf.GetMetric() {
			h := m.GetHistogram()
			var le []string
			for _, b := range h.GetBucket() {
				if b.GetCumulativeCount() > 0 && len(le) < 2 {
					le = append(le, fmt.Sprintf("%g:%d", b.GetUpperBound(), b.GetCumulativeCount()))
				}
			}
			labels := ""
			for _, l := range m.GetLabel() {
				labels += l.GetName() + "=" + l.GetValue() + " "
			}
			got[mf.GetName()] = fmt.Sprintf("%s%s n %d sum %g buckets %d first %v", labels, mf.GetType(), h.GetSampleCount(), h.GetSampleSum(), len(h.GetBucket()), le)
		}
	}
	want := map[string]string{
		"obz_stage_batch_processing_seconds":   "flow=f stage=fil HISTOGRAM n 3 sum 0.0003 buckets 31 first [6.4e-05:1 0.000128:3]",
		"obz_stage_end_to_end_latency_seconds": "flow=f stage=fil HISTOGRAM n 2 sum 0.02 buckets 31 first [0.004096:1 0.008192:1]",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("histograms:\n got %v\nwant %v", got, want)
	}
}
