package stages

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/obz-dev/obz/runner/runnertest"
)

func zstdReader(r io.Reader) (*zstd.Decoder, error) { return zstd.NewReader(r) }

func TestWriteCompressedByExtension(t *testing.T) {
	dir := t.TempDir()
	in := writeData("r", 1, `{"id":1,"s":"x"}`) + writeData("r", 2, `{"id":2,"s":"y"}`) + writeEOF("r", 2)
	for name, want := range map[string]string{
		"a.ndjson.gz":  "{\"id\":1,\"s\":\"x\"}\n{\"id\":2,\"s\":\"y\"}\n",
		"a.ndjson.zst": "{\"id\":1,\"s\":\"x\"}\n{\"id\":2,\"s\":\"y\"}\n",
		"a.csv.gz":     "id,s\n1,x\n2,y\n",
		"a.tsv.zst":    "id\ts\n1\tx\n2\ty\n",
	} {
		out := filepath.Join(dir, name)
		r := writeRun(t, runnertest.Options{Spec: &writeSpec, Argv: []string{out}}, strings.NewReader(in), nil)
		if r.Err != nil {
			t.Fatalf("%s: %v", name, r.Err)
		}
		if got := decompressFile(t, out); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
		if c := r.counters; c.Out.Load() != 2 || c.BytesOut.Load() == 0 {
			t.Errorf("%s: out %d bytes %d", name, c.Out.Load(), c.BytesOut.Load())
		}
	}
	if names := dirNames(t, dir); len(names) != 4 {
		t.Errorf("dir holds %v", names)
	}
}

func TestWriteCompressFlag(t *testing.T) {
	in := writeData("r", 1, `{"id":1}`) + writeEOF("r", 1)
	for _, c := range []string{"gzip", "zstd"} {
		r := writeRun(t, runnertest.Options{Spec: &writeSpec, Flags: map[string]any{"compress": c}}, strings.NewReader(in), nil)
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		got, err := decompress(strings.NewReader(r.stdout), c)
		if err != nil || string(got) != "{\"id\":1}\n" {
			t.Errorf("%s stdout: %q, %v", c, got, err)
		}
	}
	// --compress none writes plain text whatever the name says.
	out := filepath.Join(t.TempDir(), "plain.ndjson.gz")
	if r := writeRun(t, runnertest.Options{Spec: &writeSpec, Argv: []string{out}, Flags: map[string]any{"compress": "none"}}, strings.NewReader(in), nil); r.Err != nil {
		t.Fatal(r.Err)
	}
	if got := readFile(t, out); got != "{\"id\":1}\n" {
		t.Errorf("--compress none: %q", got)
	}
}

// TestWriteCompressedStdoutBrokenIsUnfinished: a broken run passes on what
// came but leaves the compressed stream unfinished, so that a reader sees
// that it was cut short.
func TestWriteCompressedStdoutBrokenIsUnfinished(t *testing.T) {
	in := writeData("r", 1, `{"id":1}`) + writeData("r", 2, `{"id":2}`) // no EOF
	for _, c := range []string{"gzip", "zstd"} {
		r := writeRun(t, runnertest.Options{Spec: &writeSpec, Flags: map[string]any{"compress": c}}, strings.NewReader(in), nil)
		if r.Err == nil {
			t.Fatalf("%s: a broken input succeeded", c)
		}
		got, err := decompress(strings.NewReader(r.stdout), c)
		if err == nil {
			t.Errorf("%s: the stream of a broken run decompressed cleanly", c)
		}
		if !bytes.HasPrefix([]byte("{\"id\":1}\n{\"id\":2}\n"), got) {
			t.Errorf("%s: got %q, want a prefix of the events", c, got)
		}
	}
}
