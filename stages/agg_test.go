package stages

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/runner/runnertest"
	"github.com/obz-dev/obz/wire"
)

// stageRun builds the stage from flags and runs it on input with raw
// output; it returns the output lines and Run's error.
func stageRun(t testing.TB, spec *runner.Spec, flags map[string]any, input string, mode runner.OutputMode) ([]string, string, error) {
	t.Helper()
	st, err := spec.New(runnertest.Options{Spec: spec, Flags: flags})
	if err != nil {
		t.Fatalf("%s.New(%v): %v", spec.Name, flags, err)
	}
	var out, errOut bytes.Buffer
	env := &runner.Env{Stdin: strings.NewReader(input), Stdout: &out, Stderr: &errOut, Output: mode}
	err = runner.Run(context.Background(), spec, st, env)
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines, errOut.String(), err
}

// framedInput writes payloads as frames of writer "up", ending with an EOF
// of the given kind (or none when kind is -1).
func framedInput(payloads []string, kind int) string {
	var b []byte
	for i, p := range payloads {
		b = wire.AppendFrame(b, &wire.Frame{Kind: wire.KindData, Writer: "up", Seq: uint64(i + 1), Payload: []byte(p)})
	}
	if kind >= 0 {
		b = wire.AppendFrame(b, &wire.Frame{Kind: wire.KindEOF, Writer: "up", Count: uint64(len(payloads)), EOF: wire.EOFKind(kind)})
	}
	return string(b)
}

func wantLines(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

const aggIn = `{"country":"DE","amount":10,"dev":"web","user":"a"}
{"country":"FR","amount":2.5,"dev":"ios","user":"b"}
{"country":"DE","amount":1.5,"dev":"ios","user":"a"}
{"amount":4,"dev":"web"}
{"country":null,"amount":null,"dev":"web","user":"c"}
{"country":"D\u0045","dev":"api","user":"d"}
`

func TestAggBasic(t *testing.T) {
	out, _, err := stageRun(t, &aggSpec, map[string]any{"by": []string{"country"}, "count": true,
		"sum": []string{"amount"}, "mean": []string{"amount"}, "min": []string{"amount"}, "max": []string{"amount"},
		"first": []string{"dev"}, "last": []string{"dev"}, "distinct": []string{"user"}, "collect": []string{"dev"}}, aggIn, runner.Raw)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out,
		`{"country":"DE","count":3,"sum_amount":11.5,"min_amount":1.5,"max_amount":10,"mean_amount":5.75,"first_dev":"web","last_dev":"api","distinct_user":2,"collect_dev":["web","ios","api"]}`,
		`{"country":"FR","count":1,"sum_amount":2.5,"min_amount":2.5,"max_amount":2.5,"mean_amount":2.5,"first_dev":"ios","last_dev":"ios","distinct_user":1,"collect_dev":["ios"]}`,
		`{"country":null,"count":2,"sum_amount":4,"min_amount":4,"max_amount":4,"mean_amount":4,"first_dev":"web","last_dev":"web","distinct_user":1,"collect_dev":["web","web"]}`)
}

func TestAggMultiKeyAndLists(t *testing.T) {
	out, _, err := stageRun(t, &aggSpec, map[string]any{"by": []string{"country,dev"}, "sum": []string{"amount", "x.y"}},
		`{"country":"DE","dev":"web","amount":1,"x":{"y":2}}
{"country":"DE","dev":"web","amount":2,"x":{"y":3}}
{"country":"DE","dev":"ios","amount":4}`, runner.Raw)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out,
		`{"country":"DE","dev":"web","sum_amount":3,"sum_x.y":5}`,
		`{"country":"DE","dev":"ios","sum_amount":4,"sum_x.y":0}`)
}

func TestAggNoKeyEmptyInput(t *testing.T) {
	out, _, err := stageRun(t, &aggSpec, map[string]any{"sum": []string{"amount"}, "count": true, "mean": []string{"amount"}}, "", runner.Raw)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out, `{"count":0,"sum_amount":0,"mean_amount":null}`)
	out, _, _ = stageRun(t, &aggSpec, map[string]any{"by": []string{"k"}}, "", runner.Raw)
	wantLines(t, out)
}

