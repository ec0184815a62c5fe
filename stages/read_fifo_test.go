//go:build unix

package stages

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/obz-dev/obz/runner/runnertest"
)

// TestReadFIFO: a FIFO is opened once and read from that open. Opening it
// twice (once to check it, once to read it) dropped the writer that had
// connected to the first open, and with a name that says .gz the check
// consumed the first bytes: events were lost and the second open waited
// for a writer that never came.
func TestReadFIFO(t *testing.T) {
	var want []string
	var plain strings.Builder
	for i := 1; i <= 5000; i++ {
		fmt.Fprintf(&plain, `{"i":%d}`+"\n", i)
		want = append(want, fmt.Sprintf(`{"i":%d}`, i))
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"events.ndjson", []byte(plain.String())},
		{"events.ndjson.gz", readGzipped(t, plain.String())},
		{"events.ndjson.zst", readZstded(t, plain.String())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), tc.name)
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Skip("mkfifo:", err)
			}
			wrote := make(chan error, 1)
			go func() {
				// Blocks until the reader opens the FIFO; a reader that
				// closes it again makes these writes fail (EPIPE).
				f, err := os.OpenFile(p, os.O_WRONLY, 0)
				if err != nil {
					wrote <- err
					return
				}
				for b := tc.data; len(b) > 0 && err == nil; {
					n := min(len(b), 1000)
					_, err = f.Write(b[:n])
					b = b[n:]
				}
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				wrote <- err
			}()
			done := make(chan error, 1)
			var lines []string
			go func() {
				st := runnertest.New(t, &readSpec, []string{p}, nil)
				var res runnertest.Result
				lines, res = runnertest.Raw(t, st, "")
				done <- res.Err
			}()
			if err := runnertest.Wait(t, done); err != nil {
				t.Fatal(err)
			}
			if err := <-wrote; err != nil {
				t.Fatal("writer:", err)
			}
			if strings.Join(lines, "\n") != strings.Join(want, "\n") {
				t.Fatalf("read %d events, want %d", len(lines), len(want))
			}
		})
	}
}

// TestReadFIFONotCompressed: a FIFO whose name says .gz but whose data is
// not gzip is refused when its first bytes arrive, as a file is.
func TestReadFIFONotCompressed(t *testing.T) {
	p := filepath.Join(t.TempDir(), "events.ndjson.gz")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	go func() {
		if f, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
			f.Write([]byte(`{"a":1}` + "\n"))
			f.Close()
		}
	}()
	done := make(chan error, 1)
	go func() {
		st := runnertest.New(t, &readSpec, []string{p}, nil)
		_, res := runnertest.Raw(t, st, "")
		done <- res.Err
	}()
	err := runnertest.Wait(t, done)
	if err == nil || !strings.Contains(err.Error(), "not gzip data") {
		t.Fatalf("Run = %v, want a refusal: not gzip data", err)
	}
}
