package stages

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/obz-dev/obz/format"
	"github.com/obz-dev/obz/runner"
)

// defaultPoll is how often --follow looks for more input at the end of the file.
const defaultPoll = 200 * time.Millisecond

// followOptions checks --follow: it takes one file, not stdin and not
// compressed. It returns the poll interval.
func followOptions(o runner.Options, files []string) (time.Duration, error) {
	if len(files) != 1 || files[0] == stdinName {
		return 0, runner.Usagef("--follow takes exactly one FILE (to wait on stdin, no --follow is needed: tail -F FILE | obz read -)")
	}
	if c, _ := format.CompressionOf(files[0]); c != format.None {
		return 0, runner.Usagef("--follow cannot follow a compressed file: %s", files[0])
	}
	poll := o.Duration("poll")
	switch {
	case poll == 0:
		poll = defaultPoll
	case poll < time.Millisecond:
		return 0, runner.Usagef("--poll must be at least 1ms, not %v", poll)
	}
	return poll, nil
}

// readFollow reads path and then waits for it to grow, like tail -F, until
// the stage is stopped. When the path names a new file (rotation: the file
// was renamed and another created in its place) or the file shrinks
// (truncation), the old file is read to its end and finished as if it had
// ended there (a last line without newline is taken as complete), and the
// path is read again from its start as a new input: line numbers start
// again at 1, a CSV file's header row is read again.
func (r *readStage) readFollow(ctx context.Context, em *runner.Emitter, path string) error {
	f := r.formatOf(path)
	for {
		file, err := openFollowed(ctx, path, r.follow, em.Flush)
		if file == nil {
			return err // stopped while the path was missing (nil), or it cannot be opened
		}
		fr := &followReader{ctx: ctx, f: file, path: path, poll: r.follow, flush: em.Flush}
		err = r.parse(ctx, em, path, f, fr, nil)
		file.Close()
		if err != nil || ctx.Err() != nil {
			return err
		}
	}
}

// openFollowed opens path, waiting for it to appear if it is missing (a
// rotation between the rename and the new file). It returns a nil file and
// nil error when the stage is stopped meanwhile.
func openFollowed(ctx context.Context, path string, poll time.Duration, flush func() error) (*os.File, error) {
	for {
		f, err := os.Open(path)
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			return f, err
		}
		if err := flush(); err != nil {
			return nil, err
		}
		if !sleepCtx(ctx, poll) {
			return nil, nil
		}
	}
}

// sleepCtx waits for d; false if ctx is done first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// followReader reads a file that grows. At its end it flushes the stage's
// output, then polls: for more data, for a new file at the path (it then
// reads the old one to its end and returns io.EOF) and for truncation
// (io.EOF at once). A stop signal ends it with errStopped.
type followReader struct {
	ctx     context.Context
	f       *os.File
	path    string
	poll    time.Duration
	flush   func() error
	off     int64
	rotated bool // the path names another file: read this one to its end
}

func (fr *followReader) Read(p []byte) (int, error) {
	for {
		n, err := fr.f.Read(p)
		if n > 0 {
			fr.off += int64(n)
			return n, nil
		}
		if err != nil && err != io.EOF {
			return 0, err
		}
		if fr.rotated {
			return 0, io.EOF
		}
		switch fr.check() {
		case fileMoved:
			fr.rotated = true // read what was written before it moved
			continue
		case fileTruncated:
			return 0, io.EOF
		}
		if err := fr.flush(); err != nil {
			return 0, err // downstream gone: nothing more to do
		}
		if !sleepCtx(fr.ctx, fr.poll) {
			return 0, errStopped
		}
	}
}

const (
	fileSame = iota
	fileMoved
	fileTruncated
)

// check looks whether the file was truncated below what was read, or the
// path now names another file. A missing path is no change yet: the new
// file has not been created.
func (fr *followReader) check() int {
	cur, err := fr.f.Stat()
	if err != nil {
		return fileSame
	}
	if cur.Size() < fr.off {
		return fileTruncated
	}
	at, err := os.Stat(fr.path)
	if err == nil && !os.SameFile(cur, at) {
		return fileMoved
	}
	return fileSame
}
