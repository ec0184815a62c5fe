package stages

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/obz-dev/obz/expr"
	"github.com/obz-dev/obz/format"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

var joinSpec = runner.Spec{
	Name:    "join",
	Family:  runner.FamilyJoin,
	Summary: "enrich the stream with a reference table (hash join on a key)",
	Description: `Reads the reference side to its end first (--ref FILE, a /dev/fd path from
bash process substitution included; in a flow, the reference edge --ref-fd),
into a hash table on its key, the last row winning per key. Then the stream
(stdin) flows: each event is looked up by its --on field.

--ref FILE is read as obz read reads it: NDJSON or obz frames, JSON, CSV,
TSV or text, by extension (.json, .csv, .tsv, .txt/.log; anything else is
NDJSON) or --ref-format, plain or gzip/zstd compressed (recognised by its
first bytes; customers.csv.gz is gzipped CSV). CSV and TSV are read as
read reads them: the first row names the fields, TSV has no quoting (mlr's
escapes), and a field that is already an exact JSON number is that number
(docs/formats.md), so a CSV reference keyed by 1001 matches a stream whose
key is the number 1001, as read from CSV. --ref-strings keeps every field
of a CSV/TSV reference a string, to match a stream whose keys are strings
("1001").

--on KEY joins the stream's KEY to the reference's KEY; --on KEY=OTHER joins
the stream's KEY to the reference's OTHER. Keys compare as jq compares values
("c1" and "c\u0031" match, so do 1 and 1.0); an absent key is null.

A match writes the stream event's bytes with the reference fields appended:
stream fields first, then the reference fields in the reference row's order,
without the reference's join key. A reference field whose name is already in
the stream event gets --prefix (default "ref_"): the stream's value is never
overwritten. --ref-fields a,b adds only those reference fields.

A miss depends on the mode:
  --inner (default)  the event is dropped (counted, reported on stderr at the
                     end: dropping misses is what an inner join is for);
  --left             the event passes unchanged, without reference fields;
  --strict           the first miss fails the stage: the message names the
                     key, a poison EOF goes downstream, obz exits 1.
A stream event that is not an object goes to the error lane (kind "type").

The reference must fit in memory: past --max-ref events the stage fails with
a clear error before reading the stream. Reference records that cannot be
read (a line that is not JSON, a bad CSV row) and error events of the
reference go to the error lane; reference rows
without the key are skipped and counted on stderr. A reference that breaks
(no EOF, a gap, an upstream failure) fails the stage with a truncated EOF.
A stop (Ctrl-C) while the reference is being read ends reading it; the
stage then ends stopped like any other.

obz parallel -j N -- join (replicas = N in a flow) reads the reference
once and looks the stream's events up on N goroutines that share its
table; the output is byte for byte one join's.`,
	Examples: `obz read testdata/orders.csv | obz join --ref <(obz read testdata/customers.csv) --on customer -r
obz read testdata/orders.csv | obz join --ref <(obz read testdata/customers.csv) --on customer --left --ref-fields name,tier -r
obz read testdata/orders.csv | obz join --ref testdata/customers.csv --on customer -r
obz read testdata/customers.csv > /tmp/customers.ndjson && obz read testdata/orders.csv | obz join --ref /tmp/customers.ndjson --on customer=customer --strict -r   # exit 1: c099 has no reference row`,
	ExitStatus: `1    also: --strict and a stream event without a match (the key is named),
     more than --max-ref reference events, a broken reference input`,
	Flags: []runner.Flag{
		{Name: "ref", Usage: "reference `FILE`: NDJSON, obz frames, JSON, CSV, TSV or text, maybe compressed (- is not allowed: stdin is the stream)", Default: ""},
		{Name: "ref-format", Usage: "`FORMAT` of the --ref FILE: ndjson, json, csv, tsv or text (default: by extension, as obz read)", Default: ""},
		{Name: "ref-strings", Usage: "a CSV/TSV --ref FILE: every field is a string (as obz read --strings)", Default: false},
		{Name: "ref-fd", Usage: "read the reference from this file descriptor (used by obz flow)", Default: 0, Hidden: true},
		{Name: "on", Usage: "KEY or KEY=REFKEY: the stream's key field and the reference's", Default: ""},
		{Name: "inner", Usage: "drop stream events without a match (the default)", Default: false},
		{Name: "left", Usage: "pass stream events without a match unchanged", Default: false},
		{Name: "strict", Usage: "fail on the first stream event without a match", Default: false},
		{Name: "ref-fields", Usage: "reference fields to add (comma-separated); default all but the key", Default: []string{}},
		{Name: "prefix", Usage: "prefix for a reference field whose name the stream event already has", Default: "ref_"},
		{Name: "max-ref", Usage: "most reference events held in memory", Default: 1_000_000},
	},
	// Once the reference is read, each stream event is looked up on its
	// own: obz parallel -j N -- join shares the table among N goroutines.
	PerEvent: func(runner.Options) error { return nil },
	New:      newJoin,
}