// A value of the wrong type sends the whole event to the error lane: it is
// counted nowhere, not even by count.
func TestAggTypeError(t *testing.T) {
	out, _, err := stageRun(t, &aggSpec, map[string]any{"count": true, "sum": []string{"amount"}},
		framedInput([]string{`{"amount":1}`, `{"amount":"12"}`, `{"amount":2}`, `[1]`}, int(wire.Natural)), runner.Framed)
	if err != nil {
		t.Fatal(err)
	}
	var nErr int
	for _, l := range out {
		var f wire.Frame
		if err := wire.Decode([]byte(l), &f); err != nil {
			t.Fatal(err)
		}
		switch f.Kind {
		case wire.KindError:
			nErr++
			if f.Err.Kind != "type" {
				t.Errorf("error kind %q", f.Err.Kind)
			}
		case wire.KindData:
			if string(f.Payload) != `{"count":2,"sum_amount":3}` {
				t.Errorf("result %s", f.Payload)
			}
		}
	}
	if nErr != 2 {
		t.Fatalf("%d error events, want 2:\n%s", nErr, strings.Join(out, "\n"))
	}
}

// A truncated input (no EOF from upstream) gets no final emit: the stage
// fails and writes a truncated EOF.
func TestAggTruncatedNoFinalEmit(t *testing.T) {
	out, _, err := stageRun(t, &aggSpec, map[string]any{"count": true}, framedInput([]string{`{"a":1}`, `{"a":2}`}, -1), runner.Framed)
	var broken *runner.BrokenInputError
	if !errors.As(err, &broken) {
		t.Fatalf("err = %v, want a BrokenInputError", err)
	}
	wantLines(t, out, `{"obz":1,"t":"eof","w":"agg","n":0,"kind":"truncated"}`)
}

// A stopped upstream gets the state so far, marked partial.
func TestAggStoppedPartial(t *testing.T) {
	out, _, err := stageRun(t, &aggSpec, map[string]any{"count": true}, framedInput([]string{`{"a":1}`, `{"a":2}`}, int(wire.Stopped)), runner.Raw)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out, `{"count":2,"partial":true}`)
}

func TestAggEvery(t *testing.T) {
	in := strings.Repeat(`{"k":"a"}`+"\n", 4) + `{"k":"b"}` + "\n"
	out, _, err := stageRun(t, &aggSpec, map[string]any{"by": []string{"k"}, "every": 2}, in, runner.Raw)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out, `{"k":"a","count":2}`, `{"k":"a","count":4}`, `{"k":"a","count":4}`, `{"k":"b","count":1}`)
	// No event since the last emit: the final state was already written.
	out, _, _ = stageRun(t, &aggSpec, map[string]any{"by": []string{"k"}, "every": 2}, strings.Repeat(`{"k":"a"}`+"\n", 4), runner.Raw)
	wantLines(t, out, `{"k":"a","count":2}`, `{"k":"a","count":4}`)
}

func TestAggSketches(t *testing.T) {
	var b strings.Builder
	for i := 1; i <= 10000; i++ {
		fmt.Fprintf(&b, `{"v":%d,"u":"user%d"}`+"\n", i, i%3000)
	}
	out, _, err := stageRun(t, &aggSpec, map[string]any{"p50": []string{"v"}, "p99": []string{"v"},
		"percentile": []string{"v:0.999"}, "approx-distinct": []string{"u"}}, b.String(), runner.Raw)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]float64
	if err := json.Unmarshal([]byte(out[0]), &got); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{"p50_v": 5000, "p99_v": 9900, "p99.9_v": 9990, "approx_distinct_u": 3000} {
		tol := ddAccuracy
		if name == "approx_distinct_u" {
			tol = 0.03 // HyperLogLog: ~0.8% standard error
		}
		if v := got[name]; math.Abs(v-want) > tol*want+1 {
			t.Errorf("%s = %v, want %v within %v", name, v, want, tol)
		}
	}
}

func TestAggUsage(t *testing.T) {
	for _, flags := range []map[string]any{
		{"window": time.Minute},
		{"window": time.Minute, "time-field": "ts", "processing-time": true},
		{"window": time.Minute, "time-field": "ts", "slide": 2 * time.Minute},
		{"every": 5, "window": time.Minute, "time-field": "ts"},
		{"percentile": []string{"v:2000"}},
		{"slide": time.Second},
	} {
		if _, err := aggSpec.New(runnertest.Options{Spec: &aggSpec, Flags: flags}); err == nil {
			t.Errorf("flags %v: no usage error", flags)
		}
	}
}

