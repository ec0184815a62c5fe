package journal

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/obz-dev/obz/wire"
)

// readFuzz reads a journal to its end under small limits and checks that
// it ends with io.EOF or a journal *Error, and that every frame returned is
// a whole, decodable line.
func readFuzz(t *testing.T, file []byte, scan bool) []byte {
	r, err := NewReader(bytes.NewReader(file), int64(len(file)), &ReaderOptions{MaxBlock: 1 << 20, Scan: scan})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []byte
	var f wire.Frame
	for range 1 << 20 {
		err := r.Next(&f)
		if err == io.EOF {
			return got
		}
		if err != nil {
			var je *Error
			if !errors.As(err, &je) {
				t.Fatalf("error of an unexpected type: %v", err)
			}
			if je.Offset < 0 || je.Offset > int64(len(file)) {
				t.Fatalf("error offset %d out of the file's %d bytes", je.Offset, len(file))
			}
			return got
		}
		line := r.Line()
		if bytes.IndexByte(line, '\n') >= 0 || wire.Decode(line, &f) != nil {
			t.Fatalf("returned a line that is not one frame: %q", line)
		}
		got = append(got, line...)
		got = append(got, '\n')
	}
	t.Fatal("no end after 1M frames")
	return nil
}

// FuzzJournalRead reads arbitrary bytes as a journal: never a panic, never
// an unbounded allocation, only whole frames or a journal error.
func FuzzJournalRead(f *testing.F) {
	data := frames("fz", 300)
	good := write(f, data, 1000, &WriterOptions{MaxLines: 50})
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(good[:headerSize])
	f.Add(good[:len(good)-3])
	bad := bytes.Clone(good)
	bad[len(bad)/3] ^= 0xff
	f.Add(bad)
	f.Add(write(f, data, 1000, &WriterOptions{MaxLines: 50, storeAll: true}))
	gs2 := write(f, data, 1000, &WriterOptions{MaxLines: 50, Codec: CodecS2})
	f.Add(gs2)
	f.Add(gs2[:len(gs2)/2])
	bad = bytes.Clone(gs2)
	bad[len(bad)/3] ^= 0xff
	f.Add(bad)
	f.Add([]byte{})
	f.Add([]byte("\x28\xb5\x2f\xfd"))
	f.Add(append(appendHeader(nil, FormatVersion), 0x5b, 0x2a, 0x4d, 0x18, 0xff, 0xff, 0xff, 0x7f))
	// An S2 frame claiming a huge block: the decoder must not allocate it.
	f.Add(append(appendHeader(nil, FormatVersion), 0x5d, 0x2a, 0x4d, 0x18, 0x05, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f))
	f.Fuzz(func(t *testing.T, file []byte) {
		readFuzz(t, file, false)
		readFuzz(t, file, true)
	})
}

// FuzzJournalDamage truncates a valid journal (of the zstd codec, or of
// S2 with s2 set) and changes one byte: what is read is always a prefix of
// the journaled frames.
func FuzzJournalDamage(f *testing.F) {
	data := frames("fz", 300)
	goods := map[bool][]byte{
		false: write(f, data, 1000, &WriterOptions{MaxLines: 50, Codec: CodecZstd}),
		true:  write(f, data, 1000, &WriterOptions{MaxLines: 50, Codec: CodecS2}),
	}
	for _, s2 := range []bool{false, true} {
		good := goods[s2]
		f.Add(s2, uint(len(good)), uint(0), byte(0))
		f.Add(s2, uint(len(good)/2), uint(0), byte(0))
		f.Add(s2, uint(len(good)), uint(len(good)/2), byte(1))
		f.Add(s2, uint(len(good)), uint(len(good)-5), byte(0x80))
		f.Add(s2, uint(len(good)-20), uint(headerSize+3), byte(0x10))
		f.Add(s2, uint(len(good)), uint(headerSize+metaSize+9), byte(0x04))
	}
	f.Fuzz(func(t *testing.T, s2 bool, cut, at uint, x byte) {
		good := goods[s2]
		file := bytes.Clone(good[:min(int(cut), len(good))])
		if int(at) < len(file) {
			file[at] ^= x
		}
		for _, scan := range []bool{false, true} {
			got := readFuzz(t, file, scan)
			if !bytes.HasPrefix(data, got) {
				t.Fatalf("cut %d, byte %d ^ %#x: read frames that were not journaled", cut, at, x)
			}
		}
	})
}

// FuzzJournalLines: any lines, as a stage would journal them (frames,
// reference lines, file references, run lines), are read back as frames or
// end with a journal *Error: never a panic, never a frame that is not one.
func FuzzJournalLines(f *testing.F) {
	f.Add([]byte(`{"obz":1,"t":"run","w":"m","s":1,"n":2,"p":{"w":"a","s":3},"g":[4],"l":[1,2],"d":[1,"x"]}` + "\n"))
	f.Add([]byte(`{"obz":1,"t":"run","w":"m","s":1,"n":1,"l":[2],"d":[{}]}` + "\n" + `{"obz":1,"t":"eof","w":"m","n":1,"kind":"natural"}` + "\n"))
	f.Add([]byte(`{"obz":1,"t":"ref","w":"big","s":1,"n":3,"p":{"w":"src","s":10},"g":[1,0]}` + "\n"))
	f.Add([]byte(`{"obz":1,"t":"fref","w":"src","s":1,"n":2,"f":"/nonexistent/x","z":10,"m":1,"o":0,"l":10,"c":0}` + "\n"))
	f.Add([]byte(`{"obz":1,"t":"fsum","w":"src","f":"/nonexistent/x","z":10,"m":1,"xxh64":"0123456789abcdef"}` + "\n"))
	f.Add([]byte(`{"obz":1,"t":"fref","w":"src","s":1,"n":2,"f":"/nonexistent/x","z":10,"m":1,"r":"../x","o":0,"l":10,"c":0}` + "\n"))
	f.Add([]byte(`{"obz":1,"t":"ref","w":"big","s":1,"n":3,"p":{"w":"gen","s":10},"g":[1,0],"f":"/nonexistent/x","z":10,"m":1,"r":"x","c":0}` + "\n"))
	f.Fuzz(func(t *testing.T, lines []byte) {
		if len(lines) == 0 || lines[len(lines)-1] != '\n' {
			lines = append(lines, '\n')
		}
		out, err := Frames(lines, "")
		if err != nil {
			var je *Error
			if !errors.As(err, &je) {
				t.Fatalf("error of an unexpected type: %v", err)
			}
		}
		var fr wire.Frame
		for _, line := range bytes.SplitAfter(out, []byte{'\n'}) {
			if len(line) == 0 {
				continue
			}
			if wire.Decode(line[:len(line)-1], &fr) != nil {
				t.Fatalf("returned a line that is not one frame: %q", line)
			}
		}
	})
}
