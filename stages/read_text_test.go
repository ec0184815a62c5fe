package stages

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestReadText(t *testing.T) {
	in := "\xef\xbb\xbffirst \"line\"\r\n\n\tM\xfcller\nlast\r"
	for _, o := range []testOptions{
		readOpts([]string{readTempFile(t, "app.log", in)}),
		readOpts([]string{readTempFile(t, "notes.txt", in)}),
		readOpts([]string{readTempFile(t, "x.ndjson", in)}, "format=text"),
	} {
		r := runRead(t, context.Background(), o, nil, Raw, 0)
		want := `{"line":"first \"line\"","n":1}
{"line":"","n":2}
{"line":"\tM` + "\ufffd" + `ller","n":3}
{"line":"last\r","n":4}
`
		if r.err != nil || r.out != want {
			t.Errorf("err %v, got\n%s\nwant\n%s", r.err, r.out, want)
		}
		if !strings.Contains(r.stderr, ": 1 line(s) of invalid UTF-8 (the first is line 3): bytes replaced by U+FFFD") {
			t.Errorf("stderr %q", r.stderr)
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
			r := runRead(t, context.Background(), readOpts([]string{readTempFile(t, "l.txt", in)}), nil, Framed, 64)
			fs := readFrames(t, r.out)
			if len(fs) != 4 || string(fs[0].Payload) != `{"line":"a","n":1}` || string(fs[2].Payload) != `{"line":"b","n":3}` {
				t.Fatalf("got\n%s", r.out)
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
	r := runRead(t, context.Background(), readOpts([]string{readTempFile(t, "l.txt", long+"\r\n")}), nil, Raw, 100)
	if r.err != nil || r.out != `{"line":"`+long+`","n":1}`+"\n" {
		t.Errorf("err %v, got %q", r.err, r.out)
	}
}

func TestReadTextEmptyAndErrorPolicy(t *testing.T) {
	r := runRead(t, context.Background(), readOpts([]string{readTempFile(t, "e.log", "")}), nil, Framed, 0)
	if r.err != nil || r.out != `{"obz":1,"t":"eof","w":"read","n":0,"kind":"natural"}`+"\n" {
		t.Errorf("empty: err %v, out %q", r.err, r.out)
	}
	// Invalid UTF-8 is no error event: exit status 0.
	r = runRead(t, context.Background(), readOpts([]string{readTempFile(t, "e.log", "\xff\n")}), nil, Raw, 0)
	var ee *ErrorEventsError
	if errors.As(r.err, &ee) || r.out != `{"line":"`+"\ufffd"+`","n":1}`+"\n" {
		t.Errorf("err %v, out %q", r.err, r.out)
	}
}
