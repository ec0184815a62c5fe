// Package report turns a run directory of obz flow into one self-contained
// HTML page: the flow's graph, each stage's counts and throughput over time,
// busy and waiting time, errors by kind with sample dead letters, the
// verdicts of verified replays and the run's events. It reads what a run
// leaves (manifest.json, the journals' block metadata and error frames,
// events.ndjson, replays/*/verify.json) and writes nothing else.
package report

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/obz-dev/obz/flow"
	"github.com/obz-dev/obz/journal"
	"github.com/obz-dev/obz/wire"
)

// Samples is how many dead letters the report shows per stage.
const Samples = 5

// Buckets is how many time slices the throughput charts have.
const Buckets = 60

// Run is what the report shows of one run directory.
type Run struct {
	Dir      string
	Manifest *flow.Result
	Stages   []*Stage
	Edges    []Edge
	Replays  []Replay
	Events   []json.RawMessage // events.ndjson, in order (none for older runs)
	Start    time.Time         // of the chart's time axis
	End      time.Time
	Problems []string // what could not be read (a damaged journal, ...): shown, never fatal
}

// Stage is one stage of the run, with what its journal says.
type Stage struct {
	*flow.StageResult
	Depth        int       // longest path from a source: the graph's column
	Row          int       // place in its column
	Series       []float64 // events per second, per bucket of the run's time axis
	Peak         float64   // the highest rate in Series
	JournalBytes int64
	Ratio        float64 // uncompressed / compressed journal bytes
	Samples      []DeadLetter
	EOF          string // how its output ended, from the journal's EOF frame

	blocks []journal.Block // its journal's block metadata, for Series
}

// DeadLetter is one error event of a stage's output.
type DeadLetter struct {
	Seq     uint64
	Kind    string
	Stage   string
	Line    int64
	Msg     string
	Payload string
}

// Edge is one input of a stage.
type Edge struct {
	From, To  string
	Reference bool // a join's reference input
	Events    uint64
}

// Replay is one replay of the run, with its verification when it was verified.
type Replay struct {
	Dir          string
	Started      time.Time
	Failed       string
	Verification *Verification // nil: replayed, not verified
}

// Verification is what replays/ID/verify.json holds (see replay.Verification).
type Verification struct {
	Verdict string `json:"verdict"`
	Stages  []struct {
		Stage   string `json:"stage"`
		Verdict string `json:"verdict"`
		Detail  string `json:"detail,omitempty"`
	} `json:"stages"`
}

// Load reads a run directory.
func Load(dir string) (*Run, error) {
	m, err := flow.ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	r := &Run{Dir: dir, Manifest: m, Start: m.Started, End: m.Ended}
	refs := references(m.Topology)
	byName := map[string]*Stage{}
	for _, sr := range m.Stages {
		s := &Stage{StageResult: sr}
		r.Stages = append(r.Stages, s)
		byName[sr.Name] = s
	}
	for _, s := range r.Stages {
		for _, in := range s.Inputs {
			e := Edge{From: in, To: s.Name, Reference: refs[s.Name] == in}
			if p := byName[in]; p != nil {
				e.Events = p.Status.Out
			}
			r.Edges = append(r.Edges, e)
		}
	}
	r.layout(byName)
	r.readEvents()
	if r.End.IsZero() {
		// A run that did not end (killed with its supervisor): the axis ends
		// with the last stage, event or journal block seen.
		for _, s := range r.Stages {
			if s.Ended.After(r.End) {
				r.End = s.Ended
			}
		}
		for _, e := range r.Events {
			var ev struct {
				Time time.Time `json:"time"`
			}
			if json.Unmarshal(e, &ev) == nil && ev.Time.After(r.End) {
				r.End = ev.Time
			}
		}
	}
	for _, s := range r.Stages {
		if s.Journal != "" {
			r.readJournal(s)
		}
	}
	if r.End.Before(r.Start) || r.End.Equal(r.Start) {
		r.End = r.Start.Add(time.Millisecond)
	}
	for _, s := range r.Stages {
		r.series(s)
	}
	r.readReplays()
	return r, nil
}

// references maps a stage to its join reference, from the topology text the
// manifest keeps (the manifest's inputs list the reference with the others).
func references(topology string) map[string]string {
	var t struct {
		Stages map[string]struct {
			Reference string `toml:"reference"`
		} `toml:"stages"`
	}
	refs := map[string]string{}
	if _, err := toml.Decode(topology, &t); err != nil {
		return refs
	}
	for name, st := range t.Stages {
		if st.Reference != "" {
			refs[name] = st.Reference
		}
	}
	return refs
}

// layout places each stage in a column (its longest distance from a source)
// and a row (its order in the manifest within the column).
func (r *Run) layout(byName map[string]*Stage) {
	depth := map[string]int{}
	var visit func(s *Stage, seen map[string]bool) int
	visit = func(s *Stage, seen map[string]bool) int {
		if d, ok := depth[s.Name]; ok {
			return d
		}
		if seen[s.Name] { // a cycle cannot pass validation; be safe anyway
			return 0
		}
		seen[s.Name] = true
		d := 0
		for _, in := range s.Inputs {
			if p := byName[in]; p != nil {
				d = max(d, visit(p, seen)+1)
			}
		}
		depth[s.Name] = d
		return d
	}
	rows := map[int]int{}
	for _, s := range r.Stages {
		s.Depth = visit(s, map[string]bool{})
		s.Row = rows[s.Depth]
		rows[s.Depth]++
	}
}

