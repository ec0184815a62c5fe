package stages

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

// jsonEvents runs read --format json over in and returns its frames.
func jsonEvents(t *testing.T, in string, maxLine int) []wire.Frame {
	t.Helper()
	p := readTempFile(t, "in.json", in)
	r := runRead(t, context.Background(), readOpts([]string{p}), nil, runner.Framed, maxLine)
	if r.Err != nil {
		t.Fatalf("err %v\n%s", r.Err, r.Out)
	}
	fs := readFrames(t, r.Out)
	if eof := fs[len(fs)-1]; eof.Kind != wire.KindEOF || eof.EOF != wire.Natural || eof.Count != uint64(len(fs)-1) {
		t.Fatalf("last frame %+v, want a natural EOF counting %d", eof, len(fs)-1)
	}
	return fs[:len(fs)-1]
}

// describe writes frames as "data" payloads and "err:kind@line raw" lines.
func describe(fs []wire.Frame) string {
	var b strings.Builder
	for _, f := range fs {
		if f.Kind == wire.KindError {
			fmt.Fprintf(&b, "err:%s@%d %s\n", f.Err.Kind, f.Err.Line, f.Err.Raw)
			continue
		}
		fmt.Fprintf(&b, "%s\n", f.Payload)
	}
	return b.String()
}

func TestReadJSON(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"array", `[{"a":1},{"b":[1,2]} , "s", 3, null, true, {"c":{"d":"x y"}}]`,
			"{\"a\":1}\n{\"b\":[1,2]}\n\"s\"\n3\nnull\ntrue\n{\"c\":{\"d\":\"x y\"}}\n"},
		{"pretty array", "\n  [\n  {\n    \"a\": 1,\n    \"s\": \"x\\n y\"\n  },\n  {\n    \"a\": 2\n  }\n]\n",
			"{\"a\":1,\"s\":\"x\\n y\"}\n{\"a\":2}\n"},
		{"empty array", "[ ]\n", ""},
		{"arrays one after another", "[1,2]\n[3]\n[]", "1\n2\n3\n"},
		{"concatenated", `{"a":1}{"b":2} {"c":3}` + "\n" + `"x"4 [5,6]`, "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n\"x\"\n4\n[5,6]\n"},
		{"ndjson", "{\"a\":1}\r\n\n{\"a\":2}", "{\"a\":1}\n{\"a\":2}\n"},
		{"jq output", "{\n  \"a\": 1\n}\n{\n  \"a\": [\n    2\n  ]\n}\n", "{\"a\":1}\n{\"a\":[2]}\n"},
		{"blank", " \n\t\n", ""},
		{"empty", "", ""},
		{"escapes kept", `{"q":"a\"b\\ \u00e9 é"}`, `{"q":"a\"b\\ \u00e9 é"}` + "\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := describe(jsonEvents(t, c.in, 0)); got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}

func TestReadJSONErrors(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		// Concatenated values: reading resumes at the next line starting with { or [.
		{"bad ndjson line", "{\"a\":1}\n{oops\n{\"a\":2}\n", "{\"a\":1}\nerr:parse@2 {oops\n{\"a\":2}\n"},
		{"unclosed string", "{\"a\":\"x}\n{\"a\":2}\n", "err:parse@1 {\"a\":\"x}\n{\"a\":2}\n"},
		{"bad jq object", "{\n  \"a\": 1\n}\n{\n  \"a\": oops\n}\n{\n  \"b\": 2\n}\n",
			"{\"a\":1}\nerr:parse@4 {\n  \"a\": oops\n}\n{\"b\":2}\n"},
		{"truncated", "{\"a\":1}\n{\"a\":", "{\"a\":1}\nerr:parse@2 {\"a\":\n"},
		{"garbage to the end", "1 2 x 3 4", "1\n2\nerr:parse@1 x 3 4\n"},
		// Arrays: reading resumes at the next line whose first non-blank is {.
		{"bad element", "[\n  {\"a\":1},\n  {oops},\n  {\"a\":2}\n]\n", "{\"a\":1}\nerr:parse@3 {oops}\n{\"a\":2}\n"},
		{"bad scalar element", "[1,2,x,3]", "1\n2\nerr:parse@1 x,3]\n"},
		{"missing comma", "[{\"a\":1} {\"a\":2}]", "{\"a\":1}\nerr:parse@1 {\"a\":2}]\n"},
		{"not closed", "[{\"a\":1},{\"a\":2}\n", "{\"a\":1}\n{\"a\":2}\nerr:parse@2 \n"},
		{"cut in an element", "[{\"a\":1},{\"a\":", "{\"a\":1}\nerr:parse@1 {\"a\":\n"},
		{"object after the array", "[1]\n{\"a\":1}\n", "1\nerr:parse@2 {\"a\":1}\n"},
		{"utf8", "{\"a\":\"M\xfcller\"}\n{\"a\":2}", "err:utf8@1 {\"a\":\"M\ufffdller\"}\n{\"a\":2}\n"},
		{"too long", "{\"a\":1}\n{\"long\":\"" + strings.Repeat("x", 200) + "\"}\n{\"a\":2}\n",
			"{\"a\":1}\nerr:too-long@2 {\"long\":\"" + strings.Repeat("x", 200) + "\"}\n{\"a\":2}\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := describe(jsonEvents(t, c.in, 100)); got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}

func TestReadJSONErrorMessage(t *testing.T) {
	fs := jsonEvents(t, "{\"a\":1}\n{oops\n\n{\"a\":2}\n", 0)
	e := fs[1].Err
	if e == nil || !strings.Contains(e.Msg, "in.json:2: invalid JSON: invalid character 'o' looking for beginning of object key string (7 bytes skipped; reading resumes at line 4)") {
		t.Errorf("message: %+v", e)
	}
	fs = jsonEvents(t, "[1,\n2,", 0)
	if e := fs[2].Err; e == nil || !strings.HasSuffix(e.Msg, "in.json:2: invalid JSON: unexpected end of input: the array is not closed") {
		t.Errorf("message: %+v", e)
	}
	fs = jsonEvents(t, "[1,\n2,{\"a\":", 0)
	if e := fs[2].Err; e == nil || !strings.HasSuffix(e.Msg, "in.json:2: invalid JSON: unexpected end of input (an unfinished value) (the rest of the input, 5 bytes, is skipped)") {
		t.Errorf("message: %+v", e)
	}
}

// TestReadJSONStreams: an array's elements come out as they are read,
// before the array ends (stdin kept open).
func TestReadJSONStreams(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := newReadSignalBuffer()
	st, err := readSpec.New(readOpts(nil, "format=json"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- runner.Run(ctx, &readSpec, st, &runner.Env{Stdin: pr, Stdout: out, Stderr: io.Discard, Output: runner.Raw})
	}()
	pw.Write([]byte("[{\"a\":1},\n"))
	for !strings.Contains(out.String(), `{"a":1}`) {
		select {
		case <-out.wrote:
		case <-time.After(10 * time.Second):
			t.Fatal("the first element was not written while the array was open")
		}
	}
	pw.Write([]byte("{\"a\":2}]"))
	pw.Close()
	if err := <-done; err != nil || out.String() != "{\"a\":1}\n{\"a\":2}\n" {
		t.Errorf("err %v, got %q", err, out.String())
	}
}
