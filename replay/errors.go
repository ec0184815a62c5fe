package replay

import (
	"errors"
	"strings"

	"github.com/obz-dev/obz/flow"
	"github.com/obz-dev/obz/runner"
)

// RefusedError: replay, verify or resume will not run on what it was given
// (not a run directory, a run without journals, an incomplete baseline,
// nothing to resume, ...). The message says why and, where there is one,
// what to do instead. obz exits 3.
type RefusedError struct{ Msg string }

func (e *RefusedError) Error() string { return e.Msg }

func refused(msg string) error { return &RefusedError{Msg: msg} }

// TopologyError: the topology to run does not parse or is invalid. Problems
// lists each problem with its file and line. obz exits 2.
type TopologyError struct{ Problems []string }

func (e *TopologyError) Error() string {
	return "invalid topology:\n  " + strings.Join(e.Problems, "\n  ")
}

func topologyError(err error) error {
	var ve *flow.ValidationError
	if errors.As(err, &ve) {
		return &TopologyError{Problems: ve.Problems}
	}
	return &TopologyError{Problems: []string{err.Error()}}
}

// ErrDiverged: verify found a stage whose replay differs from the
// recording (the Verification says which and where). obz exits 1.
var ErrDiverged = errors.New("the replay diverged from the recording")

// Stage is what replay knows of one stage of a topology.
type Stage struct {
	// Traits are the stage's runner.Effects for its command line.
	Traits runner.Traits
	// Argv is the stage's command line with its options before its
	// arguments and "--" between them, so that an argument can be told
	// from an option's value: ["tee", "--append", "--", "copy.ndjson"].
	Argv []string
}

// Lookup tells replay about the stage that argv runs (argv[0] its name,
// then its arguments as the topology gives them), parsed as the stage
// parses them. cmd/obz implements it over the stage registry. An error
// means argv does not parse; replay then assumes the worst of the stage
// (it delivers in place and cannot be silenced).
type Lookup func(argv []string) (Stage, error)

// readManifest reads a run directory's manifest, as a refusal if it cannot.
func readManifest(runDir string) (*flow.Result, error) {
	rec, err := flow.ReadManifest(runDir)
	switch {
	case err == nil:
		return rec, nil
	case errors.Is(err, flow.ErrNoManifest):
		return nil, refused(runDir + " is not a run directory of obz flow (no manifest.json)")
	}
	return nil, refused(err.Error()) // a newer manifest version among them
}

func recordedNames(rec *flow.Result) string {
	var n []string
	for _, s := range rec.Stages {
		n = append(n, s.Name)
	}
	return strings.Join(n, ", ")
}
