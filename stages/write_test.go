package stages

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/runner/runnertest"
	"github.com/obz-dev/obz/wire"
)

func writeData(w string, seq uint64, payload string) string {
	return string(wire.AppendFrame(nil, &wire.Frame{Kind: wire.KindData, Writer: w, Seq: seq, Payload: []byte(payload)}))
}

func writeEOF(w string, n uint64) string {
	return string(wire.AppendFrame(nil, &wire.Frame{Kind: wire.KindEOF, Writer: w, Count: n, EOF: wire.Natural}))
}

type writeResult struct {
	Err            error
	stdout, Stderr string
	counters       *runner.Counters
}

// writeRun runs `obz write` with the given options on input.
func writeRun(t *testing.T, o runnertest.Options, input io.Reader, mod func(*runner.Env)) writeResult {
	t.Helper()
	st, err := writeSpec.New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var stdout, stderr bytes.Buffer
	env := &runner.Env{Stdin: input, Stdout: &stdout, Stderr: &stderr}
	if mod != nil {
		mod(env)
	}
	err = runner.Run(context.Background(), &writeSpec, st, env)
	return writeResult{Err: err, stdout: stdout.String(), Stderr: stderr.String(), counters: env.Counters}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// dirNames lists dir, so that tests see leftover temporary files.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteNDJSONFile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.ndjson")
	os.WriteFile(out, []byte("old\n"), 0o640)
	in := writeData("read", 1, `{"id":1, "x":  "a"}`) + writeData("read", 2, `[1,2]`) + writeEOF("read", 2)
	r := writeRun(t, runnertest.Options{Spec: &writeSpec, Argv: []string{out}}, strings.NewReader(in), nil)
	if r.Err != nil {
		t.Fatalf("Run: %v (stderr %q)", r.Err, r.Stderr)
	}
	if got, want := readFile(t, out), "{\"id\":1, \"x\":  \"a\"}\n[1,2]\n"; got != want {
		t.Errorf("file = %q, want %q (bytes as they came)", got, want)
	}
	if r.stdout != "" || r.Stderr != "" {
		t.Errorf("stdout %q, stderr %q: want both empty", r.stdout, r.Stderr)
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Errorf("dir holds %v, want out.ndjson only", names)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want the replaced file's 0640", fi.Mode().Perm())
	}
	if r.counters.In.Load() != 2 || r.counters.Out.Load() != 2 {
		t.Errorf("counters in %d out %d, want 2 2", r.counters.In.Load(), r.counters.Out.Load())
	}
}

func TestWriteStdout(t *testing.T) {
	r := writeRun(t, runnertest.Options{Spec: &writeSpec, Argv: []string{"-"}}, strings.NewReader("{\"a\":1}\n {\"a\":2} \n"), nil)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if want := "{\"a\":1}\n{\"a\":2}\n"; r.stdout != want {
		t.Errorf("stdout = %q, want %q", r.stdout, want)
	}
}

func TestWriteEmptyInputMakesEmptyFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.csv")
	r := writeRun(t, runnertest.Options{Spec: &writeSpec, Argv: []string{out}}, strings.NewReader(""), nil)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if got := readFile(t, out); got != "" {
		t.Errorf("file = %q, want empty", got)
	}
}

func TestWriteCSV(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.csv")
	in := `{"id":1,"name":"a, \"b\"","amount":1.50,"ok":true,"tags":[ "x", 1 ],"n":null}
{"amount":2e3,"id":2,"ok":false}
{"id":3,"coupon":"Z","extra":1,"coupon":"Y"}
[1,2]
{"id":4,"name":" lead\tspace","tags":{"a" : {"b":[]}},"ok":"1"}
`
	r := writeRun(t, runnertest.Options{Spec: &writeSpec, Argv: []string{out}}, strings.NewReader(in), nil)
	var ee *runner.ErrorEventsError
	if !errors.As(r.Err, &ee) || ee.Count != 2 || ee.Where != "stderr" {
		t.Fatalf("err = %v, want 2 error events on stderr", r.Err)
	}
	want := `id,name,amount,ok,tags,n
1,"a, ""b""",1.50,true,"[""x"",1]",
2,,2e3,false,,
4," lead	space",,1,"{""a"":{""b"":[]}}",
`
	if got := readFile(t, out); got != want {
		t.Errorf("csv =\n%s\nwant\n%s", got, want)
	}
	for _, s := range []string{
		`error event from write line 3 (csv-keys): key(s) "coupon", "extra" not in the CSV header`,
		`error event from write line 4 (csv-type): a CSV row needs a JSON object, got an array: [1,2]`,
		`wrote 3 events to ` + out + `; 2 error events reported above`,
	} {
		if !strings.Contains(r.Stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, r.Stderr)
		}
	}
	if c := r.counters; c.Out.Load() != 3 || c.Errors.Load() != 2 {
		t.Errorf("counters out %d errors %d, want 3 2", c.Out.Load(), c.Errors.Load())
	}
}

