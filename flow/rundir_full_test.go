package flow

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// fullDisk is a run directory's file system that fills up: after budget
// bytes every write fails with ENOSPC, as on a full disk. Partial writes
// land, as they do there.
type fullDisk struct {
	mu     sync.Mutex
	budget int
}

func (d *fullDisk) open(name string, flag int, perm os.FileMode) (io.WriteCloser, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &fullFile{f: f, d: d}, nil
}

type fullFile struct {
	f *os.File
	d *fullDisk
}

func (w *fullFile) Write(b []byte) (int, error) {
	w.d.mu.Lock()
	n := min(len(b), w.d.budget)
	w.d.budget -= n
	w.d.mu.Unlock()
	if _, err := w.f.Write(b[:n]); err != nil {
		return 0, err
	}
	if n < len(b) {
		return n, &os.PathError{Op: "write", Path: w.f.Name(), Err: syscall.ENOSPC}
	}
	return n, nil
}

func (w *fullFile) Close() error { return w.f.Close() }

// TestRunDirectoryFull: a disk that fills under the run directory (the
// manifest, the stages' logs) is reported on stderr, naming the file, and
// fails the run; no temporary manifest is left behind.
func TestRunDirectoryFull(t *testing.T) {
	for _, tc := range []struct {
		name   string
		budget int  // bytes that fit
		stale  bool // manifest.json is left from before the disk filled
	}{
		{"nothing fits", 0, false},
		{"the first manifest fits", 3000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			topo, err := Parse(filepath.Join(dir, "full.toml"), []byte(`
flow = "src |> tp |> out"
[stages.src]
run = "gen --count 50 --seed 1"
[stages.tp]
run = "tap"
[stages.out]
run = "write `+filepath.Join(dir, "out.ndjson")+`"
`), testCommands)
			if err != nil {
				t.Fatal(err)
			}
			disk := &fullDisk{budget: tc.budget}
			var stderr bytes.Buffer
			res, err := Run(context.Background(), topo, Options{Exe: obzBin, Stderr: &stderr, Stdout: io.Discard,
				RunDir: filepath.Join(dir, "runs"), NoJournal: true, open: disk.open})
			if err != nil {
				t.Fatal(err)
			}
			if res.RunDirErr == nil || !strings.Contains(res.RunDirErr.Error(), "no space left on device") {
				t.Fatalf("RunDirErr = %v, want the full disk", res.RunDirErr)
			}
			if !strings.HasPrefix(res.Outcome(), "failed") {
				t.Errorf("outcome %q, want failed", res.Outcome())
			}
			out := stderr.String()
			for _, want := range []string{
				"obz flow: the run directory is incomplete: writing manifest.json: write " + filepath.Join(res.RunDir, ".manifest.json.tmp") + ": no space left on device",
				`obz flow: the run directory is incomplete: the log of stage "tp": write ` + filepath.Join(res.RunDir, "logs", "tp.log") + ": no space left on device",
				"[tp] [tp #1 src/1]", // the lines are still shown
			} {
				if !strings.Contains(out, want) {
					t.Errorf("stderr lacks %q:\n%s", want, out)
				}
			}
			if strings.Count(out, "writing manifest.json") != 1 {
				t.Errorf("the manifest's failure is said more than once:\n%s", out)
			}
			if _, err := os.Stat(filepath.Join(res.RunDir, ".manifest.json.tmp")); !os.IsNotExist(err) {
				t.Errorf("a temporary manifest is left: %v", err)
			}
			b, err := os.ReadFile(filepath.Join(res.RunDir, "manifest.json"))
			if !tc.stale {
				if !os.IsNotExist(err) {
					t.Errorf("manifest.json exists (%v): %s", err, b)
				}
				return
			}
			var m Result
			if err := json.Unmarshal(b, &m); err != nil || m.Flow != "full" {
				t.Fatalf("the manifest from before the disk filled is not whole: %v\n%s", err, b)
			}
			if !m.Ended.IsZero() {
				t.Errorf("manifest.json says the run ended: it was written after the disk filled")
			}
		})
	}
}
