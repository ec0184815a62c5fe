package wire

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

// readAll reads r to its end and describes each event: a frame or a
// *LineError. It fails the test on any other error or if the reader does
// not end.
func readAll(t testing.TB, r *Reader, limit int) []string {
	t.Helper()
	var out []string
	var f Frame
	for i := 0; ; i++ {
		if i > limit {
			t.Fatalf("reader did not end after %d calls", limit)
		}
		err := r.Next(&f)
		var le *LineError
		switch {
		case err == nil:
			out = append(out, fmt.Sprintf("%s %s %d line=%d d=%s", f.Kind, f.Writer, f.Seq, f.Line, f.Payload))
		case errors.As(err, &le):
			if !utf8.Valid(le.Raw) {
				t.Errorf("LineError raw is not valid UTF-8: %q", le.Raw)
			}
			if errors.Is(err, ErrVersion) != (le.Kind == "version") {
				t.Errorf("%s error: errors.Is(err, ErrVersion) = %v", le.Kind, errors.Is(err, ErrVersion))
			}
			if le.Kind == "too-long" {
				if !errors.Is(err, ErrFrameTooLarge) {
					t.Errorf("too-long error does not wrap ErrFrameTooLarge")
				}
				out = append(out, fmt.Sprintf("ERR too-long line=%d size=%d rawlen=%d", le.Line, le.Size, len(le.Raw)))
			} else {
				out = append(out, fmt.Sprintf("ERR %s line=%d raw=%s", le.Kind, le.Line, le.Raw))
			}
		case err == io.EOF:
			return out
		default:
			t.Fatalf("Next: %v", err)
		}
	}
}

// chunkings feed the same input in different read sizes, so that lines span
// several buffer fills.
var chunkings = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"whole", func(r io.Reader) io.Reader { return r }},
	{"one byte", iotest.OneByteReader},
	{"half", iotest.HalfReader},
	{"data+EOF", iotest.DataErrReader},
	{"7 bytes", func(r io.Reader) io.Reader { return &chunkReader{r: r, n: 7} }},
}

type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

