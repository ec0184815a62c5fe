package stages

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/obz-dev/obz/wire"
)

var writeSpec = Spec{
	Name:      "write",
	Family:    FamilySink,
	Summary:   "write events to a file (replaced only when complete) or stdout",
	ArgsUsage: "[FILE|-]",
	Description: `Writes each event's payload to FILE, or to stdout with no argument or -.

FILE is written under a temporary name beside it (.FILE.obz-tmp-*), synced,
and renamed to FILE only when the input ended naturally: an existing FILE is
replaced at that moment and never before, and a FILE never looks complete when
it is not. If the input breaks (no EOF, a gap, an upstream failure) or the
stage fails, the temporary file is removed and FILE is left as it was. On
SIGINT/SIGTERM the events drained so far go to FILE.partial instead, and the
stage says how many it holds.

Formats: ndjson (the default), csv and tsv, chosen by --format or else by
FILE's extension (.csv, .tsv). NDJSON copies the payload bytes as they are.
CSV and TSV (CSV with tabs) take JSON objects:
  - the header is the keys of the first object, in their order there;
  - a later object without one of those keys gets an empty cell;
  - an object with a key that is not in the header is not written: it becomes
    an error event of kind csv-keys naming the extra keys;
  - a payload that is not an object becomes an error event of kind csv-type;
  - cells: strings as they are, numbers as written, true/false, null empty,
    arrays and objects as compact JSON; a repeated key's last value wins.
Payloads are checked with a JSON validator in CSV and TSV (kind parse if bad).

Error events (from upstream, or raised here) are reported on stderr (the
first 20, then counted) or, with --dead-letter FILE, written there, one JSON
object per line:
  {"stage":"read","kind":"parse","msg":"...","line":7,"writer":"read","seq":7,"raw":"..."}
with "payload":<the event> instead of "raw" when the event was valid JSON.
"writer" and "seq" name the frame that carried the event; they are absent for
input lines this stage could not read itself, "line" when it is not known.
The dead-letter file is written like
FILE (temporary name, renamed at the end; .partial on a stop) and always
replaced, empty when there were no error events, so a stale one never lingers.`,
	Examples: `obz read testdata/orders.ndjson | obz write orders-copy.ndjson
obz read testdata/orders.csv --infer | obz filter '.amount > 50' | obz write big.csv
obz read testdata/orders.ndjson | obz map '{id, country, amount}' | obz write orders.tsv
obz read testdata/orders.ndjson | obz write orders.csv --dead-letter bad.ndjson  # exit 4: rows with tags or coupon keys are in bad.ndjson
obz read testdata/orders.csv | obz write -`,
	ExitStatus: `For write: 1 also when FILE could not be written (it is left as it was);
4 means FILE was written with the other events, and the error events are in
the --dead-letter file or were reported on stderr; after 130/143 the events
drained before the stop are in FILE.partial.`,
	Flags: []Flag{
		{Name: "format", Usage: "ndjson, csv or tsv (default: from FILE's extension, else ndjson)", Default: ""},
		{Name: "dead-letter", Usage: "write error events to `FILE` (NDJSON) instead of stderr", Default: ""},
		{Name: "header", Usage: "csv/tsv: write the header line (--header=false to leave it out)", Default: true},
	},
	New: newWrite,
}

// writeBuffer is the output buffer: output is written in batches this big,
// and when input goes idle (stdout only).
const writeBuffer = 64 << 10

type writeStage struct {
	path     string // FILE as given; "" for stdout
	target   string // FILE with symlinks resolved: the file that gets replaced
	deadPath string
	format   string
	header   bool

	em     *Emitter // set by open
	opened bool
	out    *atomicFile // nil for stdout
	dead   *atomicFile
	cw     *countWriter
	w      *bufio.Writer // FILE or stdout
	deadW  *bufio.Writer
	csv    *csvEncoder

	written, errors uint64
	done            bool // Finish or Abort ran
}

