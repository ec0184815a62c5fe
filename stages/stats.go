package stages

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

var statsSpec = runner.Spec{
	Name:           "stats",
	Family:         runner.FamilyObserver,
	PassesPayloads: true,
	Summary:        "pass events through; profile their fields on stderr",
	Description: `Passes every event through unchanged and prints a profile of the stream's
fields on stderr at the end (and every --interval while events flow): for
each top-level field of the event objects, in the order first seen,

  count     events that have the field (null included)
  nulls     events where it is null
  distinct  distinct values: exact up to 10000, then a HyperLogLog estimate
            (about 1% error), shown as ~N; values are compared as JSON
            text, so 1 and 1.0 are two values, and so are "é" and "\u00e9"
  types     the JSON types seen, with counts when there is more than one
  min, max  for numbers (as numbers) and strings (byte order); the table
            shows the numbers' when a field has both, --json shows both

Only top-level fields are profiled; nested objects and arrays count as one
value of type object or array. Events that are not objects are counted in the
header. Fields are read from the payload bytes without decoding whole
events. At most --max-fields fields are tracked (streams with data in their
keys have unbounded fields); values of further fields are counted in the
header. With --json each report is one JSON object per line instead of a
table. A report after a broken input is marked incomplete.`,
	Examples: `obz read testdata/orders.ndjson | obz stats > /dev/null
obz gen --count 100000 | obz stats --json -r | obz head -n 1 -r > /dev/null
obz gen --rate 1000/s | obz stats --interval 5s | obz write stats.ndjson   # until Ctrl-C`,
	Flags: []runner.Flag{
		{Name: "interval", Usage: "also print a report every `DURATION` while events flow (0: only at the end)", Default: time.Duration(0)},
		{Name: "json", Usage: "print reports as JSON lines instead of tables", Default: false},
		{Name: "max-fields", Usage: "track at most `N` fields", Default: 1000},
	},
	New: newStats,
}

// JSON types, in the order the table lists them.
var statsTypes = [...]string{"string", "number", "bool", "null", "object", "array"}

type fieldStats struct {
	name           string
	count, nulls   uint64
	types          [len(statsTypes)]uint64
	numMin, numMax float64
	strMin, strMax []byte // raw string contents, escapes as written
	distinct       distinctCount
}

type statsStage struct {
	asJSON    bool
	maxFields int
	clock     tick

	fields     map[string]*fieldStats
	order      []*fieldStats
	events     uint64
	notObjects uint64
	untracked  uint64
	errors     uint64
	em         *runner.Emitter
	done       bool
}

func newStats(o runner.Options) (runner.Stage, error) {
	if len(o.Args()) > 0 {
		return nil, runner.Usagef("stats takes no arguments, got %q", o.Args()[0])
	}
	s := &statsStage{asJSON: o.Bool("json"), maxFields: o.Int("max-fields"), fields: map[string]*fieldStats{}}
	if s.maxFields < 1 {
		return nil, runner.Usagef("--max-fields must be 1 or more, got %d", s.maxFields)
	}
	if iv := o.Duration("interval"); iv < 0 {
		return nil, runner.Usagef("--interval must not be negative, got %v", iv)
	} else {
		s.clock.every = iv
	}
	return s, nil
}

func (s *statsStage) Event(ev *wire.Frame, em *runner.Emitter) error {
	s.em = em
	s.events++
	if !eachField(ev.Payload, s.field) {
		s.notObjects++
	}
	if s.clock.every > 0 {
		if s.events == 1 {
			s.clock.reset(time.Now())
		} else if _, due := s.clock.due(); due {
			s.report(em, "running")
		}
	}
	return em.Emit(ev.Payload)
}

// ErrorEvent counts an error event and passes it on as the runner would.
func (s *statsStage) ErrorEvent(ev *wire.Frame, em *runner.Emitter) error {
	s.errors++
	return em.EmitError(ev.Err, ev.Payload)
}

func (s *statsStage) field(key, val []byte) {
	f := s.fields[string(key)]
	if f == nil {
		if len(s.order) >= s.maxFields {
			s.untracked++
			return
		}
		name := string(key)
		if bytes.IndexByte(key, '\\') >= 0 {
			json.Unmarshal(append(append([]byte{'"'}, key...), '"'), &name)
		}
		f = &fieldStats{name: name}
		s.fields[string(key)] = f
		s.order = append(s.order, f)
	}
	f.count++
	f.distinct.add(hashBytes(val))
	switch val[0] {
	case '"':
		f.types[0]++
		str := val[1 : len(val)-1]
		if f.types[0] == 1 || bytes.Compare(str, f.strMin) < 0 {
			f.strMin = append(f.strMin[:0], str...)
		}
		if f.types[0] == 1 || bytes.Compare(str, f.strMax) > 0 {
			f.strMax = append(f.strMax[:0], str...)
		}
	case 't', 'f':
		f.types[2]++
	case 'n':
		f.types[3]++
		f.nulls++
	case '{':
		f.types[4]++
	case '[':
		f.types[5]++
	default:
		f.types[1]++
		v := parseNumber(val)
		if f.types[1] == 1 || v < f.numMin {
			f.numMin = v
		}
		if f.types[1] == 1 || v > f.numMax {
			f.numMax = v
		}
	}
}

