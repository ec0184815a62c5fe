package replay

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/obz-dev/obz/flow"
	"github.com/obz-dev/obz/journal"
	"github.com/obz-dev/obz/wire"
)

// endDependence tells which events of a killed or stopped run depended on
// how the run ended (docs/journal.md, Resume). A stage that finishes after
// a stop emits what it held (an aggregate's partial results): the runner
// gives those events no parent, as they come from no input event. An
// uninterrupted run emits other events there, or none, so resume may not
// take such an event, or one derived from it, as delivered. Within a
// stage's output they begin at one seq (the events derived from them may
// interleave with others at a fan-in; all from the first one on count as
// end-dependent).
type endDependence struct {
	topology *flow.Topology
	journals map[string]string // the journals that exist, by stage

	first map[string]uint64 // stage: its first end-dependent seq, 0 for none
	cause map[string]string // stage: why its first one is end-dependent
}

// dependent reports whether the event of runs depended on how the run
// ended.
func (e *endDependence) dependent(of wire.Ref) (bool, error) {
	first, err := e.firstOf(of.Writer)
	return first > 0 && of.Seq >= first, err
}

// why says why the events from of on are end-dependent.
func (e *endDependence) why(of wire.Ref) string { return e.cause[of.Writer] }

// firstOf returns the first end-dependent seq of stage's output, reading
// its journal (and those of the stages upstream) once.
func (e *endDependence) firstOf(stage string) (uint64, error) {
	if first, ok := e.first[stage]; ok {
		return first, nil
	}
	if e.first == nil {
		e.first, e.cause = map[string]uint64{}, map[string]string{}
	}
	e.first[stage] = 0 // a cycle cannot be (topologies are DAGs); this ends one anyway
	s := e.topology.Lookup(stage)
	path := e.journals[stage]
	if s == nil || len(s.AllInputs()) == 0 || path == "" {
		// Sources re-produce their journal, checked; a stage that journaled
		// nothing delivered nothing.
		return 0, nil
	}
	for _, in := range s.AllInputs() {
		if _, err := e.firstOf(in); err != nil {
			return 0, err
		}
	}
	// Lineage only: the payloads of references are not needed.
	r, err := journal.Open(path, &journal.ReaderOptions{NoPayloads: true})
	if err != nil {
		return 0, refused(fmt.Sprintf("stage %q: %v", stage, err))
	}
	defer r.Close()
	var (
		f       wire.Frame
		first   uint64
		trail   uint64 // first seq of the parentless events at the end
		natural bool
	)
	for {
		err := r.Next(&f)
		// A reference the upstream's journal cannot resolve ends what can be
		// read, as a torn tail does: the upstream journaled less (a kill -9
		// lost its last block, or it journaled nothing and starts over), and
		// this stage runs again from what the upstream reproduces.
		if err == io.EOF || errors.Is(err, journal.ErrTorn) || errors.Is(err, journal.ErrUnresolved) {
			break
		}
		if err != nil {
			return 0, refused(fmt.Sprintf("stage %q: its journal: %v", stage, err))
		}
		switch f.Kind {
		case wire.KindData, wire.KindError:
			if f.Parent.IsZero() {
				if trail == 0 {
					trail = f.Seq
				}
				continue
			}
			trail = 0
			if pf := e.first[f.Parent.Writer]; first == 0 && pf > 0 && f.Parent.Seq >= pf {
				first = f.Seq
				e.cause[stage] = strings.Replace(e.cause[f.Parent.Writer], "emitted them", "emitted what they derive from", 1)
			}
		case wire.KindEOF:
			natural = f.EOF == wire.Natural
		}
	}
	if !natural && trail > 0 && (first == 0 || trail < first) {
		first = trail
		e.cause[stage] = fmt.Sprintf("stage %q emitted them as it finished after a stop, from its event %d on", stage, trail)
	}
	e.first[stage] = first
	return first, nil
}
