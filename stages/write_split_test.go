package stages

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/runner/runnertest"
)

func events(n int, payload func(i int) string) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		b.WriteString(writeData("r", uint64(i), payload(i)))
	}
	return b.String()
}

func TestSplitterNames(t *testing.T) {
	for path, want := range map[string]string{
		"out.ndjson":         "out-000007.ndjson",
		"d/out.csv.gz":       "d/out-000007.csv.gz",
		"out":                "out-000007",
		"out.zst":            "out-000007.zst",
		"a.b.ndjson.zst":     "a.b-000007.ndjson.zst",
		"/tmp/x/.hidden":     "/tmp/x/.hidden-000007",
		"/tmp/x/.hidden.csv": "/tmp/x/.hidden-000007.csv",
	} {
		var sp splitter
		sp.setName(path)
		if got := sp.name(7); got != want {
			t.Errorf("%s: part 7 is %s, want %s", path, got, want)
		}
	}
}

func TestWriteSplitEvery(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.ndjson")
	in := events(5, func(i int) string { return fmt.Sprintf(`{"i":%d}`, i) }) + writeEOF("r", 5)
	r := writeRun(t, runnertest.Options{Spec: &writeSpec, Argv: []string{out}, Flags: map[string]any{"split-every": 2}}, strings.NewReader(in), nil)
	if r.Err != nil || r.Stderr != "" {
		t.Fatalf("err %v, stderr %q", r.Err, r.Stderr)
	}
	want := map[string]string{
		"out-000001.ndjson": "{\"i\":1}\n{\"i\":2}\n",
		"out-000002.ndjson": "{\"i\":3}\n{\"i\":4}\n",
		"out-000003.ndjson": "{\"i\":5}\n",
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"out-000001.ndjson", "out-000002.ndjson", "out-000003.ndjson"}) {
		t.Fatalf("dir holds %v", names)
	}
	for name, w := range want {
		if got := readFile(t, filepath.Join(dir, name)); got != w {
			t.Errorf("%s = %q, want %q", name, got, w)
		}
	}
	// Parts of an earlier run: refused, or continued with --append.
	_, err := writeSpec.New(runnertest.Options{Spec: &writeSpec, Argv: []string{out}, Flags: map[string]any{"split-every": 2}})
	var ue *runner.UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "out-000001.ndjson exists") {
		t.Errorf("existing parts: err = %v, want a usage error", err)
	}
	in = events(3, func(i int) string { return fmt.Sprintf(`{"j":%d}`, i) }) + writeEOF("r", 3)
	r = writeRun(t, runnertest.Options{Spec: &writeSpec, Argv: []string{out}, Flags: map[string]any{"split-every": 2, "append": true}}, strings.NewReader(in), nil)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if got := readFile(t, filepath.Join(dir, "out-000005.ndjson")); got != "{\"j\":3}\n" {
		t.Errorf("--append: part 5 = %q", got)
	}
	if len(dirNames(t, dir)) != 5 {
		t.Errorf("dir holds %v, want 5 parts", dirNames(t, dir))
	}
}

// TestWriteSplitSize: a part ends after the event that makes it SIZE bytes
// (before compression); the parts together are the whole output.
func TestWriteSplitSize(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "s.ndjson.gz")
	in := events(100, func(i int) string { return fmt.Sprintf(`{"i":%d,"pad":"%s"}`, i, strings.Repeat("p", i%37)) }) + writeEOF("r", 100)
	r := writeRun(t, runnertest.Options{Spec: &writeSpec, Argv: []string{out}, Flags: map[string]any{"split-size": "1KiB"}}, strings.NewReader(in), nil)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	names := dirNames(t, dir)
	var all strings.Builder
	for k, name := range names {
		part := decompressFile(t, filepath.Join(dir, name))
		lines := strings.SplitAfter(part, "\n")
		lines = lines[:len(lines)-1]
		if last := k == len(names)-1; !last && (len(part) < 1024 || len(part)-len(lines[len(lines)-1]) >= 1024) {
			t.Errorf("%s: %d bytes; want the first event to take it to 1024 or more to end it", name, len(part))
		}
		all.WriteString(part)
	}
	var want strings.Builder
	for i := 1; i <= 100; i++ {
		fmt.Fprintf(&want, "{\"i\":%d,\"pad\":\"%s\"}\n", i, strings.Repeat("p", i%37))
	}
	if all.String() != want.String() {
		t.Errorf("the parts together differ from the input")
	}
	if len(names) < 3 {
		t.Errorf("only %d parts: %v", len(names), names)
	}
}

