package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// addSeeds adds the canonical frames, the golden inputs' lines and a few
// odd lines to a fuzz corpus.
func addSeeds(f *testing.F, lines bool) {
	for _, tc := range canonical {
		f.Add([]byte(tc.line))
	}
	for _, s := range []string{
		`{"obz":1,"t":"data","w":"w","s":1,"p":["up",1],"d":{"a":[1,2]}}`,
		`{"obz":1,"x":{"y":[1,{"z":"}"}]},"t":"data","w":"\u0077","s":2,"d":1 }`,
		`{"obz":2,"t":"data"}`,
		`{"obz":1,"t":"error","w":"w","s":1,"err":{"line":-1},"raw":"\ud800","d":1}`,
		`{"obz":1,"t":"wm","w":"w","at":-0}`,
		`{"obz":1,"t":"order","w":"m","runs":[ ["a" ,1] , ["\u0062",18446744073709551615]],"x":1}`,
		`{"obz":1,"t":"order","w":"m","runs":[["a",0]]}`,
		"{\"obz\":1,\"t\":\"data\",\"w\":\"w\",\"s\":1,\"d\":1\n}",
		"\xef\xbb\xbf1\r\n\n  \n{bad\n\xff\n" + strings.Repeat("x", 100) + "\n2",
		"",
	} {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob("../testdata/wire/*.ndjson")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		if !lines {
			f.Add(b)
			continue
		}
		for _, l := range bytes.Split(b, []byte("\n")) {
			f.Add(l)
		}
	}
}

// FuzzDecode checks that Decode never panics and that what it accepts has a
// canonical encoding that decodes to the same frame and encodes the same.
func FuzzDecode(f *testing.F) {
	addSeeds(f, true)
	var dec Decoder // shared across inputs, as in a stream
	f.Fuzz(func(t *testing.T, line []byte) {
		var f1, f2 Frame
		err := Decode(line, &f1)
		var f3 Frame
		if err3 := dec.Decode(line, &f3); (err == nil) != (err3 == nil) || err == nil && !equalFrames(&f1, &f3) {
			t.Fatalf("Decoder and Decode disagree on %q: %v %v", line, err, err3)
		}
		if err != nil {
			return
		}
		enc1 := AppendFrame(nil, &f1)
		if !bytes.HasSuffix(enc1, []byte("\n")) || !IsFrame(enc1) {
			t.Fatalf("encoding %q is not a frame line", enc1)
		}
		if !bytes.Contains(line, []byte("\n")) && bytes.Count(enc1, []byte("\n")) != 1 {
			t.Fatalf("encoding %q of a one-line frame spans several lines", enc1)
		}
		if err := Decode(enc1[:len(enc1)-1], &f2); err != nil {
			t.Fatalf("decoding the encoding %q of %q: %v", enc1, line, err)
		}
		if !equalFrames(&f1, &f2) {
			t.Fatalf("round trip of %q changed the frame:\n%s\n%s", line, frameString(&f1), frameString(&f2))
		}
		if enc2 := AppendFrame(nil, &f2); !bytes.Equal(enc1, enc2) {
			t.Fatalf("encoding is not stable:\n%s%s", enc1, enc2)
		}
	})
}

