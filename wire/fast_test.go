package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeData checks the canonical data frame fast path against the
// general decoder: what decodeData accepts, decodeFrame accepts too, with
// the same frame.
func FuzzDecodeData(f *testing.F) {
	addSeeds(f, true)
	for _, s := range []string{
		`{"obz":1,"t":"data","w":"gen","s":12,"d":{"a":1}}`,
		`{"obz":1,"t":"data","w":"filter","s":3,"p":["read",7],"d":[1, 2] }`,
		`{"obz":1,"t":"data","w":"a","s":1,"p":["",0],"d":"x"}`,
		`{"obz":1,"t":"data","w":"a","s":01,"d":1}`,
		`{"obz":1,"t":"data","w":"a","s":0,"d":1}`,
		`{"obz":1,"t":"data","w":"a","s":18446744073709551616,"d":1}`,
		`{"obz":1,"t":"data","w":"a","s":1,"p":["b",00],"d":1}`,
		"{\"obz\":1,\"t\":\"data\",\"w\":\"\xff\",\"s\":1,\"d\":1}",
		"{\"obz\":1,\"t\":\"data\",\"w\":\"Zürich\",\"s\":1,\"d\":1}",
		`{"obz":1,"t":"data","w":"a","s":1,"d": }`,
	} {
		f.Add([]byte(s))
	}
	var nm1, nm2 names
	f.Fuzz(func(t *testing.T, line []byte) {
		var f1, f2 Frame
		if !decodeData(line, &f1, &nm1) {
			return
		}
		if err := decodeFrame(line, &f2, &nm2); err != nil {
			t.Fatalf("decodeData accepts %q, the general decoder does not: %v", line, err)
		}
		if !equalFrames(&f1, &f2) {
			t.Fatalf("decoders disagree on %q:\n%+v\n%+v", line, f1, f2)
		}
	})
}

// TestDecodeDataFallback: lines the fast path leaves alone still decode (or
// fail) as before.
func TestDecodeDataFallback(t *testing.T) {
	for _, tc := range []struct {
		line string
		fast bool
		ok   bool
	}{
		{`{"obz":1,"t":"data","w":"gen","s":12,"d":{"a":1}}`, true, true},
		{`{"obz":1,"t":"data","w":"f","s":3,"p":["read",7],"d":1}`, true, true},
		{`{"obz":1,"t":"data","w":"f","s":3,"d":1} `, false, true},
		{`{"obz":1,"t":"data","w":"\u0066","s":3,"d":1}`, false, true},
		{`{"obz":1,"t":"data","w":"a","s":01,"d":1}`, false, false},
		{`{"obz":1,"t":"data","w":"a","s":0,"d":1}`, false, false},
		{`{"obz":1,"t":"data","w":"","s":1,"d":1}`, false, false},
		{`{"obz":1,"t":"data","w":"a","s":1,"d":}`, false, false},
	} {
		var f Frame
		var nm names
		if got := decodeData([]byte(tc.line), &f, &nm); got != tc.fast {
			t.Errorf("decodeData(%s) = %v, want %v", tc.line, got, tc.fast)
		}
		if err := Decode([]byte(tc.line), &f); (err == nil) != tc.ok {
			t.Errorf("Decode(%s) = %v, want ok %v", tc.line, err, tc.ok)
		}
	}
}

// TestDataEncoder: the encoder writes what AppendFrame writes, also when
// the parent writer changes from frame to frame.
func TestDataEncoder(t *testing.T) {
	for _, w := range []string{"filter", "", "a\"b", "Zürich\x00\xff"} {
		e := NewDataEncoder(w)
		for i, p := range []Ref{{"read", 1}, {"read", 2}, {}, {"", 7}, {"x\\y", 0}, {"read", 18446744073709551615}, {"read", 3}} {
			f := Frame{Kind: KindData, Writer: w, Seq: uint64(i + 1), Parent: p, Payload: []byte(`{"a":[1,"x"]}`)}
			want := AppendFrame(nil, &f)
			if got := e.Append([]byte("x"), f.Seq, f.Parent, f.Payload); string(got[1:]) != string(want) || got[0] != 'x' {
				t.Errorf("Append(%q, %+v) = %s, want %s", w, p, got, want)
			}
		}
	}
}

