package main

import (
	"fmt"

	"github.com/obz-dev/obz/journal"
	"github.com/obz-dev/obz/wire"
)

// mergeOrderJournal reads the merge order a fan-in stage recorded in its
// journal (its order frames) for runner.Env.MergeOrder: obz replay RUN_DIR
// passes it to the stage it re-runs as --merge-order JOURNAL.
type mergeOrderJournal struct {
	r    *journal.Reader
	f    wire.Frame
	runs []wire.Run
}

func openMergeOrder(path string) (*mergeOrderJournal, error) {
	r, err := journal.Open(path, nil)
	if err != nil {
		return nil, fmt.Errorf("--merge-order: %w", err)
	}
	return &mergeOrderJournal{r: r}, nil
}

// Next returns the next recorded run, io.EOF after the last one. A damaged
// journal (a torn tail included) is an error: the stage reports it and
// merges the rest in arrival order.
func (m *mergeOrderJournal) Next() (wire.Run, error) {
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

func (m *mergeOrderJournal) Close() error { return m.r.Close() }
