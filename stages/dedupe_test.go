package stages

import (
	"strings"
	"testing"
	"time"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/runner/runnertest"
)

func init() {
	if _, ok := conformance["dedupe"]; !ok {
		conformance["dedupe"] = confCase{} // distinct events pass through
	}
}

func TestDedupeKeyLRU(t *testing.T) {
	in := `{"k":"a","n":1}
{"k":"b","n":2}
{"k":"a","n":3}
{"k":"c","n":4}
{"k":"b","n":5}
{"k":"\u0061","n":6}
{"n":7}
{"k":null,"n":8}
`
	out, stderr, err := stageRun(t, &dedupeSpec, map[string]any{"key": []string{"k"}, "last": 2}, in, runner.Raw)
	if err != nil {
		t.Fatal(err)
	}
	// LRU of 2: a, b; a repeats (a is recent); c evicts b; b passes and evicts a.
	wantLines(t, out, `{"k":"a","n":1}`, `{"k":"b","n":2}`, `{"k":"c","n":4}`, `{"k":"b","n":5}`, `{"k":"\u0061","n":6}`, `{"n":7}`)
	if !strings.Contains(stderr, "dropped 2 repeat(s) of 8 events") {
		t.Fatalf("stderr %q", stderr)
	}
}

func TestDedupeWholeEvent(t *testing.T) {
	out, _, err := stageRun(t, &dedupeSpec, nil, "{\"a\":1}\n{ \"a\" : 1 }\n[1]\n[1]\n", runner.Raw)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out, `{"a":1}`, `[1]`)
}

func TestDedupeWithin(t *testing.T) {
	in := `{"k":"a","ts":"2026-01-01T00:00:00Z"}
{"k":"a","ts":"2026-01-01T00:00:30Z"}
{"k":"a","ts":"2026-01-01T00:01:00Z"}
{"k":"b","ts":"2026-01-01T00:01:10Z"}
{"k":"a","ts":"2026-01-01T00:01:20Z"}
{"k":"b","ts":"2026-01-01T00:03:00Z"}
{"k":"a","ts":"bad"}
`
	out, _, err := stageRun(t, &dedupeSpec, map[string]any{"key": []string{"k"}, "within": time.Minute, "time-field": "ts"}, in, runner.Framed)
	if err != nil {
		t.Fatal(err)
	}
	var data []string
	nErr := 0
	for _, l := range out {
		if strings.Contains(l, `"t":"data"`) {
			data = append(data, l[strings.Index(l, `"d":`)+4:len(l)-1])
		}
		if strings.Contains(l, `"kind":"type"`) {
			nErr++
		}
	}
	wantLines(t, data, `{"k":"a","ts":"2026-01-01T00:00:00Z"}`, `{"k":"a","ts":"2026-01-01T00:01:00Z"}`,
		`{"k":"b","ts":"2026-01-01T00:01:10Z"}`, `{"k":"b","ts":"2026-01-01T00:03:00Z"}`)
	if nErr != 1 {
		t.Fatalf("%d type errors, want 1", nErr)
	}
}

func TestDedupeUsage(t *testing.T) {
	for _, flags := range []map[string]any{{"within": time.Minute}, {"time-field": "ts"}, {"last": -1}} {
		if _, err := dedupeSpec.New(runnertest.Options{Spec: &dedupeSpec, Flags: flags}); err == nil {
			t.Errorf("flags %v: no usage error", flags)
		}
	}
}
