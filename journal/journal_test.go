package journal

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/obz-dev/obz/wire"
)

// frames returns n data frames of writer w and its EOF, canonically encoded.
func frames(w string, n int) []byte {
	var b []byte
	for i := 1; i <= n; i++ {
		f := wire.Frame{Kind: wire.KindData, Writer: w, Seq: uint64(i), Parent: wire.Ref{Writer: "src", Seq: uint64(i)},
			Payload: []byte(`{"id":` + strconv.Itoa(i) + `,"msg":"hello journal"}`)}
		b = wire.AppendFrame(b, &f)
		if i%100 == 0 {
			b = wire.AppendFrame(b, &wire.Frame{Kind: wire.KindWatermark, Writer: w, Time: float64(i)})
		}
	}
	return wire.AppendFrame(b, &wire.Frame{Kind: wire.KindEOF, Writer: w, Count: uint64(n)})
}

// write journals data in writes of the given size and returns the file.
func write(t testing.TB, data []byte, chunk int, opts *WriterOptions) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := NewWriter(&out, opts)
	if err != nil {
		t.Fatal(err)
	}
	for len(data) > 0 {
		n := min(chunk, len(data))
		if _, err := w.Write(data[:n]); err != nil {
			t.Fatal(err)
		}
		data = data[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// readAll reads every line of a journal; the error is what ended it.
func readAll(t testing.TB, file []byte, opts *ReaderOptions) ([]byte, error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(file), int64(len(file)), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []byte
	var f wire.Frame
	for {
		err := r.Next(&f)
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		got = append(got, r.Line()...)
		got = append(got, '\n')
	}
}

// codecs are the codecs the tests write with.
var codecs = []Codec{CodecZstd, CodecS2}

func TestRoundTrip(t *testing.T) {
	data := frames("map", 10000)
	for _, codec := range codecs {
		for _, chunk := range []int{1 << 20, 4096, 777} {
			for _, scan := range []bool{false, true} {
				file := write(t, data, chunk, &WriterOptions{MaxLines: 1000, Codec: codec})
				got, err := readAll(t, file, &ReaderOptions{Scan: scan})
				if err != nil {
					t.Fatalf("%v chunk %d scan %v: %v", codec, chunk, scan, err)
				}
				if !bytes.Equal(got, data) {
					t.Fatalf("%v chunk %d scan %v: frames differ", codec, chunk, scan)
				}
			}
		}
	}
}

// TestStored reads blocks stored uncompressed (the fallback when the
// compressor is behind), cut anywhere.
func TestStored(t *testing.T) {
	data := frames("map", 3000)
	file := write(t, data, 4096, &WriterOptions{MaxLines: 500, storeAll: true})
	got, err := readAll(t, file, nil)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("stored journal: %v", err)
	}
	r, _ := NewReader(bytes.NewReader(file), int64(len(file)), nil)
	s, _ := Stat(r)
	r.Close()
	if s.Stored != s.Blocks || s.Blocks < 6 {
		t.Fatalf("%d of %d blocks stored", s.Stored, s.Blocks)
	}
	for n := 0; n < len(file); n += 1009 {
		got, err := readAll(t, file[:n], nil)
		if !bytes.HasPrefix(data, got) || err != nil && !errors.Is(err, ErrTorn) {
			t.Fatalf("cut at %d: %v", n, err)
		}
	}
	bad := bytes.Clone(file)
	bad[len(bad)/2] ^= 1
	if _, err := readAll(t, bad, nil); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a flipped bit in stored data: %v, want corruption", err)
	}
}

