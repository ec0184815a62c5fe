package stages

import (
	"container/list"
	"encoding/binary"
	"io"
	"time"

	"github.com/obz-dev/obz/expr"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

var dedupeSpec = runner.Spec{
	Name:           "dedupe",
	Family:         runner.FamilyStateful,
	PassesPayloads: true,
	Summary:        "drop repeated events (by key) within a bounded memory window",
	Description: `Passes the first event of each key and drops its repeats. The key is the
values of the --key fields (comma-separated; absent = null, values compare
as jq compares them), or the whole event when --key is not given (compared
without insignificant whitespace).

Memory is bounded, so "repeat" is relative to a window:
  --last N (default 100000)  the N most recently seen keys (an LRU: a
                             repeat makes its key recent again);
  --within D --time-field F  keys kept within D of event time: an event
                             repeats a key whose last passed event is less
                             than D older (or newer); a key is forgotten
                             once the latest event time seen is D past it.
                             --last still caps the keys held (default
                             1000000 here; the oldest go first).
A key forgotten by either bound passes again.

Dropping repeats is the stage's purpose, not an error: dropped events do not
go to the error lane; their number is reported on stderr at the end. With
--within, an event without a usable time (RFC 3339 or epoch seconds) goes to
the error lane (kind "type").`,
	Examples: `obz read testdata/orders.csv | obz dedupe --key customer -r
obz gen --count 100000 | obz dedupe --key user,device --last 1000 --stats -r > /tmp/firsts.ndjson
obz read testdata/orders.csv | obz dedupe --key customer --within 1h --time-field ts -r`,
	Flags: []runner.Flag{
		{Name: "key", Usage: "fields that make the key (comma-separated); default the whole event", Default: []string{}},
		{Name: "last", Usage: "remember the N most recent keys", Default: 0},
		{Name: "within", Usage: "remember keys for this long in event time (needs --time-field)", Default: time.Duration(0)},
		{Name: "time-field", Usage: "event time field for --within (RFC 3339 or epoch seconds)", Default: ""},
	},
	PartitionKeys: func(o runner.Options) []string { return splitList(o.Strings("key")) },
	New:           newDedupe,
}

// dedupeEntry is one remembered key: in the LRU order (--last) or in the
// order of event time (--within).
type dedupeEntry struct {
	key string
	t   int64 // event time of the last passed event (--within)
}

type dedupe struct {
	x       *expr.Extractor
	names   []string
	vals    [][]byte
	max     int
	within  int64
	timeIdx int
	keys    map[string]*list.Element
	order   *list.List // front = most recent (LRU) or latest (--within)
	maxT    int64

	key            []byte
	seen, dropped  uint64
	evictedByLimit uint64
}

func newDedupe(o runner.Options) (runner.Stage, error) {
	if len(o.Args()) > 0 {
		return nil, runner.Usagef("dedupe takes no arguments, got %q (the key goes in --key)", o.Args()[0])
	}
	d := &dedupe{max: o.Int("last"), within: int64(o.Duration("within")), timeIdx: -1,
		keys: map[string]*list.Element{}, order: list.New()}
	tf := o.String("time-field")
	switch {
	case d.max < 0 || d.within < 0:
		return nil, runner.Usagef("--last and --within must be positive")
	case d.within > 0 && tf == "":
		return nil, runner.Usagef("--within needs --time-field FIELD (event time)")
	case d.within == 0 && tf != "":
		return nil, runner.Usagef("--time-field is for --within")
	}
	if d.max == 0 {
		d.max = 100_000
		if d.within > 0 {
			d.max = 1_000_000
		}
	}
	var paths []expr.Path
	d.names = splitList(o.Strings("key"))
	for _, k := range d.names {
		paths = append(paths, expr.ParsePath(k))
	}
	if tf != "" {
		d.timeIdx = len(paths)
		d.names = append(d.names, tf)
		paths = append(paths, expr.ParsePath(tf))
	}
	if len(paths) > expr.MaxPaths {
		return nil, runner.Usagef("dedupe reads at most %d fields", expr.MaxPaths)
	}
	d.x = expr.NewExtractor(paths)
	d.vals = make([][]byte, len(paths))
	return d, nil
}

// ReadsMembers has the reader index the members of each event it checks
// (runner.MemberReader): read takes the fields from the index instead of
// walking the payload again.
func (d *dedupe) ReadsMembers() bool { return d.x.Len() > 0 }

func (d *dedupe) Event(ev *wire.Frame, em *runner.Emitter) error {
	t, err := d.read(ev.Payload, ev.Members)
	if err != nil {
		return err
	}
	return d.apply(ev, t, em)
}

// read returns the event time of the event p (members: its index, or
// nil) (with --within) and sets
// d.key to its key, touching no state.
func (d *dedupe) read(p []byte, members []uint32) (int64, error) {
	nKey := len(d.vals)
	if d.timeIdx >= 0 {
		nKey--
	}
	if !d.x.ExtractMembers(p, members, d.vals) && len(d.vals) > 0 {
		return 0, runner.EventErrorf("type", "the event is not a JSON object")
	}
	var t int64
	if d.timeIdx >= 0 {
		raw := d.vals[d.timeIdx]
		ok := raw != nil
		if ok {
			t, ok = eventTime(raw)
		}
		if !ok {
			return 0, runner.EventErrorf("type", "field %s is %s, not an RFC 3339 time or epoch seconds", d.names[d.timeIdx], orAbsent(raw))
		}
	}
	d.key = d.key[:0]
	if nKey == 0 {
		d.key = expr.AppendCanonical(d.key, p)
	}
	for i := range nKey {
		if i > 0 {
			d.key = append(d.key, ',')
		}
		d.key = expr.AppendCanonical(d.key, d.vals[i])
	}
	return t, nil
}

// apply passes ev, read as key d.key at time t, on unless it repeats a
// key held.
func (d *dedupe) apply(ev *wire.Frame, t int64, em *runner.Emitter) error {
	p := ev.Payload
	if d.timeIdx >= 0 {
		d.maxT = max(d.maxT, t)
		d.expire()
	}
	d.seen++
	if el, ok := d.keys[string(d.key)]; ok {
		e := el.Value.(*dedupeEntry)
		if d.within == 0 {
			d.order.MoveToFront(el)
			d.dropped++
			return nil
		}
		if dt := t - e.t; dt < d.within && dt > -d.within {
			d.dropped++
			return nil
		}
		// Far enough from the last passed one: this event passes and
		// becomes the key's reference.
		d.order.Remove(el)
		delete(d.keys, e.key)
	}
	e := &dedupeEntry{key: string(d.key), t: t}
	d.keys[e.key] = d.order.PushFront(e)
	if d.within > 0 {
		// Keep the list ordered by time, latest first, for expiry.
		el := d.keys[e.key]
		for prev := el.Next(); prev != nil && prev.Value.(*dedupeEntry).t > t; prev = el.Next() {
			d.order.MoveAfter(el, prev)
		}
	}
	if d.order.Len() > d.max {
		old := d.order.Back()
		delete(d.keys, old.Value.(*dedupeEntry).key)
		d.order.Remove(old)
		if d.within > 0 {
			d.evictedByLimit++
		}
	}
	return em.Emit(p)
}

// expire forgets the keys whose time is --within behind the latest.
func (d *dedupe) expire() {
	for el := d.order.Back(); el != nil; el = d.order.Back() {
		e := el.Value.(*dedupeEntry)
		if d.maxT-e.t < d.within {
			return
		}
		delete(d.keys, e.key)
		d.order.Remove(el)
	}
}

func orAbsent(raw []byte) string {
	if raw == nil {
		return "absent"
	}
	return clip(raw)
}

func (d *dedupe) Finish(em *runner.Emitter, _ wire.EOFKind) error {
	if d.dropped > 0 || d.evictedByLimit > 0 {
		em.Warnf("dropped %d repeat(s) of %d events; %d keys held at the end", d.dropped, d.seen, len(d.keys))
	}
	if d.evictedByLimit > 0 {
		em.Warnf("%d key(s) were forgotten before --within passed because --last %d keys were held", d.evictedByLimit, d.max)
	}
	return nil
}

// As a runner.Concurrent (obz parallel -j N -- dedupe): workers read the
// events (the key, the time) and record them as the event's one output, 8
// bytes of the time then the key; the stage's goroutine checks them
// against the keys held in input order (apply), so what passes is what
// one dedupe passes (--last N holds N keys in all).

var _ runner.Concurrent = (*dedupe)(nil)

// NewWorker reads events on a worker's goroutine.
func (d *dedupe) NewWorker(io.Writer) (runner.Worker, error) {
	return &dedupeWorker{d: &dedupe{x: d.x, names: d.names, timeIdx: d.timeIdx, vals: make([][]byte, len(d.vals))}}, nil
}

type dedupeWorker struct {
	d   *dedupe
	rec []byte
}

func (w *dedupeWorker) Eval(ev *wire.Frame, a *runner.Answer) error {
	t, err := w.d.read(ev.Payload, ev.Members)
	if err != nil {
		return err
	}
	w.rec = binary.LittleEndian.AppendUint64(w.rec[:0], uint64(t))
	w.rec = append(w.rec, w.d.key...)
	return a.Emit(w.rec)
}

// EmitAnswer checks ev as a worker read it.
func (d *dedupe) EmitAnswer(ev *wire.Frame, a *runner.Answer, em *runner.Emitter) error {
	if a.Outputs() == 0 {
		return a.Err()
	}
	r := a.Output(0)
	d.key = append(d.key[:0], r[8:]...)
	return d.apply(ev, int64(binary.LittleEndian.Uint64(r)), em)
}