func TestWriteSplitCSVHeaderInEachPart(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "t.csv")
	in := events(3, func(i int) string { return fmt.Sprintf(`{"a":%d,"b":"x"}`, i) }) + writeEOF("r", 3)
	if r := writeRun(t, runnertest.Options{Spec: &writeSpec, Argv: []string{out}, Flags: map[string]any{"split-every": 2}}, strings.NewReader(in), nil); r.Err != nil {
		t.Fatal(r.Err)
	}
	if got := readFile(t, filepath.Join(dir, "t-000001.csv")); got != "a,b\n1,x\n2,x\n" {
		t.Errorf("part 1 = %q", got)
	}
	if got := readFile(t, filepath.Join(dir, "t-000002.csv")); got != "a,b\n3,x\n" {
		t.Errorf("part 2 = %q", got)
	}
}

// TestWriteSplitBroken: a broken run keeps the complete parts, leaves no
// half part, and says so.
func TestWriteSplitBroken(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "b.ndjson.zst")
	in := events(5, func(i int) string { return fmt.Sprintf(`{"i":%d}`, i) }) // no EOF
	r := writeRun(t, runnertest.Options{Spec: &writeSpec, Argv: []string{out}, Flags: map[string]any{"split-every": 2}}, strings.NewReader(in), nil)
	var be *runner.BrokenInputError
	if !errors.As(r.Err, &be) {
		t.Fatalf("err = %v, want a broken input", r.Err)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"b-000001.ndjson.zst", "b-000002.ndjson.zst"}) {
		t.Errorf("dir holds %v, want the 2 complete parts only", names)
	}
	if got := decompressFile(t, filepath.Join(dir, "b-000002.ndjson.zst")); got != "{\"i\":3}\n{\"i\":4}\n" {
		t.Errorf("part 2 = %q", got)
	}
	for _, s := range []string{
		filepath.Join(dir, "b-000003.ndjson.zst") + " was not written",
		"the 2 parts completed before the failure are kept",
		"4 events): they are not the whole output",
	} {
		if !strings.Contains(r.Stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, r.Stderr)
		}
	}
}

func TestWriteSplitEmptyInputMakesOnePart(t *testing.T) {
	dir := t.TempDir()
	r := writeRun(t, runnertest.Options{Spec: &writeSpec, Argv: []string{filepath.Join(dir, "e.ndjson")}, Flags: map[string]any{"split-every": 10}}, strings.NewReader(""), nil)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"e-000001.ndjson"}) {
		t.Errorf("dir holds %v", names)
	}
	// Splitting exactly at the end leaves no empty part behind.
	dir = t.TempDir()
	in := events(4, func(i int) string { return `{}` }) + writeEOF("r", 4)
	writeRun(t, runnertest.Options{Spec: &writeSpec, Argv: []string{filepath.Join(dir, "e.ndjson")}, Flags: map[string]any{"split-every": 2}}, strings.NewReader(in), nil)
	if names := dirNames(t, dir); len(names) != 2 {
		t.Errorf("dir holds %v, want 2 parts", names)
	}
}

func TestWriteSplitUsage(t *testing.T) {
	for _, f := range []map[string]any{
		{"split-every": 2},
		{"split-size": "1MiB"},
		{"append": true},
		{"receipts": true},
	} {
		_, err := writeSpec.New(runnertest.Options{Spec: &writeSpec, Flags: f}) // stdout
		var ue *runner.UsageError
		if !errors.As(err, &ue) {
			t.Errorf("%v to stdout: err = %v, want a usage error", f, err)
		}
	}
	for _, f := range []map[string]any{{"split-every": -1}, {"split-size": "lots"}, {"split-size": "0"}, {"compress": "lz4"}} {
		_, err := writeSpec.New(runnertest.Options{Spec: &writeSpec, Argv: []string{filepath.Join(t.TempDir(), "x")}, Flags: f})
		var ue *runner.UsageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: err = %v, want a usage error", f, err)
		}
	}
	if _, err := os.Stat("x"); err == nil {
		t.Error("a usage error left a file")
	}
}

func TestParseByteSize(t *testing.T) {
	for s, want := range map[string]uint64{"100": 100, "64KiB": 64 << 10, "100MiB": 100 << 20, "2g": 2 << 30, "1 MB": 1 << 20} {
		if got, err := parseByteSize(s); err != nil || got != want {
			t.Errorf("%q = %d, %v; want %d", s, got, err, want)
		}
	}
}