func TestBlocksAndIndex(t *testing.T) {
	data := frames("map", 5000)
	file := write(t, data, 64<<10, &WriterOptions{MaxLines: 1000})
	r, err := NewReader(bytes.NewReader(file), int64(len(file)), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.Indexed() {
		t.Fatal("index trailer not found")
	}
	s, err := NewReader(bytes.NewReader(file), int64(len(file)), &ReaderOptions{Scan: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !sameBlocks(r.Blocks(), s.Blocks()) {
		t.Fatalf("index %+v\nscan %+v", r.Blocks(), s.Blocks())
	}
	if len(r.Blocks()) < 4 {
		t.Fatalf("want at least 4 blocks of 1000 to 1600 lines, got %d", len(r.Blocks()))
	}
	last := r.Blocks()[len(r.Blocks())-1]
	if last.LastSeq != 5000 {
		t.Fatalf("last block's LastSeq = %d", last.LastSeq)
	}
}

func TestSeekSeq(t *testing.T) {
	data := frames("map", 5000)
	file := write(t, data, 64<<10, &WriterOptions{MaxLines: 500})
	for _, from := range []uint64{0, 1, 2, 100, 101, 2500, 4999, 5000, 5001, 9999} {
		r, _ := NewReader(bytes.NewReader(file), int64(len(file)), nil)
		r.SeekSeq(from)
		var f wire.Frame
		var first uint64
		var got []wire.Kind
		for {
			err := r.Next(&f)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if first == 0 && f.Kind == wire.KindData {
				first = f.Seq
			}
			got = append(got, f.Kind)
		}
		r.Close()
		want := max(from, 1)
		if from > 5000 {
			want = 0
		}
		if first != want {
			t.Errorf("from %d: first seq %d, want %d", from, first, want)
		}
		if len(got) == 0 || got[len(got)-1] != wire.KindEOF {
			t.Errorf("from %d: frames %v, want the EOF last", from, got)
		}
		// Seq 101 follows the watermark written after seq 100: from 101
		// includes it, from 102 would not.
		if from == 101 && got[0] != wire.KindWatermark {
			t.Errorf("from 101: first frame %v, want the watermark after seq 100", got[0])
		}
	}
}

// TestTornTail cuts a journal at every byte: what is read is always a prefix
// of the frames, made of whole blocks, and the end is a torn tail, never data.
func TestTornTail(t *testing.T) {
	for _, codec := range codecs {
		t.Run(codec.String(), func(t *testing.T) { testTornTail(t, codec) })
	}
}

func testTornTail(t *testing.T, codec Codec) {
	data := frames("map", 800)
	file := write(t, data, 4096, &WriterOptions{MaxLines: 100, Codec: codec})
	step := 13
	if testing.Short() {
		step = 97
	}
	for n := 0; n < len(file); n += step {
		got, err := readAll(t, file[:n], nil)
		if !bytes.HasPrefix(data, got) {
			t.Fatalf("cut at %d: read something that is not a prefix", n)
		}
		if len(got) > 0 && got[len(got)-1] != '\n' {
			t.Fatalf("cut at %d: partial line returned", n)
		}
		if err == nil {
			// Only a cut exactly between frames (or before the index) is clean.
			if !bytes.Equal(got, data) && !cleanCut(file, n) {
				t.Fatalf("cut at %d: no error and %d of %d bytes", n, len(got), len(data))
			}
			continue
		}
		if !errors.Is(err, ErrTorn) {
			t.Fatalf("cut at %d: %v, want a torn tail", n, err)
		}
	}
}

// cleanCut reports whether n falls on a block boundary of file.
func cleanCut(file []byte, n int) bool {
	if n == 0 || n == headerSize {
		return true
	}
	r, _ := NewReader(bytes.NewReader(file), int64(len(file)), &ReaderOptions{Scan: true})
	defer r.Close()
	for _, b := range r.Blocks() {
		if int(b.Offset+b.Size) == n {
			return true
		}
	}
	return false
}

func TestCorruption(t *testing.T) {
	for _, codec := range codecs {
		t.Run(codec.String(), func(t *testing.T) { testCorruption(t, codec) })
	}
}

func testCorruption(t *testing.T, codec Codec) {
	data := frames("map", 3000)
	file := write(t, data, 4096, &WriterOptions{MaxLines: 500, Codec: codec})
	r, _ := NewReader(bytes.NewReader(file), int64(len(file)), nil)
	blocks := r.Blocks()
	r.Close()
	// Flip a byte in the middle of the third block's compressed data.
	bad := bytes.Clone(file)
	b := blocks[2]
	bad[b.Offset+metaSize+b.Size/2] ^= 0x55
	got, err := readAll(t, bad, nil)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("got %v, want corruption", err)
	}
	var je *Error
	errors.As(err, &je)
	if je.Offset != b.Offset {
		t.Fatalf("corruption reported at %d, want %d", je.Offset, b.Offset)
	}
	if !bytes.HasPrefix(data, got) {
		t.Fatal("read something that is not a prefix")
	}
}

func TestVerifyRecover(t *testing.T) {
	for _, codec := range codecs {
		t.Run(codec.String(), func(t *testing.T) { testVerifyRecover(t, codec) })
	}
}

func testVerifyRecover(t *testing.T, codec Codec) {
	dir := t.TempDir()
	data := frames("map", 3000)
	file := write(t, data, 4096, &WriterOptions{MaxLines: 500, Codec: codec})
	whole := filepath.Join(dir, "whole.zst")
	os.WriteFile(whole, file, 0o644)
	s, err := Verify(whole, nil)
	if err != nil || !s.OK() {
		t.Fatalf("whole journal: %v %+v", err, s)
	}
	if s.Frames != 3000+30+1 || s.Kinds["data"] != 3000 || !s.HasEOF || s.EOFCount != 3000 {
		t.Fatalf("stats: %+v", s)
	}
	cut := filepath.Join(dir, "cut.zst")
	os.WriteFile(cut, file[:len(file)*2/3], 0o644)
	s, err = Verify(cut, nil)
	if err != nil || s.OK() || !errors.Is(s.Err, ErrTorn) {
		t.Fatalf("cut journal: %v %+v", err, s)
	}
	fixed := filepath.Join(dir, "fixed.zst")
	if _, err := Recover(cut, fixed, nil); err != nil {
		t.Fatal(err)
	}
	s2, err := Verify(fixed, nil)
	if err != nil || s2.Err != nil || !s2.Indexed {
		t.Fatalf("recovered journal: %v %+v", err, s2)
	}
	if s2.HasEOF || s2.LastSeq != s.LastSeq || s2.LastSeq == 0 {
		t.Fatalf("recovered journal holds seq ..%d (cut held ..%d)", s2.LastSeq, s.LastSeq)
	}
}

func TestWriterPartialLine(t *testing.T) {
	var out bytes.Buffer
	w, _ := NewWriter(&out, nil)
	w.Write([]byte(`{"obz":1,"t":"eof","w":"x","n":0,"kind":"natural"}` + "\n" + `{"obz":1,`))
	if err := w.Close(); err == nil {
		t.Fatal("Close accepted an unfinished last line")
	}
	got, err := readAll(t, out.Bytes(), nil)
	if err != nil || !bytes.HasSuffix(got, []byte("\"natural\"}\n")) {
		t.Fatalf("the whole line before was lost: %q %v", got, err)
	}
}

func TestFlush(t *testing.T) {
	var out bytes.Buffer
	w, _ := NewWriter(&out, nil)
	data := frames("x", 3)
	w.Write(data)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	// Flushed, not closed: a reader sees every frame, and no index.
	got, err := readAll(t, bytes.Clone(out.Bytes()), nil)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after Flush: %q %v", got, err)
	}
	w.Close()
}

// TestMissingBlock: a journal with a whole block cut out of its middle (the
// index and the scan agree on what is left) is corrupt, not a shorter run.
func TestMissingBlock(t *testing.T) {
	data := frames("map", 5000)
	file := write(t, data, 64<<10, &WriterOptions{MaxLines: 1000})
	r, err := NewReader(bytes.NewReader(file), int64(len(file)), nil)
	if err != nil {
		t.Fatal(err)
	}
	b := r.Blocks()[2]
	r.Close()
	// Cut the block and the index trailer: a reader rebuilds the index by
	// scanning, as it would after a crash.
	last := r.Blocks()[len(r.Blocks())-1]
	cut := append(bytes.Clone(file[:b.Offset]), file[b.Offset+b.Size:last.Offset+last.Size]...)
	for _, scan := range []bool{false, true} {
		got, err := readAll(t, cut, &ReaderOptions{Scan: scan})
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("scan %v: read %d bytes, err %v: want corruption", scan, len(got), err)
		}
	}
	lines, err := func() (n int, err error) {
		r, err := NewReader(bytes.NewReader(cut), int64(len(cut)), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for {
			if _, err := r.NextLine(); err != nil {
				return n, err
			}
			n++
		}
	}()
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("NextLine read %d lines, err %v: want corruption", lines, err)
	}
	r, _ = NewReader(bytes.NewReader(cut), int64(len(cut)), nil)
	s, err := Stat(r)
	r.Close()
	if err != nil || s.OK() {
		t.Fatalf("Stat = %+v, %v: want a problem", s, err)
	}
}