func TestReader(t *testing.T) {
	long := strings.Repeat("x", 150)
	exact := `"` + strings.Repeat("a", 98) + `"` // 100 bytes
	tests := []struct {
		name string
		in   string
		max  int
		want []string
	}{
		{"empty", "", 0, nil},
		{"bare values of every type",
			"{\"a\":1}\n[1,2]\n\"s\"\n-1.5e3\ntrue\nfalse\nnull\n{}\n",
			0, []string{
				"data - 1 line=1 d={\"a\":1}", "data - 2 line=2 d=[1,2]", "data - 3 line=3 d=\"s\"",
				"data - 4 line=4 d=-1.5e3", "data - 5 line=5 d=true", "data - 6 line=6 d=false",
				"data - 7 line=7 d=null", "data - 8 line=8 d={}",
			}},
		{"blank and whitespace lines skipped", "\n  \n\t\r\n1\n \t \n2\n\n", 0,
			[]string{"data - 1 line=4 d=1", "data - 2 line=6 d=2"}},
		{"CRLF", "1\r\n{\"a\":2}\r\n\r\n3\r", 0,
			[]string{"data - 1 line=1 d=1", "data - 2 line=2 d={\"a\":2}", "data - 3 line=4 d=3"}},
		{"payload spaces trimmed", "  {\"a\" : 1}\t \n", 0, []string{"data - 1 line=1 d={\"a\" : 1}"}},
		{"last line without newline", "1\n2", 0, []string{"data - 1 line=1 d=1", "data - 2 line=2 d=2"}},
		{"BOM at start", "\xef\xbb\xbf{\"a\":1}\n2\n", 0, []string{"data - 1 line=1 d={\"a\":1}", "data - 2 line=2 d=2"}},
		{"BOM only at start", "1\n\xef\xbb\xbf2\n", 0, []string{"data - 1 line=1 d=1", "ERR parse line=2 raw=\ufeff2"}},
		{"BOM before frame", "\xef\xbb\xbf{\"obz\":1,\"t\":\"eof\",\"w\":\"a\",\"n\":0,\"kind\":\"natural\"}\n", 0,
			[]string{"eof a 0 line=1 d="}},
		// A writer killed in the middle of a frame: cut just after its
		// payload's "}", the line would decode to a payload without it.
		{"torn frame", "{\"obz\":1,\"t\":\"data\",\"w\":\"a\",\"s\":1,\"d\":{\"x\":1}}\n{\"obz\":1,\"t\":\"data\",\"w\":\"a\",\"s\":2,\"d\":{\"x\":2}", 0,
			[]string{"data a 1 line=1 d={\"x\":1}", "ERR frame line=2 raw={\"obz\":1,\"t\":\"data\",\"w\":\"a\",\"s\":2,\"d\":{\"x\":2}"}},
		{"torn frame, cut after a nested payload", "{\"obz\":1,\"t\":\"data\",\"w\":\"a\",\"s\":1,\"d\":{\"x\":{\"y\":1}}", 0,
			[]string{"ERR frame line=1 raw={\"obz\":1,\"t\":\"data\",\"w\":\"a\",\"s\":1,\"d\":{\"x\":{\"y\":1}}"}},
		{"BOM alone", "\xef\xbb\xbf", 0, nil},
		{"invalid UTF-8", "{\"a\":\"\xff\"}\n1\n", 0,
			[]string{"ERR utf8 line=1 raw={\"a\":\"\ufffd\"}", "data - 1 line=2 d=1"}},
		{"invalid JSON", "{bad\n1\n{\"a\":1}x\n", 0,
			[]string{"ERR parse line=1 raw={bad", "data - 1 line=2 d=1", "ERR parse line=3 raw={\"a\":1}x"}},
		{"two values on a line", "1 2\n", 0, []string{"ERR parse line=1 raw=1 2"}},
		{"frames and bare lines mixed",
			"{\"obz\":1,\"t\":\"data\",\"w\":\"up\",\"s\":1,\"d\":{\"a\":1}}\n7\n{\"obz\":1,\"t\":\"eof\",\"w\":\"up\",\"n\":1,\"kind\":\"natural\"}\n",
			0, []string{"data up 1 line=1 d={\"a\":1}", "ERR frame line=2 raw=7", "eof up 0 line=3 d="}},
		{"broken frame", "{\"obz\":1,\"t\":\"data\"}\n1\n", 0,
			[]string{"ERR frame line=1 raw={\"obz\":1,\"t\":\"data\"}", "ERR frame line=2 raw=1"}},
		{"frame-shaped lines in a bare stream are data",
			"1\n{\"obz\":1,\"t\":\"eof\",\"w\":\"up\",\"n\":0,\"kind\":\"natural\"}\n{\"obz\":\"yes\"}\n",
			0, []string{"data - 1 line=1 d=1", "data - 2 line=2 d={\"obz\":1,\"t\":\"eof\",\"w\":\"up\",\"n\":0,\"kind\":\"natural\"}", "data - 3 line=3 d={\"obz\":\"yes\"}"}},
		{"a first line without a version number makes a bare stream",
			"\n{\"obz\":\"yes\",\"id\":2}\n{\"obz\":0}\n", 0, []string{"data - 1 line=2 d={\"obz\":\"yes\",\"id\":2}", "data - 2 line=3 d={\"obz\":0}"}},
		{"a first frame with a space before its version",
			"{\"obz\": 1,\"t\":\"eof\",\"w\":\"a\",\"n\":0,\"kind\":\"natural\"}\n", 0, []string{"eof a 0 line=1 d="}},
		{"newer version", "{\"obz\":2,\"t\":\"new\"}\n", 0, []string{"ERR version line=1 raw={\"obz\":2,\"t\":\"new\"}"}},
		{"frame with invalid UTF-8", "{\"obz\":1,\"t\":\"\xff\"}\n", 0, []string{"ERR frame line=1 raw={\"obz\":1,\"t\":\"\ufffd\"}"}},
		{"too long then next line", long + "\n1\n", 100,
			[]string{"ERR too-long line=1 size=150 rawlen=150", "data - 1 line=2 d=1"}},
		{"too long last line", "1\n" + long, 100,
			[]string{"data - 1 line=1 d=1", "ERR too-long line=2 size=150 rawlen=150"}},
		{"too long lines in a row", long + "\n" + long + "\r\n" + long + long + "\n2", 100,
			[]string{"ERR too-long line=1 size=150 rawlen=150", "ERR too-long line=2 size=150 rawlen=150",
				"ERR too-long line=3 size=300 rawlen=300", "data - 1 line=4 d=2"}},
		{"exactly the limit", exact + "\n" + exact + "\r\n" + exact, 100,
			[]string{"data - 1 line=1 d=" + exact, "data - 2 line=2 d=" + exact, "data - 3 line=3 d=" + exact}},
		{"exactly the limit with BOM", "\xef\xbb\xbf" + exact + "\r\n", 100, []string{"data - 1 line=1 d=" + exact}},
		{"one over the limit", exact + "1\n" + exact + "\r\r\n", 100,
			[]string{"ERR too-long line=1 size=101 rawlen=101", "ERR too-long line=2 size=101 rawlen=101"}},
		{"blank line over the limit", strings.Repeat(" ", 150) + "\n", 100, []string{"ERR too-long line=1 size=150 rawlen=150"}},
	}
	for _, tc := range tests {
		for _, ch := range chunkings {
			t.Run(tc.name+"/"+ch.name, func(t *testing.T) {
				r := NewReader(ch.wrap(strings.NewReader(tc.in)), tc.max)
				got := readAll(t, r, 1000)
				if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
					t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
				}
				if r.BytesRead() != int64(len(tc.in)) {
					t.Errorf("BytesRead = %d, want %d", r.BytesRead(), len(tc.in))
				}
				if n := int64(strings.Count(strings.TrimSuffix(tc.in, "\n"), "\n") + 1); tc.in != "" && r.LineNumber() != n {
					t.Errorf("LineNumber = %d, want %d", r.LineNumber(), n)
				}
				if r.Err() != nil {
					t.Errorf("Err = %v", r.Err())
				}
			})
		}
	}
}

