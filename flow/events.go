package flow

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/obz-dev/obz/wire"
)

// EventsFile is the run directory's record of what happened in the run, one
// JSON object per line: the flow's start and end, each stage's state
// changes with their time, and when a stage ends, one wide record of it
// (docs/topology.md, "Run events").
const EventsFile = "events.ndjson"

// eventLog writes events.ndjson. It is safe for concurrent use and a nil
// *eventLog records nothing. A line is written whole or not at all: each is
// flushed as it is recorded (a run makes a few lines per stage).
type eventLog struct {
	mu  sync.Mutex
	f   *os.File
	w   *bufio.Writer
	err error
}

func openEventLog(runDir string) (*eventLog, error) {
	f, err := os.OpenFile(filepath.Join(runDir, EventsFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &eventLog{f: f, w: bufio.NewWriter(f)}, nil
}

// record writes one event: its time, its name, the stage it is about ("" for
// the flow) and fields.
func (l *eventLog) record(event, stage string, fields map[string]any) {
	if l == nil {
		return
	}
	rec := make(map[string]any, len(fields)+3)
	for k, v := range fields {
		rec[k] = v
	}
	rec["time"] = time.Now().UTC().Format(time.RFC3339Nano)
	rec["event"] = event
	if stage != "" {
		rec["stage"] = stage
	}
	b, err := json.Marshal(rec)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return
	}
	if err == nil {
		l.w.Write(append(b, '\n'))
		err = l.w.Flush()
	}
	l.err = err
}

// close closes the file and returns the first error the log met.
func (l *eventLog) close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.f.Close(); l.err == nil {
		l.err = err
	}
	return l.err
}

// wide is a stage's record when it ends: everything the run knows of it.
func wide(r *StageResult, runDir string) map[string]any {
	st := r.Status
	m := map[string]any{
		"state":       r.State.String(),
		"exit_code":   r.ExitCode,
		"in":          st.In,
		"out":         st.Out,
		"errors":      st.Errors,
		"bytes_in":    st.BytesIn,
		"bytes_out":   st.BytesOut,
		"elapsed_s":   st.Elapsed,
		"wait_in_s":   st.WaitIn,
		"wait_out_s":  st.WaitOut,
		"busy":        st.Busy(),
		"busy_s":      st.BusySeconds(),
		"restarts":    r.Restarts,
		"command":     r.Argv,
		"started":     r.Started.Format(time.RFC3339Nano),
		"duration_s":  r.Ended.Sub(r.Started).Seconds(),
		"broken_edge": st.Broken,
	}
	if st.Proc != nil {
		m["proc"] = percentiles(st.Proc)
	}
	if st.E2E != nil {
		m["e2e"] = percentiles(st.E2E)
	}
	if len(st.ErrorKinds) > 0 {
		m["error_kinds"] = st.ErrorKinds
	}
	if st.Duplicates > 0 {
		m["duplicates"] = st.Duplicates
	}
	if r.Cause != "" {
		m["cause"] = r.Cause
	}
	if st.Error != "" {
		m["error"] = st.Error
	}
	if r.Journal != "" {
		if fi, err := os.Stat(filepath.Join(runDir, r.Journal)); err == nil {
			m["journal_bytes"] = fi.Size()
		}
	}
	return m
}

// percentiles summarizes a histogram of the status channel for the wide
// record: how many, the total, and p50, p90, p99 and max, in seconds.
func percentiles(h *wire.Hist) map[string]any {
	us := func(s float64) float64 { return math.Round(s*1e6) / 1e6 }
	return map[string]any{
		"n":     h.N,
		"sum_s": us(h.Sum),
		"p50_s": us(h.Quantile(0.5)),
		"p90_s": us(h.Quantile(0.9)),
		"p99_s": us(h.Quantile(0.99)),
		"max_s": us(h.Max),
	}
}