type joinMode int

const (
	joinInner joinMode = iota
	joinLeft
	joinStrict
)

// refRow is one reference row: its fields (minus the key), in order.
type refRow struct {
	names []int    // indexes into join.names
	vals  [][]byte // raw values, into one allocation per row
}

type join struct {
	refPath, onName, refOnName string
	refFormat                  format.Format // --ref-format; "": by extension
	refValues                  format.Values // --ref-strings: format.Strings
	refFD                      int
	mode                       joinMode
	only                       map[string]bool // --ref-fields; nil = all
	prefix                     string
	maxRef                     int
	openFile                   func(string) (io.ReadCloser, error)

	refKey, key *expr.Extractor
	refKeyTop   string // the reference key's top-level name, left out of rows
	table       map[string]*refRow

	names   []string
	nameIdx map[string]int
	plain   [][]byte // `"name":`
	pref    [][]byte // `"ref_name":`

	s             joinScratch // of Event and of the reference's reading
	dropped, rows uint64
}

// joinScratch is what one goroutine needs to look stream events up: the
// stage's own for Event, one per worker with obz parallel. The table and
// the names are shared: nothing changes them once Prepare has read the
// reference.
type joinScratch struct {
	vals     [][]byte
	buf, out []byte
	seen     []uint64 // generation at which the stream event had names[i]
	gen      uint64
}

func newJoin(o runner.Options) (runner.Stage, error) {
	if len(o.Args()) > 0 {
		return nil, runner.Usagef("join takes no arguments, got %q (the reference goes in --ref)", o.Args()[0])
	}
	j := &join{refPath: o.String("ref"), refFD: o.Int("ref-fd"), prefix: o.String("prefix"), maxRef: o.Int("max-ref"),
		table: map[string]*refRow{}, nameIdx: map[string]int{}, s: joinScratch{vals: make([][]byte, 1)},
		openFile: func(name string) (io.ReadCloser, error) { return os.Open(name) }}
	switch {
	case j.refPath == "" && j.refFD == 0:
		return nil, runner.Usagef("join needs --ref FILE (in a shell: --ref <(obz read customers.csv))")
	case j.refPath != "" && j.refFD != 0:
		return nil, runner.Usagef("--ref and --ref-fd exclude each other")
	case j.refPath == "-":
		return nil, runner.Usagef("--ref - is not allowed: stdin is the stream; use --ref <(command) for a second stream")
	case j.maxRef <= 0:
		return nil, runner.Usagef("--max-ref must be 1 or more, got %d", j.maxRef)
	}
	if f := o.String("ref-format"); f != "" {
		var ok bool
		if j.refFormat, ok = format.Named(f); !ok {
			return nil, runner.Usagef("--ref-format must be ndjson, json, csv, tsv or text, not %q", f)
		}
		if j.refFD != 0 {
			return nil, runner.Usagef("--ref-format applies to --ref FILE only")
		}
	}
	if o.Bool("ref-strings") {
		if j.refFD != 0 {
			return nil, runner.Usagef("--ref-strings applies to --ref FILE only")
		}
		j.refValues = format.Strings
	}
	on := o.String("on")
	if on == "" {
		return nil, runner.Usagef("join needs --on KEY or --on KEY=REFKEY")
	}
	j.onName, j.refOnName, _ = strings.Cut(on, "=")
	if j.refOnName == "" {
		j.refOnName = j.onName
	}
	if j.onName == "" {
		return nil, runner.Usagef("--on %q: the stream key is empty", on)
	}
	j.key = expr.NewExtractor([]expr.Path{expr.ParsePath(j.onName)})
	rp := expr.ParsePath(j.refOnName)
	j.refKey = expr.NewExtractor([]expr.Path{rp})
	if len(rp) == 1 {
		j.refKeyTop = rp[0]
	}
	n := 0
	for _, m := range []struct {
		flag string
		mode joinMode
	}{{"inner", joinInner}, {"left", joinLeft}, {"strict", joinStrict}} {
		if o.Bool(m.flag) {
			j.mode = m.mode
			n++
		}
	}
	if n > 1 {
		return nil, runner.Usagef("--inner, --left and --strict exclude each other")
	}
	if fs := splitList(o.Strings("ref-fields")); len(fs) > 0 {
		j.only = map[string]bool{}
		for _, f := range fs {
			j.only[f] = true
		}
	}
	return j, nil
}

