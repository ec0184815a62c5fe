package stages

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	jrnl "github.com/obz-dev/obz/journal"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/runner/runnertest"
	"github.com/obz-dev/obz/wire"
)

// framesOf is a Recorded over a framed stream (a journal's content).
type framesOf struct{ r *wire.Reader }

func recordedOf(stream string) *framesOf {
	return &framesOf{r: wire.NewReader(strings.NewReader(stream), 0)}
}

func (f *framesOf) Next(fr *wire.Frame) error { return f.r.Next(fr) }

// runGen runs gen with the given flags, resuming from rec if not nil.
func runGen(t *testing.T, flags map[string]any, rec runner.Recorded) (string, error) {
	t.Helper()
	st, err := genSpec.New(runnertest.Options{Spec: &genSpec, Flags: flags})
	if err != nil {
		t.Fatal(err)
	}
	var out, stderr bytes.Buffer
	err = runner.Run(context.Background(), &genSpec, st, &runner.Env{Stdout: &out, Stderr: &stderr, Resume: rec})
	return out.String(), err
}

// cut returns the first n lines of a stream.
func cut(stream string, n int) string {
	lines := strings.SplitAfter(stream, "\n")
	return strings.Join(lines[:n], "")
}

// TestSourceResume: a resumed source checks its first events against the
// record and goes on: the output is the uninterrupted one, byte for byte,
// whatever the record ended with (a kill: no EOF; a stop: a stopped EOF).
func TestSourceResume(t *testing.T) {
	flags := map[string]any{"count": 50, "seed": 7}
	want, err := runGen(t, flags, nil)
	if err != nil {
		t.Fatal(err)
	}
	stopped := cut(want, 20) + string(wire.AppendFrame(nil, &wire.Frame{Kind: wire.KindEOF, Writer: "gen", Count: 20, EOF: wire.Stopped}))
	for name, rec := range map[string]string{"killed": cut(want, 20), "stopped": stopped, "empty": "", "finished": want} {
		got, err := runGen(t, flags, recordedOf(rec))
		if err != nil || got != want {
			t.Errorf("%s: err %v, output equal %v", name, err, got == want)
		}
	}
}

// TestSourceResumeChanged: a source that does not re-produce its record
// fails, naming the seq, and does not go on.
func TestSourceResumeChanged(t *testing.T) {
	rec, _ := runGen(t, map[string]any{"count": 50, "seed": 7}, nil)
	for name, c := range map[string]struct {
		flags map[string]any
		rec   string
		msg   string
	}{
		"other input": {map[string]any{"count": 50, "seed": 8}, cut(rec, 20), "event 1 is not the one"},
		"fewer":       {map[string]any{"count": 10, "seed": 7}, cut(rec, 20), "ended after 10 events"},
		"more":        {map[string]any{"count": 60, "seed": 7}, rec, "more events than the 50"},
	} {
		out, err := runGen(t, c.flags, recordedOf(c.rec))
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: err %v, want %q", name, err, c.msg)
		}
		if !strings.Contains(out, `"kind":"poison"`) {
			t.Errorf("%s: no poison EOF in the output", name)
		}
	}
}

