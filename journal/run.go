package journal

import (
	"bytes"
	"io"
	"strconv"

	"github.com/obz-dev/obz/wire"
)

// A run line holds the data frames a stage made (new payloads: map, agg,
// a source) without repeating each frame's envelope: the line
//
//	{"obz":1,"t":"run","w":"slim","s":5,"n":3,"p":{"w":"big","s":9},"g":[1,0],"l":[7,7,2],"d":[{"a":1},{"b":2},[]]}
//
// is the data frames slim:5, slim:6, slim:7, whose parents are big:9,
// big:11, big:12 ("p" and "g" as in a reference line; without "p" the
// frames have no parent) and whose payloads are, in order, the "l"
// lengths of bytes of "d", separated by commas. When some frames carry a
// source time (wire.Frame.TS), "ts":[0,1764851234000123,0] after "l" has
// each frame's (0 for none). A reader returns the
// frames, byte for byte as the stage emitted them (format version 3). The
// envelope of a frame is about as long as a small payload, and zstd's
// cost is per byte: a stage's journal costs about half as much CPU so.
var runPrefix = []byte(`{"obz":1,"t":"run",`)

func isRun(line []byte) bool { return bytes.HasPrefix(line, runPrefix) }

// RunLine builds run lines. The zero value is an empty run; Add frames,
// then Append the line.
type RunLine struct {
	Writer string // the writer (passing RefName)
	Seq, N uint64 // frames Seq..Seq+N-1
	Parent wire.Ref
	last   uint64
	skip   bool
	skips  []byte // "1,0"
	lens   []byte // "7,7,2"
	data   []byte // the payloads, comma separated
	tss    []byte // "0,123,0": the frames' source times
	anyTS  bool
}

// Len returns the bytes of payload the run holds.
func (r *RunLine) Len() int { return len(r.data) }

// Start starts a run of writer at seq whose first frame's parent is
// parent (zero for none), with source time ts (0 for none) and payload.
func (r *RunLine) Start(writer string, seq uint64, parent wire.Ref, ts uint64, payload []byte) {
	r.Writer, r.Seq, r.N, r.Parent, r.last, r.skip = writer, seq, 1, parent, parent.Seq, false
	r.skips, r.lens, r.data, r.tss = r.skips[:0], r.lens[:0], r.data[:0], r.tss[:0]
	r.lens = strconv.AppendInt(r.lens, int64(len(payload)), 10)
	r.data = append(r.data, payload...)
	r.tss = strconv.AppendUint(r.tss, ts, 10)
	r.anyTS = ts != 0
}

// Add adds the frame seq with parent and payload to the run, if it can
// hold it: the next seq, and a later event of the first frame's parent's
// writer (or no parent, as the first).
func (r *RunLine) Add(seq uint64, parent wire.Ref, ts uint64, payload []byte) bool {
	if r.N == 0 || seq != r.Seq+r.N {
		return false
	}
	if r.Parent.Writer == "" {
		if parent.Writer != "" || parent.Seq != 0 {
			return false
		}
	} else if parent.Writer != r.Parent.Writer || parent.Seq <= r.last {
		return false
	}
	if r.Parent.Writer != "" {
		g := parent.Seq - r.last - 1
		if r.N > 1 {
			r.skips = append(r.skips, ',')
		}
		r.skips = strconv.AppendUint(r.skips, g, 10)
		r.skip = r.skip || g > 0
		r.last = parent.Seq
	}
	r.N++
	r.lens = append(r.lens, ',')
	r.lens = strconv.AppendInt(r.lens, int64(len(payload)), 10)
	r.data = append(r.data, ',')
	r.data = append(r.data, payload...)
	r.tss = append(r.tss, ',')
	r.tss = strconv.AppendUint(r.tss, ts, 10)
	r.anyTS = r.anyTS || ts != 0
	return true
}

// Append appends the run's line, with its newline, and empties the run.
func (r *RunLine) Append(dst []byte) []byte {
	if r.N == 0 {
		return dst
	}
	dst = appendLineHead(dst, runPrefix, r.Writer, r.Seq, r.N)
	if r.Parent.Writer != "" {
		dst = append(dst, `,"p":{"w":"`...)
		dst = append(dst, r.Parent.Writer...)
		dst = append(dst, `","s":`...)
		dst = strconv.AppendUint(dst, r.Parent.Seq, 10)
		dst = append(dst, '}')
		if r.skip {
			dst = append(dst, `,"g":[`...)
			dst = append(dst, r.skips...)
			dst = append(dst, ']')
		}
	}
	dst = append(dst, `,"l":[`...)
	dst = append(dst, r.lens...)
	if r.anyTS {
		dst = append(dst, `],"ts":[`...)
		dst = append(dst, r.tss...)
	}
	dst = append(dst, `],"d":[`...)
	dst = append(dst, r.data...)
	dst = append(dst, "]}\n"...)
	r.N = 0
	return dst
}

// runExpansion is a run line being turned into frames.
type runExpansion struct {
	ref         // writer, seq, n, parent (Writer "" for none), skips
	lens []byte // the lengths not yet used
	tss  []byte // the source times not yet used (nil: none)
	data []byte // the payloads not yet returned
	done uint64
	pseq uint64
}

