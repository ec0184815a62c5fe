package stages

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/axiomhq/hyperloglog"

	"github.com/obz-dev/obz/expr"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

// The accumulators of agg. Each group (per window pane) holds one accState
// per accumulator; memory is proportional to the number of groups, plus the
// distinct values for --distinct and up to --collect-max values for
// --collect, never to the number of events.

type accKind int

const (
	accCount accKind = iota
	accSum
	accMin
	accMax
	accMean
	accFirst
	accLast
	accDistinct
	accApprox
	accQuantile
	accCollect
)

// accFlags maps accumulator flags to their kind and output-name prefix.
var accFlags = []struct {
	flag   string
	kind   accKind
	prefix string
	q      float64
}{
	{"sum", accSum, "sum", 0}, {"min", accMin, "min", 0}, {"max", accMax, "max", 0},
	{"mean", accMean, "mean", 0}, {"first", accFirst, "first", 0}, {"last", accLast, "last", 0},
	{"distinct", accDistinct, "distinct", 0}, {"approx-distinct", accApprox, "approx_distinct", 0},
	{"p50", accQuantile, "p50", 0.5}, {"p90", accQuantile, "p90", 0.9}, {"p99", accQuantile, "p99", 0.99},
	{"collect", accCollect, "collect", 0},
}

// ddAccuracy is the relative accuracy of the percentile sketches.
const ddAccuracy = 0.01

// exactQuantiles is how many values a group keeps for exact percentiles;
// past it the group switches to a sketch (ddAccuracy).
const exactQuantiles = 4096

// accSpec is one accumulator of the command line.
type accSpec struct {
	kind  accKind
	field int    // index of the field among the extracted values; -1 for count
	name  string // output name: sum_amount
	key   []byte // `"sum_amount":`
	q     float64
}

func (a *accSpec) numeric() bool {
	switch a.kind {
	case accSum, accMin, accMax, accMean, accQuantile:
		return true
	}
	return false
}

// parsePercentile reads --percentile FIELD:Q (Q in 0..1, or 1..100 as a
// percent) and returns the field, q and the output prefix (p90, p99.9).
func parsePercentile(s string) (string, float64, string, error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return "", 0, "", runner.Usagef("--percentile %q: want FIELD:Q, e.g. latency:0.9", s)
	}
	q, err := strconv.ParseFloat(s[i+1:], 64)
	if err == nil && q > 1 && q <= 100 {
		q /= 100
	}
	if err != nil || q < 0 || q > 1 {
		return "", 0, "", runner.Usagef("--percentile %q: Q must be a number in 0..1 (or a percent), e.g. latency:0.9", s)
	}
	return s[:i], q, "p" + strconv.FormatFloat(q*100, 'f', -1, 64), nil
}

// accState is the running value of one accumulator in one group.
type accState struct {
	n        int64   // values added
	sum, c   float64 // Neumaier-compensated sum
	places   int     // most decimal places among the summed numbers; -1 once one has an exponent
	min, max float64
	raw      []byte // first, last
	set      map[string]struct{}
	hll      *hyperloglog.Sketch
	dd       *ddsketch.DDSketch
	qv       []float64 // a percentile's values while exact (up to exactQuantiles)
	vals     [][]byte  // collect
	dropped  int64
}

// add adds one event's value of the accumulator's field: raw is the value
// (nil when absent), num its number for numeric accumulators.
func (s *accState) add(a *accSpec, raw []byte, num float64, canon []byte, collectMax int) {
	switch a.kind {
	case accCount:
		s.n++
		return
	case accSum, accMean:
		if p := decimalPlaces(raw); p < 0 || s.places < 0 {
			s.places = -1 // an exponent: no rounding for this sum
		} else {
			s.places = max(s.places, p)
		}
		t := s.sum + num
		if math.Abs(s.sum) >= math.Abs(num) {
			s.c += (s.sum - t) + num
		} else {
			s.c += (num - t) + s.sum
		}
		s.sum = t
	case accMin:
		if s.n == 0 || num < s.min {
			s.min = num
		}
	case accMax:
		if s.n == 0 || num > s.max {
			s.max = num
		}
	case accFirst:
		if s.n == 0 {
			s.raw = append(s.raw[:0], raw...)
		}
	case accLast:
		s.raw = append(s.raw[:0], raw...)
	case accDistinct:
		if s.set == nil {
			s.set = map[string]struct{}{}
		}
		if _, ok := s.set[string(canon)]; !ok {
			s.set[string(canon)] = struct{}{}
		}
	case accApprox:
		if s.hll == nil {
			s.hll = hyperloglog.New14()
		}
		s.hll.Insert(canon)
	case accQuantile:
		if s.n == 0 || num < s.min {
			s.min = num
		}
		if s.n == 0 || num > s.max {
			s.max = num
		}
		if s.dd == nil && len(s.qv) < exactQuantiles {
			s.qv = append(s.qv, num)
			break
		}
		if s.dd == nil {
			s.dd, _ = ddsketch.NewDefaultDDSketch(ddAccuracy)
			for _, v := range s.qv {
				s.dd.Add(v)
			}
			s.qv = nil
		}
		s.dd.Add(num)
	case accCollect:
		if len(s.vals) < collectMax {
			s.vals = append(s.vals, slices.Clone(raw))
		} else {
			s.dropped++
		}
	}
	s.n++
}