func (r *Run) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// readJournal reads a stage's journal: its size and ratio from the block
// metadata, the first dead letters and the EOF from its frames. Frames are
// decoded only when the stage had errors or to find the EOF in the last
// block.
func (r *Run) readJournal(s *Stage) {
	path := filepath.Join(r.Dir, s.Journal)
	j, err := journal.Open(path, nil)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			r.problem("%s: %v", s.Journal, err)
		}
		return
	}
	defer j.Close()
	s.JournalBytes = j.Size()
	s.blocks = j.Blocks()
	var raw int64
	for _, b := range j.Blocks() {
		raw += b.DataSize
		if b.End > 0 {
			if t := time.Unix(0, b.End); t.After(r.End) && r.Manifest.Ended.IsZero() {
				r.End = t
			}
		}
	}
	if s.JournalBytes > 0 {
		s.Ratio = float64(raw) / float64(s.JournalBytes)
	}
	if s.Status.Errors == 0 {
		if n := len(j.Blocks()); n > 0 {
			// Past the last data frame: only the trailing control frames,
			// the EOF among them, are decoded.
			j.SeekSeq(j.Blocks()[n-1].LastSeq + 1)
		}
	}
	var f wire.Frame
	for {
		err := j.Next(&f)
		if err == io.EOF {
			break
		}
		if err != nil {
			r.problem("%s: %v", s.Journal, err)
			break
		}
		switch f.Kind {
		case wire.KindError:
			// A dead letter is shown where it was raised, not again by
			// every stage that passed it on.
			if len(s.Samples) < Samples && f.Err != nil && (f.Err.Stage == "" || f.Err.Stage == s.Name) {
				payload := f.Payload
				if len(payload) == 0 {
					payload = f.Err.Raw
				}
				s.Samples = append(s.Samples, DeadLetter{
					Seq: f.Seq, Kind: f.Err.Kind, Stage: f.Err.Stage, Line: f.Err.Line,
					Msg: f.Err.Msg, Payload: clip(string(payload), 400),
				})
			}
		case wire.KindEOF:
			s.EOF = f.EOF.String()
		}
	}
}

// series spreads each block's events over its write times into the run's
// buckets, as events per second.
func (r *Run) series(s *Stage) {
	start, span := r.Start.UnixNano(), r.End.Sub(r.Start).Nanoseconds()
	width := float64(span) / Buckets
	counts := make([]float64, Buckets)
	blocks := s.blocks
	// A sink's journal holds receipts, which have no seq: its events are
	// its lines (one receipt per event delivered).
	bySeq := len(blocks) > 0 && blocks[len(blocks)-1].LastSeq > 0
	var last uint64
	for _, b := range blocks {
		events := float64(b.Lines)
		if bySeq {
			events = 0
			if b.LastSeq > last {
				events = float64(b.LastSeq - last)
				last = b.LastSeq
			}
		}
		if events == 0 || b.Start == 0 {
			continue
		}
		lo, hi := float64(b.Start-start), float64(b.End-start)
		if hi <= lo {
			hi = lo + 1
		}
		// Spread the block's events evenly over [lo, hi).
		for i := max(0, int(lo/width)); i < Buckets && float64(i)*width < hi; i++ {
			a, z := max(lo, float64(i)*width), min(hi, float64(i+1)*width)
			if z > a {
				counts[i] += events * (z - a) / (hi - lo)
			}
		}
	}
	sec := width / 1e9
	s.Series = make([]float64, Buckets)
	for i, c := range counts {
		s.Series[i] = c / sec
		s.Peak = max(s.Peak, s.Series[i])
	}
}

// readEvents reads events.ndjson, the supervisor's record of the run.
func (r *Run) readEvents() {
	f, err := os.Open(filepath.Join(r.Dir, "events.ndjson"))
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !json.Valid(line) {
			r.problem("events.ndjson: a line is not JSON")
			continue
		}
		r.Events = append(r.Events, append(json.RawMessage(nil), line...))
	}
}

// readReplays lists replays/*/ with their verification.
func (r *Run) readReplays() {
	dirs, _ := filepath.Glob(filepath.Join(r.Dir, "replays", "*", "manifest.json"))
	for _, m := range dirs {
		dir := filepath.Dir(m)
		res, err := flow.ReadManifest(dir)
		if err != nil {
			r.problem("%s: %v", dir, err)
			continue
		}
		rp := Replay{Dir: filepath.Base(dir), Started: res.Started, Failed: res.Failed}
		if b, err := os.ReadFile(filepath.Join(dir, "verify.json")); err == nil {
			var v Verification
			if err := json.Unmarshal(b, &v); err != nil {
				r.problem("%s/verify.json: %v", dir, err)
			} else {
				rp.Verification = &v
			}
		}
		r.Replays = append(r.Replays, rp)
	}
	sort.Slice(r.Replays, func(i, j int) bool { return r.Replays[i].Started.Before(r.Replays[j].Started) })
}

func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8Start(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