// TestReaderTooLongPrefix checks the raw text kept from long lines, with
// lines larger than the reader's first buffer so that it has to grow.
func TestReaderTooLongPrefix(t *testing.T) {
	const max = 200 << 10
	ok := `"` + strings.Repeat("é", (max-2)/2) + `"`
	tooLong := strings.Repeat("é", max)
	in := ok + "\n" + tooLong + "\n" + "1\n"
	for _, ch := range chunkings[:3] {
		r := NewReader(ch.wrap(strings.NewReader(in)), max)
		var f Frame
		if err := r.Next(&f); err != nil || len(f.Payload) != len(ok) {
			t.Fatalf("%s: first line: %v (%d bytes)", ch.name, err, len(f.Payload))
		}
		err := r.Next(&f)
		var le *LineError
		if !errors.As(err, &le) || !errors.Is(err, ErrFrameTooLarge) {
			t.Fatalf("%s: second line: %v", ch.name, err)
		}
		if le.Size != int64(len(tooLong)) || le.Line != 2 || len(le.Raw) > 1024 || len(le.Raw) < 1020 ||
			!utf8.Valid(le.Raw) || !strings.HasPrefix(tooLong, string(le.Raw)) {
			t.Errorf("%s: got line %d size %d raw %d bytes", ch.name, le.Line, le.Size, len(le.Raw))
		}
		if !strings.Contains(le.Error(), "line 2:") || !strings.Contains(le.Msg, "--max-line") {
			t.Errorf("%s: message %q", ch.name, le.Error())
		}
		if err := r.Next(&f); err != nil || string(f.Payload) != "1" || f.Line != 3 {
			t.Errorf("%s: third line: %v %q", ch.name, err, f.Payload)
		}
		if err := r.Next(&f); err != io.EOF {
			t.Errorf("%s: end: %v", ch.name, err)
		}
	}
}

