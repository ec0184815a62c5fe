package runner_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/runner/runnertest"
	"github.com/obz-dev/obz/wire"
)

// fileRecorder is a stage that takes input files (runner.FileInputs) and
// records each event with the name of the file it came from.
type fileRecorder struct {
	files  []string
	events []string
}

func (f *fileRecorder) InputFiles() []string { return f.files }

func (f *fileRecorder) Event(ev *wire.Frame, em *runner.Emitter) error {
	f.events = append(f.events, filepath.Base(em.InputFile())+":"+string(ev.Payload))
	return em.Emit(ev.Payload)
}

func (f *fileRecorder) Finish(*runner.Emitter, wire.EOFKind) error { return nil }

// TestRunFileInputs: the files are read one after another, in order, stdin
// for "-", each an edge of its own (bare seqs start again at 1 without
// being taken for duplicates); a file that cannot be opened breaks its
// edge, and the next file is read all the same.
func TestRunFileInputs(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.ndjson"), filepath.Join(dir, "b.ndjson")
	os.WriteFile(a, []byte("1\n2\n"), 0o644)
	os.WriteFile(b, []byte("3\n"), 0o644)
	st := &fileRecorder{files: []string{a, "-", b}}
	res := runnertest.Run(t, rtSpec, st, "9\n", func(e *runner.Env) { e.Output = runner.Raw })
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if got := strings.Join(st.events, " "); got != "a.ndjson:1 a.ndjson:2 .:9 b.ndjson:3" {
		t.Errorf("events %s", got)
	}
	if string(res.Out) != "1\n2\n9\n3\n" {
		t.Errorf("output %q", res.Out)
	}

	st = &fileRecorder{files: []string{filepath.Join(dir, "missing.ndjson"), b}}
	res = runnertest.Run(t, rtSpec, st, "", nil)
	var broken *runner.BrokenInputError
	if !errors.As(res.Err, &broken) || !strings.Contains(res.Err.Error(), "missing.ndjson: no such file") {
		t.Errorf("err = %v, want the missing file as a broken input", res.Err)
	}
	if strings.Join(st.events, " ") != "b.ndjson:3" {
		t.Errorf("events %v, want the next file read", st.events)
	}

	// A stage that reads files has no input edges besides them.
	st = &fileRecorder{files: []string{a}}
	res = runnertest.Run(t, rtSpec, st, "", func(e *runner.Env) { e.Inputs = []runner.Input{{Name: "fd 3", R: strings.NewReader("")}} })
	var ue *runner.UsageError
	if !errors.As(res.Err, &ue) {
		t.Errorf("err = %v, want a usage error", res.Err)
	}
}
