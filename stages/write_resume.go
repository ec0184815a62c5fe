package stages

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

// parseDelivered reads --skip-delivered WRITER:SEQ (repeated), which obz
// flow --resume sets from the receipts in the sink's journal: the events
// of WRITER up to SEQ were delivered by the run that is resumed.
func parseDelivered(vals []string) (map[string]uint64, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	m := map[string]uint64{}
	for _, v := range vals {
		i := strings.LastIndexByte(v, ':')
		n, err := strconv.ParseUint(v[i+1:], 10, 64)
		if i <= 0 || err != nil {
			return nil, runner.Usagef("--skip-delivered takes WRITER:SEQ, not %q", v)
		}
		m[v[:i]] = max(m[v[:i]], n)
	}
	return m, nil
}

// skipDelivered reports whether ev was delivered by the run that is
// resumed, so that stdout and an --append FILE do not get it twice. Its
// receipt is sent again (at once: it was delivered), so that this run's
// journal tells the whole story and can itself be resumed. A FILE that is
// replaced gets every event: the killed run did not rename its file, or
// renamed one with the same content.
func (s *writeStage) skipDelivered(ev *wire.Frame, em *runner.Emitter) (bool, error) {
	if s.delivered == nil || !s.append && s.path != "" || ev.Seq > s.delivered[ev.Writer] {
		return false, nil
	}
	of := wire.Ref{Writer: ev.Writer, Seq: ev.Seq}
	s.rout.add(em.Name(), of, "ok")
	return true, em.Receipt(of, "ok")
}

// rewindRecord is what write --append records beside its journal
// (runner.RewindRecord) before it appends anything: where its appending
// began, so that a resume can cut off what the run appended.
type rewindRecord struct {
	File    string `json:"file"`    // FILE, absolute, symlinks resolved
	Size    int64  `json:"size"`    // its size before the run appended
	Created bool   `json:"created"` // it did not exist: the run created it
}

// rewind runs at start for --append FILE, before anything is appended.
// With --rewind-from JOURNAL (obz flow --resume) FILE is cut back to where
// the run that is resumed began appending (removed if that run created
// it): what that run appended is written again, complete, whether it was
// killed mid-write or stopped with results that depended on the stop.
// Then where this run's appending begins is recorded beside its own
// journal, for a resume of this run.
func (s *writeStage) rewind(o runner.Options) error {
	from := o.String("rewind-from")
	if !s.append || s.path == "" || s.split.on() {
		if from != "" {
			return runner.Usagef("--rewind-from applies to --append FILE without --split-every or --split-size")
		}
		return nil
	}
	target, err := filepath.Abs(s.target)
	if err != nil {
		return err
	}
	fi, statErr := os.Stat(target)
	if statErr == nil && !fi.Mode().IsRegular() {
		return nil // a device or a pipe: nothing can be cut back
	}
	cur := rewindRecord{File: target, Created: statErr != nil}
	if statErr == nil {
		cur.Size = fi.Size()
	}
	rec := cur
	if from != "" {
		b, err := os.ReadFile(runner.RewindRecord(from))
		if err != nil {
			return fmt.Errorf("cannot resume appending to %s: %w", s.path, err)
		}
		var old rewindRecord
		if err := json.Unmarshal(b, &old); err != nil {
			return fmt.Errorf("cannot resume appending to %s: %s: %w", s.path, runner.RewindRecord(from), err)
		}
		switch {
		case old.File != target:
			return fmt.Errorf("cannot resume appending to %s: the run that is resumed appended to %s", s.path, old.File)
		case statErr != nil && old.Size > 0:
			return fmt.Errorf("cannot resume appending to %s: it is gone (it held %d bytes before the run that is resumed)", s.path, old.Size)
		case statErr == nil && cur.Size < old.Size:
			return fmt.Errorf("cannot resume appending to %s: it holds %d bytes, fewer than the %d it had before the run that is resumed: it was changed since", s.path, cur.Size, old.Size)
		}
		rec = old
	}
	if j := o.String("journal"); j != "" {
		if err := writeRewindRecord(runner.RewindRecord(j), rec); err != nil {
			return err
		}
	}
	if from == "" || statErr != nil {
		return nil
	}
	s.delivered = nil // everything is appended again
	if rec.Created {
		err = os.Remove(target)
	} else {
		err = os.Truncate(target, rec.Size)
	}
	if err != nil {
		return fmt.Errorf("cannot resume appending to %s: %w", s.path, err)
	}
	switch cut := cur.Size - rec.Size; {
	case rec.Created:
		s.rewound = fmt.Sprintf("resuming: removed %s, which the run that is resumed created (its %d bytes are written again)", s.path, cur.Size)
	case cut > 0:
		s.rewound = fmt.Sprintf("resuming: cut %s back to %d bytes (the %d bytes the run that is resumed appended are written again)", s.path, rec.Size, cut)
	}
	return nil
}

// writeRewindRecord writes rec to path under a temporary name, renamed, so
// that a kill leaves the whole record or none.
func writeRewindRecord(path string, rec rewindRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("recording where appending begins: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("recording where appending begins: %w", err)
	}
	return nil
}
