package format

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/obz-dev/obz/wire"
)

func TestCSVEncoder(t *testing.T) {
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	enc := NewCSVEncoder(w, ',', true)
	var kinds []string
	for _, p := range []string{
		`{"a":1,"b":"x,y","c":true}`,
		`{"b":null, "a":[1, 2]}`,
		`{"a":2,"d":1}`,
		`3`,
		`{`,
		`{"c":false,"a":"q\"r"}`,
	} {
		bad, err := enc.Encode([]byte(p))
		if err != nil {
			t.Fatal(err)
		}
		if bad != nil {
			kinds = append(kinds, bad.Kind)
		}
	}
	if err := enc.Flush(); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	want := "a,b,c\n1,\"x,y\",true\n\"[1,2]\",,\n\"q\"\"r\",,false\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
	if got := strings.Join(kinds, " "); got != "csv-keys csv-type parse" {
		t.Errorf("problems %q", got)
	}
}

// TestCSVRoundTrip: what the encoder writes, the decoder reads back, in
// CSV (quoted) and TSV (escaped).
func TestCSVRoundTrip(t *testing.T) {
	in := []string{
		`{"id":"1","s":"a \"quoted\", multi\nline","t":"tab\there"}`,
		`{"id":"2","s":"","t":"C:\\new\\t\\\\x\n"}`, // not \r\n: encoding/csv reads it as \n
		`{"id":"3","s":"says \"hi\" there","t":"\"unclosed"}`,
	}
	for _, f := range []Format{CSV, TSV} {
		var out bytes.Buffer
		w := bufio.NewWriter(&out)
		enc := NewCSVEncoder(w, ',', true)
		if f == TSV {
			enc = NewTSVEncoder(w, true)
		}
		for _, p := range in {
			if bad, err := enc.Encode([]byte(p)); bad != nil || err != nil {
				t.Fatal(bad, err)
			}
		}
		enc.Flush()
		w.Flush()
		if f == TSV && strings.Count(out.String(), "\n") != len(in)+1 {
			t.Errorf("TSV: a line per row, got\n%s", out.String())
		}
		var got []string
		err := NewDecoder(&out, f, Options{Name: "t", CSV: CSVOptions{Values: Strings}}).Decode(func(r *Record) error {
			if r.Problem != nil {
				t.Fatalf("%s: problem %+v", f, r.Problem)
			}
			got = append(got, string(r.Payload))
			return nil
		})
		if err != nil || strings.Join(got, "\n") != strings.Join(in, "\n") {
			t.Errorf("%s: err %v, got\n%s", f, err, strings.Join(got, "\n"))
		}
	}
}

func TestTSVEscapes(t *testing.T) {
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	enc := NewTSVEncoder(w, true)
	if bad, err := enc.Encode([]byte(`{"a\tb":"x\ty","n":"l1\nl2\r","p":"C:\\dir","q":"\"q\""}`)); bad != nil || err != nil {
		t.Fatal(bad, err)
	}
	enc.Flush()
	w.Flush()
	want := "a\\tb\tn\tp\tq\nx\\ty\tl1\\nl2\\r\tC:\\\\dir\t\"q\"\n"
	if out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
	for in, want := range map[string]string{
		`a\tb`: "a\tb", `\n\r\\`: "\n\r\\", `C:\path\x`: `C:\path\x`, `end\`: `end\`,
		`a\\tb`: `a\tb`, `\\\\`: `\\`, `\x\`: `\x\`, `plain`: `plain`,
	} {
		if got := unescapeTSV(in); got != want {
			t.Errorf("unescape %q = %q, want %q", in, got, want)
		}
	}
}

// FuzzTSVRoundTrip: any object of string fields, written as TSV and read
// back, is the same object.
func FuzzTSVRoundTrip(f *testing.F) {
	f.Add("k", "v", "says \"hi\" there", "C:\\new")
	f.Add("a\tb", "\\", "\n\r", "\\t")
	f.Add("x", "", "\"", "end\\")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		if k1 == "" || k2 == "" || k1 == k2 || strings.HasPrefix(k1, "\ufeff") {
			return // an empty name is renamed c<N>, a repeated one _2; a BOM at the start is dropped
		}
		for _, s := range []string{k1, v1, k2, v2} {
			if !utf8.ValidString(s) {
				return // not UTF-8: a problem, not a row
			}
		}
		in := `{` + jsonString(k1) + `:` + jsonString(v1) + `,` + jsonString(k2) + `:` + jsonString(v2) + `}`
		var out bytes.Buffer
		enc := NewTSVEncoder(&out, true)
		if bad, err := enc.Encode([]byte(in)); bad != nil || err != nil {
			t.Fatal(bad, err)
		}
		var got []string
		err := NewDecoder(&out, TSV, Options{Name: "t", CSV: CSVOptions{Values: Strings}}).Decode(func(r *Record) error {
			if r.Problem != nil {
				t.Fatalf("problem %+v reading %q", r.Problem, out.String())
			}
			got = append(got, string(r.Payload))
			return nil
		})
		if err != nil || len(got) != 1 || got[0] != in {
			t.Fatalf("err %v: wrote %s as %q, read back %q", err, in, out.String(), got)
		}
	})
}

func jsonString(s string) string { return string(wire.AppendString(nil, s)) }
