package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/obz-dev/obz/flow"
	"github.com/obz-dev/obz/journal"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/stages"
	"github.com/obz-dev/obz/wire"
	"github.com/urfave/cli/v2"
)

// replayRun re-runs a recorded flow (obz replay RUN_DIR): its sources are
// replaced by replays of their journals, every other stage runs again, and
// with --verify each stage's new journal is compared with the recorded one.
func replayRun(c *cli.Context, runDir string) error {
	reg := stages.All()
	cmds := flowCommands(reg)
	rec, err := readManifest(runDir)
	if err != nil {
		return err
	}
	recorded := map[string]*flow.StageResult{}
	for _, s := range rec.Stages {
		recorded[s.Name] = s
	}

	// The topology: the recorded one, or a new one to test a change.
	var t *flow.Topology
	if p := c.String("topology"); p != "" {
		t, err = flow.Load(p, cmds)
	} else {
		t, err = flow.Parse(cmp(rec.File, "recorded topology"), []byte(rec.Topology), cmds)
	}
	if err != nil {
		var ve *flow.ValidationError
		if errors.As(err, &ve) {
			return &usageError{msg: "invalid topology:\n  " + strings.Join(ve.Problems, "\n  ")}
		}
		return &usageError{msg: err.Error()}
	}

	if err := checkBaseline(rec, c.Bool("verify")); err != nil {
		return err
	}
	sinks := map[string]bool{}
	for _, s := range t.Stages {
		switch {
		case len(s.AllInputs()) == 0:
			r := recorded[s.Name]
			if r == nil || r.Journal == "" {
				return &refusedError{msg: fmt.Sprintf("source %q is not in the recorded run %s with a journal: a source can only be replayed from its journal (stages recorded: %s)", s.Name, runDir, recordedNames(rec))}
			}
			j, err := filepath.Abs(filepath.Join(runDir, r.Journal))
			if err != nil {
				return err
			}
			s.Argv = []string{"replay", j}
		case cmds[s.Command()] == string(runner.FamilySink) && !c.Bool("run-sinks"):
			// Side effects suppressed: the sink's input is drained and
			// checked, and what the sink writes goes nowhere.
			sinks[s.Name] = true
			s.Argv = []string{"write", "-"}
		}
	}
	ordered, err := mergeOrders(t, runDir, recorded)
	if err != nil {
		return err
	}

	base := c.String("run-dir")
	if base == "" {
		base = filepath.Join(runDir, "replays")
	}
	exe, err := selfPath()
	if err != nil {
		return err
	}
	res, err := flow.Run(c.Context, t, flow.Options{Exe: exe, Version: version(), Stdout: io.Discard, Stderr: c.App.ErrWriter, RunDir: base})
	if err != nil {
		return err
	}
	res.Summary(c.App.ErrWriter)
	if !c.Bool("verify") {
		if res.Failed != "" {
			return &flowFailedError{stage: res.Failed}
		}
		return nil
	}
	return verifyReport(c.App.Writer, rec, res, t, recorded, sinks, ordered)
}

// mergeOrders makes each fan-in stage whose recorded journal holds its
// merge order (order frames) consume its inputs in that order again
// (--merge-order), so that its output can be compared position by
// position. It returns the stages it did that for.
func mergeOrders(t *flow.Topology, runDir string, recorded map[string]*flow.StageResult) (map[string]bool, error) {
	ordered := map[string]bool{}
	for _, s := range t.Stages {
		r := recorded[s.Name]
		if len(s.Inputs) < 2 || r == nil || r.Journal == "" {
			continue
		}
		j, err := filepath.Abs(filepath.Join(runDir, r.Journal))
		if err != nil {
			return nil, err
		}
		if !hasOrderFrames(j) {
			continue // recorded before merge orders were, or nothing merged
		}
		// Runner flags go before the stage's own arguments.
		s.Argv = append([]string{s.Argv[0], "--merge-order", j}, s.Argv[1:]...)
		ordered[s.Name] = true
	}
	return ordered, nil
}

// hasOrderFrames reports whether the journal at path holds an order frame
// (the first one comes with the journal's first batch).
func hasOrderFrames(path string) bool {
	r, err := journal.Open(path, nil)
	if err != nil {
		return false
	}
	defer r.Close()
	var f wire.Frame
	for r.Next(&f) == nil {
		if f.Kind == wire.KindOrder {
			return true
		}
	}
	return false
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func readManifest(runDir string) (*flow.Result, error) {
	b, err := os.ReadFile(filepath.Join(runDir, "manifest.json"))
	if err != nil {
		return nil, &refusedError{msg: fmt.Sprintf("%s is not a run directory of obz flow (no manifest.json)", runDir)}
	}
	var rec flow.Result
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, &refusedError{msg: fmt.Sprintf("%s/manifest.json: %v", runDir, err)}
	}
	if rec.RunDir != "" {
		rec.RunDir = runDir
	}
	return &rec, nil
}

