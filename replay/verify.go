package replay

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/obz-dev/obz/flow"
	"github.com/obz-dev/obz/journal"
)

// Verdict is how one stage of a replay compares with its recording.
type Verdict string

// The verdicts.
const (
	// Match: the same frames, in the same order, as recorded.
	Match Verdict = "match"
	// Diverged: a frame differs (Detail says the first and the fields that
	// differ), or the stage did not finish in the replay.
	Diverged Verdict = "diverged"
	// Uncertified: the same events and EOF in another order, after a
	// fan-in whose merge order was not followed.
	Uncertified Verdict = "uncertified"
	// Skipped: a sink whose effects were suppressed: nothing to compare.
	Skipped Verdict = "skipped"
	// New: the stage is not in the recorded run.
	New Verdict = "new"
)

// StageVerdict is one stage's line of a verification.
type StageVerdict struct {
	Stage   string  `json:"stage"`
	Verdict Verdict `json:"verdict"`
	Detail  string  `json:"detail,omitempty"`
}

// Verification compares each stage of a replay with its recording.
type Verification struct {
	RecordedDir, ReplayDir string
	Stages                 []StageVerdict
	// Compared counts the stages compared (match, diverged, uncertified).
	Compared, Diverged, Uncertified int
	// Failed is the replay's first failed stage, if one failed: a
	// replay with a failed stage and no divergence has no verdict.
	Failed string
}

// Verify compares each stage's new journal with its recorded one. It
// returns an error only when a journal cannot be read; a replay that
// differs is a Verification with Diverged > 0 (see ErrDiverged).
func (r *Replayed) Verify() (*Verification, error) {
	p, res := r.plan, r.Result
	v := &Verification{RecordedDir: p.Recorded.RunDir, ReplayDir: res.RunDir, Failed: res.Failed}
	// A stage with several stream inputs merges them as they arrive. When
	// its journal recorded that order, the replay followed it (ordered);
	// otherwise it and what is downstream of it may see the same events in
	// another order.
	fanIn := map[string]string{}
	for _, st := range p.Topology.Order() {
		if len(st.Inputs) > 1 && !p.ordered[st.Name] {
			fanIn[st.Name] = st.Name
		}
		for _, in := range st.AllInputs() {
			if f, ok := fanIn[in]; ok && fanIn[st.Name] == "" {
				fanIn[st.Name] = f
			}
		}
	}
	for _, s := range res.Stages {
		old := p.recorded[s.Name]
		sv := StageVerdict{Stage: s.Name}
		switch {
		case old == nil:
			sv.Verdict, sv.Detail = New, "not in the recorded run: nothing to compare"
		case slices.Contains(p.published, s.Name):
			sv.Verdict, sv.Detail = Skipped, "publishing bridge to another host: not published again (what it published is its producer's journal)"
		case p.discarded[s.Name]:
			sv.Verdict, sv.Detail = Skipped, "sink: its side effects were suppressed (--run-sinks runs it)"
		case s.State != flow.StateDone:
			sv.Verdict, sv.Detail = Diverged, fmt.Sprintf("the stage %s (exit %d) in the replay", s.State, s.ExitCode)
			v.Diverged++
			v.Compared++
		default:
			a, b := filepath.Join(p.Recorded.RunDir, old.Journal), filepath.Join(res.RunDir, s.Journal)
			d, err := compareJournals(a, b, journal.Compare)
			if err != nil {
				return nil, err
			}
			v.Compared++
			var u *journal.Unordered
			if !d.Same() && (fanIn[s.Name] != "" || p.ordered[s.Name]) {
				if u, err = compareJournals(a, b, journal.CompareUnordered); err != nil {
					return nil, err
				}
			}
			switch {
			case d.Same():
				sv.Verdict, sv.Detail = Match, fmt.Sprintf("%d events, EOF %s", d.Events[0], orNone(d.EOF[0]))
			case u != nil && u.Same() && fanIn[s.Name] == "":
				// Its recorded merge order was given, but the stage could
				// not follow it (its log says why).
				v.Uncertified++
				sv.Verdict = Uncertified
				sv.Detail = fmt.Sprintf("the same %d events and EOF in another order: the stage could not follow its recorded merge order (see %s)", u.Events[0], filepath.Join(res.RunDir, s.Log))
			case u != nil && u.Same():
				v.Uncertified++
				sv.Verdict = Uncertified
				sv.Detail = fmt.Sprintf("the same %d events and EOF in another order: the fan-in at %s merges its inputs as they arrive, and that order is not recorded", u.Events[0], fanIn[s.Name])
			default:
				v.Diverged++
				sv.Verdict = Diverged
				var b strings.Builder
				d.Report(&b, "recorded", "replayed")
				sv.Detail = strings.TrimSuffix(strings.Replace(b.String(), "differ: ", "", 1), "\n")
			}
		}
		v.Stages = append(v.Stages, sv)
	}
	return v, nil
}

// Print writes the verification as obz replay --verify shows it: a line
// per stage, then the verdict.
func (v *Verification) Print(w io.Writer) {
	fmt.Fprintf(w, "obz replay --verify: %s against the recording in %s\n", v.ReplayDir, v.RecordedDir)
	for _, s := range v.Stages {
		detail := strings.ReplaceAll(s.Detail, "\n", "\n                                ")
		fmt.Fprintf(w, "  %-16s %-11s %s\n", s.Stage, s.Verdict, detail)
	}
	switch {
	case v.Diverged > 0:
		fmt.Fprintf(w, "verdict: diverged (%d of %d compared stages)\n", v.Diverged, v.Compared)
	case v.Failed != "":
		// The failure is the verdict (obz flow's summary names it).
	case v.Uncertified > 0:
		fmt.Fprintf(w, "verdict: match (%d stages compared; %d uncertified: the same events in another order after a fan-in)\n", v.Compared, v.Uncertified)
	default:
		fmt.Fprintf(w, "verdict: match (%d stages compared)\n", v.Compared)
	}
}

// VerifyFile is where Save keeps a verification, in the replay's run
// directory; obz report shows it with the recorded run.
const VerifyFile = "verify.json"

// Save writes the verification to the replay's run directory (VerifyFile).
func (v *Verification) Save() error {
	rec := struct {
		Verdict     string         `json:"verdict"`
		RecordedDir string         `json:"recorded_dir"`
		Compared    int            `json:"compared"`
		Diverged    int            `json:"diverged"`
		Uncertified int            `json:"uncertified"`
		Failed      string         `json:"failed_stage,omitempty"`
		Stages      []StageVerdict `json:"stages"`
	}{v.verdict(), v.RecordedDir, v.Compared, v.Diverged, v.Uncertified, v.Failed, v.Stages}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(v.ReplayDir, VerifyFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// verdict is the verification in a word: match, diverged or failed.
func (v *Verification) verdict() string {
	switch {
	case v.Diverged > 0:
		return string(Diverged)
	case v.Failed != "":
		return "failed"
	}
	return string(Match)
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
