package stages

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/runner/runnertest"
	"github.com/obz-dev/obz/wire"
)

// readOpts builds options from args and "name=value" or "name" (a true bool) flags.
func readOpts(args []string, flags ...string) runnertest.Options {
	o := runnertest.Options{Flags: map[string]any{}, Argv: args}
	for _, f := range flags {
		name, val, ok := strings.Cut(f, "=")
		switch {
		case !ok:
			o.Flags[name] = true
		case name == "header":
			o.Flags[name] = strings.Split(val, ",")
		default:
			o.Flags[name] = val
		}
	}
	return o
}

type readResult struct {
	Out, Stderr string
	Err         error
}

// runRead builds read from o and runs it with stdin, writing mode output.
func runRead(t *testing.T, ctx context.Context, o runnertest.Options, stdin io.Reader, mode runner.OutputMode, maxLine int) readResult {
	t.Helper()
	st, err := readSpec.New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var out, errOut bytes.Buffer
	env := &runner.Env{Stdin: stdin, Stdout: &out, Stderr: &errOut, Output: mode, MaxLine: maxLine}
	err = runner.Run(ctx, &readSpec, st, env)
	return readResult{out.String(), errOut.String(), err}
}

func readTempFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// readFrames decodes framed output.
func readFrames(t *testing.T, out string) []wire.Frame {
	t.Helper()
	rd := wire.NewReader(strings.NewReader(out), 0)
	var fs []wire.Frame
	for {
		var f wire.Frame
		err := rd.Next(&f)
		if err == io.EOF {
			return fs
		}
		if err != nil {
			t.Fatalf("bad output frame: %v\n%s", err, out)
		}
		if f.Bare {
			t.Fatalf("output line is not a frame: %s", f.Payload)
		}
		f.Payload = bytes.Clone(f.Payload)
		if f.Err != nil {
			e := *f.Err
			e.Raw = bytes.Clone(e.Raw)
			f.Err = &e
		}
		fs = append(fs, f)
	}
}

