package format

import (
	"strconv"
	"strings"
	"testing"
)

// decodeAll reads in as f and returns one line per record: the payload,
// or "LINE KIND: MSG" for a problem.
func decodeAll(t *testing.T, in string, f Format, o Options) []string {
	t.Helper()
	var got []string
	err := NewDecoder(strings.NewReader(in), f, o).Decode(func(r *Record) error {
		if r.Problem != nil {
			got = append(got, strings.Join([]string{strconv.FormatInt(r.Line, 10), r.Problem.Kind + ":", r.Problem.Msg}, " "))
		} else {
			got = append(got, string(r.Payload))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestTSVDecode(t *testing.T) {
	in := "\xef\xbb\xbfa\tb\r\n" + // BOM, CRLF
		"1\tsays \"hi\" there\n" + // quotes are ordinary
		"\n" + // blank: skipped
		"2\t" + strings.Repeat("x", 40) + "\n" + // over MaxLine: a problem, reading goes on
		"3\tM\xfcller\n" + // not UTF-8
		"4\n" + // ragged
		"5\t\"unclosed\n" +
		"6\tlast" // no newline
	got := decodeAll(t, in, TSV, Options{Name: "t", MaxLine: 30, CSV: CSVOptions{RaggedHint: "--allow-ragged reads such rows"}})
	want := []string{
		`{"a":1,"b":"says \"hi\" there"}`,
		`4 too-long: line of 42 bytes exceeds the limit of 30 bytes (raise it with --max-line)`,
		`5 utf8: invalid UTF-8 (convert the file, e.g. iconv -f latin1 -t utf-8)`,
		`6 csv: 1 fields, but the header has 2 (--allow-ragged reads such rows)`,
		`{"a":5,"b":"\"unclosed"}`,
		`{"a":6,"b":"last"}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestRaggedRows(t *testing.T) {
	for _, f := range []Format{CSV, TSV} {
		sep := map[Format]string{CSV: ",", TSV: "\t"}[f]
		in := strings.ReplaceAll("a,b,c\n1,2\n3,4,5,6,7\n", ",", sep)
		got := decodeAll(t, in, f, Options{Name: "t", CSV: CSVOptions{Ragged: true}})
		want := `{"a":1,"b":2}` + "\n" + `{"a":3,"b":4,"c":5,"4":6,"5":7}`
		if strings.Join(got, "\n") != want {
			t.Errorf("%s: got\n%s", f, strings.Join(got, "\n"))
		}
		got = decodeAll(t, strings.ReplaceAll("1,2\n3,4,5\n", ",", sep), f, Options{Name: "t", CSV: CSVOptions{Ragged: true, NoHeader: true}})
		want = `{"c1":1,"c2":2}` + "\n" + `{"c1":3,"c2":4,"c3":5}`
		if strings.Join(got, "\n") != want {
			t.Errorf("%s --no-header: got\n%s", f, strings.Join(got, "\n"))
		}
	}
}
