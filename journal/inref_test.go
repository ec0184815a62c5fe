package journal

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/obz-dev/obz/wire"
)

// inputRefFixture writes in.frames, n data frames of writer gen (with an
// error frame and frames of another writer among them), and big.zst, the
// journal of a filter that kept the even seqs of gen and read the file as
// its stdin: its kept events as references to the file's frames (runs of
// up to 9), one event journaled as a frame. want is the filter's output.
func inputRefFixture(t *testing.T, n int) (dir, file string, want []byte) {
	t.Helper()
	dir = t.TempDir()
	file = filepath.Join(dir, "in.frames")
	var data []byte
	for i := 1; i <= n; i++ {
		f := wire.Frame{Kind: wire.KindData, Writer: "gen", Seq: uint64(i), Payload: []byte(`{"id":` + strconv.Itoa(i) + `,"msg":"from stdin"}`)}
		if i == 7 {
			f.Kind, f.Err = wire.KindError, &wire.ErrorInfo{Stage: "gen", Kind: "parse", Msg: "no"}
		}
		data = wire.AppendFrame(data, &f)
		if i%10 == 0 {
			o := wire.Frame{Kind: wire.KindData, Writer: "other", Seq: uint64(i), Payload: []byte(`{"other":true}`)}
			data = wire.AppendFrame(data, &o)
		}
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(file)
	id := FileID{Path: file, Size: st.Size(), MTime: st.ModTime().UnixNano(), Rel: RelPath(dir, file)}
	var journaled []byte
	seq := uint64(0)
	var run struct {
		seq, n, last uint64
		first        uint64
		skips        []uint64
		crc          uint32
	}
	end := func() {
		if run.n > 0 {
			journaled = AppendInputRef(journaled, "big", run.seq, run.n, wire.Ref{Writer: "gen", Seq: run.first}, run.skips, &id, run.crc)
			run.n, run.skips, run.crc = 0, nil, 0
		}
	}
	for i := 2; i <= n; i += 2 {
		seq++
		payload := []byte(`{"id":` + strconv.Itoa(i) + `,"msg":"from stdin"}`)
		f := wire.Frame{Kind: wire.KindData, Writer: "big", Seq: seq, Parent: wire.Ref{Writer: "gen", Seq: uint64(i)}, Payload: payload}
		want = wire.AppendFrame(want, &f)
		if i == 30 {
			end()
			journaled = wire.AppendFrame(journaled, &f)
			continue
		}
		if run.n == 9 {
			end()
		}
		if run.n == 0 {
			run.seq, run.first = seq, uint64(i)
		} else {
			run.skips = append(run.skips, uint64(i)-run.last-1)
		}
		run.n++
		run.last = uint64(i)
		run.crc = FileCRC(run.crc, payload)
	}
	end()
	eof := wire.Frame{Kind: wire.KindEOF, Writer: "big", Count: seq}
	journaled = wire.AppendFrame(journaled, &eof)
	want = wire.AppendFrame(want, &eof)
	if err := os.WriteFile(filepath.Join(dir, "big.zst"), write(t, journaled, 4<<10, &WriterOptions{MaxLines: 4}), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, file, want
}

func TestInputRefsResolve(t *testing.T) {
	dir, file, want := inputRefFixture(t, 200)
	j := filepath.Join(dir, "big.zst")
	got, err := catFile(t, j, nil)
	if err != nil || string(got) != string(want) {
		t.Fatalf("read %v:\n%s\nwant\n%s", err, got, want)
	}
	// From a seq in the middle, then back to the start: the file is
	// scanned again.
	r, _ := Open(j, nil)
	var f wire.Frame
	for _, seq := range []uint64{60, 3, 99} {
		r.SeekSeq(seq)
		if err := r.Next(&f); err != nil || f.Seq != seq || !strings.Contains(string(f.Payload), `"id":`+strconv.FormatUint(2*seq, 10)+`,`) {
			t.Fatalf("seek %d: %v %d %s", seq, err, f.Seq, f.Payload)
		}
	}
	r.Close()
	if s, err := Verify(j, nil); err != nil || !s.OK() || s.Kinds["data"] != 100 {
		t.Fatalf("verify: %v %+v", err, s)
	}

	// Moved with the journal: found relative to it.
	moved := filepath.Join(t.TempDir(), "moved")
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	if got, err := catFile(t, filepath.Join(moved, "big.zst"), nil); err != nil || string(got) != string(want) {
		t.Fatalf("moved: %v", err)
	}
	os.Rename(moved, dir)

	// A payload changed in place (same size and time): refused at the
	// reference that covers it, after the frames before it.
	data, _ := os.ReadFile(file)
	st, _ := os.Stat(file)
	i := strings.Index(string(data), `"id":150,`)
	data[i+6] = '9'
	os.WriteFile(file, data, 0o644)
	os.Chtimes(file, st.ModTime(), st.ModTime())
	got, err = catFile(t, j, nil)
	if !errors.Is(err, ErrSourceChanged) || !strings.Contains(err.Error(), file+" changed since the run recorded it by reference") || !strings.Contains(err.Error(), "CRC-32C") {
		t.Fatalf("changed: %v", err)
	}
	if !strings.HasPrefix(string(want), string(got)) || strings.Contains(string(got), `"id":150,`) || !strings.Contains(string(got), `"id":100,`) {
		t.Fatalf("not the prefix before the change:\n%s", got)
	}
	// Lineage needs no file.
	if _, err := catFile(t, j, &ReaderOptions{NoPayloads: true}); err != nil {
		t.Fatal(err)
	}
	// A frame gone: refused, naming it.
	cut := strings.Index(string(data), `{"obz":1,"t":"data","w":"gen","s":120,`)
	os.WriteFile(file, data[:cut], 0o644)
	if _, err = catFile(t, j, nil); !errors.Is(err, ErrSourceChanged) || !strings.Contains(err.Error(), "it is shorter") {
		t.Fatalf("shorter: %v", err)
	}
	// The file gone.
	os.Remove(file)
	if _, err = catFile(t, j, nil); !errors.Is(err, ErrUnresolved) || !strings.Contains(err.Error(), file+", which the run recorded by reference, cannot be read") {
		t.Fatalf("gone: %v", err)
	}
}

func TestInputRefLine(t *testing.T) {
	id := FileID{Path: "/a/in.frames", Size: 10, MTime: 5, Rel: "../in.frames"}
	for _, skips := range [][]uint64{nil, {1, 0}} {
		line := AppendInputRef(nil, "big", 5, 3, wire.Ref{Writer: "gen", Seq: 10}, skips, &id, 77)
		x, ok := parseRef(line[:len(line)-1])
		if !ok || x.in == nil || *x.in != id || x.crc != 77 || x.seq != 5 || x.n != 3 || x.parent.Seq != 10 || x.last != 12+uint64(len(skips)/2) {
			t.Fatalf("%s: %v %+v", line, ok, x)
		}
		// What a reader of format 3 would see: the file's fields make no
		// valid line of another kind.
		if strings.Count(string(line), "\n") != 1 || !strings.HasSuffix(string(line), `,"c":77}`+"\n") {
			t.Fatalf("line %q", line)
		}
	}
	for _, bad := range []string{
		`{"obz":1,"t":"ref","w":"big","s":5,"n":3,"p":{"w":"gen","s":10},"f":"/a","z":1,"m":1,"c":77`,
		`{"obz":1,"t":"ref","w":"big","s":5,"n":3,"p":{"w":"gen","s":10},"f":"/a","z":1,"m":1}`,
		`{"obz":1,"t":"ref","w":"big","s":5,"n":3,"p":{"w":"gen","s":10}},"f":"/a","z":1,"m":1,"c":77}`,
		`{"obz":1,"t":"ref","w":"big","s":5,"n":3,"p":{"w":"gen","s":10},"g":[1,0]],"f":"/a","z":1,"m":1,"c":77}`,
		`{"obz":1,"t":"ref","w":"big","s":5,"n":3,"p":{"w":"gen","s":10},"f":"/a","z":1,"m":1,"c":4294967296}`,
	} {
		if _, ok := parseRef([]byte(bad)); ok {
			t.Errorf("parsed %s", bad)
		}
	}
}

// A reference to something that is not a regular file (a FIFO would make
// the reader wait, a device might never end a line) is refused.
func TestFileRefNotRegular(t *testing.T) {
	for _, path := range []string{"/dev/zero", t.TempDir()} {
		line := AppendInputRef(nil, "big", 1, 1, wire.Ref{Writer: "gen", Seq: 1}, nil, &FileID{Path: path}, 0)
		_, err := Frames(line, "")
		if !errors.Is(err, ErrUnresolved) || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("%s: %v", path, err)
		}
		fr := AppendFileRef(nil, &FileRef{Writer: "src", Seq: 1, N: 1, File: FileID{Path: path}, Len: 1})
		if _, err := Frames(fr, ""); !errors.Is(err, ErrUnresolved) || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("fref %s: %v", path, err)
		}
	}
}
