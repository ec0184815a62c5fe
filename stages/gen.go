package stages

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

var genSpec = runner.Spec{
	Name:      "gen",
	Family:    runner.FamilySource,
	Summary:   "generate synthetic events (demos, tests, benchmarks)",
	ArgsUsage: "",
	Description: `Writes synthetic events: --count N of them, or without end when --count is 0
(the default; stop it with Ctrl-C, or downstream with obz head). The same
--seed, --count and fields give byte-identical output on every machine.

Without --field, events look like web shop orders:
  {"id":1,"ts":"2026-01-01T00:00:02Z","user":"u4821","country":"DE",
   "device":"ios","amount":12.34,"tags":["web"],"msg":"..."}
(about 200 bytes; country and device are skewed like real traffic; amount
is uniform in 0.01..100.00, so '.amount > 50' keeps about half).

--field NAME=GEN (repeatable) replaces that with your own fields, in order:
  seq[:START]            1, 2, 3 ... (or from START)
  int:MIN..MAX           uniform integer
  float:MIN..MAX[:DIGITS] uniform number with DIGITS decimals (default 2)
  choice:A,B,C           one of the strings, uniformly
  time[:START][/STEP]    RFC 3339 timestamps from START (default
                         2026-01-01T00:00:00Z) advancing by STEP (default 1s)
  bool                   true or false
  const:VALUE            VALUE as a string

--rate N/s (or N/m) paces the output in real time; events are flushed as
they are made, so a downstream stage sees each one at once.`,
	Examples: `obz gen --count 5 -r
obz gen --count 1000000 --seed 7 | obz filter '.amount > 50' --stats | obz write big.ndjson
obz gen --count 3 --field id=seq --field level=choice:info,warn,error --field at=time:2026-01-01T00:00:00Z/5s -r
obz gen --rate 10/s | obz map '{id, amount}'   # until Ctrl-C`,
	Flags: []runner.Flag{
		{Name: "count", Short: "n", Usage: "number of events; 0 = without end", Default: 0},
		{Name: "seed", Usage: "random seed: the same seed gives the same events", Default: 1},
		{Name: "rate", Usage: "events per second (N, N/s or N/m); 0 = as fast as possible", Default: ""},
		{Name: "field", Usage: "NAME=GEN: generate this field (repeatable; see DESCRIPTION)", Default: []string{}},
		{Name: "start", Usage: "timestamp of the first event of the default schema (RFC 3339)", Default: "2026-01-01T00:00:00Z"},
	},
	New: newGen,
}

type fieldGen struct {
	key []byte // `"name":` already encoded
	gen func(r *rand.Rand, dst []byte) []byte
}

type gen struct {
	count  int
	seed   uint64
	every  time.Duration // pause between events; 0 = none
	fields []fieldGen    // nil = default schema
	start  time.Time
}

func newGen(o runner.Options) (runner.Stage, error) {
	if len(o.Args()) > 0 {
		return nil, runner.Usagef("gen takes no arguments, got %q", o.Args()[0])
	}
	g := &gen{count: o.Int("count"), seed: uint64(o.Int("seed"))}
	if g.count < 0 {
		return nil, runner.Usagef("--count must be 0 (without end) or more, got %d", g.count)
	}
	var err error
	if g.start, err = time.Parse(time.RFC3339, o.String("start")); err != nil {
		return nil, runner.Usagef("--start: %v", err)
	}
	if r := o.String("rate"); r != "" {
		if g.every, err = parseRate(r); err != nil {
			return nil, err
		}
	}
	for _, spec := range o.Strings("field") {
		f, err := parseFieldGen(spec)
		if err != nil {
			return nil, err
		}
		g.fields = append(g.fields, f)
	}
	return g, nil
}

