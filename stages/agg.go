package stages

import (
	"slices"
	"time"

	"github.com/obz-dev/obz/expr"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

var aggSpec = runner.Spec{
	Name:      "agg",
	Family:    runner.FamilyStateful,
	Summary:   "aggregate events by key: count, sum, min, max, mean, distinct, percentiles ... on EOF, every N or per time window",
	ArgsUsage: "",
	Description: `Groups events by the fields of --by (none: one group) and writes one event per
group with the key fields, then the accumulators:
  {"country":"DE","count":3,"sum_amount":12.5,"p90_latency":0.31}
Output names are the accumulator and the field: count, sum_F, min_F, max_F,
mean_F, first_F, last_F, distinct_F, approx_distinct_F, p50_F, p90_F, p99_F,
pQ_F for --percentile F:Q (F:0.999 gives p99.9_F), collect_F (plus
collect_F_dropped when more than --collect-max values came), in that order
whatever the order of the flags. Groups come out in the order they were
first seen. Without any accumulator, --count is
implied. Accumulator flags repeat and take lists: --sum a,b or --sum a --sum b.

Fields are names or dotted paths into nested objects (user.id); they are read
from the payload bytes without decoding the whole event.

Keys: an event without a --by field falls in the group whose key is null
there (an explicit null joins the same group). Key values compare as jq
compares them: "D\u0045" and "DE" are one key, so are 1 and 1.0.

Values: an absent field is skipped by every accumulator (count counts
events). For sum, min, max, mean and percentiles null is skipped too, and any
other non-number (a string "12" included) sends the whole event to the error
lane (kind "type"): it is then counted nowhere. mean is sum/values. sum is
compensated (Neumaier) so long sums do not drift, and rounded to the most
decimal places among its inputs (money stays money: 0.1+0.2 is 0.3, not
0.30000000000000004); mean is rounded to 15 significant digits.

Bounds: --distinct is exact, memory grows with the distinct values;
--approx-distinct is a HyperLogLog (precision 14, 16 KiB per group at most,
standard error about 0.8%). Percentiles are exact while a group holds at
most 4096 values (the value at rank int(Q*n) of the sorted values, as mlr
reports them without -i); past that they are DDSketch estimates within 1% of
the true value at that rank. Either way a percentile lies within the group's
minimum and maximum. --collect keeps the first --collect-max values of a group.

Emission (one schedule per run):
  on EOF (default)   one event per group when input ends.
  --every N          the running state of every group after each N events,
                     and at EOF unless nothing came since the last one.
  --window D         tumbling windows of length D on event time (--time-field,
                     RFC 3339 strings or epoch seconds) or on processing time
                     (--processing-time); with --slide S, hopping windows of
                     length D starting every S. Window events begin with
                     window_start and window_end (RFC 3339, UTC).
Event time: windows are aligned to the epoch. The watermark is the latest
event time seen minus --lateness; with several inputs (a fan-in) each input
has its own, and the stage's is the least over the inputs that have not
ended (nothing closes before every input has sent an event; an input that
ends naturally holds nothing back), so ordered inputs give the same windows
however they interleave. A watermark frame on an input (docs/wire.md) moves
that input's watermark on without an event. A window [start, end) is
emitted, complete, once the watermark reaches its end. An event is late only when a window it
belongs to was already emitted (its end at or before the watermark): it goes
to the error lane (kind "late") and counts in no window. An event older than
the latest one but whose windows are still open counts as usual. An event
without a usable time goes to the error lane (kind "type").

End of input: natural EOF emits the final state (every open window).
A stop (Ctrl-C of an infinite source, a stopped EOF) emits the state so far,
every event marked "partial":true. A truncated or poisoned input (an upstream
broke) emits nothing at the end: no partial result passes for a complete
one; the stage writes a truncated EOF and exits 1.`,
	Examples: `obz read testdata/orders.csv | obz agg --by country --count --sum amount -r
obz read testdata/orders.csv | obz filter '.amount > 20' | obz agg --by country,device --mean amount --max amount -r
obz read testdata/orders.csv | obz agg --by country --window 1h --time-field ts --p90 amount -r
obz gen --count 100000 | obz agg --by device --approx-distinct user --percentile amount:0.999 -r
obz gen --count 1000 | obz agg --by country --every 500 --count -r`,
	Flags: []runner.Flag{
		{Name: "by", Usage: "group by these fields (comma-separated or repeated)", Default: []string{}},
		{Name: "count", Usage: "count the events of each group", Default: false},
		{Name: "sum", Usage: "sum of FIELD", Default: []string{}},
		{Name: "min", Usage: "least value of FIELD", Default: []string{}},
		{Name: "max", Usage: "greatest value of FIELD", Default: []string{}},
		{Name: "mean", Usage: "mean of FIELD", Default: []string{}},
		{Name: "first", Usage: "first value of FIELD", Default: []string{}},
		{Name: "last", Usage: "last value of FIELD", Default: []string{}},
		{Name: "distinct", Usage: "number of distinct values of FIELD (exact)", Default: []string{}},
		{Name: "approx-distinct", Usage: "number of distinct values of FIELD (HyperLogLog, ~0.8% error)", Default: []string{}},
		{Name: "p50", Usage: "median of FIELD (exact up to 4096 values per group, then within 1%)", Default: []string{}},
		{Name: "p90", Usage: "90th percentile of FIELD", Default: []string{}},
		{Name: "p99", Usage: "99th percentile of FIELD", Default: []string{}},
		{Name: "percentile", Usage: "FIELD:Q, the Q quantile of FIELD (Q in 0..1)", Default: []string{}},
		{Name: "collect", Usage: "array of the values of FIELD", Default: []string{}},
		{Name: "collect-max", Usage: "values kept per group by --collect", Default: 100},
		{Name: "every", Usage: "emit the running state every N events", Default: 0},
		{Name: "window", Usage: "emit per time window of this length (tumbling)", Default: time.Duration(0)},
		{Name: "slide", Usage: "start a window every D (hopping windows; default: --window)", Default: time.Duration(0)},
		{Name: "time-field", Usage: "event time field for --window (RFC 3339 or epoch seconds)", Default: ""},
		{Name: "lateness", Usage: "allowed lateness of event time before an event is late", Default: time.Duration(0)},
		{Name: "processing-time", Usage: "windows on the clock instead of event time", Default: false},
	},
	PartitionKeys: func(o runner.Options) []string {
		if o.Int("every") > 0 || o.Duration("window") > 0 {
			return nil // running states and windows follow the whole stream, not one key
		}
		return splitList(o.Strings("by"))
	},
	New: newAgg,
}

// aggGroup is one group's state in one table.
type aggGroup struct {
	key  []byte // the key members, `"country":"DE",` (with the comma)
	accs []accState
}

// aggTable is the groups of one window pane (or of the whole run).
type aggTable struct {
	groups map[string]*aggGroup
	order  []*aggGroup
}

func newAggTable() *aggTable { return &aggTable{groups: map[string]*aggGroup{}} }

type agg struct {
	keyNames   [][]byte // `"country":`
	accs       []accSpec
	fieldNames []string
	x          *expr.Extractor
	vals       [][]byte
	nums       []float64
	numeric    []bool // field i is read as a number
	canon      []bool // field i needs its canonical form
	timeField  int    // index among fields, -1 without event time
	collectMax int
	every      int
	since      int // events since the last emit with --every

	table *aggTable // without --window
	win   *windower // with --window

	key, scratch, out, bounds []byte
	spans                     [][2]int
}

func newAgg(o runner.Options) (runner.Stage, error) {
	if len(o.Args()) > 0 {
		return nil, runner.Usagef("agg takes no arguments, got %q (fields go in --by, --sum ...)", o.Args()[0])
	}
	g := &agg{timeField: -1, collectMax: o.Int("collect-max"), every: o.Int("every"), table: newAggTable()}
	var paths []expr.Path
	field := func(name string) int {
		if i := slices.Index(g.fieldNames, name); i >= 0 {
			return i
		}
		g.fieldNames = append(g.fieldNames, name)
		paths = append(paths, expr.ParsePath(name))
		return len(paths) - 1
	}
	for _, k := range splitList(o.Strings("by")) {
		field(k)
		g.keyNames = append(g.keyNames, append(wire.AppendString(nil, k), ':'))
	}
	add := func(kind accKind, f, name string, q float64) {
		a := accSpec{kind: kind, field: -1, name: name, q: q}
		if f != "" {
			a.field = field(f)
		}
		a.key = append(wire.AppendString(nil, name), ':')
		g.accs = append(g.accs, a)
	}
	if o.Bool("count") {
		add(accCount, "", "count", 0)
	}
	for _, af := range accFlags {
		for _, f := range splitList(o.Strings(af.flag)) {
			add(af.kind, f, af.prefix+"_"+f, af.q)
		}
	}
	for _, p := range splitList(o.Strings("percentile")) {
		f, q, prefix, err := parsePercentile(p)
		if err != nil {
			return nil, err
		}
		add(accQuantile, f, prefix+"_"+f, q)
	}
	if len(g.accs) == 0 {
		add(accCount, "", "count", 0)
	}
	if g.collectMax < 0 {
		return nil, runner.Usagef("--collect-max must be 0 or more, got %d", g.collectMax)
	}
	if g.every < 0 {
		return nil, runner.Usagef("--every must be 1 or more, got %d", g.every)
	}
	win, err := newWindower(o)
	if err != nil {
		return nil, err
	}
	if win != nil {
		if g.every > 0 {
			return nil, runner.Usagef("--every and --window are two emission schedules: choose one")
		}
		if tf := o.String("time-field"); tf != "" {
			g.timeField = field(tf)
		}
		g.win, g.table = win, nil
	}
	if len(paths) > expr.MaxPaths {
		return nil, runner.Usagef("agg reads at most %d distinct fields, got %d", expr.MaxPaths, len(paths))
	}
	g.x = expr.NewExtractor(paths)
	g.vals = make([][]byte, len(paths))
	g.nums = make([]float64, len(paths))
	g.numeric = make([]bool, len(paths))
	g.canon = make([]bool, len(paths))
	g.spans = make([][2]int, len(paths))
	for _, a := range g.accs {
		if a.field < 0 {
			continue
		}
		if a.numeric() {
			g.numeric[a.field] = true
		}
		if a.kind == accDistinct || a.kind == accApprox {
			g.canon[a.field] = true
		}
	}
	return g, nil
}

// ReadsMembers has the reader index the members of each event it checks
// (runner.MemberReader): read takes the fields from the index instead of
// walking the payload again.
func (g *agg) ReadsMembers() bool { return g.x.Len() > 0 }

func (g *agg) Event(ev *wire.Frame, em *runner.Emitter) error {
	if err := g.read(ev.Payload, ev.Members); err != nil {
		return err
	}
	return g.apply(em)
}

// read reads the fields of the event p (members: its index, or nil;
// wire.Frame.Members) into g.vals (g.nums for numbers,
// g.key the key, g.scratch the canonical values), touching no group: an
// event that is not an object, or has a non-number where a number goes, is
// an error event.
func (g *agg) read(p []byte, members []uint32) error {
	if !g.x.ExtractMembers(p, members, g.vals) {
		return runner.EventErrorf("type", "the event is not a JSON object")
	}
	// Check every number before touching any state: an event is counted
	// everywhere or nowhere.
	for i, raw := range g.vals {
		if !g.numeric[i] || raw == nil || string(raw) == "null" {
			continue
		}
		f, ok := expr.NumberValue(raw)
		if !ok {
			return runner.EventErrorf("type", "field %s is %s, not a number", g.fieldNames[i], clip(raw))
		}
		g.nums[i] = f
	}
	g.key = g.key[:0]
	for i := range g.keyNames {
		if i > 0 {
			g.key = append(g.key, ',')
		}
		g.key = expr.AppendCanonical(g.key, g.vals[i])
	}
	g.scratch = g.scratch[:0]
	for i, raw := range g.vals {
		if g.canon[i] && raw != nil {
			s := len(g.scratch)
			g.scratch = expr.AppendCanonical(g.scratch, raw)
			g.spans[i] = [2]int{s, len(g.scratch)}
		}
	}
	return nil
}

// apply adds the event read to its group (or windows), and emits what is
// due.
func (g *agg) apply(em *runner.Emitter) error {
	if g.win != nil {
		return g.windowEvent(em)
	}
	g.update(g.table)
	if g.every > 0 {
		if g.since++; g.since >= g.every {
			g.since = 0
			return g.emitTable(em, g.table, nil, false)
		}
	}
	return nil
}

// update adds the current event to its group in t.
func (g *agg) update(t *aggTable) {
	grp := t.groups[string(g.key)]
	if grp == nil {
		grp = &aggGroup{accs: make([]accState, len(g.accs))}
		for i, kn := range g.keyNames {
			grp.key = append(grp.key, kn...)
			grp.key = expr.AppendCanonical(grp.key, g.vals[i])
			grp.key = append(grp.key, ',')
		}
		t.groups[string(g.key)] = grp
		t.order = append(t.order, grp)
	}
	for i := range g.accs {
		a := &g.accs[i]
		if a.field < 0 {
			grp.accs[i].add(a, nil, 0, nil, 0)
			continue
		}
		raw := g.vals[a.field]
		if raw == nil || a.numeric() && string(raw) == "null" {
			continue
		}
		var canon []byte
		if g.canon[a.field] {
			sp := g.spans[a.field]
			canon = g.scratch[sp[0]:sp[1]]
		}
		grp.accs[i].add(a, raw, g.nums[a.field], canon, g.collectMax)
	}
}

// emitTable writes one event per group of t; bounds is the window's
// members (window_start, window_end) or nil.
func (g *agg) emitTable(em *runner.Emitter, t *aggTable, bounds []byte, partial bool) error {
	if len(t.order) == 0 && len(g.keyNames) == 0 && g.win == nil {
		// No --by: one group even when no event came (count 0).
		t.groups[""] = &aggGroup{accs: make([]accState, len(g.accs))}
		t.order = append(t.order, t.groups[""])
	}
	for _, grp := range t.order {
		out := append(g.out[:0], '{')
		out = append(out, bounds...)
		out = append(out, grp.key...)
		for i := range g.accs {
			if i > 0 {
				out = append(out, ',')
			}
			out = grp.accs[i].appendResult(out, &g.accs[i])
		}
		if partial {
			out = append(out, `,"partial":true`...)
		}
		out = append(out, '}')
		g.out = out
		if err := em.Emit(out); err != nil {
			return err
		}
	}
	return nil
}

func (g *agg) Finish(em *runner.Emitter, end wire.EOFKind) error {
	partial := end != wire.Natural
	if g.win != nil {
		if g.win.processing {
			// Windows the clock has passed are complete, stop or not.
			if err := g.win.closeUpTo(g.win.now().UnixNano(), g.emitWindow(em, false)); err != nil {
				return err
			}
		}
		return g.win.closeAll(g.emitWindow(em, partial))
	}
	if g.every > 0 && g.since == 0 && len(g.table.order) > 0 && !partial {
		return nil // the last --every emit was the final state
	}
	return g.emitTable(em, g.table, nil, partial)
}

// clip shortens a raw value for an error message.
func clip(raw []byte) string {
	if len(raw) > 40 {
		return string(raw[:40]) + "..."
	}
	return string(raw)
}
