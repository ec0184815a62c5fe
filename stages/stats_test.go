package stages

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/obz-dev/obz/runner/runnertest"
	"github.com/obz-dev/obz/wire"
)

func statsRun(t *testing.T, flags map[string]any, in string) runnertest.Result {
	t.Helper()
	st, err := statsSpec.New(runnertest.Options{Spec: &statsSpec, Flags: flags})
	if err != nil {
		t.Fatal(err)
	}
	return runnertest.Run(t, &statsSpec, st, in, nil)
}

func TestStatsProfile(t *testing.T) {
	in := `{"id":1,"name":"b","v":2.5,"tags":["x"],"ok":true}
{"id":2,"name":"a","v":null,"nested":{"n":{"x":"}"}}}
{"id":3,"name":"b","v":-10,"s\u00e9":"\"q\""}
[1,2]
{"id":1e2,"name":7}
`
	res := statsRun(t, map[string]any{"json": true}, in)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if got := len(runnertest.Payloads(runnertest.Frames(t, res.Out))); got != 5 {
		t.Errorf("passed on %d events, want 5", got)
	}
	var r statsReport
	if err := json.Unmarshal([]byte(res.Stderr), &r); err != nil {
		t.Fatalf("%v: %s", err, res.Stderr)
	}
	if r.Events != 5 || r.NotObjects != 1 || r.At != "end of input" {
		t.Errorf("header %+v", r)
	}
	byName := map[string]fieldReport{}
	var names []string
	for _, f := range r.Fields {
		byName[f.Name] = f
		names = append(names, f.Name)
	}
	if got := strings.Join(names, ","); got != "id,name,v,tags,ok,nested,sé" {
		t.Errorf("fields %s", got)
	}
	id := byName["id"]
	if id.Count != 4 || id.Distinct != 4 || *id.Min != 1 || *id.Max != 100 || id.Types["number"] != 4 {
		t.Errorf("id %+v", id)
	}
	name := byName["name"]
	if name.Distinct != 3 || *name.MinString != "a" || *name.MaxString != "b" || *name.Min != 7 || name.Types["string"] != 3 || name.Types["number"] != 1 {
		t.Errorf("name %+v", name)
	}
	v := byName["v"]
	if v.Nulls != 1 || v.Count != 3 || *v.Min != -10 || *v.Max != 2.5 {
		t.Errorf("v %+v", v)
	}
	if f := byName["sé"]; *f.MinString != `"q"` {
		t.Errorf("escaped %+v", f)
	}
	if f := byName["nested"]; f.Types["object"] != 1 {
		t.Errorf("nested %+v", f)
	}
}

func TestStatsTable(t *testing.T) {
	res := statsRun(t, nil, "{\"a\":1,\"b\":\"x\"}\n{\"a\":3,\"b\":null}\n")
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	want := `[stats] end of input: 2 events, 2 fields
field  count  nulls  distinct  types             min  max
a      2      0      2         number            1    3
b      2      1      2         string 1, null 1  "x"  "x"
`
	if res.Stderr != want {
		t.Errorf("table\n%s\nwant\n%s", res.Stderr, want)
	}
}

func TestStatsDistinctEstimate(t *testing.T) {
	for _, n := range []int{10000, 10001, 50000, 300000} {
		var d distinctCount
		for i := range n {
			d.add(hashBytes(fmt.Appendf(nil, `"user-%d"`, i)))
			d.add(hashBytes(fmt.Appendf(nil, `"user-%d"`, i/2))) // repeats
		}
		got, est := d.estimate()
		if est != (n > distinctExact) {
			t.Errorf("%d: estimated %v", n, est)
		}
		if e := math.Abs(float64(got)-float64(n)) / float64(n); e > 0.04 {
			t.Errorf("%d distinct: got %d (%.1f%% off)", n, got, 100*e)
		}
	}
}

func TestStatsMaxFields(t *testing.T) {
	res := statsRun(t, map[string]any{"max-fields": 1, "json": true}, "{\"a\":1,\"b\":2}\n{\"c\":3}\n")
	var r statsReport
	if err := json.Unmarshal([]byte(res.Stderr), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Fields) != 1 || r.Untracked != 2 {
		t.Errorf("%+v", r)
	}
}

// A broken input still shows what was seen, marked incomplete.
func TestStatsBrokenInput(t *testing.T) {
	res := statsRun(t, nil, runnertest.Data("up", 1, `{"a":1}`))
	runnertest.WantBroken(t, res.Err, "ended without EOF")
	if !strings.HasPrefix(res.Stderr, "[stats] incomplete: 1 events") {
		t.Errorf("stderr %q", res.Stderr)
	}
	if eof := runnertest.LastEOF(t, runnertest.Frames(t, res.Out)); eof.EOF != wire.Truncated {
		t.Errorf("EOF %+v", eof)
	}
}

func TestEachFieldMalformed(t *testing.T) {
	for _, p := range []string{``, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":"x`, `{"a":[1,2}`, `"str"`, `{"a":1}`} {
		ok := eachField([]byte(p), func(k, v []byte) {})
		if ok != (p == `{"a":1}`) {
			t.Errorf("%q: %v", p, ok)
		}
	}
}

func BenchmarkStats(b *testing.B) {
	p := []byte(`{"id":12345,"ts":"2026-01-01T00:00:02Z","user":"u4821","country":"DE","device":"ios","amount":12.34,"tags":["web"],"msg":"order shipped to warehouse"}`)
	s := &statsStage{fields: map[string]*fieldStats{}, maxFields: 1000}
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		eachField(p, s.field)
	}
}