func TestReadNDJSONFile(t *testing.T) {
	want, err := os.ReadFile("../testdata/orders.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	r := runRead(t, context.Background(), readOpts([]string{"../testdata/orders.ndjson"}), nil, runner.Raw, 0)
	if r.Err != nil || r.Out != string(want) {
		t.Fatalf("err %v, output differs from the file:\n%s", r.Err, r.Out)
	}
}

func TestReadCSVNumbers(t *testing.T) {
	first := map[string]string{
		"":        `{"id":1,"ts":"2026-03-02T08:12:25Z","customer":"c006","country":"ES","device":"ios","amount":16.75}`,
		"strings": `{"id":"1","ts":"2026-03-02T08:12:25Z","customer":"c006","country":"ES","device":"ios","amount":"16.75"}`,
		"infer":   `{"id":1,"ts":"2026-03-02T08:12:25Z","customer":"c006","country":"ES","device":"ios","amount":16.75}`,
	}
	for flag, want := range first {
		var flags []string
		if flag != "" {
			flags = []string{flag}
		}
		r := runRead(t, context.Background(), readOpts([]string{"../testdata/orders.csv"}, flags...), nil, runner.Raw, 0)
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		lines := strings.Split(strings.TrimSuffix(r.Out, "\n"), "\n")
		if len(lines) != 30 {
			t.Fatalf("%d events, want 30", len(lines))
		}
		if lines[0] != want {
			t.Errorf("--%s: first event\n got %s\nwant %s", flag, lines[0], want)
		}
	}
	r := runRead(t, context.Background(), readOpts([]string{"../testdata/customers.csv"}), nil, runner.Raw, 0)
	if !strings.Contains(r.Out, `{"customer":"c010","name":"Müller, Klaus","tier":"bronze","country":"DE"}`) {
		t.Errorf("quoted field with a comma not read:\n%s", r.Out)
	}
	var ue *runner.UsageError
	if _, err := readSpec.New(readOpts([]string{"../testdata/orders.csv"}, "strings", "infer")); !errors.As(err, &ue) {
		t.Errorf("--strings with --infer: %v, want a usage error", err)
	}
}

func TestReadCSVBadRows(t *testing.T) {
	in := "a,b\n1,2\n1,2,3\n\"multi\nline\",x\nbare\"quote,y\n4\nM\xfcller,z\n5,6"
	p := readTempFile(t, "bad.csv", in)
	r := runRead(t, context.Background(), readOpts([]string{p}), nil, runner.Framed, 0)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	fs := readFrames(t, r.Out)
	type ev struct {
		data, kind, msg, raw string
		line                 int64
	}
	want := []ev{
		{data: `{"a":1,"b":2}`},
		{msg: "bad.csv:3: 3 fields, but the header has 2", raw: "1,2,3", line: 3},
		{data: `{"a":"multi\nline","b":"x"}`},
		{msg: `bad.csv:6: bare " in non-quoted-field (column 5)`, raw: `bare"quote,y`, line: 6},
		{msg: "bad.csv:7: 1 fields, but the header has 2", raw: "4", line: 7},
		{kind: "utf8", msg: "bad.csv:8: invalid UTF-8 (convert the file, e.g. iconv -f latin1 -t utf-8)", raw: "M\ufffdller,z", line: 8},
		{data: `{"a":5,"b":6}`},
	}
	if len(fs) != len(want)+1 {
		t.Fatalf("%d frames, want %d:\n%s", len(fs), len(want)+1, r.Out)
	}
	for i, w := range want {
		f := fs[i]
		if f.Seq != uint64(i+1) {
			t.Errorf("frame %d: seq %d", i, f.Seq)
		}
		if w.data != "" {
			if f.Kind != wire.KindData || string(f.Payload) != w.data {
				t.Errorf("frame %d: got %v %s, want data %s", i, f.Kind, f.Payload, w.data)
			}
			continue
		}
		if w.kind == "" {
			w.kind = "csv"
		}
		if f.Kind != wire.KindError || f.Err.Kind != w.kind || !strings.HasSuffix(f.Err.Msg, w.msg) ||
			string(f.Err.Raw) != w.raw || f.Err.Line != w.line || f.Err.Stage != "read" {
			t.Errorf("frame %d: got %v %+v raw %q, want error %q raw %q line %d", i, f.Kind, f.Err, f.Err.Raw, w.msg, w.raw, w.line)
		}
	}
	if eof := fs[len(fs)-1]; eof.Kind != wire.KindEOF || eof.Count != 7 || eof.EOF != wire.Natural {
		t.Errorf("last frame %+v, want natural EOF with n 7", eof)
	}
}

func TestReadCSVLineEndingsAndBOM(t *testing.T) {
	for name, in := range map[string]string{
		"crlf.csv":     "a,b\r\n1,\"x\r\ny\"\r\n\r\n2,z\r\n",
		"bom.csv":      "\xef\xbb\xbfa,b\n1,\"x\ny\"\n2,z",
		"nolast.csv":   "a,b\n1,\"x\ny\"\n\n2,z",
		"semi.txt":     "a;b\n1;\"x\ny\"\n2;z\n",
		"stdin-as-csv": "a,b\n1,\"x\ny\"\n2,z\n",
	} {
		t.Run(name, func(t *testing.T) {
			o := readOpts([]string{readTempFile(t, name, in)})
			var stdin io.Reader
			switch name {
			case "semi.txt":
				o = readOpts(o.Argv, "format=csv", "delimiter=;")
			case "stdin-as-csv":
				o = readOpts(nil, "format=csv")
				stdin = strings.NewReader(in)
			}
			r := runRead(t, context.Background(), o, stdin, runner.Raw, 0)
			want := "{\"a\":1,\"b\":\"x\\ny\"}\n{\"a\":2,\"b\":\"z\"}\n"
			if r.Err != nil || r.Out != want {
				t.Errorf("err %v, got\n%s\nwant\n%s", r.Err, r.Out, want)
			}
		})
	}
}

func TestReadCSVWithoutHeader(t *testing.T) {
	p := readTempFile(t, "nh.csv", "1,2,3\n4,5,6\n7,8\n")
	r := runRead(t, context.Background(), readOpts([]string{p}, "no-header", "infer"), nil, runner.Raw, 0)
	want := "{\"c1\":1,\"c2\":2,\"c3\":3}\n{\"c1\":4,\"c2\":5,\"c3\":6}\n"
	if r.Out != want {
		t.Errorf("--no-header: got\n%s\nwant\n%s", r.Out, want)
	}
	var ee *runner.ErrorEventsError
	if !errors.As(r.Err, &ee) || !strings.Contains(r.Stderr, "nh.csv:3: 2 fields, but the first row has 3") {
		t.Errorf("ragged row: err %v, stderr %q", r.Err, r.Stderr)
	}
	r = runRead(t, context.Background(), readOpts([]string{p}, "header=x,y,z"), nil, runner.Raw, 0)
	if !strings.HasPrefix(r.Out, `{"x":1,"y":2,"z":3}`+"\n") || !strings.Contains(r.Stderr, "--header names 3") {
		t.Errorf("--header: got\n%s\n%s", r.Out, r.Stderr)
	}
}

func TestReadFrames(t *testing.T) {
	in := `{"obz":1,"t":"data","w":"gen","s":1,"d":{"id":1}}
{"obz":1,"t":"error","w":"gen","s":2,"err":{"kind":"expr","msg":"boom","stage":"map","line":7},"d":{"id":2}}
{"id":3}
{"obz":1,"t":"eof","w":"gen","n":2,"kind":"natural"}
`
	p := readTempFile(t, "frames.ndjson", in)
	fs := readFrames(t, runRead(t, context.Background(), readOpts([]string{p}), nil, runner.Framed, 0).Out)
	if len(fs) != 4 {
		t.Fatalf("%d frames, want 4: %+v", len(fs), fs)
	}
	if fs[0].Kind != wire.KindData || string(fs[0].Payload) != `{"id":1}` || fs[0].Writer != "read" || fs[0].Seq != 1 {
		t.Errorf("data frame: %+v", fs[0])
	}
	if fs[1].Kind != wire.KindError || fs[1].Err.Msg != "boom" || fs[1].Err.Stage != "map" || string(fs[1].Payload) != `{"id":2}` || fs[1].Seq != 2 {
		t.Errorf("error frame not kept: %+v %+v", fs[1], fs[1].Err)
	}
	// A stream that starts with a frame carries frames only.
	if fs[2].Kind != wire.KindError || fs[2].Err.Kind != "frame" || string(fs[2].Err.Raw) != `{"id":3}` || fs[3].Kind != wire.KindEOF || fs[3].Count != 3 {
		t.Errorf("bare line in a framed file or EOF: %+v %+v", fs[2], fs[3])
	}
}

func TestReadNDJSONBadLines(t *testing.T) {
	long := `{"x":"` + strings.Repeat("y", 100) + `"}`
	p := readTempFile(t, "bad.ndjson", "\xef\xbb\xbf{\"a\":1}\r\n\n{oops\n"+long+"\n  \n{\"a\":2}")
	fs := readFrames(t, runRead(t, context.Background(), readOpts([]string{p}), nil, runner.Framed, 64).Out)
	if len(fs) != 5 {
		t.Fatalf("%d frames, want 5: %+v", len(fs), fs)
	}
	if string(fs[0].Payload) != `{"a":1}` || string(fs[3].Payload) != `{"a":2}` {
		t.Errorf("data: %s %s", fs[0].Payload, fs[3].Payload)
	}
	if e := fs[1].Err; e == nil || e.Kind != "parse" || e.Line != 3 || string(e.Raw) != "{oops" || !strings.Contains(e.Msg, "/bad.ndjson:3: invalid JSON") {
		t.Errorf("parse error: %+v", e)
	}
	if e := fs[2].Err; e == nil || e.Kind != "too-long" || e.Line != 4 || !strings.Contains(e.Msg, "/bad.ndjson:4: line of 108 bytes") {
		t.Errorf("too-long error: %+v", e)
	}
	if fs[4].Kind != wire.KindEOF || fs[4].Count != 4 {
		t.Errorf("EOF %+v", fs[4])
	}
}

func TestReadFilesInOrderAndStdin(t *testing.T) {
	a := readTempFile(t, "a.ndjson", `{"n":1}`+"\n")
	b := readTempFile(t, "b.csv", "n\n3\n")
	r := runRead(t, context.Background(), readOpts([]string{a, "-", b}, "infer"), strings.NewReader(`{"n":2}`), runner.Raw, 0)
	if r.Err != nil || r.Out != "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n" {
		t.Errorf("err %v, got\n%s", r.Err, r.Out)
	}
	r = runRead(t, context.Background(), readOpts(nil), strings.NewReader("{\"n\":4}\n[5]\n"), runner.Raw, 0)
	if r.Out != "{\"n\":4}\n[5]\n" {
		t.Errorf("no argument reads stdin: got %q", r.Out)
	}
	r = runRead(t, context.Background(), readOpts(nil), strings.NewReader("{bad\n"), runner.Raw, 0)
	if !strings.Contains(r.Stderr, "stdin:1: invalid JSON") {
		t.Errorf("stdin errors name stdin: %q", r.Stderr)
	}
}

func TestReadEmpty(t *testing.T) {
	for _, name := range []string{"empty.ndjson", "empty.csv", "blank.ndjson"} {
		content := ""
		if name == "blank.ndjson" {
			content = "\n \n"
		}
		r := runRead(t, context.Background(), readOpts([]string{readTempFile(t, name, content)}), nil, runner.Framed, 0)
		if want := `{"obz":1,"t":"eof","w":"read","n":0,"kind":"natural"}` + "\n"; r.Err != nil || r.Out != want {
			t.Errorf("%s: err %v, got %q", name, r.Err, r.Out)
		}
	}
	// A header alone is no event either.
	r := runRead(t, context.Background(), readOpts([]string{readTempFile(t, "h.csv", "a,b\n")}), nil, runner.Raw, 0)
	if r.Err != nil || r.Out != "" {
		t.Errorf("header only: err %v, got %q", r.Err, r.Out)
	}
}

func TestReadUsageAndOpenErrors(t *testing.T) {
	var ue *runner.UsageError
	for _, o := range []runnertest.Options{
		readOpts(nil, "format=xml"),
		readOpts(nil, "delimiter=ab"),
		readOpts(nil, "delimiter=\""),
		readOpts(nil, "header=a,b,a"),
		readOpts(nil, "header=a,,b"),
	} {
		if _, err := readSpec.New(o); !errors.As(err, &ue) {
			t.Errorf("%v: got %v, want a usage error", o.Flags, err)
		}
	}
	ok := readTempFile(t, "ok.csv", "a\n1\n")
	_, err := readSpec.New(readOpts([]string{ok, "nope.csv"}))
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "open nope.csv") {
		t.Errorf("missing file: got %v", err)
	}
	_, err = readSpec.New(readOpts([]string{t.TempDir()}))
	if err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory: got %v", err)
	}
	// A header row that does not parse ends the stage.
	r := runRead(t, context.Background(), readOpts([]string{readTempFile(t, "h.csv", "a,b\"c\n1,2\n")}), nil, runner.Framed, 0)
	if r.Err == nil || !strings.Contains(r.Err.Error(), "bad header row") || !strings.Contains(r.Out, `"kind":"poison"`) {
		t.Errorf("bad header: err %v, out %q", r.Err, r.Out)
	}
}

