package stages

import (
	"fmt"
	"strings"
	"testing"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/runner/runnertest"
)

// exprWorkersInput is bare NDJSON that filter and map answer on the fast
// path, on gojq, with errors, with 0, 1 and several outputs: a bad line, a
// value that is not an object, a number where a string is, many batches.
func exprWorkersInput(n int) string {
	var b strings.Builder
	for i := range n {
		switch {
		case i%503 == 7:
			b.WriteString("not json\n")
		case i%401 == 3:
			b.WriteString("[1,2]\n")
		case i%307 == 5:
			fmt.Fprintf(&b, `{"id":%d,"user":7,"amount":"x","tags":"t","msg":"o"}`+"\n", i)
		default:
			fmt.Fprintf(&b, `{"id":%d,"user":"U%d","amount":%d,"tags":[%s],"msg":"foo bar %d"}`+"\n",
				i, i%17, i%100, strings.Repeat(`"a",`, i%4)+`"z"`, i)
		}
	}
	return b.String()
}

// TestExprWorkersSameBytes: filter and map answered by workers on
// goroutines (obz parallel -j N) write byte for byte what one stage
// writes, the same error events and --stats counts, and under --on-error
// fail stop at the same event.
func TestExprWorkersSameBytes(t *testing.T) {
	in := exprWorkersInput(30000)
	for _, tt := range []struct {
		spec *runner.Spec
		expr string
	}{
		{&filterSpec, `.amount > 50`},                        // fast path
		{&filterSpec, `.user | ascii_downcase | test("u1")`}, // gojq
		{&filterSpec, `.tags[] == "a"`},                      // several outputs, one keep
		{&mapSpec, `{id, user}`},                             // fast path
		{&mapSpec, `.`},                                      // the event itself
		{&mapSpec, `.tags[]`},                                // 0..n outputs
		{&mapSpec, `{id, u: (.user | ascii_downcase), c: (.msg | indices("o") | length)}`}, // gojq
		{&mapSpec, `select(.amount > 90) | .id`},
		{&mapSpec, `if .id == 20000 then halt else .id end`}, // halt: the input ends there
	} {
		for _, fail := range []bool{false, true} {
			name := fmt.Sprintf("%s %s fail=%v", tt.spec.Name, tt.expr, fail)
			build := func() runner.Stage {
				return runnertest.New(t, tt.spec, []string{tt.expr}, map[string]any{"stats": true})
			}
			want := workersSameBytes(t, name, tt.spec, build, in, fail, 1, 2, 3)
			if !fail && !strings.Contains(want.Stderr, "events answered by the fast path") {
				t.Errorf("%s: no path counts on stderr: %q", name, want.Stderr)
			}
		}
	}
}
