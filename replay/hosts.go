package replay

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/obz-dev/obz/flow"
	"github.com/obz-dev/obz/journal"
)

// EdgeVerdict is how one edge between two hosts of a run compares: what
// its producer journaled on its host against what the reading bridge
// (obz nats sub) journaled on the consumer's, frame by frame.
type EdgeVerdict struct {
	Edge    string // FROM -> TO
	Subject string
	Verdict Verdict // Match, Diverged or Skipped (a host's run not given)
	Detail  string
}

// Edges is the cross-host check of a run given its hosts' run directories.
type Edges struct {
	Flow, RunID string
	Edges       []EdgeVerdict
	// Compared and Diverged count the edges compared and those that differ.
	Compared, Diverged int
}

// CheckEdges compares, for each edge of a flow over several hosts whose
// two ends are among runDirs (the run directories of hosts' parts of one
// run), the producer's journal on its host with the journal of the reading
// bridge on the consumer's host: the frames published are the frames
// passed on. It refuses (*RefusedError) a directory that is no host's
// part, parts of different runs, and a host given twice.
func CheckEdges(runDirs []string, cmds flow.Commands) (*Edges, error) {
	parts := map[string]*flow.Result{} // by host
	var first *flow.Result
	for _, dir := range runDirs {
		rec, err := readManifest(dir)
		if err != nil {
			return nil, err
		}
		rec.RunDir = dir
		switch {
		case rec.Host == "":
			return nil, refused(fmt.Sprintf("%s is a run on one host (obz flow without --host): give the run directories of one run's hosts, or replay it alone", dir))
		case first == nil:
			first = rec
		case rec.RunID != first.RunID || rec.Flow != first.Flow:
			return nil, refused(fmt.Sprintf("%s is host %q's part of run %s of flow %q, %s of run %s of flow %q: give the parts of one run", dir, rec.Host, rec.RunID, rec.Flow, first.RunDir, first.RunID, first.Flow))
		case parts[rec.Host] != nil:
			return nil, refused(fmt.Sprintf("%s and %s are both host %q's part of run %s: give each host once", parts[rec.Host].RunDir, dir, rec.Host, rec.RunID))
		}
		parts[rec.Host] = rec
	}
	t, err := flow.Parse(cmp(first.File, "recorded topology"), []byte(first.Topology), cmds)
	if err != nil {
		return nil, topologyError(err)
	}
	e := &Edges{Flow: first.Flow, RunID: first.RunID}
	for _, ce := range t.CrossEdges() {
		from, to := t.Lookup(ce.From).Host, t.Lookup(ce.To).Host
		v := EdgeVerdict{Edge: ce.From + " -> " + ce.To, Subject: ce.Subject(t.Name, first.RunID)}
		pa, pb := parts[from], parts[to]
		var a, b string
		if pa != nil {
			a = journalOf(pa, ce.From)
		}
		if pb != nil {
			b = journalOf(pb, ce.Bridge())
		}
		switch {
		case pa == nil || pb == nil:
			missing := from
			if pa != nil {
				missing = to
			}
			v.Verdict, v.Detail = Skipped, fmt.Sprintf("host %q's run directory not given", missing)
		case a == "":
			v.Verdict, v.Detail = Skipped, fmt.Sprintf("stage %q has no journal on host %q", ce.From, from)
		case b == "":
			v.Verdict, v.Detail = Skipped, fmt.Sprintf("bridge %q has no journal on host %q (a run of an older obz)", ce.Bridge(), to)
		default:
			d, err := compareJournals(a, b, journal.Compare)
			if err != nil {
				return nil, err
			}
			e.Compared++
			if d.Same() {
				v.Verdict, v.Detail = Match, fmt.Sprintf("%d events, EOF %s", d.Events[0], orNone(d.EOF[0]))
				break
			}
			e.Diverged++
			v.Verdict = Diverged
			var w strings.Builder
			d.Report(&w, "published on "+from, "read on "+to)
			v.Detail = strings.TrimSuffix(strings.Replace(w.String(), "differ: ", "", 1), "\n")
		}
		e.Edges = append(e.Edges, v)
	}
	return e, nil
}

// journalOf is the path of stage's journal in the recorded run rec, "" if
// it has none.
func journalOf(rec *flow.Result, stage string) string {
	for _, s := range rec.Stages {
		if s.Name == stage && s.Journal != "" {
			return filepath.Join(rec.RunDir, s.Journal)
		}
	}
	return ""
}

// Print writes the check a line per edge, then its verdict.
func (e *Edges) Print(w io.Writer) {
	fmt.Fprintf(w, "obz replay --verify: the edges between hosts of run %s of flow %q, what was published against what was read\n", e.RunID, e.Flow)
	for _, v := range e.Edges {
		detail := strings.ReplaceAll(v.Detail, "\n", "\n                                ")
		fmt.Fprintf(w, "  %-28s %-11s %s\n", v.Edge, v.Verdict, detail)
	}
	switch {
	case e.Diverged > 0:
		fmt.Fprintf(w, "verdict: diverged (%d of %d edges compared)\n", e.Diverged, e.Compared)
	default:
		fmt.Fprintf(w, "verdict: match (%d edges compared)\n", e.Compared)
	}
}