func newWrite(o Options) (Stage, error) {
	args := o.Args()
	if len(args) > 1 {
		return nil, Usagef("write takes one FILE (or - for stdout), got %d arguments", len(args))
	}
	s := &writeStage{format: strings.ToLower(o.String("format")), deadPath: o.String("dead-letter"), header: o.Bool("header")}
	if len(args) == 1 && args[0] != "-" {
		s.path = args[0]
		s.target = resolveTarget(s.path)
		if fi, err := os.Stat(s.target); err == nil && fi.IsDir() {
			return nil, Usagef("%s is a directory", s.path)
		}
	}
	if s.format == "" {
		switch strings.ToLower(filepath.Ext(s.path)) {
		case ".csv":
			s.format = "csv"
		case ".tsv":
			s.format = "tsv"
		default:
			s.format = "ndjson"
		}
	}
	if s.format != "ndjson" && s.format != "csv" && s.format != "tsv" {
		return nil, Usagef("--format must be ndjson, csv or tsv, not %q", s.format)
	}
	if o.IsSet("header") && s.format == "ndjson" {
		return nil, Usagef("--header applies to csv and tsv only")
	}
	switch {
	case s.deadPath == "" && o.IsSet("dead-letter"), s.deadPath == "-":
		return nil, Usagef("--dead-letter needs a file name (error events go to stderr without it)")
	case s.deadPath != "" && s.path != "" && samePath(resolveTarget(s.deadPath), s.target):
		return nil, Usagef("--dead-letter must be another file than %s", s.path)
	}
	return s, nil
}

// open creates the output on the first call: lazily, so that a stage that
// never runs leaves no temporary file behind.
func (s *writeStage) open(em *Emitter) error {
	if s.opened {
		return nil
	}
	s.opened, s.em = true, em
	var under io.Writer = em.Stdout()
	if s.path != "" {
		f, err := createAtomic(s.target, s.path)
		if err != nil {
			return err
		}
		s.out, under = f, f.f
	}
	if s.deadPath != "" {
		f, err := createAtomic(resolveTarget(s.deadPath), s.deadPath)
		if err != nil {
			return err
		}
		s.dead, s.deadW = f, bufio.NewWriterSize(f.f, writeBuffer)
	}
	s.cw = &countWriter{w: under}
	s.w = bufio.NewWriterSize(s.cw, writeBuffer)
	switch s.format {
	case "csv":
		s.csv = newCSVEncoder(s.w, ',', s.header)
	case "tsv":
		s.csv = newCSVEncoder(s.w, '\t', s.header)
	}
	// The runner flushes its emitter whenever input goes idle; do the same
	// with stdout so that a slow stream is not held back in our buffer.
	prev := em.onFlush
	em.onFlush = func() {
		if prev != nil {
			prev()
		}
		if s.out == nil && !s.done {
			s.w.Flush() // an error sticks in s.w: the next write returns it
		}
		em.bytesOut = s.cw.n
	}
	return nil
}

func (s *writeStage) Event(ev *wire.Frame, em *Emitter) error {
	if err := s.open(em); err != nil {
		return err
	}
	if s.csv != nil {
		bad, err := s.csv.write(ev.Payload)
		if err != nil {
			return s.outputError(err)
		}
		if bad != nil {
			info := &wire.ErrorInfo{Kind: bad.Kind, Msg: bad.Msg, Stage: em.Name(), Line: ev.Line}
			payload := ev.Payload
			if bad.Kind == "parse" {
				info.Raw, payload = []byte(strings.ToValidUTF8(string(ev.Payload), "\uFFFD")), nil
			}
			return s.errorEvent(em, info, ev.Writer, ev.Seq, payload)
		}
	} else {
		s.w.Write(ev.Payload)
		if err := s.w.WriteByte('\n'); err != nil {
			return s.outputError(err)
		}
	}
	s.written++
	em.nOut++
	return nil
}

