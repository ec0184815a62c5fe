package stages

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

var teeSpec = runner.Spec{
	Name:           "tee",
	Family:         runner.FamilyObserver,
	PassesPayloads: true,
	Summary:        "pass events through and write a copy of their payloads to FILE",
	ArgsUsage:      "FILE",
	Description: `Passes every event through unchanged and writes each data event's payload,
one per line (bare NDJSON), to FILE: the shell's tee for obz streams.

FILE is written as obz write writes it: under a temporary name beside it,
renamed to FILE only when the input ended naturally, so that FILE never looks
complete when it is not. If the input breaks or the stage fails, the
temporary file is removed and FILE is left as it was. On SIGINT/SIGTERM the
copy of what was drained goes to FILE.partial.

With --append the events are added to the end of FILE instead (created if
missing): they are gathered in the temporary file and appended when the
input ends, so a broken input appends nothing; after a stop signal what was
drained is appended, and the stage says so.

A FILE that exists and is not a regular file (/dev/stderr, a named pipe) is
written directly, as a stream. Error events are passed on downstream, not
copied to FILE. FILE is opened before any input is read: one that cannot be
written fails the stage at once.`,
	Examples: `obz read testdata/orders.ndjson | obz tee orders-copy.ndjson | obz filter '.amount > 50' -r
obz gen --count 100 | obz tee --append sample.ndjson | obz head -n 5 -r
obz read testdata/orders.csv | obz tee /dev/stderr > /dev/null`,
	Flags: []runner.Flag{
		{Name: "append", Short: "a", Usage: "append to FILE instead of replacing it", Default: false},
	},
	Effects: runner.Effects{
		Outside: func(o runner.Options) []runner.Effect {
			if a := o.Args(); len(a) > 0 {
				return []runner.Effect{{Kind: runner.EffectFile, Target: a[0]}}
			}
			return nil
		},
		Replay: runner.ReplayRedirect,
	},
	New: newTee,
}

type tee struct {
	path   string // FILE as given
	target string // FILE with symlinks resolved
	append bool

	tmp    *atomicFile // the copy, before it is renamed or appended
	direct *os.File    // FILE itself, when it is not a regular file
	w      *bufio.Writer
	n      uint64
	done   bool
	em     *runner.Emitter
}

func newTee(o runner.Options) (runner.Stage, error) {
	args := o.Args()
	if len(args) != 1 {
		return nil, runner.Usagef("tee takes one FILE, got %d arguments", len(args))
	}
	if args[0] == "-" {
		return nil, runner.Usagef("tee copies to a file: the events already go to stdout (try /dev/stderr)")
	}
	t := &tee{path: args[0], target: resolveTarget(args[0]), append: o.Bool("append")}
	if fi, err := os.Stat(t.target); err == nil && fi.IsDir() {
		return nil, runner.Usagef("%s is a directory", t.path)
	}
	return t, nil
}

// Prepare opens the copy before any input is read.
func (t *tee) Prepare(_ context.Context, em *runner.Emitter) error {
	t.em = em
	var w io.Writer
	if fi, err := os.Stat(t.target); err == nil && !fi.Mode().IsRegular() {
		f, err := os.OpenFile(t.target, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return fmt.Errorf("cannot write %s: %w", t.path, err)
		}
		t.direct, w = f, f
	} else {
		f, err := createAtomic(t.target, t.path)
		if err != nil {
			return err
		}
		t.tmp, w = f, f.f
	}
	t.w = bufio.NewWriterSize(w, writeBuffer)
	return nil
}

func (t *tee) Event(ev *wire.Frame, em *runner.Emitter) error {
	t.w.Write(ev.Payload)
	if err := t.w.WriteByte('\n'); err != nil {
		return fmt.Errorf("writing %s: %w", t.path, err)
	}
	t.n++
	return em.Emit(ev.Payload)
}

func (t *tee) Finish(em *runner.Emitter, end wire.EOFKind) error {
	t.done = true
	if err := t.w.Flush(); err != nil {
		t.discard()
		return fmt.Errorf("writing %s: %w", t.path, err)
	}
	switch {
	case t.direct != nil:
		return t.direct.Close()
	case t.append:
		if err := t.appendCopy(); err != nil {
			return err
		}
		if end == wire.Stopped {
			em.Warnf("stopped before the end of input: appended the %d events drained so far to %s", t.n, t.path)
		}
	case end == wire.Stopped:
		if err := t.tmp.commit(".partial"); err != nil {
			return err
		}
		em.Warnf("stopped before the end of input: %s.partial holds the %d events copied so far (%s was not replaced)", t.path, t.n, t.path)
	default:
		return t.tmp.commit("")
	}
	return nil
}

// appendCopy adds the temporary copy to the end of FILE and removes it.
func (t *tee) appendCopy() error {
	defer t.tmp.discard()
	t.tmp.committed = true
	dst, err := os.OpenFile(t.target, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o666)
	if err != nil {
		return fmt.Errorf("cannot append to %s: %w", t.path, err)
	}
	src, err := os.Open(t.tmp.f.Name()) // the temporary file is open write-only
	if err == nil {
		_, err = io.Copy(dst, src)
		src.Close()
	}
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("appending to %s: %w", t.path, err)
	}
	return nil
}

// Abort drops the copy: the input broke or the stage failed.
func (t *tee) Abort() {
	if t.done || t.w == nil {
		return
	}
	t.done = true
	t.discard()
}

func (t *tee) discard() {
	switch {
	case t.direct != nil:
		t.w.Flush() // a stream: pass on what came, the exit status says the rest
		t.direct.Close()
	case t.tmp != nil && !t.tmp.committed:
		t.tmp.discard()
		t.tmp.committed = true
		if t.append {
			t.em.Warnf("nothing was appended to %s", t.path)
		} else {
			t.em.Warnf("%s was not written", t.path)
		}
	}
}
