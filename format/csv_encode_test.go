package format

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
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

// TestCSVRoundTrip: what the encoder writes, the decoder reads back.
func TestCSVRoundTrip(t *testing.T) {
	in := []string{`{"id":"1","s":"a \"quoted\", multi\nline"}`, `{"id":"2","s":""}`}
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	enc := NewCSVEncoder(w, '\t', true)
	for _, p := range in {
		if bad, err := enc.Encode([]byte(p)); bad != nil || err != nil {
			t.Fatal(bad, err)
		}
	}
	enc.Flush()
	w.Flush()
	var got []string
	err := NewDecoder(&out, TSV, Options{Name: "t", CSV: CSVOptions{Values: Strings}}).Decode(func(r *Record) error {
		if r.Problem != nil {
			t.Fatalf("problem %+v", r.Problem)
		}
		got = append(got, string(r.Payload))
		return nil
	})
	if err != nil || strings.Join(got, "\n") != strings.Join(in, "\n") {
		t.Errorf("err %v, got\n%s", err, strings.Join(got, "\n"))
	}
}
