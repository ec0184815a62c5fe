package stages

import (
	"encoding/binary"
	"io"
	"math"
	"slices"
	"strconv"

	"github.com/obz-dev/obz/expr"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

var topSpec = runner.Spec{
	Name:    "top",
	Family:  runner.FamilyStateful,
	Summary: "leaderboard: the N events with the greatest (or least) value of a field, per group",
	Description: `Keeps the -n events with the greatest value of the numeric field --by (the
least with --asc), per value of --group if given, and writes them at the end
of input: best first, groups in the order they were first seen.

Ties are broken by arrival: of two events with the same value, the earlier
one ranks higher, and a later event with the value of the last place does
not displace it. Output events are the original payloads with a "rank"
field (1 = best) added at the end (--rank-field names it; an existing field
of that name is replaced; --rank-field "" keeps the payloads byte for byte).

--every N writes the current leaderboards after every N events (running
leaderboards), and at the end unless nothing came since the last one.

An event whose --by field is absent, null or not a number goes to the error
lane (kind "type"): it cannot be ranked. Memory is -n payloads per group.
A stop (stopped EOF) writes the leaderboards of what came, a broken input
none (exit 1), as for agg.`,
	Examples: `obz read testdata/orders.csv | obz top -n 3 --by amount -r
obz read testdata/orders.csv | obz top -n 1 --by amount --group country -r
obz gen --count 10000 | obz top -n 5 --by amount --asc --rank-field place -r`,
	Flags: []runner.Flag{
		{Name: "n", Usage: "events per leaderboard", Default: 10},
		{Name: "by", Usage: "numeric field to rank by (required)", Default: ""},
		{Name: "group", Usage: "one leaderboard per value of this field", Default: ""},
		{Name: "asc", Usage: "least values first", Default: false},
		{Name: "every", Usage: "write the running leaderboards every N events", Default: 0},
		{Name: "rank-field", Usage: `name of the rank field added to each event ("" for none)`, Default: "rank"},
	},
	PartitionKeys: func(o runner.Options) []string {
		if g := o.String("group"); g != "" && o.Int("every") == 0 {
			return []string{g}
		}
		return nil
	},
	New: newTop,
}

type topEntry struct {
	v       float64
	seq     uint64 // arrival
	payload []byte
}

type topBoard struct{ entries []topEntry }

type top struct {
	n, every, since int
	asc             bool
	byName          string
	rankField       string
	rankKey         []byte
	hasGroup        bool
	x               *expr.Extractor
	vals            [][]byte
	boards          map[string]*topBoard
	order           []*topBoard
	seq             uint64
	key, out        []byte
}

func newTop(o runner.Options) (runner.Stage, error) {
	if len(o.Args()) > 0 {
		return nil, runner.Usagef("top takes no arguments, got %q (the field goes in --by)", o.Args()[0])
	}
	t := &top{n: o.Int("n"), every: o.Int("every"), asc: o.Bool("asc"), byName: o.String("by"),
		rankField: o.String("rank-field"), boards: map[string]*topBoard{}, vals: make([][]byte, 2)}
	switch {
	case t.byName == "":
		return nil, runner.Usagef("top needs --by FIELD, the number to rank by")
	case t.n < 1:
		return nil, runner.Usagef("top -n must be 1 or more, got %d", t.n)
	case t.every < 0:
		return nil, runner.Usagef("--every must be 1 or more, got %d", t.every)
	}
	paths := []expr.Path{expr.ParsePath(t.byName)}
	if g := o.String("group"); g != "" {
		paths = append(paths, expr.ParsePath(g))
		t.hasGroup = true
	}
	t.x = expr.NewExtractor(paths)
	t.vals = t.vals[:len(paths)]
	if t.rankField != "" {
		t.rankKey = append(wire.AppendString(nil, t.rankField), ':')
	}
	return t, nil
}

// better reports whether a ranks above b.
func (t *top) better(a, b *topEntry) bool {
	if a.v != b.v {
		return a.v > b.v != t.asc
	}
	return a.seq < b.seq
}

// ReadsMembers has the reader index the members of each event it checks
// (runner.MemberReader): read takes the fields from the index instead of
// walking the payload again.
func (t *top) ReadsMembers() bool { return t.x.Len() > 0 }

func (t *top) Event(ev *wire.Frame, em *runner.Emitter) error {
	v, err := t.read(ev.Payload, ev.Members)
	if err != nil {
		return err
	}
	return t.apply(ev, v, em)
}

// read returns the number the event p (members: its index, or nil) ranks by and sets t.key to its
// group's key, touching no leaderboard.
func (t *top) read(p []byte, members []uint32) (float64, error) {
	if !t.x.ExtractMembers(p, members, t.vals) {
		return 0, runner.EventErrorf("type", "the event is not a JSON object")
	}
	v, ok := expr.NumberValue(t.vals[0])
	if !ok {
		got := "absent"
		if t.vals[0] != nil {
			got = clip(t.vals[0])
		}
		return 0, runner.EventErrorf("type", "field %s is %s, not a number: the event cannot be ranked", t.byName, got)
	}
	t.key = t.key[:0]
	if t.hasGroup {
		t.key = expr.AppendCanonical(t.key, t.vals[1])
	}
	return v, nil
}

// apply ranks ev, read as v in group t.key, and emits what is due.
func (t *top) apply(ev *wire.Frame, v float64, em *runner.Emitter) error {
	b := t.boards[string(t.key)]
	if b == nil {
		b = &topBoard{}
		t.boards[string(t.key)] = b
		t.order = append(t.order, b)
	}
	t.seq++
	e := topEntry{v: v, seq: t.seq}
	i, _ := slices.BinarySearchFunc(b.entries, &e, func(x topEntry, y *topEntry) int {
		if t.better(&x, y) {
			return -1
		}
		return 1
	})
	if i < t.n {
		var buf []byte
		if len(b.entries) == t.n {
			buf = b.entries[t.n-1].payload[:0] // reuse the evicted event's bytes
			b.entries = b.entries[:t.n-1]
		}
		e.payload = append(buf, ev.Payload...)
		b.entries = slices.Insert(b.entries, i, e)
	}
	if t.every > 0 {
		if t.since++; t.since >= t.every {
			t.since = 0
			return t.emit(em)
		}
	}
	return nil
}

func (t *top) emit(em *runner.Emitter) error {
	for _, b := range t.order {
		for i := range b.entries {
			if err := em.Emit(t.withRank(b.entries[i].payload, i+1)); err != nil {
				return err
			}
		}
	}
	return nil
}

// withRank returns p with the rank member spliced in at the end.
func (t *top) withRank(p []byte, rank int) []byte {
	if t.rankKey == nil {
		return p
	}
	out := t.out[:0]
	if s, e, ok := expr.MemberSpan(p, t.rankField); ok {
		// Drop the existing member and the comma that joins it.
		i := wsSkip(p, e)
		if i < len(p) && p[i] == ',' {
			e = i + 1
		} else {
			for j := s - 1; j >= 0; j-- {
				if p[j] == ',' {
					s = j
					break
				}
				if p[j] == '{' {
					break
				}
			}
		}
		out = append(append(out, p[:s]...), p[e:]...)
	} else {
		out = append(out, p...)
	}
	end := len(out) - 1
	for end > 0 && out[end] != '}' {
		end--
	}
	out = out[:end]
	if j := len(out) - 1; j >= 0 && out[wsBack(out, j)] != '{' {
		out = append(out, ',')
	}
	out = append(out, t.rankKey...)
	out = strconv.AppendInt(out, int64(rank), 10)
	out = append(out, '}')
	t.out = out
	return out
}

// wsSkip returns the index of the first non-space byte at or after i.
func wsSkip(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// wsBack returns the index of the last non-space byte at or before j.
func wsBack(b []byte, j int) int {
	for j > 0 && (b[j] == ' ' || b[j] == '\t' || b[j] == '\n' || b[j] == '\r') {
		j--
	}
	return j
}

func (t *top) Finish(em *runner.Emitter, _ wire.EOFKind) error {
	if t.every > 0 && t.since == 0 && t.seq > 0 {
		return nil // the last running leaderboard was the final one
	}
	return t.emit(em)
}

// As a runner.Concurrent (obz parallel -j N -- top): workers read the
// events (the number, the group's key) and record them as the event's one
// output, 8 bytes of the number then the key; the stage's goroutine ranks
// them in input order (apply), so the leaderboards are one top's.

var _ runner.Concurrent = (*top)(nil)

// NewWorker reads events on a worker's goroutine.
func (t *top) NewWorker(io.Writer) (runner.Worker, error) {
	return &topWorker{t: &top{byName: t.byName, hasGroup: t.hasGroup, x: t.x, vals: make([][]byte, len(t.vals))}}, nil
}

type topWorker struct {
	t   *top
	rec []byte
}

func (w *topWorker) Eval(ev *wire.Frame, a *runner.Answer) error {
	v, err := w.t.read(ev.Payload, ev.Members)
	if err != nil {
		return err
	}
	w.rec = binary.LittleEndian.AppendUint64(w.rec[:0], math.Float64bits(v))
	w.rec = append(w.rec, w.t.key...)
	return a.Emit(w.rec)
}

// EmitAnswer ranks ev as a worker read it.
func (t *top) EmitAnswer(ev *wire.Frame, a *runner.Answer, em *runner.Emitter) error {
	if a.Outputs() == 0 {
		return a.Err()
	}
	r := a.Output(0)
	t.key = append(t.key[:0], r[8:]...)
	return t.apply(ev, math.Float64frombits(binary.LittleEndian.Uint64(r)), em)
}