// ErrorEvent takes the error events that reach the sink.
func (s *writeStage) ErrorEvent(ev *wire.Frame, em *Emitter) error {
	if err := s.open(em); err != nil {
		return err
	}
	info := ev.Err
	if info == nil {
		info = &wire.ErrorInfo{Kind: "frame", Msg: "error frame without error details"}
	}
	writer := ev.Writer
	if writer == localError {
		writer = ""
	}
	return s.errorEvent(em, info, writer, ev.Seq, ev.Payload)
}

// errorEvent reports one error event on stderr or in the dead-letter file.
func (s *writeStage) errorEvent(em *Emitter, info *wire.ErrorInfo, writer string, seq uint64, payload []byte) error {
	if em.failFirst {
		return &EventFailedError{Info: *info}
	}
	s.errors++
	if s.dead == nil {
		em.reportError(info, payload)
		return nil
	}
	em.nErr++
	if _, err := s.deadW.Write(appendDeadLetter(nil, info, writer, seq, payload)); err != nil {
		return fmt.Errorf("writing %s: %w", s.deadPath, err)
	}
	return nil
}

func (s *writeStage) Finish(em *Emitter, end wire.EOFKind) error {
	if err := s.open(em); err != nil {
		return err
	}
	if s.csv != nil {
		if err := s.csv.flush(); err != nil {
			return s.outputError(err)
		}
	}
	if err := s.w.Flush(); err != nil {
		return s.outputError(err)
	}
	if s.deadW != nil {
		if err := s.deadW.Flush(); err != nil {
			return fmt.Errorf("writing %s: %w", s.deadPath, err)
		}
	}
	em.bytesOut = s.cw.n
	suffix := ""
	if end == wire.Stopped {
		suffix = ".partial"
	}
	// The dead-letter file first: if FILE then fails, the error events are
	// still kept.
	where := "stderr"
	if s.dead != nil {
		where = s.deadPath + suffix
		if err := s.dead.commit(suffix); err != nil {
			return err
		}
	}
	name := "stdout"
	if s.out != nil {
		name = s.path + suffix
		if err := s.out.commit(suffix); err != nil {
			return err
		}
	}
	s.done = true
	if end == wire.Stopped && s.out != nil {
		em.Warnf("stopped before the end of input: %s holds the %d events written so far (%s was not written)", name, s.written, s.path)
	}
	if s.errors == 0 {
		return nil
	}
	if s.dead != nil {
		em.Warnf("wrote %d events to %s; %d error events in %s", s.written, name, s.errors, where)
	} else {
		em.Warnf("wrote %d events to %s; %d error events reported above", s.written, name, s.errors)
	}
	return &ErrorEventsError{Count: s.errors, Where: where}
}

// Abort removes what was not committed: the input broke or the stage failed.
func (s *writeStage) Abort() {
	if s.done || !s.opened {
		return
	}
	s.done = true
	if s.out == nil && s.w != nil {
		s.w.Flush() // stdout is a stream: pass on what came, the exit status says the rest
	}
	for _, f := range []*atomicFile{s.out, s.dead} {
		if f == nil || f.committed {
			continue
		}
		f.discard()
		note := ""
		if _, err := os.Stat(f.target); err == nil {
			note = " (the existing file is unchanged)"
		}
		s.em.Warnf("%s was not written%s", f.name, note)
	}
}

// outputError maps a failed write: a closed stdout ends the stage quietly.
func (s *writeStage) outputError(err error) error {
	if s.out == nil {
		if errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrClosedPipe) {
			return errDownstreamGone
		}
		return fmt.Errorf("writing stdout: %w", err)
	}
	return fmt.Errorf("writing %s: %w", s.path, err)
}

