package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/obz-dev/obz/flow"
	"github.com/obz-dev/obz/journal"
	"github.com/obz-dev/obz/wire"
)

// Step is one event of a lineage: the stage that wrote it, its seq there,
// and what it was.
type Step struct {
	Stage   string   `json:"stage"`
	Command []string `json:"command"`
	Seq     uint64   `json:"seq"`
	// Kind is data or error; for a sink, receipt (Seq is then the
	// delivery's position in the sink's journal and Of what it delivered).
	Kind    string          `json:"kind"`
	Payload json.RawMessage `json:"event,omitempty"` // the payload (absent for an error without one)
	Error   *wire.ErrorInfo `json:"error,omitempty"`
	Of      *wire.Ref       `json:"of,omitempty"`
	// End says why the chain stops here: a source's own event, an event
	// made from many (an aggregate), a parent outside the run.
	End string `json:"end,omitempty"`
}

// ErrNoEvent: the stage's journal has no event of that seq.
var ErrNoEvent = errors.New("no such event")

// Why follows an event back through the run's journals: from event seq of
// stage (for a sink, its seq-th delivery) through the parent each frame
// names, to the source event it came from. The first step is the event
// asked about.
func Why(runDir, stage string, seq uint64) ([]Step, error) {
	m, err := flow.ReadManifest(runDir)
	if err != nil {
		return nil, err
	}
	stages := map[string]*flow.StageResult{}
	for _, s := range m.Stages {
		stages[s.Name] = s
	}
	var steps []Step
	seen := map[wire.Ref]bool{}
	for {
		st := stages[stage]
		if st == nil {
			if len(steps) == 0 {
				return nil, fmt.Errorf("the run has no stage %q", stage)
			}
			steps[len(steps)-1].End = fmt.Sprintf("its parent was written by %q, which is not a stage of this run", stage)
			return steps, nil
		}
		if st.Journal == "" {
			return steps, fmt.Errorf("stage %q has no journal (the run was made with --no-journal)", stage)
		}
		ref := wire.Ref{Writer: stage, Seq: seq}
		if seen[ref] {
			return steps, fmt.Errorf("the parents of %s seq %d loop back to it: the journals are inconsistent", stage, seq)
		}
		seen[ref] = true
		step, parent, span, err := find(filepath.Join(runDir, st.Journal), st, seq)
		if err != nil {
			return steps, err
		}
		steps = append(steps, step)
		if parent.IsZero() {
			last := &steps[len(steps)-1]
			switch {
			case len(st.Inputs) == 0 && span.Path != "":
				last.End = fmt.Sprintf("a source's event: the %s event it read or made, bytes %d..%d of %s (its journal refers to the file)", ordinal(seq), span.Off, span.Off+span.Len, span.Path)
			case len(st.Inputs) == 0:
				last.End = fmt.Sprintf("a source's event: the %s event it read or made", ordinal(seq))
			default:
				last.End = "made from several input events (its frame names no single parent)"
			}
			return steps, nil
		}
		stage, seq = parent.Writer, parent.Seq
	}
}

// find reads the event seq (data or error) of a stage's journal, or for a
// sink its seq-th receipt, and returns it with its parent.
// span is where in a file the event was read, when the journal refers to
// the file (a source's).
func find(path string, st *flow.StageResult, seq uint64) (Step, wire.Ref, journal.FileSpan, error) {
	var none journal.FileSpan
	j, err := journal.Open(path, nil)
	if err != nil {
		return Step{}, wire.Ref{}, none, err
	}
	defer j.Close()
	step := Step{Stage: st.Name, Command: st.Argv, Seq: seq}
	blocks := j.Blocks()
	receipts := len(blocks) > 0 && blocks[len(blocks)-1].LastSeq == 0
	if !receipts {
		j.SeekSeq(seq)
	}
	var f wire.Frame
	var n uint64
	for {
		err := j.Next(&f)
		if err == io.EOF {
			if receipts {
				return step, wire.Ref{}, none, fmt.Errorf("stage %q delivered %d events; there is no delivery %d: %w", st.Name, n, seq, ErrNoEvent)
			}
			return step, wire.Ref{}, none, fmt.Errorf("stage %q's journal has no event seq %d: %w", st.Name, seq, ErrNoEvent)
		}
		if err != nil {
			return step, wire.Ref{}, none, err
		}
		switch {
		case receipts && f.Kind == wire.KindReceipt:
			if n++; n == seq {
				of := f.Of
				step.Kind, step.Of = "receipt", &of
				return step, of, none, nil
			}
		case !receipts && (f.Kind == wire.KindData || f.Kind == wire.KindError) && f.Seq == seq:
			step.Kind = f.Kind.String()
			if len(f.Payload) > 0 {
				step.Payload = append(json.RawMessage(nil), f.Payload...)
			}
			if f.Err != nil {
				e := *f.Err
				e.Raw = append([]byte(nil), e.Raw...)
				step.Error = &e
			}
			span, _ := j.FileSpan()
			return step, f.Parent, span, nil
		case !receipts && (f.Kind == wire.KindData || f.Kind == wire.KindError) && f.Seq > seq:
			return step, wire.Ref{}, none, fmt.Errorf("stage %q's journal has no event seq %d: %w", st.Name, seq, ErrNoEvent)
		}
	}
}

func ordinal(n uint64) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return fmt.Sprintf("%d%s", n, suffix)
}
