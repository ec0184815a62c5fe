package replay

import (
	"errors"
	"io"

	"github.com/obz-dev/obz/journal"
	"github.com/obz-dev/obz/wire"
)

// Recorded is a source's journal of a killed run, read by the resumed
// source (runner.Env.Resume): its torn tail, where the kill cut it, ends it
// like a clean end.
type Recorded struct{ r *journal.Reader }

// OpenRecorded opens the journal at path for runner.Env.Resume.
func OpenRecorded(path string) (*Recorded, error) {
	r, err := journal.Open(path, nil)
	if err != nil {
		return nil, err
	}
	return &Recorded{r: r}, nil
}

// Next returns the next recorded frame, io.EOF after the last complete one.
func (j *Recorded) Next(f *wire.Frame) error {
	err := j.r.Next(f)
	if err != nil && errors.Is(err, journal.ErrTorn) {
		return io.EOF
	}
	return err
}

// Close closes the journal.
func (j *Recorded) Close() error { return j.r.Close() }

// MergeOrder is the merge order a fan-in stage recorded in its journal (its
// order frames), for runner.Env.MergeOrder: a replay of the run makes the
// stage consume its inputs in that order again.
type MergeOrder struct {
	r    *journal.Reader
	f    wire.Frame
	runs []wire.Run
}

// OpenMergeOrder opens the journal at path for runner.Env.MergeOrder.
func OpenMergeOrder(path string) (*MergeOrder, error) {
	r, err := journal.Open(path, nil)
	if err != nil {
		return nil, err
	}
	return &MergeOrder{r: r}, nil
}

// Next returns the next recorded run, io.EOF after the last one. A damaged
// journal (a torn tail included) is an error: the stage reports it and
// merges the rest in arrival order.
func (m *MergeOrder) Next() (wire.Run, error) {
	for len(m.runs) == 0 {
		if err := m.r.Next(&m.f); err != nil {
			return wire.Run{}, err
		}
		if m.f.Kind == wire.KindOrder {
			m.runs = m.f.Runs
		}
	}
	r := m.runs[0]
	m.runs = m.runs[1:]
	return r, nil
}

// Close closes the journal.
func (m *MergeOrder) Close() error { return m.r.Close() }
