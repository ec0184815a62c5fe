package flow

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/obz-dev/obz/wire"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The metrics obz flow serves on --metrics-addr. Counts come from each
// stage's status channel and are read at scrape time.
var (
	descIn       = prometheus.NewDesc("obz_stage_events_in_total", "Events (data and error) a stage has read.", []string{"flow", "stage"}, nil)
	descOut      = prometheus.NewDesc("obz_stage_events_out_total", "Data events a stage has written.", []string{"flow", "stage"}, nil)
	descErrors   = prometheus.NewDesc("obz_stage_error_events_total", "Error events a stage has written, forwarded or reported.", []string{"flow", "stage"}, nil)
	descBytesIn  = prometheus.NewDesc("obz_stage_bytes_in_total", "Bytes a stage has read.", []string{"flow", "stage"}, nil)
	descBytesOut = prometheus.NewDesc("obz_stage_bytes_out_total", "Bytes a stage has written.", []string{"flow", "stage"}, nil)
	descState    = prometheus.NewDesc("obz_stage_state", "1 for the state a stage is in (pending, running, done, stopped, failed, killed).", []string{"flow", "stage", "state"}, nil)
	descExit     = prometheus.NewDesc("obz_stage_exit_code", "Exit status of a stage that has ended.", []string{"flow", "stage"}, nil)
	descUp       = prometheus.NewDesc("obz_flow_running", "1 while the flow runs.", []string{"flow"}, nil)
	descKinds    = prometheus.NewDesc("obz_stage_error_events_by_kind_total", "Error events a stage has written, forwarded or reported, by kind (parse, expr, late ...).", []string{"flow", "stage", "kind"}, nil)
	descLiveness = prometheus.NewDesc("obz_stage_liveness", "1 for what a running stage's progress says: live, stalled (input to work on, no progress for obz flow --stall-after) or backpressured (blocked writing for that long).", []string{"flow", "stage", "liveness"}, nil)
	descStalls   = prometheus.NewDesc("obz_stage_stalls_total", "Times a stage was reported stalled or backpressured.", []string{"flow", "stage"}, nil)
	descProc     = prometheus.NewDesc("obz_stage_batch_processing_seconds", "Processing time of a stage's input batches (up to 2048 frames each), the time blocked writing output left out.", []string{"flow", "stage"}, nil)
	descE2E      = prometheus.NewDesc("obz_stage_end_to_end_latency_seconds", "End-to-end latency of the events a stage processed that carry a source time (the first event of each of the source's output batches, and what derives from it): from the source's emitting it to this stage's having processed it.", []string{"flow", "stage"}, nil)
	descBroken   = prometheus.NewDesc("obz_stage_input_broken", "1 when a stage ended because an input edge broke its contract (no EOF, a gap, a wrong count, a failed upstream).", []string{"flow", "stage"}, nil)
)

// collector turns the supervisor's view of its stages into metrics.
type collector struct{ s *supervisor }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descIn, descOut, descErrors, descBytesIn, descBytesOut, descState, descExit, descUp, descKinds, descLiveness, descStalls, descProc, descE2E, descBroken} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	flow := c.s.res.Flow
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 1, flow)
	for _, st := range c.s.order {
		p := c.s.procs[st.Name]
		p.mu.Lock()
		r := *p.res
		live, stalls := p.stall.state, p.stall.stalls
		p.mu.Unlock()
		counter := func(d *prometheus.Desc, v uint64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), flow, st.Name)
		}
		counter(descIn, r.Status.In)
		counter(descOut, r.Status.Out)
		counter(descErrors, r.Status.Errors)
		counter(descBytesIn, r.Status.BytesIn)
		counter(descBytesOut, r.Status.BytesOut)
		for state := StatePending; state <= StateKilled; state++ {
			v := 0.0
			if r.State == state {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, v, flow, st.Name, state.String())
		}
		if r.State == StateRunning {
			for l := Live; l <= Backpressured; l++ {
				v := 0.0
				if l == live {
					v = 1
				}
				ch <- prometheus.MustNewConstMetric(descLiveness, prometheus.GaugeValue, v, flow, st.Name, l.String())
			}
		}
		ch <- prometheus.MustNewConstMetric(descStalls, prometheus.CounterValue, float64(stalls), flow, st.Name)
		histogram(ch, descProc, r.Status.Proc, flow, st.Name)
		histogram(ch, descE2E, r.Status.E2E, flow, st.Name)
		for kind, n := range r.Status.ErrorKinds {
			ch <- prometheus.MustNewConstMetric(descKinds, prometheus.CounterValue, float64(n), flow, st.Name, kind)
		}
		if !r.Ended.IsZero() {
			ch <- prometheus.MustNewConstMetric(descExit, prometheus.GaugeValue, float64(r.ExitCode), flow, st.Name)
			broken := 0.0
			if r.Status.Broken {
				broken = 1
			}
			ch <- prometheus.MustNewConstMetric(descBroken, prometheus.GaugeValue, broken, flow, st.Name)
		}
	}
}

// histogram sends h as a Prometheus histogram with the fixed buckets of
// wire.Hist (nothing before a stage reported one).
func histogram(ch chan<- prometheus.Metric, d *prometheus.Desc, h *wire.Hist, labels ...string) {
	if h == nil {
		return
	}
	buckets := make(map[float64]uint64, wire.HistBuckets-1)
	var cum uint64
	for i := range wire.HistBuckets - 1 {
		if i < len(h.Buckets) {
			cum += h.Buckets[i]
		}
		buckets[wire.HistBound(i)] = cum
	}
	ch <- prometheus.MustNewConstHistogram(d, h.N, h.Sum, buckets, labels...)
}

// serveMetrics listens on addr and serves /metrics until the returned stop
// func is called. It returns the address actually bound (for ":0").
func serveMetrics(addr string, s *supervisor) (string, func(), error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collector{s}); err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("metrics address %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.say("obz flow: metrics server: %v", err)
		}
	}()
	return ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}
