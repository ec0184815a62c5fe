package stages

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/runner/runnertest"
	"github.com/obz-dev/obz/wire"
)

// aggWorkersKeys are user values that agg must group as jq compares them:
// unicode, escapes of one same string, numbers of one same value, null,
// and (nil) the field absent.
var aggWorkersKeys = []string{`"DE"`, `"D\u0045"`, `"Zürich"`, `"Z\u00fcrich"`, `"a\"b"`, `"tab\t"`,
	`1`, `1.0`, `-0`, `1e2`, `100`, `null`, ``, `true`, `{"b":1,"a":2}`, `{"a":2,"b":1}`, `[1,"x"]`}

// aggWorkersInput is bare NDJSON over many batches: keys of every kind, a
// bad line, a value that is not an object, a string where a number goes.
func aggWorkersInput(n int) string {
	var b strings.Builder
	for i := range n {
		k := aggWorkersKeys[(i*7+i/13)%len(aggWorkersKeys)]
		user := ""
		if k != "" {
			user = `"user":` + k + `,`
		}
		switch {
		case i%503 == 7:
			b.WriteString("not json\n")
		case i%401 == 3:
			b.WriteString("[1,2]\n")
		case i%307 == 5:
			fmt.Fprintf(&b, `{%s"id":%d,"amount":"x","tag":"t"}`+"\n", user, i)
		default:
			fmt.Fprintf(&b, `{"id":%d,%s"ts":%d,"country":"%c","amount":%d.%02d,"tag":"t%d","nest":{"v":%d}}`+"\n",
				i, user, 1767225600+i*7, 'A'+rune(i%3), i%100, i%7, i%11, i%5)
		}
	}
	return b.String()
}

// TestStatefulWorkersSameBytes: agg, top and dedupe with their events read by
// workers on goroutines (obz parallel -j N --by F -- STAGE) write byte for
// byte what one stage writes, with every schedule, and under --on-error
// fail stop at the same event.
func TestStatefulWorkersSameBytes(t *testing.T) {
	in := aggWorkersInput(20000)
	for _, tt := range []struct {
		spec  *runner.Spec
		flags map[string]any
	}{
		{&aggSpec, map[string]any{"by": []string{"user"}, "sum": []string{"amount"}, "count": true}},
		{&aggSpec, map[string]any{"by": []string{"user", "country"}, "first": []string{"tag"}, "last": []string{"amount"},
			"distinct": []string{"tag,nest"}, "collect": []string{"nest.v"}, "collect-max": 5}},
		{&aggSpec, map[string]any{"by": []string{"user"}, "mean": []string{"amount"}, "min": []string{"amount"}, "max": []string{"amount"},
			"p90": []string{"amount"}, "approx-distinct": []string{"tag"}}},
		{&aggSpec, map[string]any{"by": []string{"country"}, "every": 1000, "sum": []string{"amount"}}},
		{&aggSpec, map[string]any{"by": []string{"user"}, "window": time.Hour, "time-field": "ts", "count": true}},
		{&aggSpec, map[string]any{"sum": []string{"amount"}}},
		{&topSpec, map[string]any{"by": "amount", "group": "user", "n": 3}},
		{&topSpec, map[string]any{"by": "amount", "group": "country", "n": 2, "asc": true, "every": 777}},
		{&dedupeSpec, map[string]any{"key": []string{"user"}}},
		{&dedupeSpec, map[string]any{"key": []string{"user", "country"}, "last": 5}},
		{&dedupeSpec, map[string]any{"key": []string{"user"}, "within": 10 * time.Minute, "time-field": "ts"}},
		{&dedupeSpec, map[string]any{"last": 100}},
	} {
		for _, fail := range []bool{false, true} {
			name := fmt.Sprintf("%s %v fail=%v", tt.spec.Name, tt.flags, fail)
			build := func() runner.Stage { return runnertest.New(t, tt.spec, nil, tt.flags) }
			want := workersSameBytes(t, name, tt.spec, build, in, fail, 1, 2, 3, 8)
			if !fail && (want.Err != nil || len(want.Out) == 0) {
				t.Fatalf("%s: one stage: err %v, %d bytes", name, want.Err, len(want.Out))
			}
		}
	}
}