// parseRate turns "100", "100/s" or "30/m" into the pause between events.
func parseRate(s string) (time.Duration, error) {
	num, unit, _ := strings.Cut(s, "/")
	per := time.Second
	switch unit {
	case "", "s":
	case "m":
		per = time.Minute
	case "h":
		per = time.Hour
	default:
		return 0, runner.Usagef("--rate %q: the unit must be /s, /m or /h", s)
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n < 0 {
		return 0, runner.Usagef("--rate %q: want a number of events like 100/s", s)
	}
	if n == 0 {
		return 0, nil
	}
	return time.Duration(float64(per) / n), nil
}

func parseFieldGen(spec string) (fieldGen, error) {
	name, g, ok := strings.Cut(spec, "=")
	if !ok || name == "" {
		return fieldGen{}, runner.Usagef("--field %q: want NAME=GEN, e.g. id=seq or level=choice:info,warn", spec)
	}
	kind, arg, _ := strings.Cut(g, ":")
	key := append(wire.AppendString(nil, name), ':')
	bad := func(format string, args ...any) (fieldGen, error) {
		return fieldGen{}, runner.Usagef("--field %q: %s", spec, fmt.Sprintf(format, args...))
	}
	switch kind {
	case "seq":
		n := int64(1)
		if arg != "" {
			v, err := strconv.ParseInt(arg, 10, 64)
			if err != nil {
				return bad("seq:START needs an integer")
			}
			n = v
		}
		n--
		return fieldGen{key, func(_ *rand.Rand, dst []byte) []byte { n++; return strconv.AppendInt(dst, n, 10) }}, nil
	case "int":
		lo, hi, err := parseRange(arg, strconv.Atoi)
		if err != nil {
			return bad("int:MIN..MAX with integers, e.g. int:1..100")
		}
		return fieldGen{key, func(r *rand.Rand, dst []byte) []byte {
			return strconv.AppendInt(dst, int64(lo+r.IntN(hi-lo+1)), 10)
		}}, nil
	case "float":
		rng, digits, _ := strings.Cut(arg, ":")
		lo, hi, err := parseRange(rng, func(s string) (float64, error) { return strconv.ParseFloat(s, 64) })
		d := 2
		if digits != "" {
			d, _ = strconv.Atoi(digits)
		}
		if err != nil || d < 0 || d > 10 {
			return bad("float:MIN..MAX[:DIGITS], e.g. float:0..100:2")
		}
		return fieldGen{key, func(r *rand.Rand, dst []byte) []byte {
			return strconv.AppendFloat(dst, lo+r.Float64()*(hi-lo), 'f', d, 64)
		}}, nil
	case "choice":
		opts := strings.Split(arg, ",")
		if arg == "" {
			return bad("choice:A,B,C needs at least one value")
		}
		enc := make([][]byte, len(opts))
		for i, o := range opts {
			enc[i] = wire.AppendString(nil, o)
		}
		return fieldGen{key, func(r *rand.Rand, dst []byte) []byte { return append(dst, enc[r.IntN(len(enc))]...) }}, nil
	case "time":
		startS, stepS, _ := strings.Cut(arg, "/")
		t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		step := time.Second
		var err error
		if startS != "" {
			if t, err = time.Parse(time.RFC3339, startS); err != nil {
				return bad("time:START/STEP needs an RFC 3339 START, e.g. time:2026-01-01T00:00:00Z/1s")
			}
		}
		if stepS != "" {
			if step, err = time.ParseDuration(stepS); err != nil {
				return bad("time:START/STEP needs a STEP like 1s or 250ms")
			}
		}
		t = t.Add(-step)
		return fieldGen{key, func(_ *rand.Rand, dst []byte) []byte {
			t = t.Add(step)
			dst = append(dst, '"')
			dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
			return append(dst, '"')
		}}, nil
	case "bool":
		return fieldGen{key, func(r *rand.Rand, dst []byte) []byte { return strconv.AppendBool(dst, r.IntN(2) == 1) }}, nil
	case "const":
		v := wire.AppendString(nil, arg)
		return fieldGen{key, func(_ *rand.Rand, dst []byte) []byte { return append(dst, v...) }}, nil
	}
	return bad("unknown generator %q (seq, int, float, choice, time, bool, const)", kind)
}

func parseRange[T int | float64](s string, parse func(string) (T, error)) (T, T, error) {
	a, b, ok := strings.Cut(s, "..")
	if !ok {
		return 0, 0, fmt.Errorf("no ..")
	}
	lo, err := parse(a)
	if err != nil {
		return 0, 0, err
	}
	hi, err := parse(b)
	if err != nil || hi < lo {
		return 0, 0, fmt.Errorf("bad range")
	}
	return lo, hi, nil
}

func (g *gen) Produce(ctx context.Context, em *runner.Emitter) error {
	r := rand.New(rand.NewPCG(g.seed, 0x9e3779b97f4a7c15))
	buf := make([]byte, 0, 512)
	ts := g.start.Unix()
	next := time.Now()
	for i := 1; g.count == 0 || i <= g.count; i++ {
		if i&255 == 0 && ctx.Err() != nil {
			return nil
		}
		if g.every > 0 && em.CatchingUp() {
			next = time.Now() // a restarted gen re-produces what was sent at full speed
		} else if g.every > 0 {
			next = next.Add(g.every)
			if d := time.Until(next); d > 0 {
				if err := em.Flush(); err != nil {
					return err
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(d):
				}
			} else if ctx.Err() != nil {
				return nil
			}
		}
		buf = buf[:0]
		if g.fields != nil {
			buf = append(buf, '{')
			for j, f := range g.fields {
				if j > 0 {
					buf = append(buf, ',')
				}
				buf = append(buf, f.key...)
				buf = f.gen(r, buf)
			}
			buf = append(buf, '}')
		} else {
			ts += int64(r.IntN(4))
			buf = appendOrder(buf, r, i, ts)
		}
		if err := em.Emit(buf); err != nil {
			return err
		}
	}
	return nil
}

var (
	genCountries = []string{"US", "DE", "GB", "FR", "IN", "BR", "JP", "CA", "NL", "ES",
		"IT", "PL", "SE", "AU", "MX", "KR", "CH", "AT", "BE", "NO"}
	genDevices = []string{"web", "ios", "android", "api"}
	genTags    = []string{"a", "b", "c", "web", "mobile", "api", "retry", "vip", "trial", "eu", "us", "beta"}
	genWords   = []string{"order", "shipped", "to", "warehouse", "payment", "accepted", "declined", "for",
		"user", "session", "started", "request", "served", "from", "cache", "retrying", "after", "timeout",
		"queue", "depth", "is", "high", "low", "ok", "Zürich", "São", "Paulo", "naïve"}
)

// skewed picks low indexes more often, like real traffic.
func skewed(r *rand.Rand, xs []string) string {
	a, b := r.IntN(len(xs)), r.IntN(len(xs))
	return xs[min(a, b)]
}

func appendOrder(buf []byte, r *rand.Rand, id int, ts int64) []byte {
	buf = append(buf, `{"id":`...)
	buf = strconv.AppendInt(buf, int64(id), 10)
	buf = append(buf, `,"ts":"`...)
	buf = time.Unix(ts, 0).UTC().AppendFormat(buf, time.RFC3339)
	buf = append(buf, `","user":"u`...)
	buf = strconv.AppendInt(buf, int64(r.IntN(10000)), 10)
	buf = append(buf, `","country":"`...)
	buf = append(buf, skewed(r, genCountries)...)
	buf = append(buf, `","device":"`...)
	buf = append(buf, skewed(r, genDevices)...)
	buf = append(buf, `","amount":`...)
	cents := 1 + r.IntN(10000)
	buf = strconv.AppendInt(buf, int64(cents/100), 10)
	buf = append(buf, '.', byte('0'+cents%100/10), byte('0'+cents%10))
	buf = append(buf, `,"tags":[`...)
	for j := range r.IntN(4) {
		if j > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '"')
		buf = append(buf, genTags[r.IntN(len(genTags))]...)
		buf = append(buf, '"')
	}
	buf = append(buf, `],"msg":"`...)
	target := 50 + r.IntN(51)
	for n := 0; n < target; {
		if n > 0 {
			buf = append(buf, ' ')
			n++
		}
		w := genWords[r.IntN(len(genWords))]
		buf = append(buf, w...)
		n += len(w)
	}
	return append(buf, `"}`...)
}