// appendResult appends the accumulator's members to an output object.
func (s *accState) appendResult(dst []byte, a *accSpec) []byte {
	dst = append(dst, a.key...)
	switch a.kind {
	case accCount:
		return strconv.AppendInt(dst, s.n, 10)
	case accSum:
		return expr.AppendNumber(dst, exactSum(s.sum+s.c, s.places))
	case accMean:
		if s.n == 0 {
			return append(dst, "null"...)
		}
		return expr.AppendNumber(dst, significant((s.sum+s.c)/float64(s.n), 15))
	case accMin, accMax:
		if s.n == 0 {
			return append(dst, "null"...)
		}
		if a.kind == accMin {
			return expr.AppendNumber(dst, s.min)
		}
		return expr.AppendNumber(dst, s.max)
	case accFirst, accLast:
		if s.n == 0 {
			return append(dst, "null"...)
		}
		return append(dst, s.raw...)
	case accDistinct:
		return strconv.AppendInt(dst, int64(len(s.set)), 10)
	case accApprox:
		if s.hll == nil {
			return append(dst, '0')
		}
		return strconv.AppendUint(dst, s.hll.Estimate(), 10)
	case accQuantile:
		v, ok := s.quantile(a.q)
		if !ok {
			return append(dst, "null"...)
		}
		return expr.AppendNumber(dst, v)
	case accCollect:
		dst = append(dst, '[')
		for i, v := range s.vals {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, v...)
		}
		dst = append(dst, ']')
		if s.dropped > 0 {
			dst = append(dst, ',')
			dst = wire.AppendString(dst, a.name+"_dropped")
			dst = append(dst, ':')
			dst = strconv.AppendInt(dst, s.dropped, 10)
		}
		return dst
	}
	return dst
}

// decimalPlaces counts the digits after the decimal point of a JSON number
// as written (12.50 → 2), or -1 for a number with an exponent.
func decimalPlaces(raw []byte) int {
	dot := -1
	for i, c := range raw {
		switch c {
		case '.':
			dot = i
		case 'e', 'E':
			return -1
		}
	}
	if dot < 0 {
		return 0
	}
	return len(raw) - dot - 1
}

// exactSum rounds a float sum of decimal numbers with at most places decimal
// places to that many places: the exact decimal sum has no more, so this
// removes float noise (571.8000000000001 → 571.8) without changing the
// value, as long as the sum is small enough for float64 to resolve them.
func exactSum(v float64, places int) float64 {
	if places < 0 || places > 15 || math.Abs(v)*math.Pow10(places) >= 1<<52 {
		return v
	}
	r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'f', places, 64), 64)
	if err != nil {
		return v
	}
	return r
}

// significant rounds v to n significant digits (a mean's float noise past
// the 15th digit is not information).
func significant(v float64, n int) float64 {
	r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'g', n, 64), 64)
	if err != nil {
		return v
	}
	return r
}

// quantile is the q quantile of a percentile's values: exact (the value at
// rank int(q*n) of the sorted values, as mlr's percentiles without
// interpolation) while the group holds at most exactQuantiles values, a
// DDSketch estimate beyond; always within the group's [min, max].
func (s *accState) quantile(q float64) (float64, bool) {
	if s.n == 0 {
		return 0, false
	}
	if s.dd == nil {
		slices.Sort(s.qv) // sorting again is cheap: the values stay sorted
		i := min(int(q*float64(len(s.qv))), len(s.qv)-1)
		return s.qv[max(i, 0)], true
	}
	v, err := s.dd.GetValueAtQuantile(q)
	if err != nil {
		return 0, false
	}
	return min(max(v, s.min), s.max), true
}