// appendDeadLetter appends one dead-letter line (see writeSpec).
func appendDeadLetter(dst []byte, info *wire.ErrorInfo, writer string, seq uint64, payload []byte) []byte {
	dst = append(dst, `{"stage":`...)
	dst = wire.AppendString(dst, info.Stage)
	dst = append(dst, `,"kind":`...)
	dst = wire.AppendString(dst, info.Kind)
	dst = append(dst, `,"msg":`...)
	dst = wire.AppendString(dst, info.Msg)
	if info.Line > 0 {
		dst = append(dst, `,"line":`...)
		dst = strconv.AppendInt(dst, info.Line, 10)
	}
	if writer != "" {
		dst = append(dst, `,"writer":`...)
		dst = wire.AppendString(dst, writer)
		dst = append(dst, `,"seq":`...)
		dst = strconv.AppendUint(dst, seq, 10)
	}
	if payload != nil {
		dst = append(dst, `,"payload":`...)
		dst = append(dst, payload...)
	} else {
		dst = append(dst, `,"raw":`...)
		dst = wire.AppendString(dst, string(info.Raw))
	}
	return append(dst, '}', '\n')
}

// atomicFile is written under a temporary name beside its target and
// renamed when complete, so that the target is never seen half-written.
type atomicFile struct {
	target    string // the file to replace
	name      string // as the user named it, for messages
	f         *os.File
	committed bool
	// direct: target is a device, FIFO or socket (/dev/null, /dev/stdout,
	// a named pipe), written in place. Renaming over it would replace the
	// device node with a regular file.
	direct bool
}

// createAtomic creates the temporary file for target. It is created with
// mode 0666 less the umask, as the shell's > does, or with target's mode
// when target exists.
func createAtomic(target, name string) (*atomicFile, error) {
	if fi, err := os.Stat(target); err == nil && !fi.Mode().IsRegular() && !fi.IsDir() {
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return nil, fmt.Errorf("cannot write %s: %w", name, err)
		}
		return &atomicFile{target: target, name: name, f: f, direct: true}, nil
	}
	dir, base := filepath.Split(target)
	for range 100 {
		tmp := filepath.Join(dir, "."+base+".obz-tmp-"+strconv.FormatUint(uint64(rand.Uint32()), 36))
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cannot write %s: %w", name, err)
		}
		if fi, err := os.Stat(target); err == nil && fi.Mode().IsRegular() {
			f.Chmod(fi.Mode().Perm())
		}
		return &atomicFile{target: target, name: name, f: f}, nil
	}
	return nil, fmt.Errorf("cannot write %s: no free temporary name beside it", name)
}

// commit syncs and closes the file (its writes flushed) and renames it to
// target+suffix.
func (a *atomicFile) commit(suffix string) error {
	if a.direct {
		a.committed = true
		if err := a.f.Close(); err != nil {
			return fmt.Errorf("writing %s: %w", a.name, err)
		}
		return nil
	}
	name := a.target + suffix
	err := a.f.Sync()
	if cerr := a.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(a.f.Name(), name)
	}
	if err != nil {
		os.Remove(a.f.Name())
		a.committed = true // nothing left to clean up
		return fmt.Errorf("writing %s: %w", a.name+suffix, err)
	}
	a.committed = true
	if d, err := os.Open(filepath.Dir(name)); err == nil {
		d.Sync() // make the rename durable; not all systems can sync a directory
		d.Close()
	}
	return nil
}

// discard closes and removes the temporary file.
func (a *atomicFile) discard() {
	a.f.Close()
	if !a.direct {
		os.Remove(a.f.Name())
	}
}

// resolveTarget follows symlinks, so that writing through a link replaces
// the file it points to, as the shell's > does, not the link.
func resolveTarget(path string) string {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		if t, err := filepath.EvalSymlinks(path); err == nil {
			return t
		}
	}
	return path
}

func samePath(a, b string) bool {
	a, errA := filepath.Abs(a)
	b, errB := filepath.Abs(b)
	return errA == nil && errB == nil && a == b
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n uint64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += uint64(n)
	return n, err
}