// FuzzReader feeds arbitrary bytes, in chunks of a size taken from the
// input, through a Reader with a small line limit. The Reader must end, and
// account for every line that is not blank exactly once: as a frame or as a
// *LineError with that line's number.
func FuzzReader(f *testing.F) {
	addSeeds(f, false)
	f.Fuzz(func(t *testing.T, data []byte) {
		const max = 64
		chunk := 1
		if len(data) > 0 {
			chunk = 1 + int(data[0]%16)
		}
		want := expectedLines(data, max)
		r := NewReader(&chunkReader{r: bytes.NewReader(data), n: chunk}, max)
		r.Index = len(data) > 0 && data[0]&0x10 != 0
		var got []int64
		var fr Frame
		for i := 0; ; i++ {
			if i > len(data)+1 {
				t.Fatalf("reader did not end after %d calls", i)
			}
			// Buffered's look for the next line, and a Swap after
			// it, must not change what Next reads.
			if len(data) > 0 && data[0]&0x20 != 0 && r.Buffered() && i%3 == 1 {
				r.Swap(nil)
			}
			err := r.Next(&fr)
			var le *LineError
			switch {
			case err == nil:
				got = append(got, fr.Line)
				if fr.Bare && !fr.Checked {
					t.Fatalf("bare payload %q not marked checked", fr.Payload)
				}
				if fr.Checked && (fr.Kind != KindData || !json.Valid(fr.Payload) || !utf8.Valid(fr.Payload)) {
					t.Fatalf("checked payload %q (kind %v) is not valid UTF-8 JSON", fr.Payload, fr.Kind)
				}
				if fr.Kind == KindData && !fr.Bare && !fr.Checked {
					t.Fatalf("frame payload %q not checked", fr.Payload)
				}
				// The index of a checked object's members (a bare
				// line's or a frame's payload), read across
				// SwapIndex, is the payload's own.
				if r.Index && fr.Checked {
					idx, obj, _ := ValidIndex(fr.Payload, nil)
					if (fr.Members != nil) != obj || !slices.Equal(fr.Members, idx) {
						t.Fatalf("line %d %q: members %v, want %v", fr.Line, fr.Payload, fr.Members, idx)
					}
					if i%2 == 0 {
						r.SwapIndex(nil)
					}
				} else if fr.Members != nil {
					t.Fatalf("line %d %q: members %v without Index", fr.Line, fr.Payload, fr.Members)
				}
				continue
			case errors.As(err, &le):
				got = append(got, le.Line)
				if n := want[le.Line]; le.Kind == "too-long" && n.size != le.Size || le.Kind != "too-long" && n.size > max && !(n.frame && n.size <= max+FrameSlack) {
					t.Fatalf("line %d: %s error, size %d; line has %d bytes", le.Line, le.Kind, le.Size, n.size)
				}
				if len(le.Raw) > rawPrefixLimit && le.Kind == "too-long" {
					t.Fatalf("too-long raw of %d bytes", len(le.Raw))
				}
				continue
			case err == io.EOF:
			default:
				t.Fatalf("Next: %v", err)
			}
			break
		}
		var wantLines []int64
		for n := int64(1); n <= int64(len(want)); n++ {
			if !want[n].blank {
				wantLines = append(wantLines, n)
			}
		}
		if !equalInts(got, wantLines) {
			t.Fatalf("events for lines %v, want %v", got, wantLines)
		}
		if r.BytesRead() != int64(len(data)) || r.LineNumber() != int64(len(want)) {
			t.Fatalf("BytesRead %d LineNumber %d, want %d %d", r.BytesRead(), r.LineNumber(), len(data), len(want))
		}
	})
}

type lineInfo struct {
	size  int64
	blank bool
	// frame: the line begins as a frame does; a frame may exceed the
	// limit by FrameSlack (the limit is on its payload), so such a line
	// over the limit may fail as a frame (version, malformed) instead of
	// as too-long.
	frame bool
}

// expectedLines is the model of the Reader's line rules: lines by "\n", the
// last one without it, a BOM removed from the first, one "\r" from the end.
func expectedLines(data []byte, max int) map[int64]lineInfo {
	m := map[int64]lineInfo{}
	if len(data) == 0 {
		return m
	}
	parts := bytes.Split(data, []byte("\n"))
	if len(parts[len(parts)-1]) == 0 {
		parts = parts[:len(parts)-1]
	}
	for i, p := range parts {
		if i == 0 {
			p = bytes.TrimPrefix(p, []byte(bom))
		}
		p = bytes.TrimSuffix(p, []byte("\r"))
		m[int64(i+1)] = lineInfo{size: int64(len(p)), blank: len(p) <= max && isBlank(p), frame: IsFrame(p)}
	}
	return m
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
