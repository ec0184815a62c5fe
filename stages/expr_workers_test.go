package stages

import (
	"bytes"
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
			run := func(workers int) runnertest.Result {
				st := runnertest.New(t, tt.spec, []string{tt.expr}, map[string]any{"stats": true})
				return runnertest.Run(t, tt.spec, st, in, func(e *runner.Env) {
					e.Workers = workers
					// An even number of workers gets every batch, an odd
					// number only those the stage's goroutine is behind on.
					e.DealAll = workers%2 == 0
					if fail {
						e.OnError = runner.ErrorsFail
					}
				})
			}
			want := run(0)
			for _, n := range []int{1, 2, 3} {
				got := run(n)
				if fmt.Sprint(got.Err) != fmt.Sprint(want.Err) {
					t.Errorf("%s, %d workers: error %v, want %v", name, n, got.Err, want.Err)
				}
				if !bytes.Equal(got.Out, want.Out) {
					t.Errorf("%s, %d workers: output differs from one stage's (%d bytes, want %d)", name, n, len(got.Out), len(want.Out))
				}
				if got.Stderr != want.Stderr {
					t.Errorf("%s, %d workers: stderr\n%s\nwant\n%s", name, n, got.Stderr, want.Stderr)
				}
			}
			if !fail && !strings.Contains(want.Stderr, "events answered by the fast path") {
				t.Errorf("%s: no path counts on stderr: %q", name, want.Stderr)
			}
		}
	}
}