func TestReadOnErrorFail(t *testing.T) {
	p := readTempFile(t, "x.csv", "a,b\n1,2\n3\n4,5\n")
	st, err := readSpec.New(readOpts([]string{p}))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = runner.Run(context.Background(), &readSpec, st, &runner.Env{Stdout: &out, Stderr: io.Discard, OnError: runner.ErrorsFail})
	var fe *runner.EventFailedError
	if !errors.As(err, &fe) || fe.Info.Line != 3 {
		t.Fatalf("got %v, want the row on line 3 to fail the stage", err)
	}
	if !strings.HasSuffix(out.String(), `{"obz":1,"t":"eof","w":"read","n":1,"kind":"poison"}`+"\n") {
		t.Errorf("output %q", out.String())
	}
}

func TestReadCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := runRead(t, ctx, readOpts([]string{"../testdata/orders.csv"}), nil, runner.Framed, 0)
	if r.Err != nil || r.Out != `{"obz":1,"t":"eof","w":"read","n":0,"kind":"stopped"}`+"\n" {
		t.Errorf("err %v, got %q", r.Err, r.Out)
	}
}

// TestReadStdinStop: a stop signal ends a read of stdin that would block for
// ever; events read are flushed as they come, a half-written line is dropped.
func TestReadStdinStop(t *testing.T) {
	for _, format := range []string{"ndjson", "csv"} {
		t.Run(format, func(t *testing.T) {
			pr, pw := io.Pipe()
			defer pw.Close()
			ctx, cancel := context.WithCancel(context.Background())
			out := newReadSignalBuffer()
			st, err := readSpec.New(readOpts([]string{"-"}, "format="+format))
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				done <- runner.Run(ctx, &readSpec, st, &runner.Env{Stdin: pr, Stdout: out, Stderr: io.Discard})
			}()
			first, partial := "{\"n\":1}\n", `{"n":`
			if format == "csv" {
				first, partial = "n\n1\n", "2"
			}
			pw.Write([]byte(first))
			select {
			case <-out.wrote:
			case <-time.After(5 * time.Second):
				t.Fatal("the first event was not flushed while stdin stayed open")
			}
			pw.Write([]byte(partial))
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("read did not stop")
			}
			fs := readFrames(t, out.String())
			if len(fs) != 2 || fs[1].Kind != wire.KindEOF || fs[1].EOF != wire.Stopped || fs[1].Count != 1 {
				t.Errorf("want one event and a stopped EOF, got:\n%s", out.String())
			}
		})
	}
}