// TestAggWorkersFramed: on framed input, error events and watermarks of
// the input keep their place, a frame delivered twice counts once, and a
// truncated input emits no groups, as with one agg.
func TestAggWorkersFramed(t *testing.T) {
	var b strings.Builder
	seq := uint64(0)
	for i := range 5000 {
		seq++
		switch {
		case i%97 == 1:
			b.WriteString(runnertest.ErrFrame("up", seq, wire.ErrorInfo{Kind: "type", Msg: "bad"}, `{"x":1}`))
		case i%89 == 2:
			b.WriteString(runnertest.Data("up", seq, fmt.Sprintf(`{"user":"u%d","amount":%d}`, i%13, i)))
			b.WriteString(runnertest.Data("up", seq, fmt.Sprintf(`{"user":"u%d","amount":%d}`, i%13, i))) // again
		default:
			b.WriteString(runnertest.Data("up", seq, fmt.Sprintf(`{"user":"u%d","amount":%d}`, i%13, i)))
		}
		if i%1000 == 999 {
			w := wire.Frame{Kind: wire.KindWatermark, Writer: "up", TS: uint64(i) * 1e9}
			b.Write(wire.AppendFrame(nil, &w))
		}
	}
	body := b.String()
	for _, tt := range []struct {
		name, in string
	}{
		{"natural", body + runnertest.EOF("up", seq, wire.Natural)},
		{"stopped", body + runnertest.EOF("up", seq, wire.Stopped)},
		{"truncated", body},
		{"count mismatch", body + runnertest.EOF("up", seq+1, wire.Natural)},
	} {
		run := func(workers int) runnertest.Result {
			st := runnertest.New(t, &aggSpec, nil, map[string]any{"by": []string{"user"}, "sum": []string{"amount"}})
			return runnertest.Run(t, &aggSpec, st, tt.in, func(e *runner.Env) {
				e.Workers = workers
				// An even number of workers gets every batch, an odd
				// number only those the stage's goroutine is behind on.
				e.DealAll = workers%2 == 0
				e.Output = runner.Framed
			})
		}
		want := run(0)
		for _, n := range []int{1, 2, 4} {
			got := run(n)
			if fmt.Sprint(got.Err) != fmt.Sprint(want.Err) {
				t.Errorf("%s, %d workers: error %v, want %v", tt.name, n, got.Err, want.Err)
			}
			if !bytes.Equal(got.Out, want.Out) {
				t.Errorf("%s, %d workers: output differs from one agg's:\n%s\nwant\n%s", tt.name, n, got.Out, want.Out)
			}
		}
	}
}

// BenchmarkRunAggWorkers: agg --by user --sum amount --count over 100k
// framed events of 1000 users (as 1M events of obz gen's 10k), by one agg and with its events read by
// workers (go test -bench RunAgg -cpuprofile shows the hand-over).
func BenchmarkRunAggWorkers(b *testing.B) {
	var in []byte
	f := wire.Frame{Kind: wire.KindData, Writer: "read"}
	const events = 100000
	for i := 1; i <= events; i++ {
		f.Seq = uint64(i)
		f.Payload = fmt.Appendf(f.Payload[:0], `{"id":%d,"ts":"2026-01-01T00:00:02Z","user":"u%d","country":"DE","device":"ios","amount":%d.%02d,"tags":["web","vip"],"msg":"user session started from cache after timeout"}`,
			i, i*7919%1000, i%100, i%97)
		in = wire.AppendFrame(in, &f)
	}
	f = wire.Frame{Kind: wire.KindEOF, Writer: "read", Count: events}
	in = wire.AppendFrame(in, &f)
	flags := map[string]any{"by": []string{"user"}, "sum": []string{"amount"}, "count": true}
	for _, workers := range []int{0, 1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			src := bytes.NewReader(in)
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				src.Reset(in)
				st := runnertest.New(b, &aggSpec, nil, flags)
				env := &runner.Env{Stdin: src, Stdout: io.Discard, Stderr: io.Discard, Output: runner.Framed, Workers: workers}
				if err := runner.Run(context.Background(), &aggSpec, st, env); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
