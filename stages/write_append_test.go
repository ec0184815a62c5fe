package stages

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/runner/runnertest"
)

func TestWriteAppend(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "log.ndjson")
	os.WriteFile(out, []byte("{\"old\":1}\n"), 0o600)
	in := writeData("read", 1, `{"a":1}`) + writeData("read", 2, `{"a":2}`) + writeEOF("read", 2)
	r := writeRun(t, runnertest.Options{Spec: &writeSpec, Argv: []string{out}, Flags: map[string]any{"append": true}}, strings.NewReader(in), nil)
	if r.Err != nil || r.Stderr != "" {
		t.Fatalf("err %v, stderr %q", r.Err, r.Stderr)
	}
	if got, want := readFile(t, out), "{\"old\":1}\n{\"a\":1}\n{\"a\":2}\n"; got != want {
		t.Errorf("file = %q, want %q", got, want)
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Errorf("dir holds %v, want log.ndjson only", names)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600 kept", fi.Mode().Perm())
	}
	// A missing FILE is created.
	out2 := filepath.Join(dir, "new.ndjson")
	r = writeRun(t, runnertest.Options{Spec: &writeSpec, Argv: []string{out2}, Flags: map[string]any{"append": true, "fsync": false}}, strings.NewReader(in), nil)
	if r.Err != nil || readFile(t, out2) != "{\"a\":1}\n{\"a\":2}\n" {
		t.Fatalf("err %v, file %q", r.Err, readFile(t, out2))
	}
}

// TestWriteAppendBrokenCutsBack: a broken run appends nothing: FILE is cut
// back to what it was, or removed if the run created it.
func TestWriteAppendBrokenCutsBack(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "log.ndjson")
	os.WriteFile(out, []byte("{\"old\":1}\n"), 0o644)
	// More than the output buffer, so that some of it reached the file.
	big := strings.Repeat("x", 1000)
	var in strings.Builder
	for i := 1; i <= 200; i++ {
		in.WriteString(writeData("read", uint64(i), `{"x":"`+big+`"}`))
	}
	// no EOF: the input is broken
	for _, gz := range []bool{false, true} {
		name := out
		if gz {
			name = filepath.Join(dir, "log.ndjson.gz")
			os.WriteFile(name, gzipBytes(t, "{\"old\":1}\n"), 0o644)
		}
		before := readFile(t, name)
		r := writeRun(t, runnertest.Options{Spec: &writeSpec, Argv: []string{name}, Flags: map[string]any{"append": true}}, strings.NewReader(in.String()), nil)
		var be *runner.BrokenInputError
		if !errors.As(r.Err, &be) {
			t.Fatalf("err = %v, want a broken input", r.Err)
		}
		if got := readFile(t, name); got != before {
			t.Errorf("%s: %d bytes after a broken run, want the %d before", name, len(got), len(before))
		}
		if want := "nothing was appended to " + name + " (cut back to its"; !strings.Contains(r.Stderr, want) {
			t.Errorf("stderr = %q, want %q", r.Stderr, want)
		}
	}
	created := filepath.Join(dir, "created.ndjson")
	r := writeRun(t, runnertest.Options{Spec: &writeSpec, Argv: []string{created}, Flags: map[string]any{"append": true}}, strings.NewReader(in.String()), nil)
	if _, err := os.Stat(created); !os.IsNotExist(err) || !strings.Contains(r.Stderr, "it did not exist before and was removed") {
		t.Errorf("a file created by a broken run: stat %v, stderr %q", err, r.Stderr)
	}
}

// TestAppendRollbackOtherWriter: if someone else appended meanwhile, the
// file is not cut back (that would destroy their lines).
func TestAppendRollbackOtherWriter(t *testing.T) {
	out := filepath.Join(t.TempDir(), "shared.log")
	os.WriteFile(out, []byte("a\n"), 0o644)
	f, err := openAppend(out, out)
	if err != nil {
		t.Fatal(err)
	}
	f.f.WriteString("mine\n")
	other, _ := os.OpenFile(out, os.O_WRONLY|os.O_APPEND, 0)
	other.WriteString("theirs\n")
	other.Close()
	if f.rollback(5) {
		t.Error("rollback cut the file back although another writer appended")
	}
	if got := readFile(t, out); got != "a\nmine\ntheirs\n" {
		t.Errorf("file = %q", got)
	}
}