// TestAggOracle checks count/sum/mean/min/max by key against a plain
// computation over json.Unmarshal'd events.
func TestAggOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 7))
	var in strings.Builder
	type ref struct {
		n             int
		sum, min, max float64
	}
	oracle := map[string]*ref{}
	var buf []byte
	for i := 1; i <= 20000; i++ {
		buf = appendOrder(buf[:0], r, i, int64(1767225600+i))
		in.Write(buf)
		in.WriteByte('\n')
		var ev struct {
			Country string
			Amount  float64
		}
		if err := json.Unmarshal(buf, &ev); err != nil {
			t.Fatal(err)
		}
		o := oracle[ev.Country]
		if o == nil {
			o = &ref{min: math.Inf(1), max: math.Inf(-1)}
			oracle[ev.Country] = o
		}
		o.n++
		o.sum += ev.Amount
		o.min = math.Min(o.min, ev.Amount)
		o.max = math.Max(o.max, ev.Amount)
	}
	out, _, err := stageRun(t, &aggSpec, map[string]any{"by": []string{"country"}, "count": true, "sum": []string{"amount"},
		"mean": []string{"amount"}, "min": []string{"amount"}, "max": []string{"amount"}}, in.String(), runner.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(oracle) {
		t.Fatalf("%d groups, oracle has %d", len(out), len(oracle))
	}
	for _, l := range out {
		var g struct {
			Country             string
			Count               int
			Sum, Mean, Min, Max float64
			SumA                float64 `json:"sum_amount"`
			MeanA               float64 `json:"mean_amount"`
			MinA                float64 `json:"min_amount"`
			MaxA                float64 `json:"max_amount"`
		}
		if err := json.Unmarshal([]byte(l), &g); err != nil {
			t.Fatal(err)
		}
		o := oracle[g.Country]
		if o == nil {
			t.Fatalf("group %q not in the oracle", g.Country)
		}
		near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
		if g.Count != o.n || !near(g.SumA, o.sum) || !near(g.MeanA, o.sum/float64(o.n)) || g.MinA != o.min || g.MaxA != o.max {
			t.Errorf("%s: got %+v, oracle %+v", g.Country, g, *o)
		}
	}
}

// BenchmarkAgg1MEvents20Groups feeds 1M generated events (20 countries)
// straight to agg's Event and reports the live heap afterwards: memory
// follows groups, not events.
func BenchmarkAgg1MEvents20Groups(b *testing.B) {
	const n = 1_000_000
	b.ReportAllocs()
	var bytesIn int64
	for b.Loop() {
		st, err := aggSpec.New(runnertest.Options{Spec: &aggSpec, Flags: map[string]any{"by": []string{"country"}, "count": true, "sum": []string{"amount"}}})
		if err != nil {
			b.Fatal(err)
		}
		g := st.(*agg)
		em := runnertest.Emitter(io.Discard)
		r := rand.New(rand.NewPCG(1, 2))
		ev := wire.Frame{Kind: wire.KindData}
		for i := 1; i <= n; i++ {
			ev.Payload = appendOrder(ev.Payload[:0], r, i, 1767225600)
			bytesIn += int64(len(ev.Payload))
			if err := g.Event(&ev, em); err != nil {
				b.Fatal(err)
			}
		}
		if err := g.Finish(em, wire.Natural); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "live-heap-MiB")
		b.ReportMetric(float64(len(g.table.order)), "groups")
		runtime.KeepAlive(g)
	}
	b.SetBytes(bytesIn / int64(b.N))
}

func TestAggTumblingWindows(t *testing.T) {
	in := `{"ts":"2026-01-01T00:00:05Z","k":"a","v":1}
{"ts":"2026-01-01T00:00:50Z","k":"b","v":2}
{"ts":"2026-01-01T00:01:02Z","k":"a","v":3}
{"ts":"2026-01-01T00:00:58Z","k":"a","v":4}
{"ts":"2026-01-01T00:00:30Z","k":"a","v":5}
{"ts":1767225725,"k":"a","v":6}
{"ts":"2026-01-01T00:03:00Z","k":"a","v":7}
`
	out, _, err := stageRun(t, &aggSpec, map[string]any{"by": []string{"k"}, "sum": []string{"v"},
		"window": time.Minute, "time-field": "ts", "lateness": 5 * time.Second}, in, runner.Framed)
	if err != nil {
		t.Fatal(err)
	}
	var data, late []string
	for _, l := range out {
		var f wire.Frame
		wire.Decode([]byte(l), &f)
		switch f.Kind {
		case wire.KindData:
			data = append(data, string(f.Payload))
		case wire.KindError:
			late = append(late, f.Err.Kind+" "+string(f.Payload))
		}
	}
	wantLines(t, data,
		`{"window_start":"2026-01-01T00:00:00Z","window_end":"2026-01-01T00:01:00Z","k":"a","sum_v":10}`,
		`{"window_start":"2026-01-01T00:00:00Z","window_end":"2026-01-01T00:01:00Z","k":"b","sum_v":2}`,
		`{"window_start":"2026-01-01T00:01:00Z","window_end":"2026-01-01T00:02:00Z","k":"a","sum_v":3}`,
		`{"window_start":"2026-01-01T00:02:00Z","window_end":"2026-01-01T00:03:00Z","k":"a","sum_v":6}`,
		`{"window_start":"2026-01-01T00:03:00Z","window_end":"2026-01-01T00:04:00Z","k":"a","sum_v":7}`)
	// 00:00:58 and 00:00:30 arrive after 00:01:02, but their window
	// [00:00, 00:01) is still open: the watermark is 00:00:57.
	wantLines(t, late)
}