// checkBaseline refuses a recorded run that cannot serve as a baseline for
// --verify: one without journals, or that did not complete.
func checkBaseline(rec *flow.Result, verify bool) error {
	if !verify {
		return nil // the sources are checked one by one
	}
	for _, s := range rec.Stages {
		if s.Journal == "" {
			return &refusedError{msg: fmt.Sprintf("the recorded run has no journal for stage %q (was it run with --no-journal?)", s.Name)}
		}
	}
	var bad []string
	for _, s := range rec.Stages {
		if s.State != flow.StateDone {
			bad = append(bad, fmt.Sprintf("%s: %s", s.Name, s.State))
		}
	}
	if rec.Ended.IsZero() {
		bad = append(bad, "the supervisor did not finish (no end time)")
	}
	if len(bad) > 0 {
		return &refusedError{msg: "the recorded run did not complete, so it is no baseline to verify against (" + strings.Join(bad, "; ") + ")"}
	}
	return nil
}

func recordedNames(rec *flow.Result) string {
	var n []string
	for _, s := range rec.Stages {
		n = append(n, s.Name)
	}
	return strings.Join(n, ", ")
}

// verifyReport compares each stage's new journal with its recorded one and
// prints a verdict per stage.
func verifyReport(w io.Writer, rec, res *flow.Result, t *flow.Topology, recorded map[string]*flow.StageResult, sinks, ordered map[string]bool) error {
	fmt.Fprintf(w, "obz replay --verify: %s against the recording in %s\n", res.RunDir, rec.RunDir)
	diverged, compared, uncertified := 0, 0, 0
	// A stage with several stream inputs merges them as they arrive. When
	// its journal recorded that order, the replay followed it (ordered);
	// otherwise it and what is downstream of it may see the same events in
	// another order.
	fanIn := map[string]string{}
	for _, st := range t.Order() {
		if len(st.Inputs) > 1 && !ordered[st.Name] {
			fanIn[st.Name] = st.Name
		}
		for _, in := range st.AllInputs() {
			if f, ok := fanIn[in]; ok && fanIn[st.Name] == "" {
				fanIn[st.Name] = f
			}
		}
	}
	for _, s := range res.Stages {
		old := recorded[s.Name]
		var verdict, detail string
		switch {
		case old == nil:
			verdict, detail = "new", "not in the recorded run: nothing to compare"
		case sinks[s.Name]:
			verdict, detail = "skipped", "sink: its side effects were suppressed (--run-sinks runs it)"
		case s.State != flow.StateDone:
			verdict, detail = "diverged", fmt.Sprintf("the stage %s (exit %d) in the replay", s.State, s.ExitCode)
			diverged++
			compared++
		default:
			a, b := filepath.Join(rec.RunDir, old.Journal), filepath.Join(res.RunDir, s.Journal)
			d, err := compareJournals(a, b, journal.Compare)
			if err != nil {
				return err
			}
			compared++
			var u *journal.Unordered
			if !d.Same() && (fanIn[s.Name] != "" || ordered[s.Name]) {
				if u, err = compareJournals(a, b, journal.CompareUnordered); err != nil {
					return err
				}
			}
			switch {
			case d.Same():
				verdict, detail = "match", fmt.Sprintf("%d events, EOF %s", d.Events[0], orNone(d.EOF[0]))
			case u != nil && u.Same() && fanIn[s.Name] == "":
				// Its recorded merge order was given, but the stage could
				// not follow it (its log says why).
				uncertified++
				verdict = "uncertified"
				detail = fmt.Sprintf("the same %d events and EOF in another order: the stage could not follow its recorded merge order (see %s)", u.Events[0], filepath.Join(res.RunDir, s.Log))
			case u != nil && u.Same():
				uncertified++
				verdict = "uncertified"
				detail = fmt.Sprintf("the same %d events and EOF in another order: the fan-in at %s merges its inputs as they arrive, and that order is not recorded", u.Events[0], fanIn[s.Name])
			default:
				diverged++
				verdict = "diverged"
				var b strings.Builder
				d.Report(&b, "recorded", "replayed")
				detail = strings.TrimSuffix(strings.Replace(b.String(), "differ: ", "", 1), "\n")
				detail = strings.ReplaceAll(detail, "\n", "\n                                ")
			}
		}
		fmt.Fprintf(w, "  %-16s %-11s %s\n", s.Name, verdict, detail)
	}
	switch {
	case diverged > 0:
		fmt.Fprintf(w, "verdict: diverged (%d of %d compared stages)\n", diverged, compared)
		return errors.New("the replay diverged from the recording")
	case res.Failed != "":
		return &flowFailedError{stage: res.Failed}
	}
	if uncertified > 0 {
		fmt.Fprintf(w, "verdict: match (%d stages compared; %d uncertified: the same events in another order after a fan-in)\n", compared, uncertified)
		return nil
	}
	fmt.Fprintf(w, "verdict: match (%d stages compared)\n", compared)
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func compareJournals[T any](a, b string, compare func(a, b *journal.Reader) (T, error)) (T, error) {
	var zero T
	ra, err := journal.Open(a, nil)
	if err != nil {
		return zero, err
	}
	defer ra.Close()
	rb, err := journal.Open(b, nil)
	if err != nil {
		return zero, err
	}
	defer rb.Close()
	return compare(ra, rb)
}