// addRow puts one reference event in the table; false when it has no key.
func (j *join) addRow(p []byte) bool {
	if !j.refKey.Extract(p, j.s.vals) || j.s.vals[0] == nil {
		return false
	}
	key := expr.AppendCanonical(j.s.buf[:0], j.s.vals[0])
	j.s.buf = key
	row := &refRow{}
	var data []byte
	var spans [][2]int
	m := expr.ScanMembers(p)
	for {
		ks, ke, vs, ve, ok := m.Next()
		if !ok {
			break
		}
		name := keyName(p[ks:ke])
		if name == j.refKeyTop || j.only != nil && !j.only[name] {
			continue
		}
		idx, ok := j.nameIdx[name]
		if !ok {
			idx = len(j.names)
			j.nameIdx[name] = idx
			j.names = append(j.names, name)
			j.plain = append(j.plain, append(wire.AppendString(nil, name), ':'))
			j.pref = append(j.pref, append(wire.AppendString(nil, j.prefix+name), ':'))
			j.s.seen = append(j.s.seen, 0)
		}
		if k := slices.Index(row.names, idx); k >= 0 {
			// A repeated key: the last value wins, in the first one's place.
			row.names = slices.Delete(row.names, k, k+1)
			spans = slices.Delete(spans, k, k+1)
		}
		row.names = append(row.names, idx)
		spans = append(spans, [2]int{len(data), len(data) + ve - vs})
		data = append(data, p[vs:ve]...)
	}
	for _, s := range spans {
		row.vals = append(row.vals, data[s[0]:s[1]:s[1]])
	}
	if _, ok := j.table[string(key)]; !ok {
		j.rows++
	}
	j.table[string(key)] = row
	return true
}

// keyName returns a quoted raw key as a string.
func keyName(quoted []byte) string {
	if slices.Contains(quoted, '\\') {
		var s string
		if json.Unmarshal(quoted, &s) == nil {
			return s
		}
	}
	return string(quoted[1 : len(quoted)-1])
}

func (j *join) Event(ev *wire.Frame, em *runner.Emitter) error {
	dropped, err := j.lookup(&j.s, ev, em)
	if dropped {
		j.dropped++
	}
	return err
}

// lookup answers the stream event ev with s: its output goes to out, or
// none when an inner join drops it (dropped true).
func (j *join) lookup(s *joinScratch, ev *wire.Frame, out exprOut) (dropped bool, err error) {
	p := ev.Payload
	if !j.key.Extract(p, s.vals) {
		return false, runner.EventErrorf("type", "the event is not a JSON object")
	}
	s.buf = expr.AppendCanonical(s.buf[:0], s.vals[0])
	row := j.table[string(s.buf)]
	if row == nil {
		switch j.mode {
		case joinLeft:
			return false, out.Emit(p)
		case joinStrict:
			return false, fmt.Errorf("strict join: no reference row for %s=%s (stream event %d from %s)", j.onName, clip(s.buf), ev.Seq, wire.ShowName(ev.Writer))
		}
		return true, nil
	}
	if len(row.names) == 0 {
		return false, out.Emit(p)
	}
	// Which reference names does the stream event have already?
	s.gen++
	m := expr.ScanMembers(p)
	members := 0
	for {
		ks, ke, _, _, ok := m.Next()
		if !ok {
			break
		}
		members++
		raw := p[ks+1 : ke-1]
		idx, found := j.nameIdx[string(raw)]
		if !found && slices.Contains(raw, '\\') {
			idx, found = j.nameIdx[keyName(p[ks:ke])]
		}
		if found {
			s.seen[idx] = s.gen
		}
	}
	end := len(p) - 1
	for end > 0 && p[end] != '}' {
		end--
	}
	b := append(s.out[:0], p[:end]...)
	empty := members == 0
	for k, idx := range row.names {
		if k > 0 || !empty {
			b = append(b, ',')
		}
		if s.seen[idx] == s.gen {
			b = append(b, j.pref[idx]...)
		} else {
			b = append(b, j.plain[idx]...)
		}
		b = append(b, row.vals[k]...)
	}
	b = append(b, '}')
	s.out = b
	return false, out.Emit(b)
}

// joinWorker looks stream events up on a worker's goroutine
// (runner.Concurrent): obz parallel -j N -- join shares one reference
// table among N goroutines.
type joinWorker struct {
	j *join
	s joinScratch
}

// NewWorker is called once Prepare has read the reference.
func (j *join) NewWorker(io.Writer) (runner.Worker, error) {
	return &joinWorker{j: j, s: joinScratch{vals: make([][]byte, 1), seen: make([]uint64, len(j.names))}}, nil
}

// joinDropped notes an answer that an inner join dropped.
const joinDropped uint8 = 1

func (w *joinWorker) Eval(ev *wire.Frame, a *runner.Answer) error {
	dropped, err := w.j.lookup(&w.s, ev, a)
	if dropped {
		a.Note = joinDropped
	}
	return err
}

// EmitAnswer emits a worker's answer to ev in its place, and counts the
// events an inner join dropped.
func (j *join) EmitAnswer(ev *wire.Frame, a *runner.Answer, em *runner.Emitter) error {
	if a.Note == joinDropped {
		j.dropped++
	}
	return a.EmitTo(em)
}

func (j *join) Finish(em *runner.Emitter, _ wire.EOFKind) error {
	if j.dropped > 0 {
		em.Warnf("%d stream event(s) had no match in the reference (%d keys) and were dropped (inner join; --left keeps them)", j.dropped, j.rows)
	}
	return nil
}
