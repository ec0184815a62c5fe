package stages

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/runner/runnertest"
	"github.com/obz-dev/obz/wire"
)

// follower runs read --follow on a file in the background.
type follower struct {
	t      *testing.T
	out    *readSignalBuffer
	cancel context.CancelFunc
	done   chan error
}

func startFollow(t *testing.T, path string, flags ...string) *follower {
	t.Helper()
	o := readOpts([]string{path}, append(flags, "follow")...)
	o.Flags["poll"] = 5 * time.Millisecond
	st, err := readSpec.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &follower{t: t, out: newReadSignalBuffer(), cancel: cancel, done: make(chan error, 1)}
	go func() {
		f.done <- runner.Run(ctx, &readSpec, st, &runner.Env{Stdout: f.out, Stderr: io.Discard, Output: runner.Raw})
	}()
	t.Cleanup(cancel)
	return f
}

// waitFor waits until the output is want (events reach it while the file is idle).
func (f *follower) waitFor(want string) {
	f.t.Helper()
	deadline := time.After(20 * time.Second)
	for f.out.String() != want {
		select {
		case <-f.out.wrote:
		case <-deadline:
			f.t.Fatalf("output\n%s\nnever became\n%s", f.out.String(), want)
		}
	}
}

func (f *follower) stop() error {
	f.cancel()
	select {
	case err := <-f.done:
		return err
	case <-time.After(20 * time.Second):
		f.t.Fatal("read --follow did not stop")
		return nil
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// TestReadFollow: growth, a line written in two parts, rotation with a
// last line without newline, truncation, and a stop that drops a half line.
func TestReadFollow(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, `{"n":1}`+"\n")
	f := startFollow(t, path, "format=ndjson")
	want := `{"n":1}` + "\n"
	f.waitFor(want)

	appendFile(t, path, `{"n":2}`+"\n"+`{"n":`)
	want += `{"n":2}` + "\n"
	f.waitFor(want)
	appendFile(t, path, "3}\n")
	want += `{"n":3}` + "\n"
	f.waitFor(want)

	// Rotation: the old file's last line has no newline; a new file appears.
	appendFile(t, path, `{"n":4}`)
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, `{"n":5}`+"\n")
	want += `{"n":4}` + "\n" + `{"n":5}` + "\n"
	f.waitFor(want)

	// Truncation (copytruncate): the file is read again from its start.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "6\n")
	want += "6\n"
	f.waitFor(want)

	appendFile(t, path, `{"n":7`)
	if err := f.stop(); err != nil {
		t.Fatal(err)
	}
	if got := f.out.String(); got != want {
		t.Errorf("after the stop\n%s\nwant\n%s", got, want)
	}
}

func TestReadFollowFramedAndCSV(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rows.csv")
	appendFile(t, path, "a,b\n1,2\n")
	o := readOpts([]string{path}, "follow")
	o.Flags["poll"] = 5 * time.Millisecond
	st, err := readSpec.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := newReadSignalBuffer()
	done := make(chan error, 1)
	go func() { done <- runner.Run(ctx, &readSpec, st, &runner.Env{Stdout: out, Stderr: io.Discard}) }()
	f := &follower{t: t, out: out}
	frame := func(seq, payload string) string {
		return `{"obz":1,"t":"data","w":"read","s":` + seq + `,"d":` + payload + "}\n"
	}
	want := frame("1", `{"a":1,"b":2}`)
	f.waitFor(want)
	// The new file has its own header row.
	os.Rename(path, path+".old")
	appendFile(t, path, "b,a\n3,4\n")
	want += frame("2", `{"b":3,"a":4}`)
	f.waitFor(want)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	fs := readFrames(t, out.String())
	if eof := fs[len(fs)-1]; eof.Kind != wire.KindEOF || eof.EOF != wire.Stopped || eof.Count != 2 {
		t.Errorf("got\n%s", out.String())
	}
}

func TestReadFollowUsage(t *testing.T) {
	dir := t.TempDir()
	a := readTempFile(t, "a.log", "x\n")
	var ue *runner.UsageError
	for _, o := range []runnertest.Options{
		readOpts([]string{a, a}, "follow"),
		readOpts(nil, "follow"),
		readOpts([]string{"-"}, "follow"),
		readOpts([]string{filepath.Join(dir, "x.log.gz")}, "follow"),
	} {
		if _, err := readSpec.New(o); !errors.As(err, &ue) {
			t.Errorf("%v: got %v, want a usage error", o.Argv, err)
		}
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip(err)
	}
	// Opening a FIFO for reading blocks until a writer comes: give it one.
	go func() {
		if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			w.Close()
		}
	}()
	if _, err := readSpec.New(readOpts([]string{fifo}, "follow")); err == nil || !strings.Contains(err.Error(), "--follow needs a regular file") {
		t.Errorf("fifo: got %v", err)
	}
}
