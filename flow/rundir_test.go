package flow

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestMakeRunDirExclusive: flows started in the same millisecond each get a
// run directory of their own, however many start at once.
func TestMakeRunDirExclusive(t *testing.T) {
	base := filepath.Join(t.TempDir(), "runs")
	start := time.Date(2026, 12, 4, 14, 0, 0, 0, time.UTC)
	const n = 64
	dirs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-gate
			dirs[i], errs[i] = makeRunDir(base, "f", start)
		})
	}
	close(gate)
	wg.Wait()
	seen := map[string]bool{}
	for i, d := range dirs {
		if errs[i] != nil {
			t.Fatalf("creation %d: %v", i, errs[i])
		}
		if seen[d] {
			t.Fatalf("run directory %s handed out twice", d)
		}
		seen[d] = true
	}
	ents, err := os.ReadDir(base)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != n {
		t.Errorf("%d directories under %s, want %d", len(ents), base, n)
	}
	if !seen[filepath.Join(base, "f-20261204T140000.000Z")] || !seen[filepath.Join(base, "f-20261204T140000.000Z-64")] {
		t.Errorf("names are not f-TIMESTAMP, f-TIMESTAMP-2 ... -64: %v", dirs)
	}
}

// TestMakeRunDirNotADirectory: a base that cannot hold directories is an
// error, not a retry loop.
func TestMakeRunDirNotADirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := makeRunDir(file, "f", time.Now()); err == nil {
		t.Fatal("makeRunDir under a regular file succeeded")
	}
}