func BenchmarkDataEncoder(b *testing.B) {
	e := NewDataEncoder("filter")
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(e.Append(nil, 123456, Ref{"read", 123456}, []byte(benchPayload)))))
	for b.Loop() {
		buf = e.Append(buf[:0], 123456, Ref{"read", 123456}, []byte(benchPayload))
	}
}

// TestReaderSwap: frames read before a Swap keep their bytes while the
// Reader goes on, whatever the chunking; swapping in BeforeFill is how the
// stage runner keeps frames without copying them.
func TestReaderSwap(t *testing.T) {
	var in []byte
	var want []string
	for i := range 3000 {
		p := fmt.Sprintf(`{"i":%d,"pad":"%s"}`, i, strings.Repeat("x", i%300))
		want = append(want, p)
		// A stream is framed or bare throughout: frames of two writers.
		in = AppendFrame(in, &Frame{Kind: KindData, Writer: []string{"v", "w"}[i%2], Seq: uint64(i/2 + 1), Payload: []byte(p)})
		in = in[:len(in)-1]
		in = append(in, '\n')
	}
	for _, chunk := range []int{1, 7, 4096, 1 << 20} {
		r := NewReader(&chunkReader{r: bytes.NewReader(in), n: chunk}, 0)
		var kept []Frame
		var held [][]byte
		var spare []byte
		pending := 0
		r.BeforeFill = func() {
			if pending > 0 {
				held = append(held, r.Swap(spare))
				spare, pending = nil, 0
			}
		}
		for {
			var f Frame
			err := r.Next(&f)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			kept = append(kept, f)
			pending++
			if pending == 100 {
				held = append(held, r.Swap(nil))
				pending = 0
			}
		}
		if len(kept) != len(want) {
			t.Fatalf("chunk %d: %d frames, want %d", chunk, len(kept), len(want))
		}
		for i, f := range kept {
			if string(f.Payload) != want[i] {
				t.Fatalf("chunk %d: frame %d = %s, want %s", chunk, i, f.Payload, want[i])
			}
		}
	}
}