// TestWriteSkipDelivered: --skip-delivered leaves out of stdout and of an
// --append FILE the events delivered before, and sends their receipts
// again; a FILE that is replaced gets every event.
func TestWriteSkipDelivered(t *testing.T) {
	in := writeData("m", 1, `{"id":1}`) + writeData("m", 2, `{"id":2}`) + writeData("m", 3, `{"id":3}`) + writeEOF("m", 3)
	skip := []string{"m:2"}
	var journal bytes.Buffer
	r := writeRun(t, runnertest.Options{Spec: &writeSpec, Flags: map[string]any{"skip-delivered": skip}}, strings.NewReader(in), func(e *runner.Env) { e.Journal = &journal })
	if r.Err != nil || r.stdout != "{\"id\":3}\n" {
		t.Errorf("stdout: err %v, output %q", r.Err, r.stdout)
	}
	if got, _ := receiptsIn(t, journal.String()); strings.Join(got, " ") != "m/1/ok m/2/ok m/3/ok" {
		t.Errorf("receipts %v", got)
	}

	dir := t.TempDir()
	app := filepath.Join(dir, "app.ndjson")
	os.WriteFile(app, []byte("{\"old\":1}\n"), 0o644)
	r = writeRun(t, runnertest.Options{Spec: &writeSpec, Argv: []string{app}, Flags: map[string]any{"append": true, "skip-delivered": skip}}, strings.NewReader(in), nil)
	if b, _ := os.ReadFile(app); r.Err != nil || string(b) != "{\"old\":1}\n{\"id\":3}\n" {
		t.Errorf("append: err %v, file %q", r.Err, b)
	}

	repl := filepath.Join(dir, "repl.ndjson")
	r = writeRun(t, runnertest.Options{Spec: &writeSpec, Argv: []string{repl}, Flags: map[string]any{"skip-delivered": skip}}, strings.NewReader(in), nil)
	if b, _ := os.ReadFile(repl); r.Err != nil || string(b) != "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n" {
		t.Errorf("replace: err %v, file %q", r.Err, b)
	}
	if _, err := writeSpec.New(runnertest.Options{Spec: &writeSpec, Flags: map[string]any{"skip-delivered": []string{"m2"}}}); err == nil {
		t.Error("--skip-delivered m2 accepted")
	}
}

// TestWriteAbortReceipts: when its input breaks, write - passes on what
// came, and its receipts say so (what resume skips).
func TestWriteAbortReceipts(t *testing.T) {
	in := writeData("m", 1, `{"id":1}`) + writeData("m", 2, `{"id":2}`) // no EOF
	var journal bytes.Buffer
	r := writeRun(t, runnertest.Options{Spec: &writeSpec}, strings.NewReader(in), func(e *runner.Env) { e.Journal = &journal })
	if r.Err == nil || r.stdout != "{\"id\":1}\n{\"id\":2}\n" {
		t.Fatalf("err %v, stdout %q", r.Err, r.stdout)
	}
	got, eofs := receiptsIn(t, journal.String())
	if strings.Join(got, " ") != "m/1/ok m/2/ok" || strings.Join(eofs, " ") != "truncated" {
		t.Errorf("receipts %v, eofs %v", got, eofs)
	}
}

// TestSourceResumeContinue: a continued source (obz flow restarting it)
// writes out only what follows its record, its seq going on; its journal
// gets the whole stream. Stopped while it catches up, it journals the rest
// of the record and its EOF counts it: the consumers have those events.
func TestSourceResumeContinue(t *testing.T) {
	run := func(ctx context.Context, flags map[string]any, rec runner.Recorded) (string, string, error) {
		st, err := genSpec.New(runnertest.Options{Spec: &genSpec, Flags: flags})
		if err != nil {
			t.Fatal(err)
		}
		var out, stderr, journal bytes.Buffer
		err = runner.Run(ctx, &genSpec, st, &runner.Env{Stdout: &out, Stderr: &stderr, Resume: rec, ResumeContinue: true, Journal: &journal})
		frames, jerr := jrnl.Frames(journal.Bytes(), "")
		if jerr != nil {
			t.Fatal(jerr)
		}
		return out.String(), string(frames), err
	}
	flags := map[string]any{"count": 50, "seed": 7}
	want, err := runGen(t, flags, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, journal, err := run(context.Background(), flags, recordedOf(cut(want, 20)))
	if err != nil || out != strings.Join(strings.SplitAfter(want, "\n")[20:], "") || journal != want {
		t.Errorf("continued: err %v, output:\n%s", err, out)
	}

	flags = map[string]any{"count": 1000, "seed": 7}
	want, err = runGen(t, flags, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out, journal, err = run(ctx, flags, recordedOf(cut(want, 600)))
	eof := string(wire.AppendFrame(nil, &wire.Frame{Kind: wire.KindEOF, Writer: "gen", Count: 600, EOF: wire.Stopped}))
	if err != nil || out != eof || journal != cut(want, 600)+eof {
		t.Errorf("stopped while catching up: err %v, output %q, journal has the record %v", err, out, strings.HasPrefix(journal, cut(want, 600)))
	}
}
