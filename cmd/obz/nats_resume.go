package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/obz-dev/obz/journal"
	"github.com/obz-dev/obz/wire"
)

// resent is what a resumed reading bridge passed on again from its
// journal (resend).
type resent struct {
	seen   map[string]uint64 // per writer, the last seq of a data or error frame
	eofs   map[string]bool   // writers whose EOF it holds
	events uint64
	bytes  int64
}

// resend writes the frames of path, the journal of a reading bridge (obz
// nats sub --journal) whose host's obz flow was killed, to jw (the new
// journal, if any) and w, as that bridge passed them on: the resumed
// stages downstream start from their beginning, as every stage of a
// resumed run does. A torn tail (the kill cut a block) ends it: its frames
// were never written out (the journal is flushed before the pipe write) nor
// acknowledged, so the durable consumer delivers them again.
func resend(path string, jw *journal.Writer, w io.Writer) (*resent, error) {
	r, err := journal.Open(path, nil)
	if err != nil {
		return nil, fmt.Errorf("--resume-from: %w", err)
	}
	defer r.Close()
	res := &resent{seen: map[string]uint64{}, eofs: map[string]bool{}}
	var buf []byte
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		if jw != nil {
			// Journaled before written out, as the frames read: a
			// resume of this resumed run finds in its journal what was
			// acknowledged in the first one.
			if _, err := jw.Write(buf); err != nil {
				return fmt.Errorf("journal: %w", err)
			}
			if err := jw.Flush(); err != nil {
				return fmt.Errorf("journal: %w", err)
			}
		}
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("writing the frames of %s again: %w", path, err)
		}
		res.bytes += int64(len(buf))
		buf = buf[:0]
		return nil
	}
	var f wire.Frame
	for {
		err := r.Next(&f)
		if err == io.EOF || errors.Is(err, journal.ErrTorn) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("--resume-from %s: %w", path, err)
		}
		switch f.Kind {
		case wire.KindData, wire.KindError:
			res.seen[f.Writer] = max(res.seen[f.Writer], f.Seq)
			res.events++
		case wire.KindEOF:
			res.eofs[f.Writer] = true
		}
		buf = append(buf, r.Line()...)
		buf = append(buf, '\n')
		if len(buf) >= 256<<10 {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return res, nil
}
