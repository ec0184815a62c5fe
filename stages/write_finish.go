package stages

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

// Finish commits the output at the end of input (natural, or stopped by a
// signal), then sends the receipts of what was delivered.
func (s *writeStage) Finish(em *runner.Emitter, end wire.EOFKind) error {
	if err := s.open(em); err != nil {
		return err
	}
	if s.deadW != nil {
		if err := s.deadW.Flush(); err != nil {
			return fmt.Errorf("writing %s: %w", s.deadPath, err)
		}
	}
	suffix := ""
	if end == wire.Stopped {
		suffix = ".partial"
	}
	// The dead-letter file first: if FILE then fails, the error events are
	// still kept.
	where, deadFinal := "stderr", true
	if s.dead != nil {
		where, deadFinal = s.deadPath+suffix, suffix == ""
		if err := s.dead.commit(suffix); err != nil {
			return err
		}
	}
	name, final := "stdout", true
	stoppedIn := s.file // for the message after a stop
	if s.file != nil {
		name = s.file.name
		if !s.file.inPlace() {
			name += suffix
		}
		var err error
		if final, err = s.commitFile(suffix); err != nil {
			return err
		}
		if s.split.on() {
			name = s.partsName()
		}
	} else if s.path == "" {
		if err := s.endOut(); err != nil {
			return s.outputError(err)
		}
		if s.fsync {
			if err := syncIfFile(em.Stdout()); err != nil {
				return fmt.Errorf("syncing stdout: %w", err)
			}
		}
	} else {
		name = s.partsName()
	}
	s.done = true
	em.SetBytesOut(s.closedBytes + s.disk.n.Load())
	if final {
		if err := s.receipts(&s.ok, "ok"); err != nil {
			return err
		}
	}
	if deadFinal {
		if err := s.receipts(&s.failed, "failed"); err != nil {
			return err
		}
	}
	if err := s.rout.eof(em.Name(), end); err != nil {
		return fmt.Errorf("writing receipts: %w", err)
	}
	if end == wire.Stopped && s.path != "" {
		s.warnStopped(stoppedIn)
	}
	if s.errors == 0 {
		return nil
	}
	if s.dead != nil {
		em.Warnf("wrote %d events to %s; %d error events in %s", s.written, name, s.errors, where)
	} else {
		em.Warnf("wrote %d events to %s; %d error events reported above", s.written, name, s.errors)
	}
	return &runner.ErrorEventsError{Count: s.errors, Where: where}
}

// warnStopped says where the events drained before a stop signal went.
func (s *writeStage) warnStopped(cur *atomicFile) {
	switch {
	case s.split.on():
		msg := fmt.Sprintf("stopped before the end of input: %d complete parts hold %d events", s.parts, s.partsEvents)
		if cur != nil {
			msg += fmt.Sprintf("; %s.partial holds the %d drained after them", cur.name, s.written-s.partsEvents)
		}
		s.em.Warnf("%s", msg)
	case cur != nil && cur.appended:
		s.em.Warnf("stopped before the end of input: appended the %d events drained so far to %s", s.written, s.path)
	case cur != nil && cur.direct:
		s.em.Warnf("stopped before the end of input: wrote the %d events drained so far to %s", s.written, s.path)
	default:
		s.em.Warnf("stopped before the end of input: %s.partial holds the %d events written so far (%s was not written)", s.path, s.written, s.path)
	}
}

// partsName names the parts committed, for messages.
func (s *writeStage) partsName() string {
	switch s.parts {
	case 0:
		return "no complete part"
	case 1:
		return s.split.name(s.split.first)
	}
	return s.split.name(s.split.first) + " ... " + s.split.name(s.split.first+s.parts-1)
}

// Abort removes what was not committed: the input broke or the stage failed.
// No receipt is sent: nothing more was delivered.
func (s *writeStage) Abort() {
	if s.done || !s.opened {
		return
	}
	s.done = true
	if s.path == "" {
		// stdout is a stream: pass on what came, the exit status says the
		// rest. A compressed stream is left unfinished, so that a reader
		// sees it is cut short. What reached plain stdout is delivered: its
		// receipts say so (obz flow --resume skips those events).
		if s.w.Flush() == nil && s.comp == nil {
			s.receipts(&s.ok, "ok")
		}
		if s.comp != nil {
			s.comp.Flush()
			s.comp.Reset(io.Discard)
			s.comp.Close()
		}
	} else if s.file != nil {
		s.em.Warnf("%s", s.abortOut())
	}
	if s.split.on() && s.parts > 0 {
		s.em.Warnf("the %d parts completed before the failure are kept (%s, %d events): they are not the whole output", s.parts, s.partsName(), s.partsEvents)
	}
	if s.dead != nil && !s.dead.committed {
		s.dead.discard()
		note := ""
		if _, err := os.Stat(s.dead.target); err == nil {
			note = " (the existing file is unchanged)"
		}
		s.em.Warnf("%s was not written%s", s.dead.name, note)
	}
}

// outputError maps a failed write: a closed stdout ends the stage quietly.
func (s *writeStage) outputError(err error) error {
	if s.path == "" {
		if errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrClosedPipe) {
			return runner.ErrDownstreamGone
		}
		return fmt.Errorf("writing stdout: %w", err)
	}
	name := s.path
	if s.file != nil {
		name = s.file.name
	}
	return fmt.Errorf("writing %s: %w", name, err)
}

// syncIfFile syncs w when it is a regular file (stdout redirected to a
// file); pipes and terminals have nothing to sync.
func syncIfFile(w io.Writer) error {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	return f.Sync()
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
	if e := info.Event; !e.IsZero() {
		dst = append(dst, `,"event":[`...)
		dst = wire.AppendString(dst, e.Writer)
		dst = append(dst, ',')
		dst = strconv.AppendUint(dst, e.Seq, 10)
		dst = append(dst, ']')
	}
	if len(info.Via) > 0 {
		dst = append(dst, `,"via":[`...)
		for i, v := range info.Via {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = wire.AppendString(dst, v)
		}
		dst = append(dst, ']')
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