func (s *statsStage) Finish(em *runner.Emitter, end wire.EOFKind) error {
	s.done = true
	at := "end of input"
	if end == wire.Stopped {
		at = "stopped"
	}
	s.report(em, at)
	return nil
}

// Abort reports what was seen, marked incomplete.
func (s *statsStage) Abort() {
	if !s.done && s.em != nil {
		s.done = true
		s.report(s.em, "incomplete")
	}
}

type fieldReport struct {
	Name      string            `json:"name"`
	Count     uint64            `json:"count"`
	Nulls     uint64            `json:"nulls"`
	Distinct  uint64            `json:"distinct"`
	Estimated bool              `json:"distinct_estimated"`
	Types     map[string]uint64 `json:"types"`
	Min       *float64          `json:"min,omitempty"`
	Max       *float64          `json:"max,omitempty"`
	MinString *string           `json:"min_string,omitempty"`
	MaxString *string           `json:"max_string,omitempty"`
}

type statsReport struct {
	Stage      string        `json:"stage"`
	At         string        `json:"at"`
	Events     uint64        `json:"events"`
	NotObjects uint64        `json:"not_objects"`
	Errors     uint64        `json:"error_events"`
	Untracked  uint64        `json:"untracked_values"`
	Fields     []fieldReport `json:"fields"`
}

func (s *statsStage) build(name, at string) statsReport {
	r := statsReport{Stage: name, At: at, Events: s.events, NotObjects: s.notObjects, Errors: s.errors,
		Untracked: s.untracked, Fields: make([]fieldReport, 0, len(s.order))}
	for _, f := range s.order {
		fr := fieldReport{Name: f.name, Count: f.count, Nulls: f.nulls, Types: map[string]uint64{}}
		fr.Distinct, fr.Estimated = f.distinct.estimate()
		for i, n := range f.types {
			if n > 0 {
				fr.Types[statsTypes[i]] = n
			}
		}
		if f.types[1] > 0 {
			fr.Min, fr.Max = &f.numMin, &f.numMax
		}
		if f.types[0] > 0 {
			lo, hi := jsonStringText(f.strMin), jsonStringText(f.strMax)
			fr.MinString, fr.MaxString = &lo, &hi
		}
		r.Fields = append(r.Fields, fr)
	}
	return r
}

func (s *statsStage) report(em *runner.Emitter, at string) {
	r := s.build(em.Name(), at)
	if s.asJSON {
		b, _ := json.Marshal(r)
		em.Stderr().Write(append(b, '\n'))
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] %s: %d events, %d fields", em.Name(), at, r.Events, len(r.Fields))
	for _, x := range []struct {
		n    uint64
		what string
	}{{r.NotObjects, "not objects"}, {r.Errors, "error events"}, {r.Untracked, "values of untracked fields (--max-fields)"}} {
		if x.n > 0 {
			fmt.Fprintf(&b, ", %d %s", x.n, x.what)
		}
	}
	b.WriteString("\n")
	if len(r.Fields) > 0 {
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "field\tcount\tnulls\tdistinct\ttypes\tmin\tmax")
		for i, f := range r.Fields {
			dist := strconv.FormatUint(f.Distinct, 10)
			if f.Estimated {
				dist = "~" + dist
			}
			var types []string
			for _, t := range statsTypes {
				if n := f.Types[t]; n > 0 && len(f.Types) > 1 {
					types = append(types, fmt.Sprintf("%s %d", t, n))
				} else if n > 0 {
					types = append(types, t)
				}
			}
			lo, hi := "", ""
			switch fs := s.order[i]; {
			case fs.types[1] > 0:
				lo, hi = formatNumber(fs.numMin), formatNumber(fs.numMax)
			case fs.types[0] > 0:
				lo, hi = shorten(strconv.Quote(*f.MinString)), shorten(strconv.Quote(*f.MaxString))
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\n", shorten(f.Name), f.Count, f.Nulls, dist, strings.Join(types, ", "), lo, hi)
		}
		tw.Flush()
	}
	em.Stderr().Write([]byte(b.String()))
}

func shorten(s string) string {
	if r := []rune(s); len(r) > 32 {
		return string(r[:31]) + "…"
	}
	return s
}

func formatNumber(v float64) string {
	if math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// jsonStringText decodes the contents of a JSON string (escapes as written).
func jsonStringText(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	var s string
	if json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s) != nil {
		return string(raw)
	}
	return s
}