func TestWriteTSVNoHeader(t *testing.T) {
	o := runnertest.Options{Spec: &writeSpec, Argv: []string{"-"}, Flags: map[string]any{"format": "tsv", "header": false}}
	r := writeRun(t, o, strings.NewReader("{\"a\":\"x y\",\"b\":\"t\\tab\"}\n{\"b\":2}\n"), nil)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if want := "x y\tt\\tab\n\t2\n"; r.stdout != want { // a tab in a field is \t, as mlr writes it
		t.Errorf("tsv = %q, want %q", r.stdout, want)
	}
}

func TestWriteDeadLetter(t *testing.T) {
	dir := t.TempDir()
	out, bad := filepath.Join(dir, "out.csv"), filepath.Join(dir, "bad.ndjson")
	in := writeData("read", 1, `{"id":1}`) +
		string(wire.AppendFrame(nil, &wire.Frame{Kind: wire.KindError, Writer: "read", Seq: 2,
			Err: &wire.ErrorInfo{Kind: "parse", Msg: "bad JSON", Stage: "read", Line: 2, Raw: []byte(`{"id":`)}})) +
		string(wire.AppendFrame(nil, &wire.Frame{Kind: wire.KindError, Writer: "read", Seq: 3, Payload: []byte(`{"id":"x"}`),
			Err: &wire.ErrorInfo{Kind: "expr", Msg: "cannot add", Stage: "map"}})) +
		writeData("read", 4, `{"id":2,"zz":1}`) +
		writeData("read", 5, `"s"`) +
		writeEOF("read", 5)
	r := writeRun(t, runnertest.Options{Spec: &writeSpec, Argv: []string{out}, Flags: map[string]any{"dead-letter": bad}}, strings.NewReader(in), nil)
	var ee *runner.ErrorEventsError
	if !errors.As(r.Err, &ee) || ee.Count != 4 || ee.Where != bad {
		t.Fatalf("err = %v, want 4 error events in %s", r.Err, bad)
	}
	if got := readFile(t, out); got != "id\n1\n" {
		t.Errorf("csv = %q", got)
	}
	want := `{"stage":"read","kind":"parse","msg":"bad JSON","line":2,"writer":"read","seq":2,"raw":"{\"id\":"}
{"stage":"map","kind":"expr","msg":"cannot add","writer":"read","seq":3,"payload":{"id":"x"}}
{"stage":"write","kind":"csv-keys","msg":"key(s) \"zz\" not in the CSV header (the first record's keys: id)","line":4,"writer":"read","seq":4,"payload":{"id":2,"zz":1}}
{"stage":"write","kind":"csv-type","msg":"a CSV row needs a JSON object, got a string","line":5,"writer":"read","seq":5,"payload":"s"}
`
	if got := readFile(t, bad); got != want {
		t.Errorf("dead letter =\n%s\nwant\n%s", got, want)
	}
	if want := "obz write: wrote 1 events to " + out + "; 4 error events in " + bad + "\n"; r.Stderr != want {
		t.Errorf("stderr = %q, want %q", r.Stderr, want)
	}
}

