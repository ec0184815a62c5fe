package journal

import (
	"errors"
	"github.com/cespare/xxhash/v2"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/obz-dev/obz/wire"
)

// fileRefFixture writes an NDJSON file of n lines and src.zst, a source's
// journal of them as file references (runs of 7 lines, one line journaled
// as bytes, an error event) with the file's fsum when sum is set. want is
// the source's output as frames. With rel, the references give the
// file's path relative to the journal's directory too (FileID.Rel).
func fileRefFixture(t *testing.T, n int, sum, rel bool) (dir, file string, want []byte) {
	t.Helper()
	dir = t.TempDir()
	file = filepath.Join(dir, "in.ndjson")
	var data []byte
	for i := 1; i <= n; i++ {
		data = append(data, `{"id":`+strconv.Itoa(i)+`,"msg":"from a file"}`+"\n"...)
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	id := FileID{Path: file, Size: st.Size(), MTime: st.ModTime().UnixNano()}
	if rel {
		id.Rel = RelPath(dir, file)
	}
	var journaled []byte
	var run FileRef
	end := func() {
		if run.N > 0 {
			journaled = AppendFileRef(journaled, &run)
			run = FileRef{}
		}
	}
	off := int64(0)
	lines := strings.SplitAfter(string(data), "\n")
	for i := 1; i <= n; i++ {
		line := lines[i-1]
		payload := []byte(strings.TrimSuffix(line, "\n"))
		f := wire.Frame{Kind: wire.KindData, Writer: "src", Seq: uint64(i), Payload: payload}
		switch {
		case i == 20:
			end()
			journaled = wire.AppendFrame(journaled, &f)
		case i == 30:
			end()
			f.Kind, f.Err = wire.KindError, &wire.ErrorInfo{Stage: "src", Kind: "parse", Msg: "no"}
			journaled = wire.AppendFrame(journaled, &f)
		default:
			if run.N == 7 || run.N > 0 && run.Seq+run.N != uint64(i) {
				end()
			}
			if run.N == 0 {
				run = FileRef{Writer: "src", Seq: uint64(i), File: id, Off: off}
			}
			run.N++
			run.Len += int64(len(line))
			run.CRC = FileCRC(run.CRC, []byte(line))
		}
		want = wire.AppendFrame(want, &f)
		off += int64(len(line))
	}
	end()
	if sum {
		journaled = AppendFileSum(journaled, "src", id, xxh64(data))
	}
	eof := wire.Frame{Kind: wire.KindEOF, Writer: "src", Count: uint64(n)}
	journaled = wire.AppendFrame(journaled, &eof)
	want = wire.AppendFrame(want, &eof)
	if err := os.WriteFile(filepath.Join(dir, "src.zst"), write(t, journaled, 4<<10, &WriterOptions{MaxLines: 5}), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, file, want
}

func catFile(t *testing.T, path string, opts *ReaderOptions) ([]byte, error) {
	t.Helper()
	r, err := Open(path, opts)
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

func TestFileRefsResolve(t *testing.T) {
	dir, file, want := fileRefFixture(t, 100, true, false)
	j := filepath.Join(dir, "src.zst")
	got, err := catFile(t, j, nil)
	if err != nil || string(got) != string(want) {
		t.Fatalf("read %v:\n%s\nwant\n%s", err, got, want)
	}
	// From a seq in the middle: the index finds the block.
	r, _ := Open(j, nil)
	r.SeekSeq(60)
	var f wire.Frame
	if err := r.Next(&f); err != nil || f.Seq != 60 || !strings.Contains(string(f.Payload), `"id":60,`) {
		t.Fatalf("seek 60: %v %d %s", err, f.Seq, f.Payload)
	}
	r.Close()
	s, err := Verify(j, nil)
	if err != nil || !s.OK() || s.Kinds["data"] != 99 || s.LastSeq != 100 {
		t.Fatalf("verify: %v %+v", err, s)
	}
	files, err := FileSums(j)
	if err != nil || len(files) != 1 || !files[0].Sum || files[0].Opened.Path != file || files[0].Check(true) != nil {
		t.Fatalf("sums: %v %+v", err, files)
	}

	// Touched, or appended to: the bytes read are the same.
	later := time.Now().Add(time.Hour)
	os.Chtimes(file, later, later)
	if got, err := catFile(t, j, nil); err != nil || string(got) != string(want) {
		t.Fatalf("touched: %v", err)
	}
	a, _ := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	a.WriteString(`{"more":1}` + "\n")
	a.Close()
	if got, err := catFile(t, j, nil); err != nil || string(got) != string(want) {
		t.Fatalf("appended: %v", err)
	}

	// Changed: refused before its first reference, naming it.
	data, _ := os.ReadFile(file)
	data[500] = 'X'
	os.WriteFile(file, data, 0o644)
	_, err = catFile(t, j, nil)
	if !errors.Is(err, ErrSourceChanged) || !strings.Contains(err.Error(), file+" changed since the run") {
		t.Fatalf("changed: %v", err)
	}
	if err := files[0].Check(false); !errors.Is(err, ErrSourceChanged) {
		t.Fatalf("check: %v", err)
	}
	// Lineage needs no payloads, and no file.
	if _, err := catFile(t, j, &ReaderOptions{NoPayloads: true}); err != nil {
		t.Fatal(err)
	}

	// Gone.
	os.Remove(file)
	_, err = catFile(t, j, nil)
	if !errors.Is(err, ErrUnresolved) || !strings.Contains(err.Error(), file+", which the run recorded by reference, cannot be read") {
		t.Fatalf("gone: %v", err)
	}
}

// Without the fsum line (a source killed before it read the file to its
// end), a change is found by the CRC-32C of the bytes referred to, at the
// first reference that covers it.
func TestFileRefsChangedWithoutSum(t *testing.T) {
	dir, file, want := fileRefFixture(t, 100, false, false)
	data, _ := os.ReadFile(file)
	i := strings.Index(string(data), `"id":50,`)
	data[i+1] = 'I'
	os.WriteFile(file, data, 0o644)
	got, err := catFile(t, filepath.Join(dir, "src.zst"), nil)
	if !errors.Is(err, ErrSourceChanged) || !strings.Contains(err.Error(), "CRC-32C") {
		t.Fatalf("changed: %v", err)
	}
	if !strings.HasPrefix(string(want), string(got)) || strings.Contains(string(got), `"id":50,`) {
		t.Fatalf("not a prefix before the change:\n%s", got)
	}
	// Checked before reading (replay, resume): every reference's bytes.
	files, err := FileSums(filepath.Join(dir, "src.zst"))
	if err != nil || len(files) != 1 || files[0].Sum {
		t.Fatalf("sums: %v %+v", err, files)
	}
	if err := files[0].Check(false); err != nil {
		t.Fatalf("not strict: %v", err)
	}
	if err := files[0].Check(true); !errors.Is(err, ErrSourceChanged) || !strings.Contains(err.Error(), "CRC-32C") {
		t.Fatalf("strict: %v", err)
	}
}

func xxh64(b []byte) (s [8]byte) {
	h := xxhash.New()
	h.Write(b)
	h.Sum(s[:0])
	return s
}

// A run directory moved with its input file (a project cloned elsewhere):
// nothing is at the recorded absolute path, and the path relative to the
// journal finds the file; with neither, the error names both.
func TestFileRefsRelative(t *testing.T) {
	dir, file, want := fileRefFixture(t, 50, true, true)
	moved := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	j := filepath.Join(moved, "src.zst")
	got, err := catFile(t, j, nil)
	if err != nil || string(got) != string(want) {
		t.Fatalf("moved: read %v:\n%s\nwant\n%s", err, got, want)
	}
	files, err := FileSums(j)
	if err != nil || len(files) != 1 || files[0].Opened.Path != file || files[0].Check(true) != nil {
		t.Fatalf("moved: sums %v %+v", err, files)
	}
	r, _ := Open(j, nil)
	var f wire.Frame
	if err := r.Next(&f); err != nil {
		t.Fatal(err)
	}
	if sp, ok := r.FileSpan(); !ok || sp.Path != filepath.Join(moved, "in.ndjson") {
		t.Fatalf("span %+v %v", sp, ok)
	}
	r.Close()

	os.Remove(filepath.Join(moved, "in.ndjson"))
	_, err = catFile(t, j, nil)
	if !errors.Is(err, ErrUnresolved) || !strings.Contains(err.Error(), file+", which the run recorded by reference, cannot be read") ||
		!strings.Contains(err.Error(), "nor is it at "+filepath.Join(moved, "in.ndjson")) {
		t.Fatalf("gone: %v", err)
	}
	if err := files[0].Check(false); !errors.Is(err, ErrUnresolved) || !strings.Contains(err.Error(), "nor is it at") {
		t.Fatalf("gone, check: %v", err)
	}

	// Without a relative path (format 3), the moved file is not found.
	dir, _, _ = fileRefFixture(t, 50, true, false)
	moved = filepath.Join(t.TempDir(), "elsewhere")
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	if _, err := catFile(t, filepath.Join(moved, "src.zst"), nil); !errors.Is(err, ErrUnresolved) || strings.Contains(err.Error(), "nor is it at") {
		t.Fatalf("no rel: %v", err)
	}
}

func TestFileRefRelLine(t *testing.T) {
	r := FileRef{Writer: "src", Seq: 3, N: 2, File: FileID{Path: "/a/in.ndjson", Size: 10, MTime: 5, Rel: "../in.ndjson"}, Off: 0, Len: 10, CRC: 7}
	line := AppendFileRef(nil, &r)
	want := `{"obz":1,"t":"fref","w":"src","s":3,"n":2,"f":"/a/in.ndjson","z":10,"m":5,"r":"../in.ndjson","o":0,"l":10,"c":7}` + "\n"
	if string(line) != want {
		t.Fatalf("got %s want %s", line, want)
	}
	got, ok := parseFileRef(line[:len(line)-1])
	if !ok || got != r {
		t.Fatalf("parse: %v %+v", ok, got)
	}
	sum := AppendFileSum(nil, "src", r.File, [8]byte{1})
	s, ok := parseFileSum(sum[:len(sum)-1])
	if !ok || s.id != r.File {
		t.Fatalf("parse sum: %v %+v", ok, s)
	}
}
