package stages

import (
	"strings"
	"testing"

	"github.com/obz-dev/obz/runner"
)

func init() {
	if _, ok := conformance["top"]; !ok {
		// Every event has a = 1 or 3 ...: top by a passes them back best first.
		conformance["top"] = confCase{flags: map[string]any{"by": "a", "rank-field": ""}, atEnd: true,
			want: func(in []string) []string {
				out := append([]string(nil), in...)
				for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
					out[i], out[j] = out[j], out[i]
				}
				return out
			}}
	}
}

const topIn = `{"id":1,"g":"a","v":5}
{"id":2,"g":"b","v":7}
{"id":3,"g":"a","v":9}
{"id":4,"g":"a","v":5}
{"id":5,"g":"b","v":1,"rank":"x"}
{"id":6,"g":"a","v":1}
`

func TestTop(t *testing.T) {
	out, _, err := stageRun(t, &topSpec, map[string]any{"n": 3, "by": "v"}, topIn, runner.Raw)
	if err != nil {
		t.Fatal(err)
	}
	// Ties: id 1 came before id 4.
	wantLines(t, out, `{"id":3,"g":"a","v":9,"rank":1}`, `{"id":2,"g":"b","v":7,"rank":2}`, `{"id":1,"g":"a","v":5,"rank":3}`)
}

func TestTopGroupAsc(t *testing.T) {
	out, _, err := stageRun(t, &topSpec, map[string]any{"n": 2, "by": "v", "group": "g", "asc": true}, topIn, runner.Raw)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out, `{"id":6,"g":"a","v":1,"rank":1}`, `{"id":1,"g":"a","v":5,"rank":2}`,
		`{"id":5,"g":"b","v":1,"rank":1}`, `{"id":2,"g":"b","v":7,"rank":2}`)
}

func TestTopEveryAndRaw(t *testing.T) {
	out, _, err := stageRun(t, &topSpec, map[string]any{"n": 1, "by": "v", "every": 3, "rank-field": ""}, topIn, runner.Raw)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out, `{"id":3,"g":"a","v":9}`, `{"id":3,"g":"a","v":9}`)
}

func TestTopTypeError(t *testing.T) {
	out, _, err := stageRun(t, &topSpec, map[string]any{"by": "v"}, "{\"v\":\"1\"}\n{}\n{ \"v\" : 2 }\n{}\n", runner.Framed)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(out, "\n")
	if strings.Count(all, `"kind":"type"`) != 3 || !strings.Contains(all, `"d":{ "v" : 2 ,"rank":1}`) {
		t.Fatalf("got\n%s", all)
	}
}

func TestTopWithRank(t *testing.T) {
	tp := &top{rankField: "rank", rankKey: []byte(`"rank":`)}
	for in, want := range map[string]string{
		`{}`: `{"rank":1}`, `{ }`: `{ "rank":1}`, `{"rank":5}`: `{"rank":1}`, `{"a":1,"rank":5}`: `{"a":1,"rank":1}`,
		`{"rank":5,"a":1}`: `{"a":1,"rank":1}`, `{"a":1, "rank" : 5 , "b":2}`: `{"a":1,  "b":2,"rank":1}`,
	} {
		if got := string(tp.withRank([]byte(in), 1)); got != want {
			t.Errorf("withRank(%s) = %s, want %s", in, got, want)
		}
	}
}