func TestReaderCounters(t *testing.T) {
	in := "1\n\n{\"a\":2}\r\n3"
	r := NewReader(strings.NewReader(in), 0)
	var f Frame
	want := []struct{ bytes, line int64 }{{2, 1}, {12, 3}, {13, 4}}
	for i, w := range want {
		if err := r.Next(&f); err != nil {
			t.Fatal(err)
		}
		if r.BytesRead() != w.bytes || r.LineNumber() != w.line || f.Line != w.line || r.BareCount() != uint64(i+1) {
			t.Errorf("event %d: bytes %d line %d frame line %d bare %d", i, r.BytesRead(), r.LineNumber(), f.Line, r.BareCount())
		}
	}
}

// TestReaderBeforeFill checks that BeforeFill runs before every read of the
// underlying reader, and not while complete lines are buffered.
func TestReaderBeforeFill(t *testing.T) {
	src := &watchReader{r: strings.NewReader("1\n2\n3\n4")}
	src.r = &chunkReader{r: src.r, n: 4}
	r := NewReader(src, 0)
	calls := 0
	r.BeforeFill = func() { calls++; src.armed = true }
	got := readAll(t, r, 100)
	if len(got) != 4 {
		t.Fatalf("got %v", got)
	}
	if src.unarmed > 0 {
		t.Errorf("%d reads without BeforeFill first", src.unarmed)
	}
	if calls != src.reads {
		t.Errorf("BeforeFill called %d times for %d reads", calls, src.reads)
	}
}

type watchReader struct {
	r              io.Reader
	armed          bool
	reads, unarmed int
}

func (w *watchReader) Read(p []byte) (int, error) {
	w.reads++
	if !w.armed {
		w.unarmed++
	}
	w.armed = false
	return w.r.Read(p)
}

func TestReaderReadError(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(strings.NewReader("1\n2"), iotest.ErrReader(boom)), 0)
	var f Frame
	for _, want := range []string{"1", "2"} {
		if err := r.Next(&f); err != nil || string(f.Payload) != want {
			t.Fatalf("Next = %v %q, want %s", err, f.Payload, want)
		}
	}
	if err := r.Next(&f); err != boom {
		t.Errorf("Next = %v, want boom", err)
	}
	if r.Err() != boom {
		t.Errorf("Err = %v", r.Err())
	}
}

// TestReaderNoProgress checks that a reader that keeps returning nothing
// does not make Next spin for ever.
func TestReaderNoProgress(t *testing.T) {
	r := NewReader(emptyReader{}, 0)
	var f Frame
	if err := r.Next(&f); err != io.ErrNoProgress {
		t.Errorf("Next = %v, want io.ErrNoProgress", err)
	}
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

// TestReaderInterns checks that frames of the same writer share its name and
// that decoding a framed stream does not allocate.
func TestReaderInterns(t *testing.T) {
	line := "{\"obz\":1,\"t\":\"data\",\"w\":\"map\",\"s\":1,\"p\":[\"read\",1],\"d\":{}}\n"
	r := NewReader(strings.NewReader(strings.Repeat(line, 300)), 0)
	var f Frame
	if err := r.Next(&f); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := r.Next(&f); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Next allocates %v times per frame", allocs)
	}
	if f.Writer != "map" || f.Parent.Writer != "read" {
		t.Errorf("got %+v", f)
	}
}