// TestWriteAppendCSVUsesHeader: appending to a CSV file matches the events
// to the header already there and does not write it again.
func TestWriteAppendCSVUsesHeader(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"t.csv", "t.csv.gz", "t.tsv.zst"} {
		out := filepath.Join(dir, name)
		in := writeData("r", 1, `{"id":1,"name":"a"}`) + writeEOF("r", 1)
		if r := writeRun(t, runnertest.Options{Spec: &writeSpec, Argv: []string{out}}, strings.NewReader(in), nil); r.Err != nil {
			t.Fatal(r.Err)
		}
		in = writeData("r", 1, `{"name":"b","id":2}`) + writeData("r", 2, `{"id":3,"x":1}`) + writeEOF("r", 2)
		r := writeRun(t, runnertest.Options{Spec: &writeSpec, Argv: []string{out}, Flags: map[string]any{"append": true}}, strings.NewReader(in), nil)
		var ee *runner.ErrorEventsError
		if !errors.As(r.Err, &ee) || ee.Count != 1 || !strings.Contains(r.Stderr, `key(s) "x" not in the CSV header`) {
			t.Fatalf("%s: err %v, stderr %q: want the x key refused", name, r.Err, r.Stderr)
		}
		want := "id,name\n1,a\n2,b\n"
		if strings.Contains(name, "tsv") {
			want = "id\tname\n1\ta\n2\tb\n"
		}
		if got := decompressFile(t, out); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func gzipBytes(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.Bytes()
}

// decompressFile reads path, decompressed by its extension.
func decompressFile(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := decompress(f, outCompression(path))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return string(b)
}

func decompress(r io.Reader, compression string) ([]byte, error) {
	switch compression {
	case "gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		return io.ReadAll(zr)
	case "zstd":
		zr, err := zstdReader(r)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		return io.ReadAll(zr)
	}
	return io.ReadAll(r)
}

// TestWriteAppendRewind: --append records where its appending began beside
// its journal; --rewind-from that journal cuts FILE back there (whatever a
// stopped or killed run appended) and appends everything again.
func TestWriteAppendRewind(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "log.ndjson")
	os.WriteFile(out, []byte("{\"old\":1}\n"), 0o644)
	j1, j2 := filepath.Join(dir, "run1.zst"), filepath.Join(dir, "run2.zst")
	in := writeData("agg", 1, `{"n":1,"partial":true}`) + writeEOF("agg", 1)
	r := writeRun(t, runnertest.Options{Spec: &writeSpec, Argv: []string{out}, Flags: map[string]any{"append": true, "fsync": false, "journal": j1}}, strings.NewReader(in), nil)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if got := readFile(t, runner.RewindRecord(j1)); !strings.Contains(got, `"size":10,"created":false`) {
		t.Errorf("record %q", got)
	}
	os.WriteFile(out, []byte("{\"old\":1}\n{\"n\":1,\"partial\":true}\n{\"torn"), 0o644)
	in = writeData("agg", 1, `{"n":2}`) + writeEOF("agg", 1)
	r = writeRun(t, runnertest.Options{Spec: &writeSpec, Argv: []string{out}, Flags: map[string]any{"append": true, "fsync": false, "journal": j2, "rewind-from": j1}}, strings.NewReader(in), nil)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if got, want := readFile(t, out), "{\"old\":1}\n{\"n\":2}\n"; got != want {
		t.Errorf("file = %q, want %q", got, want)
	}
	if !strings.Contains(r.Stderr, "resuming: cut "+out+" back to 10 bytes") {
		t.Errorf("stderr %q", r.Stderr)
	}
	// The resumed run records the same start, for a resume of it.
	if a, b := readFile(t, runner.RewindRecord(j1)), readFile(t, runner.RewindRecord(j2)); a != b {
		t.Errorf("records %q and %q", a, b)
	}
	// A FILE shorter than where the run began was changed since: refused.
	os.WriteFile(out, []byte("{}\n"), 0o644)
	_, err := writeSpec.New(runnertest.Options{Spec: &writeSpec, Argv: []string{out}, Flags: map[string]any{"append": true, "rewind-from": j1}})
	if err == nil || !strings.Contains(err.Error(), "fewer than the 10 it had before the run that is resumed") {
		t.Errorf("err %v", err)
	}
}
