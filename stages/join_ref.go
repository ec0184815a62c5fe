package stages

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/obz-dev/obz/format"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

// refLoad is the reading of join's reference: what it found so far.
type refLoad struct {
	name          string // "reference FILE", for messages
	events, noKey int
}

// Prepare reads the reference to its end into the hash table, checking the
// contract of its edge like any input's. A --ref FILE may be in any format
// and compression read reads.
func (j *join) Prepare(ctx context.Context, em *runner.Emitter) error {
	l := &refLoad{name: "reference " + j.refPath}
	if j.refFD != 0 {
		l.name = "reference fd " + strconv.Itoa(j.refFD)
		f := os.NewFile(uintptr(j.refFD), l.name)
		if f == nil {
			return fmt.Errorf("--ref-fd %d is not an open file descriptor", j.refFD)
		}
		defer f.Close()
		return j.readRefFrames(ctx, em, l, f)
	}
	f, err := j.openFile(j.refPath)
	if err != nil {
		return fmt.Errorf("opening the reference: %w", err)
	}
	defer f.Close()
	c, src := format.Sniff(f)
	src, release, err := format.Decompress(c, src)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return &runner.BrokenInputError{Problems: []string{fmt.Sprintf("reading the %s: %v", l.name, err)}}
	}
	defer release()
	ft := j.refFormat
	if ft == "" {
		ft = format.ByExtension(j.refPath)
	}
	if ft == format.NDJSON {
		return j.readRefFrames(ctx, em, l, src)
	}
	return j.readRefRecords(ctx, em, l, ft, src)
}

// readRefFrames reads a reference of NDJSON or obz frames.
func (j *join) readRefFrames(ctx context.Context, em *runner.Emitter, l *refLoad, r io.Reader) error {
	rd := wire.NewReader(r, em.MaxLine())
	e := runner.NewContract(l.name, false)
	var f wire.Frame
	for {
		if ctx.Err() != nil {
			return l.stopped(em)
		}
		err := rd.Next(&f)
		var le *wire.LineError
		switch {
		case err == nil:
		case errors.As(err, &le):
			if err := em.EmitError(&wire.ErrorInfo{Kind: le.Kind, Msg: l.name + ": " + le.Msg, Stage: em.Name(), Line: le.Line, Raw: le.Raw}, nil); err != nil {
				return err
			}
			continue
		default:
			if err != io.EOF {
				err = fmt.Errorf("reading the %s: %w", l.name, err)
			}
			return l.end(em, j, e, err)
		}
		switch f.Kind {
		case wire.KindData:
			if !e.Event(&f) {
				countDuplicate(em)
				continue
			}
			if err := j.refRow(l, f.Payload); err != nil {
				return err
			}
		case wire.KindError:
			if !e.Event(&f) {
				countDuplicate(em)
				continue
			}
			if err := em.EmitError(f.Err, f.Payload); err != nil {
				return err
			}
		case wire.KindEOF:
			e.EOF(&f)
		}
	}
}

// readRefRecords reads a reference of JSON, CSV, TSV or text: records that
// cannot be read go to the error lane, like the stream's.
func (j *join) readRefRecords(ctx context.Context, em *runner.Emitter, l *refLoad, ft format.Format, r io.Reader) error {
	dec := format.NewDecoder(r, ft, format.Options{Name: j.refPath, MaxLine: em.MaxLine(), CSV: format.CSVOptions{Values: j.refValues}})
	var yerr error
	err := dec.Decode(func(rec *format.Record) error {
		yerr = j.refRecord(ctx, em, l, rec)
		return yerr
	})
	var ie *format.InputError
	switch {
	case err == nil:
		err = io.EOF
	case ctx.Err() != nil:
		return l.stopped(em)
	case err == yerr:
		return err
	case errors.As(err, &ie):
		err = fmt.Errorf("reading the %s: %w", l.name, ie.Err)
	}
	return l.end(em, j, runner.NewContract(l.name, false), err)
}

// refRecord takes one record of a reference that is not NDJSON.
func (j *join) refRecord(ctx context.Context, em *runner.Emitter, l *refLoad, rec *format.Record) error {
	if ctx.Err() != nil {
		return errStopped
	}
	switch {
	case rec.Problem != nil:
		p := rec.Problem
		info := &wire.ErrorInfo{Kind: p.Kind, Msg: fmt.Sprintf("%s:%d: %s", l.name, rec.Line, p.Msg), Stage: em.Name(), Line: rec.Line, Raw: p.Raw}
		return em.EmitError(info, rec.Payload)
	case rec.Forward != nil:
		return em.EmitError(rec.Forward, rec.Payload)
	}
	return j.refRow(l, rec.Payload)
}

// refRow adds one reference event to the table.
func (j *join) refRow(l *refLoad, p []byte) error {
	if l.events++; l.events > j.maxRef {
		return fmt.Errorf("the %s has more than %d events (--max-ref): a reference must fit in memory", l.name, j.maxRef)
	}
	if !j.addRow(p) {
		l.noKey++
	}
	return nil
}

// stopped ends a reference cut short by a stop: what follows ends
// stopped, matched against the rows read so far.
func (l *refLoad) stopped(em *runner.Emitter) error {
	em.Warnf("stopped while reading the %s: it is incomplete (%d events read)", l.name, l.events)
	return nil
}

// end checks the end of the reference (err is io.EOF at a clean end).
func (l *refLoad) end(em *runner.Emitter, j *join, e *runner.Contract, err error) error {
	kind := e.End(err)
	if len(e.Problems()) > 0 || kind >= wire.Truncated {
		return &runner.BrokenInputError{Problems: e.Problems()}
	}
	if kind == wire.Stopped {
		em.Warnf("the %s ended with a stopped EOF: it may be incomplete", l.name)
	}
	if l.noKey > 0 {
		em.Warnf("%d reference event(s) had no %s field and were skipped", l.noKey, j.refOnName)
	}
	return nil
}

// countDuplicate counts a reference frame delivered twice, dropped.
func countDuplicate(em *runner.Emitter) {
	if c := em.Counters(); c != nil {
		c.Duplicates.Add(1)
	}
}
