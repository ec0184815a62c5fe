package runner

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/obz-dev/obz/wire"
)

// Recorded is what a source wrote in an earlier run that was killed (its
// journal, opened by replay.OpenRecorded: the runner does not import the
// journal package). Next returns the recorded frames in order and io.EOF
// after the last complete one; any other error means the record is damaged.
type Recorded interface {
	Next(f *wire.Frame) error
}

// resumeCheck makes a resumed source catch up: the source runs from its
// start, and each event it emits is compared with the one it recorded at
// the same seq before it is passed on, until the record ends; then it goes
// on live. A deterministic source (a file, gen --seed) produces the same
// events again, so the output is the recorded prefix, byte for byte,
// followed by what the killed run had not written. An event that differs
// means the input changed since: the stage fails rather than pass off
// another stream as the continuation of the recorded one.
type resumeCheck struct {
	rec     Recorded
	f       wire.Frame
	checked uint64 // events that matched the record
	eof     *wire.EOFKind
	err     error // the record's own failure
}

// check compares the event the source emits as seq with the recorded one.
// It returns done when the record has no more events (the emitter then
// stops checking).
func (rc *resumeCheck) check(name string, seq uint64, kind wire.Kind, info *wire.ErrorInfo, payload []byte) (done bool, err error) {
	for {
		if err := rc.rec.Next(&rc.f); err != nil {
			if errors.Is(err, io.EOF) {
				return true, nil
			}
			rc.err = err
			return true, fmt.Errorf("resuming: reading the recorded output of %s: %w", name, err)
		}
		switch rc.f.Kind {
		case wire.KindData, wire.KindError:
		case wire.KindEOF:
			k := rc.f.EOF
			rc.eof = &k
			if k == wire.Natural {
				return true, fmt.Errorf("resuming: the source produced more events than the %d it had recorded before its natural EOF: its input changed since the run that is resumed", rc.f.Count)
			}
			// A stopped or broken run ends here: go on live.
			return true, nil
		default:
			continue // watermarks and other control frames are not checked
		}
		break
	}
	if rc.f.Seq != seq || rc.f.Kind != kind || !bytes.Equal(rc.f.Payload, payload) || kind == wire.KindError && !sameError(rc.f.Err, info) {
		return true, fmt.Errorf("resuming: event %d is not the one the run that is resumed recorded at that seq: its input changed since (or the source is not deterministic)\n  now:      %s\n  recorded: %s",
			seq, showEvent(payload, info), showEvent(rc.f.Payload, rc.f.Err))
	}
	rc.checked++
	return false, nil
}

// finish is called when the source ended. A source that ends before it
// re-produced what it recorded lost events, unless it was stopped.
func (rc *resumeCheck) finish(stopped bool) error {
	if rc.err != nil || stopped {
		return nil
	}
	for {
		err := rc.rec.Next(&rc.f)
		if err != nil {
			return nil // the record ends here too (or its damage was reported)
		}
		if rc.f.Kind == wire.KindData || rc.f.Kind == wire.KindError {
			return fmt.Errorf("resuming: the source ended after %d events, but the run that is resumed recorded more (seq %d): its input changed since", rc.checked, rc.f.Seq)
		}
	}
}

func sameError(a, b *wire.ErrorInfo) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Kind == b.Kind && a.Msg == b.Msg && bytes.Equal(a.Raw, b.Raw)
}

func showEvent(payload []byte, info *wire.ErrorInfo) string {
	s := string(payload)
	if payload == nil && info != nil {
		s = "error " + info.Kind + ": " + info.Msg + ": " + string(info.Raw)
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// startResume turns the check on for a source (Env.Resume). With cont
// (Env.ResumeContinue) the matched events go to the journal only, until
// the record ends.
func (em *Emitter) startResume(rec Recorded, cont bool) {
	if rec != nil {
		em.resumed = &resumeCheck{rec: rec}
		em.resume = em.resumed
		em.silent = cont
	}
}

// resumeEvent checks the event about to be emitted as the next seq.
func (em *Emitter) resumeEvent(kind wire.Kind, info *wire.ErrorInfo, payload []byte) error {
	done, err := em.resume.check(em.name, em.seq+1, kind, info, payload)
	if done {
		em.resume = nil
		if em.silent && err == nil {
			// The record ended: what is buffered was delivered by the
			// process that died; this event and the rest go out.
			err = em.Flush()
			em.silent = false
		}
	}
	return err
}

// endResume is called when the source ended: see resumeCheck.finish.
func (em *Emitter) endResume(stopped bool) error {
	if em.resumed == nil {
		return nil
	}
	if em.resume != nil {
		return em.resumed.finish(stopped)
	}
	return nil
}

// endCatchUp ends the catching up of a continued source that ended (err
// is Produce's): what was re-produced goes to the journal only, and when
// stopped the rest of the record too (the consumers have it); the EOF goes
// out.
func (em *Emitter) endCatchUp(err error, stopped bool) error {
	if !em.silent {
		return err
	}
	if err == nil && stopped {
		err = em.journalRest()
	}
	if ferr := em.Flush(); err == nil && ferr != nil {
		err = ferr
	}
	em.silent = false
	return err
}

// CatchingUp reports whether a continued source (Env.ResumeContinue) is
// still re-producing what its consumers have: a paced source need not
// keep its pace then.
func (em *Emitter) CatchingUp() bool { return em.silent }

// journalRest journals the rest of the record as it is: a continued source
// stopped while it caught up ends where its consumers are, its EOF counting
// what they got.
func (em *Emitter) journalRest() error {
	rc := em.resume
	if rc == nil {
		return nil
	}
	em.resume = nil
	for {
		if err := rc.rec.Next(&rc.f); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("resuming: reading the recorded output of %s: %w", em.name, err)
		}
		switch rc.f.Kind {
		case wire.KindData:
			em.nOut++
		case wire.KindError:
			em.nErr++
		default:
			continue
		}
		em.seq = rc.f.Seq
		if em.mode == Framed {
			em.buf = wire.AppendFrame(em.buf, &rc.f)
		}
		em.teeFrame(&rc.f)
	}
}
