package journal

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/obz-dev/obz/wire"
)

// A stage that passes its input's payloads on (filter, head, tee, ...)
// and reads its frames from a regular file (obz filter ... < events.frames)
// has its input recorded already: the file. Its journal refers to the
// file's frames instead of copying their payloads (format 4): a reference
// line that ends with the file and a checksum,
//
//	{"obz":1,"t":"ref","w":"big","s":5,"n":3,"p":{"w":"gen","s":10},"g":[1,0],"f":"/data/ev.frames","z":253578621,"m":1764851234000000000,"r":"../ev.frames","c":3735928559}
//
// is the data frames big:5, big:6, big:7 whose parents are gen:10, gen:12,
// gen:13 (as in any reference line) and whose payloads are those of the
// data frames of writer gen with those seqs in the file f (z bytes,
// modified at m when the stage opened it; r its path relative to the
// journal, as in file references), and c is the CRC-32C of the payloads,
// one after the other. A reader scans the file for the frames (forward; a
// reader that goes back starts over from the file's start) and refuses,
// naming the file, when it cannot be read (ErrUnresolved) or does not
// hold those frames with those payloads any more (ErrSourceChanged).

// AppendInputRef appends the reference line (with its newline) for n data
// frames of writer from seq on whose parents are frames of the file in (a
// stage's input), parent.Writer's seqs from parent.Seq on with skips as in
// AppendRefSkips, and crc the CRC-32C of their payloads (FileCRC).
func AppendInputRef(dst []byte, writer string, seq, n uint64, parent wire.Ref, skips []uint64, in *FileID, crc uint32) []byte {
	dst = AppendRefSkips(dst, writer, seq, n, parent, skips)
	dst = appendFileID(dst[:len(dst)-2], in) // without the line's closing "}\n"
	dst = append(dst, `,"c":`...)
	dst = strconv.AppendUint(dst, uint64(crc), 10)
	return append(dst, "}\n"...)
}

// inputSrc is a file of frames that reference lines name, scanned forward.
type inputSrc struct {
	path string // where it was found (FileID.locate)
	f    *os.File
	br   *bufio.Reader
	last map[string]uint64 // per writer, the seq of its data frame read last
	long []byte            // a line longer than br's buffer
	err  error             // it cannot be read, or is not the file read
}

// line returns the file's next line without its newline (the last line
// may have none), valid until the next call; io.EOF at the end.
func (s *inputSrc) line(max int64) ([]byte, error) {
	b, err := s.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		s.long = append(s.long[:0], b...)
		for err == bufio.ErrBufferFull {
			if int64(len(s.long)) > max {
				return nil, fmt.Errorf("a line is longer than %d bytes", max)
			}
			b, err = s.br.ReadSlice('\n')
			s.long = append(s.long, b...)
		}
		b = s.long
	}
	if err == io.EOF && len(b) > 0 {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	if b[len(b)-1] == '\n' {
		b = b[:len(b)-1]
	}
	return b, nil
}

// rewind starts the scan over from the file's start.
func (s *inputSrc) rewind() error {
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	s.br.Reset(s.f)
	clear(s.last)
	return nil
}

// startInputRef reads the payloads of the reference line being expanded,
// whose parents are frames of a file, into r.ibuf (r.exp.ends), and checks
// their checksum, before any of its frames is returned.
func (r *Reader) startInputRef() error {
	x := &r.exp
	off := r.blocks[r.cur].Offset
	where := fmt.Sprintf("line %d of the block refers to %s's events %d..%d, frames of %s in %s", r.lineNo, x.writer, x.seq, x.seq+x.n-1, x.parent.Writer, x.in.Path)
	src := r.inputs[x.in.Path]
	if src == nil {
		src = &inputSrc{path: x.in.Path, last: map[string]uint64{}}
		if r.inputs == nil {
			r.inputs = map[string]*inputSrc{}
		}
		r.inputs[x.in.Path] = src
		if src.err = r.checkFile(*x.in); src.err == nil {
			src.path, _ = x.in.locate(r.dir)
			if src.f, src.err = os.Open(src.path); src.err == nil {
				src.br = bufio.NewReaderSize(src.f, 1<<20)
			}
		}
	}
	if src.err != nil {
		kind := ErrUnresolved
		if errors.Is(src.err, ErrSourceChanged) {
			kind = ErrSourceChanged
		}
		return &Error{Offset: off, Kind: kind, Msg: where + ": " + src.err.Error()}
	}
	changed := func(format string, args ...any) error {
		return &Error{Offset: off, Kind: ErrSourceChanged, Msg: fmt.Sprintf("%s: %s changed since the run recorded it by reference: %s (%s)", where, src.path, fmt.Sprintf(format, args...), copyHint)}
	}
	w := x.parent.Writer
	if last, ok := src.last[w]; ok && last >= x.parent.Seq {
		if err := src.rewind(); err != nil {
			return &Error{Offset: off, Kind: ErrUnresolved, Msg: fmt.Sprintf("%s, which cannot be read: %v", where, err)}
		}
	}
	r.ibuf, x.ends = r.ibuf[:0], x.ends[:0]
	seqs := expansion{ref: x.ref}
	var f wire.Frame
	for k := uint64(0); k < x.n; k++ {
		want := seqs.nextParent()
		for {
			line, err := src.line(r.max)
			if err == io.EOF {
				return changed("it holds no data frame %d of %s", want, w)
			}
			if err != nil {
				return &Error{Offset: off, Kind: ErrUnresolved, Msg: fmt.Sprintf("%s, which cannot be read: %v", where, err)}
			}
			if wire.Decode(line, &f) != nil || f.Kind != wire.KindData || f.Writer != w {
				continue
			}
			src.last[w] = f.Seq
			if f.Seq < want {
				continue
			}
			if f.Seq > want {
				return changed("it holds no data frame %d of %s", want, w)
			}
			r.ibuf = append(r.ibuf, f.Payload...)
			x.ends = append(x.ends, len(r.ibuf))
			break
		}
	}
	if FileCRC(0, r.ibuf) != x.crc {
		return changed("the payloads of those frames are not the ones read (CRC-32C)")
	}
	return nil
}

// nextParent returns the parent seq of the next frame of the reference
// line x (parsed: its skips are valid).
func (x *expansion) nextParent() uint64 {
	if x.done == 0 {
		x.pseq = x.parent.Seq
	} else {
		x.pseq++
		if len(x.skips) > 0 {
			i := 0
			for i < len(x.skips) && x.skips[i] != ',' {
				i++
			}
			g, _ := strconv.ParseUint(string(x.skips[:i]), 10, 63)
			x.pseq += g
			x.skips = x.skips[min(i+1, len(x.skips)):]
		}
	}
	x.done++
	return x.pseq
}

func (r *Reader) closeInputs() {
	for _, s := range r.inputs {
		if s.f != nil {
			s.f.Close()
		}
	}
	r.inputs = nil
}
