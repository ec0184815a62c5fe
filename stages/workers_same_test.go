package stages

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/runner/runnertest"
)

// workersSameBytes runs the stage that build makes on in, once as one
// stage (Event) and once with each number of workers in ns (obz parallel
// -j N in one process), under --on-error fail if fail, and reports where a
// run with workers differs from the one stage's: its error, its output
// bytes, its stderr. An even number of workers gets every batch, an odd
// number only those the stage's goroutine is behind on. It returns the one
// stage's result.
func workersSameBytes(t *testing.T, name string, spec *runner.Spec, build func() runner.Stage, in string, fail bool, ns ...int) runnertest.Result {
	t.Helper()
	run := func(workers int) runnertest.Result {
		return runnertest.Run(t, spec, build(), in, func(e *runner.Env) {
			e.Workers = workers
			e.DealAll = workers%2 == 0
			if fail {
				e.OnError = runner.ErrorsFail
			}
		})
	}
	want := run(0)
	for _, n := range ns {
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
	return want
}
