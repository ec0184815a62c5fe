package stages

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/runner/runnertest"
)

func TestReadText(t *testing.T) {
	in := "\xef\xbb\xbffirst \"line\"\r\n\n\tM\xfcller\nlast\r"
	for _, o := range []runnertest.Options{
		readOpts([]string{readTempFile(t, "app.log", in)}),
		readOpts([]string{readTempFile(t, "notes.txt", in)}),
		readOpts([]string{readTempFile(t, "x.ndjson", in)}, "format=text"),
	} {
		r := runRead(t, context.Background(), o, nil, runner.Raw, 0)
		want := `{"line":"first \"line\"","n":1}
{"line":"","n":2}
{"line":"\tM` + "\ufffd" + `ller","n":3}
{"line":"last\r","n":4}
`
		if r.Err != nil || r.Out != want {
			t.Errorf("err %v, got\n%s\nwant\n%s", r.Err, r.Out, want)
		}
		if !strings.Contains(r.Stderr, ": 1 line(s) of invalid UTF-8 (the first is line 3): bytes replaced by U+FFFD") {
			t.Errorf("stderr %q", r.Stderr)
		}
	}
}

func TestReadTextLongLines(t *testing.T) {
	long := strings.Repeat("y", 100)
	for name, in := range map[string]string{
		"small buffer": "a\n" + long + "\r\nb",
		"past 64 KiB":  "a\n" + long + strings.Repeat("z", 70000) + "\nb",
	} {
		t.Run(name, func(t *testing.T) {
			r := runRead(t, context.Background(), readOpts([]string{readTempFile(t, "l.txt", in)}), nil, runner.Framed, 64)
			fs := readFrames(t, r.Out)
			if len(fs) != 4 || string(fs[0].Payload) != `{"line":"a","n":1}` || string(fs[2].Payload) != `{"line":"b","n":3}` {
				t.Fatalf("got\n%s", r.Out)
			}
			e := fs[1].Err
			size := len(in) - len("a\n\nb")
			if name == "small buffer" {
				size -= 1 // the \r
			}
			if e == nil || e.Kind != "too-long" || e.Line != 2 || !strings.HasPrefix(string(e.Raw), long) ||
				!strings.Contains(e.Msg, "l.txt:2: line of "+strconv.Itoa(size)+" bytes exceeds the limit of 64 bytes") {
				t.Errorf("error %+v", e)
			}
		})
	}
	// A line of exactly the limit is fine, "\r\n" not counted.
	r := runRead(t, context.Background(), readOpts([]string{readTempFile(t, "l.txt", long+"\r\n")}), nil, runner.Raw, 100)
	if r.Err != nil || r.Out != `{"line":"`+long+`","n":1}`+"\n" {
		t.Errorf("err %v, got %q", r.Err, r.Out)
	}
}

func TestReadTextEmptyAndErrorPolicy(t *testing.T) {
	r := runRead(t, context.Background(), readOpts([]string{readTempFile(t, "e.log", "")}), nil, runner.Framed, 0)
	if r.Err != nil || r.Out != `{"obz":1,"t":"eof","w":"read","n":0,"kind":"natural"}`+"\n" {
		t.Errorf("empty: err %v, out %q", r.Err, r.Out)
	}
	// Invalid UTF-8 is no error event: exit status 0.
	r = runRead(t, context.Background(), readOpts([]string{readTempFile(t, "e.log", "\xff\n")}), nil, runner.Raw, 0)
	var ee *runner.ErrorEventsError
	if errors.As(r.Err, &ee) || r.Out != `{"line":"`+"\ufffd"+`","n":1}`+"\n" {
		t.Errorf("err %v, out %q", r.Err, r.Out)
	}
}