func TestWriteDeadLetterLocalErrorAndEmpty(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.ndjson")
	os.WriteFile(bad, []byte("stale\n"), 0o644)
	r := writeRun(t, runnertest.Options{Spec: &writeSpec, Flags: map[string]any{"dead-letter": bad}}, strings.NewReader("{\"a\":1}\n"), nil)
	if r.Err != nil || r.stdout != "{\"a\":1}\n" {
		t.Fatalf("err %v stdout %q", r.Err, r.stdout)
	}
	if got := readFile(t, bad); got != "" {
		t.Errorf("dead letter = %q, want empty (a stale one never lingers)", got)
	}
	r = writeRun(t, runnertest.Options{Spec: &writeSpec, Flags: map[string]any{"dead-letter": bad}}, strings.NewReader("{\"a\":1}\n{oops\n"), nil)
	var ee *runner.ErrorEventsError
	if !errors.As(r.Err, &ee) || ee.Count != 1 {
		t.Fatalf("err = %v, want 1 error event", r.Err)
	}
	got := readFile(t, bad)
	if !strings.HasPrefix(got, `{"stage":"write","kind":"parse",`) || !strings.HasSuffix(got, `"line":2,"raw":"{oops"}`+"\n") || strings.Contains(got, `"writer"`) {
		t.Errorf("dead letter = %q: want a parse error of line 2 with raw and no writer", got)
	}
}

func TestWriteTruncatedInputWritesNothing(t *testing.T) {
	for _, dead := range []bool{false, true} {
		dir := t.TempDir()
		out := filepath.Join(dir, "out.ndjson")
		os.WriteFile(out, []byte("old\n"), 0o644)
		o := runnertest.Options{Spec: &writeSpec, Argv: []string{out}}
		if dead {
			o.Flags = map[string]any{"dead-letter": filepath.Join(dir, "bad.ndjson")}
		}
		in := writeData("read", 1, `{"id":1}`) + writeData("read", 2, `{"id":2}`) // no EOF
		r := writeRun(t, o, strings.NewReader(in), nil)
		var be *runner.BrokenInputError
		if !errors.As(r.Err, &be) || !strings.Contains(be.Error(), "input from 'read' ended without EOF after 2 events") {
			t.Fatalf("err = %v, want a broken input", r.Err)
		}
		if got := readFile(t, out); got != "old\n" {
			t.Errorf("out = %q, want the old file unchanged", got)
		}
		if names := dirNames(t, dir); len(names) != 1 {
			t.Errorf("dir holds %v, want out.ndjson only", names)
		}
		if !strings.Contains(r.Stderr, out+" was not written (the existing file is unchanged)") {
			t.Errorf("stderr = %q", r.Stderr)
		}
	}
}

func TestWriteOnErrorFail(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.csv")
	r := writeRun(t, runnertest.Options{Spec: &writeSpec, Argv: []string{out}}, strings.NewReader("{\"a\":1}\n{\"b\":1}\n"), func(e *runner.Env) { e.OnError = runner.ErrorsFail })
	var fe *runner.EventFailedError
	if !errors.As(r.Err, &fe) || fe.Info.Kind != "csv-keys" {
		t.Fatalf("err = %v, want the csv-keys event to fail the stage", r.Err)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("dir holds %v, want nothing", names)
	}
}

// TestWriteStopped: a stop signal ends the stage with the events drained so
// far in FILE.partial, never in FILE.
func TestWriteStopped(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.ndjson")
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write([]byte(writeData("read", 1, `{"id":1}`) + writeData("read", 2, `{"id":2}`)))
	st, err := writeSpec.New(runnertest.Options{Spec: &writeSpec, Argv: []string{out}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stderr bytes.Buffer
	env := &runner.Env{Stdin: pr, Stderr: &stderr, InputIsTerminal: true, Counters: new(runner.Counters)}
	done := make(chan error)
	go func() { done <- runner.Run(ctx, &writeSpec, st, env) }()
	for env.Counters.In.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := readFile(t, out+".partial"); got != "{\"id\":1}\n{\"id\":2}\n" {
		t.Errorf("partial = %q", got)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("%s exists after a stop", out)
	}
	if want := "holds the 2 events written so far"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr = %q, want %q", stderr.String(), want)
	}
}

type epipeWriter struct{}

func (epipeWriter) Write([]byte) (int, error) {
	return 0, &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.EPIPE}
}