// readSignalBuffer is a bytes.Buffer safe for one writer and one reader that
// signals each write.
type readSignalBuffer struct {
	mu    chan struct{}
	buf   bytes.Buffer
	wrote chan struct{}
}

func newReadSignalBuffer() *readSignalBuffer {
	return &readSignalBuffer{mu: make(chan struct{}, 1), wrote: make(chan struct{}, 100)}
}

func (b *readSignalBuffer) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	select {
	case b.wrote <- struct{}{}:
	default:
	}
	return b.buf.Write(p)
}

func (b *readSignalBuffer) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.String()
}

func BenchmarkReadCSV(b *testing.B) {
	var in strings.Builder
	in.WriteString("id,ts,customer,country,device,amount\n")
	for i := range 10000 {
		in.WriteString("12345,2026-03-02T08:12:25Z,c006,ES,ios,16.75\n")
		_ = i
	}
	p := filepath.Join(b.TempDir(), "bench.csv")
	if err := os.WriteFile(p, []byte(in.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, infer := range []bool{false, true} {
		name := "strings"
		flags := []string{}
		if infer {
			name, flags = "infer", []string{"infer"}
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(in.Len()))
			for b.Loop() {
				st, err := readSpec.New(readOpts([]string{p}, flags...))
				if err != nil {
					b.Fatal(err)
				}
				if err := runner.Run(context.Background(), &readSpec, st, &runner.Env{Stdout: io.Discard, Stderr: io.Discard}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