// parseRun parses a run line (without its newline), exactly as
// RunLine.Append writes it, and checks that its payloads are where its
// lengths say.
func parseRun(line []byte) (runExpansion, bool) {
	var x runExpansion
	lp := lineParser{p: line[len(runPrefix):], ok: true}
	x.writer = lp.str(`"w":"`, RefName)
	x.seq = lp.num(`,"s":`)
	x.n = lp.num(`,"n":`)
	if !lp.ok || x.seq == 0 || x.n == 0 || x.seq+x.n <= x.seq {
		return x, false
	}
	if bytes.HasPrefix(lp.p, []byte(`,"p":`)) {
		x.parent.Writer = lp.str(`,"p":{"w":"`, RefName)
		x.parent.Seq = lp.num(`,"s":`)
		lp.key("}")
		if !lp.ok || x.parent.Seq == 0 {
			return x, false
		}
		if bytes.HasPrefix(lp.p, []byte(`,"g":[`)) {
			i := bytes.IndexByte(lp.p, ']')
			if i < 0 {
				return x, false
			}
			x.skips = lp.p[len(`,"g":[`):i]
			lp.p = lp.p[i+1:]
			if _, ok := sumList(x.skips, x.n-1); !ok {
				return x, false
			}
		}
	}
	if !lp.key(`,"l":[`) {
		return x, false
	}
	i := bytes.IndexByte(lp.p, ']')
	if i < 0 {
		return x, false
	}
	x.lens = lp.p[:i]
	total, ok := sumList(x.lens, x.n)
	if !ok {
		return x, false
	}
	lp.p = lp.p[i+1:]
	if bytes.HasPrefix(lp.p, []byte(`,"ts":[`)) {
		lp.p = lp.p[len(`,"ts":[`):]
		i := bytes.IndexByte(lp.p, ']')
		if i < 0 {
			return x, false
		}
		x.tss = lp.p[:i]
		if _, ok := sumTimes(x.tss, x.n); !ok {
			return x, false
		}
		lp.p = lp.p[i+1:]
	}
	if !lp.key(`,"d":[`) || uint64(len(lp.p)) != total+x.n-1+2 || !bytes.HasSuffix(lp.p, []byte("]}")) {
		return x, false
	}
	x.data = lp.p[:len(lp.p)-2]
	return x, true
}

// sumList checks a list of n numbers ("1,0,2": no leading zeros, no
// empty entries) and returns their sum.
func sumList(list []byte, n uint64) (uint64, bool) {
	var sum, k uint64
	if n == 0 {
		return 0, len(list) == 0
	}
	for rest := list; ; {
		i := bytes.IndexByte(rest, ',')
		if i < 0 {
			i = len(rest)
		}
		g := rest[:i]
		v, err := strconv.ParseUint(string(g), 10, 63)
		if err != nil || len(g) > 1 && g[0] == '0' || g[0] == '+' || sum+v < sum {
			return 0, false
		}
		sum += v
		k++
		if i == len(rest) {
			break
		}
		rest = rest[i+1:]
	}
	return sum, k == n
}

// sumTimes checks a list of n source times (numbers as in sumList, whose
// sum may overflow).
func sumTimes(list []byte, n uint64) (uint64, bool) {
	var k uint64
	for rest := list; ; {
		i := bytes.IndexByte(rest, ',')
		if i < 0 {
			i = len(rest)
		}
		g := rest[:i]
		if _, err := strconv.ParseUint(string(g), 10, 64); err != nil || len(g) > 1 && g[0] == '0' || g[0] == '+' {
			return 0, false
		}
		k++
		if i == len(rest) {
			break
		}
		rest = rest[i+1:]
	}
	return 0, k == n
}

// nextNum takes the next number of a list checked by sumList.
func nextNum(list *[]byte) uint64 {
	l := *list
	i := bytes.IndexByte(l, ',')
	if i < 0 {
		i = len(l)
	}
	v, _ := strconv.ParseUint(string(l[:i]), 10, 64)
	*list = l[min(i+1, len(l)):]
	return v
}

// expandRun returns the next frame line of the run being expanded, or an
// error when a payload is not where the lengths say.
func (r *Reader) expandRun() ([]byte, error) {
	x := &r.rexp
	n := nextNum(&x.lens)
	payload := x.data[:n]
	x.data = x.data[n:]
	if x.done < x.n-1 {
		if len(x.data) == 0 || x.data[0] != ',' {
			return nil, corrupt(r.blocks[r.cur].Offset, "line %d of the block: a run's payloads are not where its lengths say", r.lineNo)
		}
		x.data = x.data[1:]
	}
	f := wire.Frame{Kind: wire.KindData, Writer: x.writer, Seq: x.seq + x.done, Payload: payload}
	if len(x.tss) > 0 {
		f.TS = nextNum(&x.tss)
	}
	if x.parent.Writer != "" {
		if x.done == 0 {
			x.pseq = x.parent.Seq
		} else {
			x.pseq++
			if len(x.skips) > 0 {
				x.pseq += nextNum(&x.skips)
			}
		}
		f.Parent = wire.Ref{Writer: x.parent.Writer, Seq: x.pseq}
	}
	x.done++
	r.synth = wire.AppendFrame(r.synth[:0], &f)
	return r.synth[:len(r.synth)-1], nil
}

// Frames returns the frame lines that journal lines (as a stage writes
// them to its journal: frames, run lines) stand for, as a Reader returns
// them; reference lines are resolved in dir ("": they cannot be). For
// tests and tools that see a journal's lines before they are compressed.
func Frames(lines []byte, dir string) ([]byte, error) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, &WriterOptions{Workers: 1})
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(lines); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	r, err := NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()), nil)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	r.dir = dir
	var out []byte
	var f wire.Frame
	for {
		err := r.Next(&f)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, r.Line()...)
		out = append(out, '\n')
	}
}
