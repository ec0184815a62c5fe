package report

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
	"time"
)

//go:embed report.html.tmpl
var pageText string

//go:embed report.css
var pageCSS string

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"count":   count,
	"bytes":   byteSize,
	"secs":    secs,
	"pct":     func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
	"chart":   chart,
	"latency": latency,
	"dur":     dur,
	"when":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000 UTC") },
	"css":     func() template.CSS { return template.CSS(pageCSS) },
	"state":   stateClass,
	"join":    strings.Join,
	"samples": func() int { return Samples },
}).Parse(pageText))

// view is what the template reads.
type view struct {
	*Run
	Title      string
	Verdict    string // ok, dead letters, failed, interrupted, running
	Class      string
	Duration   float64
	SourceOut  uint64
	SinkIn     uint64
	Errors     uint64
	Bottleneck *Stage // the stage that worked longest
	Graph      template.HTML
	Latency    template.HTML // the latency chart, empty when no stage measured any
	// EndToEnd is the sink whose events waited longest (p99 of the
	// end-to-end latency), nil when no sink measured any.
	EndToEnd  *Stage
	Kinds     []kindCount
	Rows      []eventRow
	Generated time.Time
}

type kindCount struct {
	Kind  string
	Count uint64
}

type eventRow struct {
	Time, Event, Stage, Detail string
}

// Write renders the run as one HTML page: no network access when opened, no
// script, its style inline.
func Write(w io.Writer, r *Run) error {
	v := &view{Run: r, Title: r.Manifest.Flow, Generated: time.Now()}
	if v.Title == "" {
		v.Title = "obz flow"
	}
	v.Duration = r.End.Sub(r.Start).Seconds()
	kinds := map[string]uint64{}
	var sinks, sources []*Stage
	consumed := map[string]bool{}
	for _, e := range r.Edges {
		consumed[e.From] = true
	}
	for _, s := range r.Stages {
		if len(s.Inputs) == 0 {
			sources = append(sources, s)
		}
		if !consumed[s.Name] {
			sinks = append(sinks, s)
		}
		if v.Bottleneck == nil || s.Status.BusySeconds() > v.Bottleneck.Status.BusySeconds() {
			v.Bottleneck = s
		}
	}
	for _, s := range sources {
		v.SourceOut += s.Status.Out
	}
	// Dead letters are counted where they end, at the sinks: a stage
	// passes on the error events of its inputs, so summing every stage
	// would count one several times.
	for _, s := range sinks {
		if h := s.Status.E2E; h != nil && h.N > 0 && (v.EndToEnd == nil || h.Quantile(0.99) > v.EndToEnd.Status.E2E.Quantile(0.99)) {
			v.EndToEnd = s
		}
		v.SinkIn += s.Status.In
		v.Errors += s.Status.Errors
		for k, n := range s.Status.ErrorKinds {
			kinds[k] += n
		}
	}
	for k, n := range kinds {
		v.Kinds = append(v.Kinds, kindCount{k, n})
	}
	sort.Slice(v.Kinds, func(i, j int) bool { return v.Kinds[i].Count > v.Kinds[j].Count })
	v.Verdict, v.Class = verdict(r)
	v.Graph = graphSVG(r)
	v.Latency = latencyChart(r.Stages)
	for _, e := range r.Events {
		v.Rows = append(v.Rows, eventRowOf(e, r.Start))
	}
	return page.Execute(w, v)
}

// verdict sums the run up in a word, as obz flow's exit status does.
func verdict(r *Run) (string, string) {
	m := r.Manifest
	switch {
	case m.Ended.IsZero():
		return "did not end", "bad"
	case m.Failed != "":
		return "failed at " + m.Failed, "bad"
	case m.Interrupted:
		return "interrupted", "warn"
	}
	for _, s := range r.Stages {
		if s.Status.Errors > 0 {
			return "done, with dead letters", "warn"
		}
	}
	return "done", "ok"
}

// eventRowOf flattens one line of events.ndjson: its time relative to the
// run's start, its event, its stage and the rest of its fields.
func eventRowOf(raw json.RawMessage, start time.Time) eventRow {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return eventRow{Detail: string(raw)}
	}
	row := eventRow{}
	if t, ok := m["time"].(string); ok {
		if tt, err := time.Parse(time.RFC3339Nano, t); err == nil {
			row.Time = "+" + secs(tt.Sub(start).Seconds())
		}
		delete(m, "time")
	}
	row.Event, _ = m["event"].(string)
	row.Stage, _ = m["stage"].(string)
	delete(m, "event")
	delete(m, "stage")
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		b, _ := json.Marshal(m[k])
		parts = append(parts, k+"="+string(b))
	}
	row.Detail = strings.Join(parts, " ")
	return row
}

// count writes n with thousands separators, or in k/M past a million.
func count(n uint64) string {
	if n >= 10_000_000 {
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	}
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func rate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.1fM/s", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.0fk/s", v/1e3)
	default:
		return fmt.Sprintf("%.0f/s", v)
	}
}

func secs(s float64) string {
	switch {
	case s >= 120:
		return fmt.Sprintf("%.0fm%02.0fs", s/60, float64(int(s)%60))
	case s >= 10:
		return fmt.Sprintf("%.1fs", s)
	case s >= 1:
		return fmt.Sprintf("%.2fs", s)
	default:
		return fmt.Sprintf("%.0fms", s*1000)
	}
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}