// parseNumber reads a JSON number. Plain decimals of up to 15 digits (most
// numbers in practice) are converted exactly without allocating.
func parseNumber(b []byte) float64 {
	i, neg := 0, false
	if len(b) > 0 && b[0] == '-' {
		i, neg = 1, true
	}
	var mant uint64
	digits, frac, dot := 0, 0, false
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			mant = mant*10 + uint64(c-'0')
			digits++
			if dot {
				frac++
			}
		case c == '.' && !dot:
			dot = true
		default:
			digits = 99 // an exponent: the slow path
		}
	}
	if digits > 15 || digits == 0 {
		v, _ := strconv.ParseFloat(string(b), 64)
		return v
	}
	v := float64(mant) / math.Pow10(frac)
	if neg {
		v = -v
	}
	return v
}

// eachField calls fn with the raw key (escapes as written) and raw value of
// each top-level member of the JSON object p. It reports false when p is not
// an object, or is malformed (fn may have been called for earlier members).
func eachField(p []byte, fn func(key, val []byte)) bool {
	i := skipSpace(p, 0)
	if i >= len(p) || p[i] != '{' {
		return false
	}
	if i = skipSpace(p, i+1); i < len(p) && p[i] == '}' {
		return true
	}
	for i < len(p) && p[i] == '"' {
		end := skipJSONString(p, i)
		if end < 0 {
			return false
		}
		key := p[i+1 : end-1]
		if i = skipSpace(p, end); i >= len(p) || p[i] != ':' {
			return false
		}
		start := skipSpace(p, i+1)
		if end = skipJSONValue(p, start); end < 0 {
			return false
		}
		fn(key, p[start:end])
		switch i = skipSpace(p, end); {
		case i < len(p) && p[i] == ',':
			i = skipSpace(p, i+1)
		case i < len(p) && p[i] == '}':
			return true
		default:
			return false
		}
	}
	return false
}

func skipSpace(p []byte, i int) int {
	for i < len(p) && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r') {
		i++
	}
	return i
}

// skipJSONString returns the index after the string starting at p[i], or -1.
func skipJSONString(p []byte, i int) int {
	for j := i + 1; j < len(p); j++ {
		switch p[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipJSONValue returns the index after the value starting at p[i], or -1.
func skipJSONValue(p []byte, i int) int {
	if i >= len(p) {
		return -1
	}
	switch p[i] {
	case '"':
		return skipJSONString(p, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(p); j++ {
			switch p[j] {
			case '"':
				if j = skipJSONString(p, j); j < 0 {
					return -1
				}
				j--
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(p) && p[j] != ',' && p[j] != '}' && p[j] != ']' && p[j] != ' ' && p[j] != '\t' && p[j] != '\r' && p[j] != '\n' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// distinctCount counts distinct hashes exactly up to distinctExact, then
// estimates with a HyperLogLog of 2^14 registers (16 KiB, ~0.8% error).
type distinctCount struct {
	exact map[uint64]struct{}
	hll   []uint8
}

const (
	distinctExact = 10000
	hllBits       = 14
)

func (d *distinctCount) add(h uint64) {
	if d.hll != nil {
		d.hllAdd(h)
		return
	}
	if d.exact == nil {
		d.exact = map[uint64]struct{}{}
	}
	d.exact[h] = struct{}{}
	if len(d.exact) > distinctExact {
		d.hll = make([]uint8, 1<<hllBits)
		for h := range d.exact {
			d.hllAdd(h)
		}
		d.exact = nil
	}
}

func (d *distinctCount) hllAdd(h uint64) {
	idx := h >> (64 - hllBits)
	rank := uint8(bits.LeadingZeros64(h<<hllBits|1<<(hllBits-1))) + 1
	if rank > d.hll[idx] {
		d.hll[idx] = rank
	}
}

// estimate returns the count and whether it is an estimate.
func (d *distinctCount) estimate() (uint64, bool) {
	if d.hll == nil {
		return uint64(len(d.exact)), false
	}
	m := float64(len(d.hll))
	sum, zeros := 0.0, 0
	for _, r := range d.hll {
		sum += math.Ldexp(1, -int(r))
		if r == 0 {
			zeros++
		}
	}
	e := 0.7213 / (1 + 1.079/m) * m * m / sum
	if e <= 2.5*m && zeros > 0 {
		e = m * math.Log(m/float64(zeros)) // linear counting for small counts
	}
	return uint64(e + 0.5), true
}

// hashBytes is a fast 64-bit hash, fixed (reports are reproducible), with a
// final avalanche so that every bit is usable by the HyperLogLog.
func hashBytes(b []byte) uint64 {
	h := uint64(len(b)) * 0x9e3779b97f4a7c15
	for ; len(b) >= 8; b = b[8:] {
		h = (h ^ binary.LittleEndian.Uint64(b)) * 0xbf58476d1ce4e5b9
		h ^= h >> 31
	}
	var t uint64
	for i, c := range b {
		t |= uint64(c) << (8 * i)
	}
	h = (h ^ t) * 0x94d049bb133111eb
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	return h ^ h>>33
}
