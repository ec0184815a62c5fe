package stages

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

func readGzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func readZstded(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := zstd.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(s))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func readWriteTemp(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestReadCompressedMixed: several files in order, each in its own format,
// plain, gzip or zstd; the format comes from the name without .gz/.zst.
func TestReadCompressedMixed(t *testing.T) {
	dir := t.TempDir()
	files := []string{
		readWriteTemp(t, dir, "a.csv.gz", readGzipped(t, "n,s\n1,x\n")),
		readWriteTemp(t, dir, "b.ndjson.zst", readZstded(t, `{"n":2}`+"\n")),
		readWriteTemp(t, dir, "c.json", []byte(`[{"n":3},{"n":4}]`)),
		readWriteTemp(t, dir, "d.log.zst", readZstded(t, "five\n")),
		readWriteTemp(t, dir, "e.json.GZ", readGzipped(t, "{\"n\":6}\n{\n  \"n\": 7\n}")),
		"-",
		readWriteTemp(t, dir, "f.tsv.gz", readGzipped(t, "n\n9\n")),
		readWriteTemp(t, dir, "g.ndjson", readGzipped(t, `{"n":10}`)), // no .gz, but gzip inside: the magic number says so
	}
	stdin := bytes.NewReader(readZstded(t, `{"n":8}`+"\n"))
	r := runRead(t, context.Background(), readOpts(files, "infer"), stdin, runner.Raw, 0)
	want := `{"n":1,"s":"x"}
{"n":2}
{"n":3}
{"n":4}
{"line":"five","n":1}
{"n":6}
{"n":7}
{"n":8}
{"n":9}
{"n":10}
`
	if r.Err != nil || r.Out != want {
		t.Errorf("err %v, got\n%s\nwant\n%s", r.Err, r.Out, want)
	}
}

func TestReadCompressedStdin(t *testing.T) {
	for name, in := range map[string][]byte{"gzip": readGzipped(t, "a\nb\n"), "zstd": readZstded(t, "a\nb\n"), "plain": []byte("a\nb\n")} {
		r := runRead(t, context.Background(), readOpts(nil, "format=text"), bytes.NewReader(in), runner.Raw, 0)
		if r.Err != nil || r.Out != "{\"line\":\"a\",\"n\":1}\n{\"line\":\"b\",\"n\":2}\n" {
			t.Errorf("%s: err %v, got %q", name, r.Err, r.Out)
		}
	}
	// Short inputs that start like a magic number are plain.
	for _, in := range []string{"(", "(\n", "\x1f", "(\xb5/"} {
		r := runRead(t, context.Background(), readOpts(nil, "format=text"), strings.NewReader(in), runner.Raw, 0)
		if r.Err != nil || !strings.HasPrefix(r.Out, `{"line":`) {
			t.Errorf("%q: err %v, got %q", in, r.Err, r.Out)
		}
	}
}

func TestReadCompressedBroken(t *testing.T) {
	dir := t.TempDir()
	// Named .gz but not gzip: refused before any output.
	p := readWriteTemp(t, dir, "plain.ndjson.gz", []byte(`{"n":1}`))
	if _, err := readSpec.New(readOpts([]string{p})); err == nil || !strings.Contains(err.Error(), "plain.ndjson.gz: not gzip data") {
		t.Errorf("got %v", err)
	}
	// Truncated: the events before the damage, then a failure and a poison EOF;
	// the line cut by the damage is no event.
	var lines strings.Builder
	for i := range 50000 {
		lines.WriteString(`{"n":` + strings.Repeat("1", i%7+1) + "}\n")
	}
	for name, data := range map[string][]byte{"cut.ndjson.gz": readGzipped(t, lines.String()), "cut.ndjson.zst": readZstded(t, lines.String())} {
		p := readWriteTemp(t, dir, name, data[:len(data)*2/3])
		r := runRead(t, context.Background(), readOpts([]string{p}), nil, runner.Framed, 0)
		if r.Err == nil || !strings.Contains(r.Err.Error(), "reading "+p) {
			t.Errorf("%s: err %v", name, r.Err)
		}
		fs := readFrames(t, r.Out)
		for _, f := range fs[:len(fs)-1] {
			if f.Kind != wire.KindData {
				t.Fatalf("%s: %+v %+v", name, f, f.Err)
			}
		}
		if eof := fs[len(fs)-1]; eof.Kind != wire.KindEOF || eof.EOF != wire.Poison || len(fs) < 2 {
			t.Errorf("%s: %d frames, last %+v", name, len(fs), eof)
		}
	}
}

// TestReadZstdWindowLimit: a frame asking for a 1 GiB window is refused
// instead of making the decoder allocate it.
func TestReadZstdWindowLimit(t *testing.T) {
	frame := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 20 << 3, 0x09, 0x00, 0x00, 'x'}
	p := readWriteTemp(t, t.TempDir(), "big.ndjson.zst", frame)
	r := runRead(t, context.Background(), readOpts([]string{p}), nil, runner.Raw, 0)
	if r.Err == nil || !strings.Contains(r.Err.Error(), "big.ndjson.zst") || r.Out != "" {
		t.Errorf("err %v, out %q", r.Err, r.Out)
	}
}
