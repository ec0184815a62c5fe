package wire

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
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
		if i%2 == 0 {
			in = append(in, p...)
		} else {
			in = AppendFrame(in, &Frame{Kind: KindData, Writer: "w", Seq: uint64(i/2 + 1), Payload: []byte(p)})
			in = in[:len(in)-1]
		}
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
