package format

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

// checkJSONItems checks that the items of in cover it: in order, without
// overlap, with only whitespace (and, in an array, [ , ]) between them;
// that values are valid compact JSON; and that errors have a line.
func checkJSONItems(t *testing.T, in []byte, max int) {
	var prev int64
	array := len(bytes.TrimLeft(in, " \t\r\n")) > 0 && bytes.TrimLeft(in, " \t\r\n")[0] == '['
	err := scanJSON(bytes.NewReader(in), max, func(it *jsonItem) error {
		if it.Start < prev || it.End < it.Start || it.Kind == "" && it.End == it.Start || it.End > int64(len(in)) {
			t.Fatalf("item [%d,%d) after %d in %q", it.Start, it.End, prev, in)
		}
		gap := in[prev:it.Start]
		if strings.Trim(string(gap), " \t\r\n"+map[bool]string{true: "[,]"}[array]) != "" {
			t.Fatalf("bytes %d..%d (%q) not accounted for in %q", prev, it.Start, gap, in)
		}
		if it.Kind == "" {
			if !json.Valid(it.Value) || bytes.ContainsAny(it.Value, "\n") {
				t.Fatalf("value %q is not compact JSON", it.Value)
			}
		} else if it.Line < 1 || !bytes.Equal(it.Raw, bytes.ToValidUTF8(it.Raw, []byte("\ufffd"))) || len(it.Raw) > rawLimit {
			t.Fatalf("error item %+v", it)
		}
		prev = it.End
		return nil
	})
	if err != nil {
		t.Fatalf("scanJSON: %v", err)
	}
	if rest := in[prev:]; strings.Trim(string(rest), " \t\r\n"+map[bool]string{true: "[,]"}[array]) != "" {
		t.Fatalf("the end (%q) not accounted for in %q", rest, in)
	}
}

func FuzzReadJSON(f *testing.F) {
	for _, s := range []string{
		`[{"a":1},{"b":[1,2]}]`, "{\"a\":1}{\"b\":2}\n3 \"x\"", "[\n {oops},\n {\"a\":2}\n]", "{\n \"a\": x\n}\n{\"b\":1}",
		"[1,2", "[1]]", "]", "{", `"\u12`, "[[[[", "\xff", "[1]\n[2,{\"a\":\"\xfe\"}]", "1e", "-", `{"a":1}]`,
	} {
		f.Add([]byte(s), 64)
	}
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		max = 16 + max&0xff
		checkJSONItems(t, in, max)
	})
}

// TestReadJSONHostile: deep nesting and an endless value end in error
// items, in bounded memory, without decoding the same bytes again and again.
func TestReadJSONHostile(t *testing.T) {
	deep := strings.Repeat("[\n", 200000) // column-0 "[" lines, nested past the decoder's depth limit
	var items int
	err := scanJSON(strings.NewReader("{\"a\":1}\n"+deep), 1<<20, func(it *jsonItem) error {
		items++
		return nil
	})
	if err != nil || items < 2 {
		t.Errorf("deep nesting: err %v, %d items", err, items)
	}

	// A 32 MiB string value, read in small pieces, with a limit of 64 KiB.
	huge := io.MultiReader(strings.NewReader("{\"a\":1}\n\"x"), &repeatReader{b: 'x', n: 32 << 20}, strings.NewReader("\"\n{\"a\":2}\n"))
	tape := &jsonTape{r: huge, max: 64 << 10}
	var got []string
	var maxBuf int
	s := &jsonScan{t: tape, yield: func(it *jsonItem) error {
		got = append(got, it.Kind+string(it.Value))
		return nil
	}}
	tape.r = &peekCap{r: huge, tape: tape, max: &maxBuf}
	if err := s.run(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != `{"a":1} too-long {"a":2}` {
		t.Errorf("got %q", got)
	}
	if maxBuf > 1<<20 {
		t.Errorf("the tape grew to %d bytes for a value limit of 64 KiB", maxBuf)
	}
}

type repeatReader struct {
	b byte
	n int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	p = p[:min(len(p), r.n, 4096)]
	for i := range p {
		p[i] = r.b
	}
	r.n -= len(p)
	return len(p), nil
}

// peekCap records the largest tape buffer seen.
type peekCap struct {
	r    io.Reader
	tape *jsonTape
	max  *int
}

func (p *peekCap) Read(b []byte) (int, error) {
	*p.max = max(*p.max, cap(p.tape.buf))
	return p.r.Read(b)
}