// TestReaderTooLongRawBound checks that the raw prefix stays within 1 KiB
// even when invalid bytes are replaced by the longer U+FFFD.
func TestReaderTooLongRawBound(t *testing.T) {
	line := strings.Repeat("a\xff", 2000)
	r := NewReader(strings.NewReader(line+"\n"), 100)
	var f Frame
	var le *LineError
	if err := r.Next(&f); !errors.As(err, &le) || le.Kind != "too-long" {
		t.Fatalf("Next = %v", err)
	}
	if len(le.Raw) > 1024 || !utf8.Valid(le.Raw) || !strings.HasPrefix(string(le.Raw), "a\ufffda") {
		t.Errorf("raw of %d bytes: %.20q", len(le.Raw), le.Raw)
	}
}

// readCounter counts the reads of the underlying reader.
type readCounter struct {
	r io.Reader
	n int
}

func (c *readCounter) Read(p []byte) (int, error) {
	c.n++
	return c.r.Read(p)
}

// TestReaderBuffered: when Buffered says so, Next reads nothing more, blank
// lines included; when it says not, Next has to read.
func TestReaderBuffered(t *testing.T) {
	src := &readCounter{r: iotest.HalfReader(strings.NewReader("{\"a\":1}\n\n  \r\n{\"a\":2}\n{\"a\":3}\n\n{\"a\":4}"))}
	r := NewReader(src, 0)
	var f Frame
	var got []string
	for {
		buffered, before := r.Buffered(), src.n
		err := r.Next(&f)
		if buffered && src.n != before {
			t.Fatalf("Buffered said a line was buffered, but Next read (%q)", got)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(f.Payload))
	}
	if strings.Join(got, " ") != `{"a":1} {"a":2} {"a":3} {"a":4}` {
		t.Errorf("read %q", got)
	}
	if !r.Buffered() {
		t.Error("Buffered is false at the end of the stream")
	}
	if r = NewReader(strings.NewReader("{\"a\":1}\n\n  \n{\"a\""), 0); r.Next(&f) != nil || r.Buffered() {
		t.Error("Buffered is true with only blank lines and a partial one buffered")
	}
}

// TestReaderReplaceInvalidUTF8: with ReplaceInvalidUTF8 a bare line with bad
// bytes is read as jq reads it, U+FFFD for each bad byte; without, it is a
// utf8 error. Frames are not touched.
func TestReaderReplaceInvalidUTF8(t *testing.T) {
	in := "{\"a\":\"x\xff\xfey\",\"b\xc3\":1}\n\xff\n2\n"
	for _, ch := range chunkings {
		r := NewReader(ch.wrap(strings.NewReader(in)), 0)
		r.ReplaceInvalidUTF8 = true
		got := readAll(t, r, 10)
		want := []string{"data - 1 line=1 d={\"a\":\"x\ufffd\ufffdy\",\"b\ufffd\":1}", "ERR parse line=2 raw=\ufffd", "data - 2 line=3 d=2"}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: got %q, want %q", ch.name, got, want)
		}
	}
	got := readAll(t, NewReader(strings.NewReader(in), 0), 10)
	if len(got) != 3 || !strings.HasPrefix(got[0], "ERR utf8 line=1") {
		t.Errorf("without the option: %q", got)
	}
}

// TestReaderBareFrameShapedLimit: in a bare stream, a frame-shaped line is
// data, held to the limit of bare lines (no frame slack), and its
// too-long error belongs to no writer.
func TestReaderBareFrameShapedLimit(t *testing.T) {
	big := `{"obz":1,"t":"data","w":"x","s":1,"d":"` + strings.Repeat("a", 200) + `"}`
	r := NewReader(strings.NewReader("1\n"+big+"\n2\n"), 100)
	got := readAll(t, r, 10)
	if len(got) != 3 || !strings.HasPrefix(got[1], "ERR too-long line=2") || got[2] != "data - 2 line=3 d=2" {
		t.Errorf("got %q", got)
	}
}
