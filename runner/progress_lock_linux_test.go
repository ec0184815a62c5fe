package runner

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestTermLock: of the stages sharing a terminal, one holds the lock at a
// time; it is free again once its holder is done.
func TestTermLock(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "tty"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, b := newTermLock(f), newTermLock(f)
	if !a.try() || !a.try() {
		t.Fatal("the first stage does not get the lock")
	}
	if b.try() {
		t.Fatal("a second stage gets the lock while the first holds it")
	}
	a.release()
	if !b.try() {
		t.Fatal("the lock is not free after its holder is done")
	}
	b.release()
	if newTermLock(&bytes.Buffer{}).try() {
		t.Error("a stderr that is no file gives a lock")
	}
}