func TestWriteClosedStdoutIsQuiet(t *testing.T) {
	in := strings.Repeat(`{"a":"`+strings.Repeat("x", 1000)+`"}`+"\n", 200)
	for _, format := range []string{"ndjson", "csv"} {
		r := writeRun(t, runnertest.Options{Spec: &writeSpec, Flags: map[string]any{"format": format}}, strings.NewReader(in), func(e *runner.Env) { e.Stdout = epipeWriter{} })
		if r.Err != nil || r.Stderr != "" {
			t.Errorf("%s: err %v, stderr %q: want a quiet end", format, r.Err, r.Stderr)
		}
	}
}

func TestWriteUsage(t *testing.T) {
	for _, o := range []runnertest.Options{
		{Argv: []string{"a", "b"}},
		{Argv: []string{"a.csv"}, Flags: map[string]any{"format": "xml"}},
		{Argv: []string{"a.ndjson"}, Flags: map[string]any{"header": false}},
		{Argv: []string{"a.ndjson"}, Flags: map[string]any{"dead-letter": "a.ndjson"}},
		{Argv: []string{"a.ndjson"}, Flags: map[string]any{"dead-letter": "-"}},
		{Argv: []string{"a.ndjson"}, Flags: map[string]any{"dead-letter": "./a.ndjson"}},
		{Argv: []string{t.TempDir()}},
	} {
		o.Spec = &writeSpec
		_, err := writeSpec.New(o)
		var ue *runner.UsageError
		if !errors.As(err, &ue) {
			t.Errorf("%+v: err = %v, want a usage error", o, err)
		}
	}
}

func BenchmarkWriteCSV(b *testing.B) {
	line := `{"id":12345,"ts":"2024-05-01T10:00:00Z","customer":"c-0042","country":"DE","device":"mobile","amount":75.5}` + "\n"
	in := []byte(strings.Repeat(line, 1000))
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		st, _ := writeSpec.New(runnertest.Options{Spec: &writeSpec, Flags: map[string]any{"format": "csv"}})
		if err := runner.Run(context.Background(), &writeSpec, st, &runner.Env{Stdin: bytes.NewReader(in), Stdout: io.Discard, Stderr: io.Discard}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestWriteCannotCreate(t *testing.T) {
	dir := t.TempDir()
	for _, o := range []runnertest.Options{
		{Argv: []string{filepath.Join(dir, "no", "out.ndjson")}},
		{Argv: []string{filepath.Join(dir, "out.ndjson")}, Flags: map[string]any{"dead-letter": filepath.Join(dir, "no", "bad.ndjson")}},
		{Flags: map[string]any{"dead-letter": filepath.Join(dir, "no", "bad.ndjson")}},
	} {
		o.Spec = &writeSpec
		r := writeRun(t, o, strings.NewReader("{\"a\":1}\n"), nil)
		if r.Err == nil || !strings.Contains(r.Err.Error(), "cannot write") {
			t.Errorf("%+v: err = %v, want cannot write", o, r.Err)
		}
		if names := dirNames(t, dir); len(names) != 0 {
			t.Errorf("%+v: dir holds %v, want nothing", o, names)
		}
	}
}

// TestWriteToFIFOInPlace: a target that is not a regular file (a FIFO here;
// /dev/null is the same case) is written in place. Renaming a temporary file
// over it would replace the node with a regular file (as root, /dev/null).
func TestWriteToFIFOInPlace(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no mkfifo:", err)
	}
	got := make(chan string, 1)
	go func() {
		b, _ := os.ReadFile(fifo)
		got <- string(b)
	}()
	in := writeData("up", 1, `{"a":1}`) + writeData("up", 2, `{"a":2}`) + writeEOF("up", 2)
	r := writeRun(t, runnertest.Options{Spec: &writeSpec, Argv: []string{fifo}}, strings.NewReader(in), nil)
	if r.Err != nil {
		t.Fatalf("write to a FIFO: %v", r.Err)
	}
	if s := <-got; s != "{\"a\":1}\n{\"a\":2}\n" {
		t.Errorf("FIFO reader got %q", s)
	}
	fi, err := os.Lstat(fifo)
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("after write the target is %v, %v; want it still a FIFO", fi.Mode(), err)
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Errorf("files beside the FIFO: %v, want none", names)
	}
}
