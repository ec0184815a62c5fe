package stages

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/runner/runnertest"
	"github.com/obz-dev/obz/wire"
)

// receiptsIn returns the receipt frames in a framed stream, as
// "writer/seq/status", and the EOF frames' kinds.
func receiptsIn(t *testing.T, stream string) (receipts, eofs []string) {
	t.Helper()
	for _, line := range strings.SplitAfter(stream, "\n") {
		if line == "" {
			continue
		}
		var f wire.Frame
		if err := wire.Decode([]byte(line), &f); err != nil {
			t.Fatalf("bad frame %q: %v", line, err)
		}
		switch f.Kind {
		case wire.KindReceipt:
			receipts = append(receipts, fmt.Sprintf("%s/%d/%s", f.Of.Writer, f.Of.Seq, f.Status))
		case wire.KindEOF:
			eofs = append(eofs, f.EOF.String())
		}
	}
	return receipts, eofs
}

// TestWriteReceipts: one receipt per consumed event: ok for the events in
// FILE, failed for the error events, in the journal and (--receipts) on
// stdout; the count of ok receipts is the count of events delivered.
func TestWriteReceipts(t *testing.T) {
	dir := t.TempDir()
	out, bad := filepath.Join(dir, "out.csv"), filepath.Join(dir, "bad.ndjson")
	in := writeData("read", 1, `{"id":1}`) +
		string(wire.AppendFrame(nil, &wire.Frame{Kind: wire.KindError, Writer: "read", Seq: 2,
			Err: &wire.ErrorInfo{Kind: "parse", Msg: "bad", Stage: "read", Line: 2, Raw: []byte(`{`)}})) +
		writeData("read", 3, `{"id":3,"zz":1}`) + // csv-keys: not delivered
		writeData("read", 4, `{"id":4}`) +
		writeEOF("read", 4)
	var journal bytes.Buffer
	o := runnertest.Options{Spec: &writeSpec, Argv: []string{out}, Flags: map[string]any{"dead-letter": bad, "receipts": true}}
	r := writeRun(t, o, strings.NewReader(in), func(e *runner.Env) { e.Journal = &journal })
	if _, ok := r.Err.(*runner.ErrorEventsError); !ok {
		t.Fatalf("err = %v, want error events", r.Err)
	}
	want := "read/1/ok read/4/ok read/2/failed read/3/failed"
	got, _ := receiptsIn(t, journal.String())
	if strings.Join(got, " ") != want {
		t.Errorf("journal receipts %v, want %s", got, want)
	}
	got, eofs := receiptsIn(t, r.stdout)
	if strings.Join(got, " ") != want || strings.Join(eofs, " ") != "natural" {
		t.Errorf("stdout receipts %v, eofs %v; want %s and a natural EOF", got, eofs, want)
	}
	if !strings.HasSuffix(r.stdout, `{"obz":1,"t":"eof","w":"write","n":0,"kind":"natural"}`+"\n") {
		t.Errorf("stdout does not end with write's EOF: %q", r.stdout)
	}
	if !strings.HasSuffix(journal.String(), `{"obz":1,"t":"eof","w":"write","n":0,"kind":"natural"}`+"\n") {
		t.Errorf("the journal does not end with write's EOF: %q", journal.String())
	}
}

// TestWriteReceiptsCountEqualsDelivered over many events, fan-in style runs
// of writers, split parts and stdout.
func TestWriteReceiptsCountEqualsDelivered(t *testing.T) {
	var in strings.Builder
	for i := 1; i <= 3000; i++ {
		in.WriteString(writeData("a", uint64(i), fmt.Sprintf(`{"i":%d}`, i)))
	}
	in.WriteString(writeEOF("a", 3000))
	for _, c := range []struct {
		name string
		o    runnertest.Options
	}{
		{"file", runnertest.Options{Spec: &writeSpec, Argv: []string{"out.ndjson"}}},
		{"split", runnertest.Options{Spec: &writeSpec, Argv: []string{"out.ndjson.gz"}, Flags: map[string]any{"split-every": 700}}},
		{"append", runnertest.Options{Spec: &writeSpec, Argv: []string{"out.ndjson"}, Flags: map[string]any{"append": true}}},
		{"stdout", runnertest.Options{Spec: &writeSpec}},
	} {
		dir := t.TempDir()
		if len(c.o.Argv) > 0 {
			c.o.Argv = []string{filepath.Join(dir, c.o.Argv[0])}
		}
		var journal bytes.Buffer
		r := writeRun(t, c.o, strings.NewReader(in.String()), func(e *runner.Env) { e.Journal = &journal })
		if r.Err != nil {
			t.Fatalf("%s: %v", c.name, r.Err)
		}
		got, _ := receiptsIn(t, journal.String())
		if len(got) != 3000 {
			t.Fatalf("%s: %d receipts, want 3000", c.name, len(got))
		}
		for i, g := range got {
			if want := fmt.Sprintf("a/%d/ok", i+1); g != want {
				t.Fatalf("%s: receipt %d is %s, want %s", c.name, i, g, want)
			}
		}
	}
}

