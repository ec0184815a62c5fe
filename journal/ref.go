package journal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/obz-dev/obz/wire"
)

// A reference line stands for data frames whose payloads are another
// writer's, recorded in that writer's journal in the same directory
// (WRITER.zst): a stage that passes its input payloads on unchanged (filter,
// head, tee, ...) journals what it kept, not the bytes again. The line
//
//	{"obz":1,"t":"ref","w":"big","s":5,"n":3,"p":{"w":"src","s":10}}
//
// is the data frames big:5, big:6, big:7, whose parents are src:10, src:11,
// src:12 and whose payloads are those of src:10..12. A stage that drops
// events (filter) skips some of its writer's seqs between two parents:
//
//	{"obz":1,"t":"ref","w":"big","s":5,"n":3,"p":{"w":"src","s":10},"g":[1,0]}
//
// is big:5, big:6, big:7 whose parents are src:10, src:12 and src:13: "g"
// has, for each frame after the first, how many of the writer's seqs were
// skipped before its parent (format version 3; without "g", none). A Reader
// opened on a file resolves them and returns the frames, byte for byte as
// the writer emitted them (canonical encoding, docs/wire.md).
var refPrefix = []byte(`{"obz":1,"t":"ref",`)

// ErrUnresolved means a reference line of the journal cannot be resolved:
// the journal it refers to is missing, damaged, or does not hold the
// referenced events. The frames before it were read; the caller should
// report the error, which names that journal.
var ErrUnresolved = errors.New("unresolved reference")

// RefName reports whether a writer name can be written in a reference line
// as is (no JSON escaping needed): letters, digits and _ . - only, as obz
// flow's stage names are.
func RefName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// AppendRef appends the reference line (with its newline) for n data
// frames of writer from seq on, whose parents are parent.Writer's seqs from
// parent.Seq on, and whose payloads are those parents'. Both names must
// pass RefName.
func AppendRef(dst []byte, writer string, seq, n uint64, parent wire.Ref) []byte {
	dst = appendLineHead(dst, refPrefix, writer, seq, n)
	dst = append(dst, `,"p":{"w":"`...)
	dst = append(dst, parent.Writer...)
	dst = append(dst, `","s":`...)
	dst = strconv.AppendUint(dst, parent.Seq, 10)
	return append(dst, "}}\n"...)
}

