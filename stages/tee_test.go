package stages

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/runner/runnertest"
	"github.com/obz-dev/obz/wire"
)

func teeRun(t *testing.T, file string, flags map[string]any, in string) runnertest.Result {
	t.Helper()
	st, err := teeSpec.New(runnertest.Options{Spec: &teeSpec, Argv: []string{file}, Flags: flags})
	if err != nil {
		t.Fatal(err)
	}
	return runnertest.Run(t, &teeSpec, st, in, nil)
}

func teeReadFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestTeeCopiesAndPassesThrough(t *testing.T) {
	file := filepath.Join(t.TempDir(), "copy.ndjson")
	os.WriteFile(file, []byte("old\n"), 0o644)
	res := teeRun(t, file, nil, "{\"a\":1}\nnot json\n{\"a\": 2}\n")
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	fs := runnertest.Frames(t, res.Out)
	if got := strings.Join(runnertest.Payloads(fs), " "); got != `{"a":1} {"a": 2}` {
		t.Errorf("passed on %s", got)
	}
	if fs[1].Kind != wire.KindError || string(fs[1].Err.Raw) != "not json" {
		t.Errorf("error event not passed on: %+v", fs[1])
	}
	if got := teeReadFile(t, file); got != "{\"a\":1}\n{\"a\": 2}\n" {
		t.Errorf("copy %q", got)
	}
	if ents, _ := os.ReadDir(filepath.Dir(file)); len(ents) != 1 {
		t.Errorf("left %d files behind", len(ents))
	}
}

func TestTeeAppend(t *testing.T) {
	file := filepath.Join(t.TempDir(), "log.ndjson")
	for _, in := range []string{"{\"a\":1}\n", "{\"a\":2}\n"} {
		if res := teeRun(t, file, map[string]any{"append": true}, in); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	if got := teeReadFile(t, file); got != "{\"a\":1}\n{\"a\":2}\n" {
		t.Errorf("appended %q", got)
	}
}

// A broken input leaves FILE as it was, and appends nothing.
func TestTeeBrokenInput(t *testing.T) {
	in := runnertest.Data("up", 1, `{"a":1}`)
	for _, app := range []bool{false, true} {
		file := filepath.Join(t.TempDir(), "copy.ndjson")
		os.WriteFile(file, []byte("old\n"), 0o644)
		res := teeRun(t, file, map[string]any{"append": app}, in)
		runnertest.WantBroken(t, res.Err, "ended without EOF")
		if got := teeReadFile(t, file); got != "old\n" {
			t.Errorf("append %v: FILE is %q, want it unchanged", app, got)
		}
		if ents, _ := os.ReadDir(filepath.Dir(file)); len(ents) != 1 {
			t.Errorf("append %v: left %d files behind", app, len(ents))
		}
	}
}

// A stop writes FILE.partial and leaves FILE alone.
func TestTeeStopped(t *testing.T) {
	file := filepath.Join(t.TempDir(), "copy.ndjson")
	st, _ := teeSpec.New(runnertest.Options{Spec: &teeSpec, Argv: []string{file}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, stderr strings.Builder
	err := runner.Run(ctx, &teeSpec, st, &runner.Env{Stdin: strings.NewReader("{\"a\":1}\n"), Stdout: &out, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file); err == nil {
		t.Error("FILE written after a stop")
	}
	if got := teeReadFile(t, file+".partial"); got != "{\"a\":1}\n" {
		t.Errorf("partial %q", got)
	}
	if !strings.Contains(stderr.String(), "copy.ndjson.partial holds the 1 events") {
		t.Errorf("stderr %q", stderr.String())
	}
}

func TestTeeCannotWrite(t *testing.T) {
	res := teeRun(t, filepath.Join(t.TempDir(), "no", "such", "dir.ndjson"), nil, "{\"a\":1}\n")
	if res.Err == nil || !strings.Contains(res.Err.Error(), "cannot write") {
		t.Fatalf("Run = %v", res.Err)
	}
	if eof := runnertest.LastEOF(t, runnertest.Frames(t, res.Out)); eof.EOF != wire.Poison || eof.Count != 0 {
		t.Errorf("EOF %+v: nothing should pass before the file is open", eof)
	}
}

func TestTeeUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"a", "b"}, {"-"}, {t.TempDir()}} {
		_, err := teeSpec.New(runnertest.Options{Spec: &teeSpec, Argv: args})
		if _, ok := err.(*runner.UsageError); !ok {
			t.Errorf("tee %q: %v, want a usage error", args, err)
		}
	}
}
