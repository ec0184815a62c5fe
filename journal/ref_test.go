package journal

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/obz-dev/obz/wire"
)

// refFixture writes, in a directory, src.zst (n data frames of src), and
// big.zst: big's output as a stage that kept src's events whose seq is not
// a multiple of 3 would journal it with references, with one event of its
// own (made bytes) and an error event in between. want is big's output as
// frames, as the stage wrote it.
func refFixture(t *testing.T, n int, srcOpts *WriterOptions) (dir string, want []byte) {
	t.Helper()
	dir = t.TempDir()
	src := frames("src", n)
	if err := os.WriteFile(filepath.Join(dir, "src.zst"), write(t, src, 64<<10, srcOpts), 0o644); err != nil {
		t.Fatal(err)
	}
	payload := func(i int) []byte { return []byte(`{"id":` + strconv.Itoa(i) + `,"msg":"hello journal"}`) }
	var journaled []byte
	var seq uint64
	var run struct{ seq, n, p uint64 }
	endRun := func() {
		if run.n > 0 {
			journaled = AppendRef(journaled, "big", run.seq, run.n, wire.Ref{Writer: "src", Seq: run.p})
			run.n = 0
		}
	}
	frame := func(f *wire.Frame) {
		endRun()
		journaled = wire.AppendFrame(journaled, f)
		want = wire.AppendFrame(want, f)
	}
	for i := 1; i <= n; i++ {
		switch {
		case i == 50:
			seq++
			frame(&wire.Frame{Kind: wire.KindData, Writer: "big", Seq: seq, Parent: wire.Ref{Writer: "src", Seq: uint64(i)}, Payload: []byte(`{"made":true}`)})
		case i == 70:
			seq++
			frame(&wire.Frame{Kind: wire.KindError, Writer: "big", Seq: seq, Parent: wire.Ref{Writer: "src", Seq: uint64(i)}, Payload: payload(i),
				Err: &wire.ErrorInfo{Stage: "big", Kind: "expr", Msg: "no"}})
		case i%3 != 0:
			seq++
			want = wire.AppendFrame(want, &wire.Frame{Kind: wire.KindData, Writer: "big", Seq: seq, Parent: wire.Ref{Writer: "src", Seq: uint64(i)}, Payload: payload(i)})
			if run.n > 0 && run.p+run.n == uint64(i) && run.seq+run.n == seq {
				run.n++
			} else {
				endRun()
				run.seq, run.n, run.p = seq, 1, uint64(i)
			}
		}
	}
	frame(&wire.Frame{Kind: wire.KindEOF, Writer: "big", Count: seq})
	if err := os.WriteFile(filepath.Join(dir, "big.zst"), write(t, journaled, 4096, &WriterOptions{MaxLines: 50}), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, want
}

func readFile(t *testing.T, path string, from uint64) ([]byte, error) {
	t.Helper()
	r, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.SeekSeq(from)
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

// A journal of references reads as the frames the stage wrote, byte for
// byte, from the start or from a seq (its blocks' seq ranges count the
// referenced events).
func TestRefResolve(t *testing.T) {
	dir, want := refFixture(t, 3000, nil)
	path := filepath.Join(dir, "big.zst")
	got, err := readFile(t, path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("resolved journal differs from what was written:\n got %d bytes\nwant %d bytes", len(got), len(want))
	}
	if fi, _ := os.Stat(path); fi.Size()*10 > int64(len(want)) {
		t.Errorf("journal of references takes %d bytes for %d bytes of frames", fi.Size(), len(want))
	}
	got, err = readFile(t, path, 1500)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(want, []byte(`"w":"big","s":1500,`))
	if start := bytes.LastIndexByte(want[:i], '\n') + 1; !bytes.Equal(got, want[start:]) {
		t.Errorf("from seq 1500: got %.80q..., want %.80q...", got, want[start:])
	}
	st, err := Verify(path, nil)
	if err != nil || !st.OK() {
		t.Errorf("Verify: %v, %+v", err, st)
	}
}

// A reference that cannot be resolved stops the read after the frames
// before it, naming the journal it needs.
func TestRefUnresolved(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		dir, _ := refFixture(t, 300, nil)
		os.Remove(filepath.Join(dir, "src.zst"))
		got, err := readFile(t, filepath.Join(dir, "big.zst"), 0)
		if !errors.Is(err, ErrUnresolved) || !strings.Contains(err.Error(), filepath.Join(dir, "src.zst")) || !strings.Contains(err.Error(), "src's event 1") {
			t.Errorf("err = %v, want ErrUnresolved naming src.zst", err)
		}
		if len(got) != 0 {
			t.Errorf("read %d bytes before the first reference", len(got))
		}
		if _, err := Verify(filepath.Join(dir, "big.zst"), nil); !errors.Is(err, ErrUnresolved) {
			st, _ := Verify(filepath.Join(dir, "big.zst"), nil)
			if st == nil || !errors.Is(st.Err, ErrUnresolved) {
				t.Errorf("Verify: %v, %+v: want ErrUnresolved", err, st)
			}
		}
	})
	t.Run("short", func(t *testing.T) {
		dir, want := refFixture(t, 300, nil)
		// A src journal of only 100 events, whole: big refers past it.
		os.WriteFile(filepath.Join(dir, "src.zst"), write(t, frames("src", 100), 64<<10, nil), 0o644)
		got, err := readFile(t, filepath.Join(dir, "big.zst"), 0)
		if !errors.Is(err, ErrUnresolved) || !strings.Contains(err.Error(), "src's event 101") || !strings.Contains(err.Error(), "ends before it") {
			t.Errorf("err = %v, want ErrUnresolved at src's event 101", err)
		}
		if !bytes.HasPrefix(want, got) || len(got) == 0 {
			t.Errorf("what was read is not a prefix of what was written")
		}
	})
	t.Run("unfinished", func(t *testing.T) {
		dir, want := refFixture(t, 300, nil)
		// src's writer was killed after 100 events: no EOF, no index.
		b := frames("src", 100)
		b = b[:bytes.LastIndex(b[:len(b)-1], []byte("\n"))+1]
		os.WriteFile(filepath.Join(dir, "src.zst"), write(t, b, 64<<10, nil), 0o644)
		got, err := readFile(t, filepath.Join(dir, "big.zst"), 0)
		if !errors.Is(err, ErrTorn) || !strings.Contains(err.Error(), "src's event 101") || !strings.Contains(err.Error(), "whose writer did not finish it") {
			t.Errorf("err = %v, want ErrTorn at src's event 101", err)
		}
		if !bytes.HasPrefix(want, got) || len(got) == 0 {
			t.Errorf("what was read is not a prefix of what was written")
		}
	})
	t.Run("no payloads needed", func(t *testing.T) {
		dir, want := refFixture(t, 300, nil)
		os.Remove(filepath.Join(dir, "src.zst"))
		r, err := Open(filepath.Join(dir, "big.zst"), &ReaderOptions{NoPayloads: true})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var f, w wire.Frame
		lines := bytes.Split(bytes.TrimSuffix(want, []byte("\n")), []byte("\n"))
		for i := 0; ; i++ {
			err := r.Next(&f)
			if err == io.EOF {
				if i != len(lines) {
					t.Errorf("read %d frames, want %d", i, len(lines))
				}
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			wire.Decode(lines[i], &w)
			if f.Kind != w.Kind || f.Seq != w.Seq || f.Parent != w.Parent || f.Writer != w.Writer {
				t.Fatalf("frame %d: %+v, want %+v", i, f, w)
			}
		}
	})
	t.Run("torn", func(t *testing.T) {
		dir, want := refFixture(t, 3000, &WriterOptions{MaxLines: 100})
		p := filepath.Join(dir, "src.zst")
		b, _ := os.ReadFile(p)
		os.WriteFile(p, b[:len(b)/2], 0o644) // as a kill -9 of src leaves it
		got, err := readFile(t, filepath.Join(dir, "big.zst"), 0)
		if !errors.Is(err, ErrTorn) || !strings.Contains(err.Error(), "past the torn end of "+p) {
			t.Errorf("err = %v, want ErrTorn naming src.zst", err)
		}
		if !bytes.HasPrefix(want, got) || len(got) == 0 {
			t.Errorf("what was read is not a prefix of what was written")
		}
	})
	t.Run("damaged", func(t *testing.T) {
		dir, _ := refFixture(t, 3000, &WriterOptions{MaxLines: 100})
		p := filepath.Join(dir, "src.zst")
		b, _ := os.ReadFile(p)
		b[len(b)/3] ^= 0xff
		os.WriteFile(p, b, 0o644)
		_, err := readFile(t, filepath.Join(dir, "big.zst"), 0)
		if !errors.Is(err, ErrUnresolved) || !strings.Contains(err.Error(), p+", which is damaged") {
			t.Errorf("err = %v, want ErrUnresolved naming the damaged src.zst", err)
		}
	})
	t.Run("no file", func(t *testing.T) {
		dir, _ := refFixture(t, 30, nil)
		b, _ := os.ReadFile(filepath.Join(dir, "big.zst"))
		if _, err := readAll(t, b, nil); !errors.Is(err, ErrUnresolved) {
			t.Errorf("err = %v, want ErrUnresolved (a reader not opened from a file)", err)
		}
	})
}

func TestParseRef(t *testing.T) {
	line := AppendRef(nil, "big", 5, 3, wire.Ref{Writer: "src", Seq: 10})
	if want := `{"obz":1,"t":"ref","w":"big","s":5,"n":3,"p":{"w":"src","s":10}}` + "\n"; string(line) != want {
		t.Fatalf("AppendRef = %s", line)
	}
	x, ok := parseRef(line[:len(line)-1])
	if !ok || x.writer != "big" || x.seq != 5 || x.n != 3 || x.parent != (wire.Ref{Writer: "src", Seq: 10}) {
		t.Errorf("parseRef = %+v, %v", x, ok)
	}
	for _, bad := range []string{
		`{"obz":1,"t":"ref","w":"big","s":5,"n":0,"p":{"w":"src","s":10}}`,
		`{"obz":1,"t":"ref","w":"big","s":0,"n":1,"p":{"w":"src","s":10}}`,
		`{"obz":1,"t":"ref","w":"b\"g","s":5,"n":1,"p":{"w":"src","s":10}}`,
		`{"obz":1,"t":"ref","w":"big","s":5,"n":1,"p":{"w":"src","s":10}} `,
		`{"obz":1,"t":"ref","w":"big","s":18446744073709551615,"n":2,"p":{"w":"src","s":10}}`,
		`{"obz":1,"t":"ref","w":"big","s":5}`,
	} {
		if _, ok := parseRef([]byte(bad)); ok {
			t.Errorf("parseRef(%s) accepted", bad)
		}
	}
}

func TestRefSkips(t *testing.T) {
	line := AppendRefSkips(nil, "big", 5, 3, wire.Ref{Writer: "src", Seq: 10}, []uint64{1, 0})
	if string(line) != `{"obz":1,"t":"ref","w":"big","s":5,"n":3,"p":{"w":"src","s":10},"g":[1,0]}`+"\n" {
		t.Fatalf("line %s", line)
	}
	x, ok := parseRef(line[:len(line)-1])
	if !ok || x.last != 13 || x.n != 3 {
		t.Fatalf("parsed %+v %v", x, ok)
	}
	// No skips: the version 2 line.
	if got := AppendRefSkips(nil, "big", 5, 3, wire.Ref{Writer: "src", Seq: 10}, []uint64{0, 0}); string(got) != string(AppendRef(nil, "big", 5, 3, wire.Ref{Writer: "src", Seq: 10})) {
		t.Fatalf("no skips: %s", got)
	}
	for _, bad := range []string{
		`{"obz":1,"t":"ref","w":"big","s":5,"n":3,"p":{"w":"src","s":10},"g":[1]}`,
		`{"obz":1,"t":"ref","w":"big","s":5,"n":3,"p":{"w":"src","s":10},"g":[1,0,0]}`,
		`{"obz":1,"t":"ref","w":"big","s":5,"n":3,"p":{"w":"src","s":10},"g":[01,0]}`,
		`{"obz":1,"t":"ref","w":"big","s":5,"n":3,"p":{"w":"src","s":10},"g":[]}`,
		`{"obz":1,"t":"ref","w":"big","s":5,"n":3,"p":{"w":"src","s":10},"g":[1,]}`,
		`{"obz":1,"t":"ref","w":"big","s":5,"n":2,"p":{"w":"src","s":10},"g":[18446744073709551615]}`,
	} {
		if _, ok := parseRef([]byte(bad)); ok {
			t.Errorf("accepted %s", bad)
		}
	}
	// Resolved: src's events 10, 12, 13.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "src.zst"), write(t, frames("src", 20), 64<<10, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	line = AppendRefSkips(nil, "big", 1, 3, wire.Ref{Writer: "src", Seq: 10}, []uint64{1, 0})
	eof := wire.AppendFrame(nil, &wire.Frame{Kind: wire.KindEOF, Writer: "big", Count: 3})
	if err := os.WriteFile(filepath.Join(dir, "big.zst"), write(t, append(line, eof...), 64<<10, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(filepath.Join(dir, "big.zst"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var f wire.Frame
	for i, want := range []uint64{10, 12, 13} {
		if err := r.Next(&f); err != nil || f.Seq != uint64(1+i) || f.Parent.Seq != want || !strings.Contains(string(f.Payload), `"id":`+strconv.Itoa(int(want))+`,`) {
			t.Fatalf("frame %d: %v %+v %s", i, err, f.Parent, f.Payload)
		}
	}
}