// TestWriteNoReceiptsForBrokenRun: nothing is delivered when the input
// breaks, so no receipt is sent; a split output's complete parts keep
// theirs.
func TestWriteNoReceiptsForBrokenRun(t *testing.T) {
	in := events(5, func(i int) string { return fmt.Sprintf(`{"i":%d}`, i) }) // no EOF
	for _, c := range []struct {
		flags map[string]any
		want  int
	}{
		{nil, 0},
		{map[string]any{"append": true}, 0},
		{map[string]any{"split-every": 2}, 4},
	} {
		var journal bytes.Buffer
		out := filepath.Join(t.TempDir(), "out.ndjson")
		r := writeRun(t, runnertest.Options{Spec: &writeSpec, Argv: []string{out}, Flags: c.flags}, strings.NewReader(in), func(e *runner.Env) { e.Journal = &journal })
		if r.Err == nil {
			t.Fatal("a broken run succeeded")
		}
		got, eofs := receiptsIn(t, journal.String())
		if len(got) != c.want || strings.Join(eofs, " ") != "truncated" {
			t.Errorf("%v: receipts %v, eofs %v; want %d and a truncated EOF", c.flags, got, eofs, c.want)
		}
	}
}

// TestWriteStoppedNoReceiptsForPartial: after a stop the events in
// FILE.partial are not delivered: no receipts. Appended ones are.
func TestWriteStoppedNoReceiptsForPartial(t *testing.T) {
	for _, appendTo := range []bool{false, true} {
		dir := t.TempDir()
		out := filepath.Join(dir, "out.ndjson")
		pr, pw := io.Pipe()
		go pw.Write([]byte(writeData("read", 1, `{"id":1}`) + writeData("read", 2, `{"id":2}`)))
		st, err := writeSpec.New(runnertest.Options{Spec: &writeSpec, Argv: []string{out}, Flags: map[string]any{"append": appendTo}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var journal, stderr bytes.Buffer
		env := &runner.Env{Stdin: pr, Stderr: &stderr, InputIsTerminal: true, Counters: new(runner.Counters), Journal: &journal}
		done := make(chan error)
		go func() { done <- runner.Run(ctx, &writeSpec, st, env) }()
		for env.Counters.In.Load() < 2 {
			waitABit()
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		pw.Close()
		got, _ := receiptsIn(t, journal.String())
		want := 0
		if appendTo {
			want = 2
			if readFile(t, out) != "{\"id\":1}\n{\"id\":2}\n" || !strings.Contains(stderr.String(), "appended the 2 events drained so far") {
				t.Errorf("append after a stop: file %q, stderr %q", readFile(t, out), stderr.String())
			}
		}
		if len(got) != want {
			t.Errorf("append %v: receipts %v, want %d", appendTo, got, want)
		}
	}
}

// TestWriteReceiptsStdoutGone: a closed stdout ends the receipts, not the
// writing of FILE.
func TestWriteReceiptsStdoutGone(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.ndjson")
	in := events(3, func(i int) string { return `{}` }) + writeEOF("r", 3)
	r := writeRun(t, runnertest.Options{Spec: &writeSpec, Argv: []string{out}, Flags: map[string]any{"receipts": true}}, strings.NewReader(in), func(e *runner.Env) { e.Stdout = epipeWriter{} })
	if r.Err != nil || readFile(t, out) != "{}\n{}\n{}\n" {
		t.Errorf("err %v, file %q", r.Err, readFile(t, out))
	}
}

func waitABit() { <-time.After(time.Millisecond) }
