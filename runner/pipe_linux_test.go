package runner

import (
	"os"
	"syscall"
	"testing"
)

// TestGrowPipe: an input pipe is enlarged, a file is left alone.
func TestGrowPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	growPipe(r)
	const fGetPipeSz = 1032
	if n, _, e := syscall.Syscall(syscall.SYS_FCNTL, r.Fd(), fGetPipeSz, 0); e != 0 || n < pipeSize {
		t.Errorf("pipe size %d (%v), want %d", n, e, pipeSize)
	}
	// GrowPipe works from the write end too (a replica's input).
	r2, w2, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	defer w2.Close()
	GrowPipe(w2)
	if n, _, e := syscall.Syscall(syscall.SYS_FCNTL, r2.Fd(), fGetPipeSz, 0); e != 0 || n < pipeSize {
		t.Errorf("pipe size %d (%v) after GrowPipe of its write end, want %d", n, e, pipeSize)
	}
	growPipe(os.NewFile(^uintptr(0), "bad")) // not a file: nothing happens
	growPipe(struct{}{})
}