// appendLineHead appends what every line of a journal that stands for
// frames starts with: its prefix, then the writer, the first seq and how
// many frames it stands for.
func appendLineHead(dst, prefix []byte, writer string, seq, n uint64) []byte {
	dst = append(dst, prefix...)
	dst = append(dst, `"w":"`...)
	dst = append(dst, writer...)
	dst = append(dst, `","s":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `,"n":`...)
	return strconv.AppendUint(dst, n, 10)
}

// AppendRefSkips appends the reference line for n data frames of writer
// from seq on whose parents are parent.Writer's seqs from parent.Seq on,
// skipping skips[i] of them before the parent of the frame i+1 (len(skips)
// is n-1, or 0 when none are skipped).
func AppendRefSkips(dst []byte, writer string, seq, n uint64, parent wire.Ref, skips []uint64) []byte {
	dst = AppendRef(dst, writer, seq, n, parent)
	if !slices.ContainsFunc(skips, func(g uint64) bool { return g > 0 }) {
		return dst
	}
	dst = append(dst[:len(dst)-2], `,"g":[`...)
	for i, g := range skips {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendUint(dst, g, 10)
	}
	return append(dst, "]}\n"...)
}

// ref is a parsed reference line.
type ref struct {
	writer string
	seq, n uint64
	parent wire.Ref
	skips  []byte // the "g" list, "1,0": digits and commas (nil: none)
	last   uint64 // the parent seq of the frames, to the last one
	// in: the parents are frames of the file input (a stage's stdin,
	// AppendInputRef), whose payloads have the CRC-32C crc.
	in  *FileID
	crc uint32
}

func isRef(line []byte) bool { return bytes.HasPrefix(line, refPrefix) }

// parseRef parses a reference line (without its newline), exactly as
// AppendRef writes it.
func parseRef(line []byte) (ref, bool) {
	var r ref
	p := line[len(refPrefix):]
	str := func(key string) (string, bool) {
		if !bytes.HasPrefix(p, []byte(key)) {
			return "", false
		}
		p = p[len(key):]
		i := bytes.IndexByte(p, '"')
		if i < 0 || !RefName(string(p[:i])) {
			return "", false
		}
		s := string(p[:i])
		p = p[i+1:]
		return s, true
	}
	num := func(key string) (uint64, bool) {
		if !bytes.HasPrefix(p, []byte(key)) {
			return 0, false
		}
		p = p[len(key):]
		i := 0
		for i < len(p) && p[i] >= '0' && p[i] <= '9' {
			i++
		}
		v, err := strconv.ParseUint(string(p[:i]), 10, 64)
		p = p[i:]
		return v, err == nil
	}
	var ok [5]bool
	r.writer, ok[0] = str(`"w":"`)
	r.seq, ok[1] = num(`,"s":`)
	r.n, ok[2] = num(`,"n":`)
	r.parent.Writer, ok[3] = str(`,"p":{"w":"`)
	r.parent.Seq, ok[4] = num(`,"s":`)
	for _, b := range ok {
		if !b {
			return r, false
		}
	}
	// What closes the line after the parent and its skips: "}", or the
	// file the parents are in and the payloads' checksum.
	end := "}"
	if i := bytes.Index(p, []byte(`,"f":"`)); i >= 0 {
		lp := lineParser{p: p[i:], ok: true}
		id := lp.fileID()
		c := lp.num(`,"c":`)
		if !lp.ok || string(lp.p) != "}" || c > 0xffffffff {
			return r, false
		}
		r.in, r.crc = &id, uint32(c)
		p, end = p[:i], ""
	}
	if bytes.HasPrefix(p, []byte(`},"g":[`)) && bytes.HasSuffix(p, []byte("]"+end)) {
		r.skips = p[len(`},"g":[`) : len(p)-1-len(end)]
		p = []byte("}" + end)
	}
	if string(p) != "}"+end || r.seq == 0 || r.n == 0 || r.parent.Seq == 0 || r.seq+r.n <= r.seq {
		return r, false
	}
	// The last parent: the first, n-1 more, and the skips.
	r.last = r.parent.Seq + r.n - 1
	if r.skips != nil {
		k := uint64(0)
		for rest := r.skips; ; {
			i := bytes.IndexByte(rest, ',')
			if i < 0 {
				i = len(rest)
			}
			g := rest[:i]
			v, err := strconv.ParseUint(string(g), 10, 63)
			if err != nil || len(g) > 1 && g[0] == '0' || g[0] == '+' || r.last+v < r.last {
				return r, false
			}
			k++
			r.last += v
			if i == len(rest) {
				break
			}
			rest = rest[i+1:]
		}
		if k != r.n-1 {
			return r, false
		}
	}
	return r, r.last >= r.parent.Seq
}

// refSource is a producer's journal, read forward as references ask for
// its payloads.
type refSource struct {
	path  string
	r     *Reader
	f     wire.Frame
	last  uint64 // seq of the data frame read last (0: none yet)
	ended bool   // its EOF frame was read: its writer finished it
}

// expansion is a reference line being turned into frames.
type expansion struct {
	ref
	done uint64 // frames returned so far
	pseq uint64 // the parent seq of the frame returned last
	ends []int  // with ref.in: where each payload ends in Reader.ibuf
}

// resolve returns the payload of the data frame of writer w at seq, from
// w's journal beside this one.
func (r *Reader) resolve(w string, seq uint64) ([]byte, error) {
	off := int64(0)
	if r.cur >= 0 {
		off = r.blocks[r.cur].Offset
	}
	unresolved := func(format string, args ...any) error {
		return &Error{Offset: off, Kind: ErrUnresolved, Msg: fmt.Sprintf(format, args...)}
	}
	if r.dir == "" {
		return nil, unresolved("line %d of the block refers to %s's event %d, and this journal was not opened from a file, so %s.zst cannot be found beside it", r.lineNo, w, seq, w)
	}
	src := r.srcs[w]
	if src == nil {
		path := filepath.Join(r.dir, w+".zst")
		sr, err := Open(path, &ReaderOptions{MaxBlock: r.max})
		if err != nil {
			return nil, unresolved("line %d of the block refers to %s's event %d, recorded in %s, which cannot be read: %v", r.lineNo, w, seq, path, err)
		}
		if r.srcs == nil {
			r.srcs = map[string]*refSource{}
		}
		src = &refSource{path: path, r: sr}
		r.srcs[w] = src
		sr.SeekSeq(seq)
	} else if src.last >= seq {
		src.r.SeekSeq(seq)
		src.last, src.ended = 0, false
	}
	for {
		err := src.r.Next(&src.f)
		switch {
		case err == io.EOF && !src.ended:
			// Its writer did not finish (killed): what it had not yet
			// journaled is lost, and this journal is cut there too.
			return nil, &Error{Offset: off, Kind: ErrTorn, Msg: fmt.Sprintf("line %d of the block refers to %s's event %d, past the end of %s, whose writer did not finish it (at event %d, no EOF)", r.lineNo, w, seq, src.path, src.last)}
		case err == io.EOF:
			return nil, unresolved("line %d of the block refers to %s's event %d, but %s ends before it (at event %d)", r.lineNo, w, seq, src.path, src.last)
		case errors.Is(err, ErrTorn):
			// The producer was killed before its journal had the event,
			// while this stage had it: this journal is cut there too.
			return nil, &Error{Offset: off, Kind: ErrTorn, Msg: fmt.Sprintf("line %d of the block refers to %s's event %d, past the torn end of %s: %v", r.lineNo, w, seq, src.path, err)}
		case err != nil:
			return nil, unresolved("line %d of the block refers to %s's event %d, recorded in %s, which is damaged: %v", r.lineNo, w, seq, src.path, err)
		}
		if src.f.Kind == wire.KindEOF {
			src.ended = true
		}
		if src.f.Kind != wire.KindData && src.f.Kind != wire.KindError {
			continue
		}
		if src.f.Writer != w {
			return nil, unresolved("line %d of the block refers to %s's event %d, but %s holds the events of %q", r.lineNo, w, seq, src.path, src.f.Writer)
		}
		src.last = src.f.Seq
		switch {
		case src.f.Seq < seq:
			continue
		case src.f.Seq > seq || src.f.Kind != wire.KindData:
			return nil, unresolved("line %d of the block refers to %s's data event %d, which %s does not hold", r.lineNo, w, seq, src.path)
		}
		return src.f.Payload, nil
	}
}

// expand returns the next frame line of the reference being expanded.
func (r *Reader) expand() ([]byte, error) {
	x := &r.exp
	i := x.done
	pseq := x.nextParent()
	payload := []byte("null")
	switch {
	case r.noPay:
	case x.in != nil:
		start := 0
		if i > 0 {
			start = x.ends[i-1]
		}
		payload = r.ibuf[start:x.ends[i]]
	default:
		var err error
		if payload, err = r.resolve(x.parent.Writer, pseq); err != nil {
			return nil, err
		}
	}
	f := wire.Frame{Kind: wire.KindData, Writer: x.writer, Seq: x.seq + i, Parent: wire.Ref{Writer: x.parent.Writer, Seq: pseq}, Payload: payload}
	r.synth = wire.AppendFrame(r.synth[:0], &f)
	return r.synth[:len(r.synth)-1], nil
}

func (r *Reader) closeSources() {
	for _, s := range r.srcs {
		s.r.Close()
	}
	r.srcs = nil
}