func TestAggHoppingWindows(t *testing.T) {
	in := `{"ts":0,"v":1}
{"ts":15,"v":2}
{"ts":25,"v":4}
`
	out, _, err := stageRun(t, &aggSpec, map[string]any{"sum": []string{"v"}, "count": true,
		"window": 20 * time.Second, "slide": 10 * time.Second, "time-field": "ts"}, in, runner.Raw)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out,
		`{"window_start":"1969-12-31T23:59:50Z","window_end":"1970-01-01T00:00:10Z","count":1,"sum_v":1}`,
		`{"window_start":"1970-01-01T00:00:00Z","window_end":"1970-01-01T00:00:20Z","count":2,"sum_v":3}`,
		`{"window_start":"1970-01-01T00:00:10Z","window_end":"1970-01-01T00:00:30Z","count":2,"sum_v":6}`,
		`{"window_start":"1970-01-01T00:00:20Z","window_end":"1970-01-01T00:00:40Z","count":1,"sum_v":4}`)
}

func TestAggWindowStoppedPartial(t *testing.T) {
	in := framedInput([]string{`{"ts":1,"v":1}`, `{"ts":61,"v":2}`}, int(wire.Stopped))
	out, _, err := stageRun(t, &aggSpec, map[string]any{"sum": []string{"v"}, "window": time.Minute, "time-field": "ts"}, in, runner.Raw)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out,
		`{"window_start":"1970-01-01T00:00:00Z","window_end":"1970-01-01T00:01:00Z","sum_v":1}`,
		`{"window_start":"1970-01-01T00:01:00Z","window_end":"1970-01-01T00:02:00Z","sum_v":2,"partial":true}`)
}

func TestAggWindowBadTime(t *testing.T) {
	out, _, err := stageRun(t, &aggSpec, map[string]any{"window": time.Minute, "time-field": "ts"},
		`{"ts":"yesterday"}`+"\n"+`{"x":1}`+"\n", runner.Framed)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(strings.Join(out, "\n"), `"kind":"type"`); n != 2 {
		t.Fatalf("%d type errors, want 2:\n%s", n, strings.Join(out, "\n"))
	}
}

// Processing-time windows close on the clock: on Tick (when the runner
// calls it), on the next event, and at the end.
func TestAggProcessingTime(t *testing.T) {
	st, err := aggSpec.New(runnertest.Options{Spec: &aggSpec, Flags: map[string]any{"by": []string{"k"}, "window": time.Minute, "processing-time": true}})
	if err != nil {
		t.Fatal(err)
	}
	g := st.(*agg)
	clock := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	g.win.now = func() time.Time { return clock }
	var out bytes.Buffer
	em := runnertest.Emitter(&out)
	ev := func(p string) {
		if err := g.Event(&wire.Frame{Kind: wire.KindData, Payload: []byte(p)}, em); err != nil {
			t.Fatal(err)
		}
	}
	ev(`{"k":"a"}`)
	ev(`{"k":"a"}`)
	if g.Interval() <= 0 {
		t.Fatal("no tick interval for processing time")
	}
	g.Tick(clock.Add(30*time.Second), em)
	em.Flush()
	if out.Len() != 0 {
		t.Fatalf("window emitted before its end: %s", out.String())
	}
	clock = clock.Add(55 * time.Second)
	g.Tick(clock, em)
	ev(`{"k":"b"}`)
	g.Finish(em, wire.Stopped)
	em.Flush()
	wantLines(t, strings.Split(strings.TrimSpace(out.String()), "\n"),
		`{"window_start":"2026-01-01T00:00:00Z","window_end":"2026-01-01T00:01:00Z","k":"a","count":2}`,
		`{"window_start":"2026-01-01T00:01:00Z","window_end":"2026-01-01T00:02:00Z","k":"b","count":1,"partial":true}`)
}