// FuzzValidUTF8JSON: the one-pass check is the two checks the reader made
// before, UTF-8 and then JSON.
func FuzzValidUTF8JSON(f *testing.F) {
	for _, s := range []string{`{"a":"é"}`, "\"\xff\"", `["\u00e9", "Zürich"]`, "\"\xed\xa0\x80\"", "\"\xef\xbf\xbd\"", "{\"\xc3\":1}", "1\xc3\xa9", "\"\xf4\x90\x80\x80\"", `{"a":[1,2,{"b":null}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validUTF8JSON(b), utf8.Valid(b) && Valid(b); got != want {
			t.Fatalf("validUTF8JSON(%q) = %v, want %v", b, got, want)
		}
	})
}

// FuzzValidIndex: the indexing check gives validUTF8JSON's verdict, and on
// an object, its members as encoding/json reads them: each key (decoded,
// and whether it has an escape) and each value's exact bytes, in order.
func FuzzValidIndex(f *testing.F) {
	for _, s := range []string{`{"a":"é"}`, ` {"a" : [1,2,{"b":null}] , "b":{"c":"}"}}  `, `{}`, ` { } `, `{"a\u0062":1,"a":2,"a":3}`, `[{"a":1}]`, `"x"`, `{"a":1,}`, `{"a":1}x`,
		`{"a":1 "b":2}`, "{\"\xff\":1}", `{"k":[[[[{"k":[1]}]]]]}`, `{"a":{"b":{"c":1}},"d":-0.5e3,"e":true,"f":false,"g":null}`, `{"id":1,"ts":"2026-01-01T00:00:03Z","tags":["us","mobile"],"msg":"Zürich"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		idx, obj, ok := ValidIndex(b, []uint32{7, 7, 7, 7})
		if want := validUTF8JSON(b); ok != want {
			t.Fatalf("ValidIndex(%q) = %v, validUTF8JSON %v", b, ok, want)
		}
		if len(idx) < 4 || [4]uint32(idx[:4]) != [4]uint32{7, 7, 7, 7} {
			t.Fatalf("ValidIndex(%q) changed the index before it: %v", b, idx)
		}
		idx = idx[4:]
		payload := trimJSONSpace(b)
		isObj := ok && len(payload) > 0 && payload[0] == '{'
		if !ok || obj != isObj {
			if obj || len(idx) != 0 {
				t.Fatalf("ValidIndex(%q): obj %v, ok %v, %d offsets", b, obj, ok, len(idx))
			}
			return
		}
		if !obj {
			return
		}
		d := json.NewDecoder(bytes.NewReader(payload))
		if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
			t.Fatalf("%q: %v %v", b, tok, err)
		}
		for n := 0; ; n += 4 {
			if !d.More() {
				if n != len(idx) {
					t.Fatalf("ValidIndex(%q): %d members, encoding/json %d", b, len(idx)/4, n/4)
				}
				return
			}
			tok, err := d.Token()
			if err != nil {
				t.Fatal(err)
			}
			var raw json.RawMessage
			if err := d.Decode(&raw); err != nil {
				t.Fatal(err)
			}
			if n+4 > len(idx) {
				t.Fatalf("ValidIndex(%q): %d members, encoding/json more", b, len(idx)/4)
			}
			ks, ke, vs, ve := idx[n], idx[n+1], idx[n+2], idx[n+3]
			rawKey := payload[ks : ke&^KeyEscaped]
			var key string
			if err := json.Unmarshal(rawKey, &key); err != nil || key != tok.(string) {
				t.Fatalf("ValidIndex(%q): member %d key %q (%v), encoding/json %q", b, n/4, rawKey, err, tok)
			}
			if esc := ke&KeyEscaped != 0; esc != (bytes.IndexByte(rawKey, '\\') >= 0) {
				t.Fatalf("ValidIndex(%q): key %q escaped %v", b, rawKey, esc)
			}
			if string(payload[vs:ve]) != string(raw) {
				t.Fatalf("ValidIndex(%q): member %d value %q, encoding/json %q", b, n/4, payload[vs:ve], raw)
			}
		}
	})
}

func BenchmarkValidUTF8JSON(b *testing.B) {
	line := []byte(`{"id":1,"ts":"2026-01-01T00:00:03Z","user":"u7292","country":"AT","device":"android","amount":95.11,"tags":["us","mobile"],"msg":"Zürich low order user is to high served order for low timeout for"}`)
	b.Run("fused", func(b *testing.B) {
		b.SetBytes(int64(len(line)))
		for b.Loop() {
			if !validUTF8JSON(line) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("index", func(b *testing.B) {
		b.SetBytes(int64(len(line)))
		idx := make([]uint32, 0, 64)
		for b.Loop() {
			if _, obj, ok := ValidIndex(line, idx); !ok || !obj {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("two-pass", func(b *testing.B) {
		b.SetBytes(int64(len(line)))
		for b.Loop() {
			if !utf8.Valid(line) || !Valid(line) {
				b.Fatal("invalid")
			}
		}
	})
}

// TestValidDeep: nesting beyond one word of levels, mixed arrays and
// objects, and the nesting limit.
func TestValidDeep(t *testing.T) {
	for _, depth := range []int{1, 63, 64, 65, 200, 9999, 10000, 10001} {
		var open, close strings.Builder
		for d := range depth {
			if d%3 == 1 {
				open.WriteString(`{"k":`)
				close.WriteString(`}`)
			} else {
				open.WriteString(`[`)
				close.WriteString(`]`)
			}
		}
		s := open.String() + `1` + reverse(close.String())
		bad := open.String() + `1` + close.String()
		for _, b := range []string{s, bad, s + " ", open.String()} {
			if got, want := Valid([]byte(b)), json.Valid([]byte(b)); got != want {
				t.Errorf("depth %d: Valid(%.20q...) = %v, want %v", depth, b, got, want)
			}
		}
	}
}

func reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}
