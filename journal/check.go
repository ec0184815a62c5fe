package journal

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/obz-dev/obz/wire"
)

// Stats sums up a journal, read to its end.
type Stats struct {
	FileBytes int64 // size of the file
	DataBytes int64 // uncompressed size of the frames read
	Blocks    int   // complete blocks
	Stored    int   // blocks stored uncompressed (FlagStored)
	S2        int   // blocks compressed with S2 (FlagS2); the others are zstd
	Indexed   bool  // an index trailer was found (and checked out)
	Frames    int64
	Kinds     map[string]int64 // frames per kind: data, error, eof, wm, receipt
	Writer    string           // writer of the first data frame
	FirstSeq  uint64
	LastSeq   uint64
	Start     int64 // Unix ns of the first block's first write; 0 if unknown
	End       int64 // Unix ns of the last block's last write
	HasEOF    bool
	EOFKind   wire.EOFKind
	EOFCount  uint64
	// Problems are breaches of the stream contract found in good blocks:
	// a seq gap, an EOF count that differs from the frames read, frames
	// after the EOF.
	Problems []string
	// Err is the torn tail or corruption that ended the journal, nil if it
	// ended cleanly. GoodBytes is where the good prefix ends.
	Err       error
	GoodBytes int64
}

// Ratio is the compression ratio: uncompressed bytes per file byte.
func (s *Stats) Ratio() float64 {
	if s.FileBytes == 0 {
		return 0
	}
	return float64(s.DataBytes) / float64(s.FileBytes)
}

// OK reports whether the journal is whole: no torn tail, no corruption, no
// contract problem.
func (s *Stats) OK() bool { return s.Err == nil && len(s.Problems) == 0 }

// Stat reads r from its start to its end and sums it up. A read error other
// than a journal problem is returned.
func Stat(r *Reader) (*Stats, error) {
	r.SeekSeq(0)
	s := &Stats{FileBytes: r.Size(), Indexed: r.Indexed(), Kinds: map[string]int64{}}
	var f wire.Frame
	var seen uint64 // data and error frames
	for {
		err := r.Next(&f)
		if err != nil {
			var je *Error
			switch {
			case err == io.EOF:
				s.GoodBytes = r.Size()
			case errors.As(err, &je):
				s.Err = je
				s.GoodBytes = je.Offset
			default:
				return nil, err
			}
			break
		}
		s.Frames++
		s.Kinds[f.Kind.String()]++
		if s.HasEOF {
			s.problem("%s frame after the EOF", f.Kind)
		}
		switch f.Kind {
		case wire.KindData, wire.KindError:
			seen++
			if s.FirstSeq == 0 {
				s.FirstSeq, s.Writer = f.Seq, f.Writer
			} else if f.Seq != s.LastSeq+1 {
				s.problem("seq %d follows seq %d", f.Seq, s.LastSeq)
			}
			s.LastSeq = f.Seq
		case wire.KindEOF:
			s.HasEOF, s.EOFKind, s.EOFCount = true, f.EOF, f.Count
			if f.Count != seen {
				s.problem("the EOF counts %d events, the journal holds %d", f.Count, seen)
			}
		}
	}
	blocks := r.Blocks()
	for i := range blocks {
		if s.Err != nil && blocks[i].Offset >= s.GoodBytes {
			break
		}
		s.Blocks++
		if blocks[i].Flags&FlagStored != 0 {
			s.Stored++
		}
		if blocks[i].Flags&FlagS2 != 0 {
			s.S2++
		}
		s.DataBytes += blocks[i].DataSize
		if blocks[i].Start != 0 && s.Start == 0 {
			s.Start = blocks[i].Start
		}
		s.End = max(s.End, blocks[i].End)
	}
	return s, nil
}

func (s *Stats) problem(format string, args ...any) {
	if len(s.Problems) < 10 {
		s.Problems = append(s.Problems, fmt.Sprintf(format, args...))
	}
}

// Verify checks the journal at path: every frame's structure and checksum,
// every block against its header, every line a frame, the stream contract,
// and the index trailer against a scan of the file.
func Verify(path string, opts *ReaderOptions) (*Stats, error) {
	o := ReaderOptions{}
	if opts != nil {
		o = *opts
	}
	o.Scan = true
	r, err := Open(path, &o)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	s, err := Stat(r)
	if err != nil {
		return nil, err
	}
	if idx := readIndex(r.ra, r.size); idx != nil {
		s.Indexed = true
		if !sameBlocks(idx, r.Blocks()) {
			s.problem("the index trailer does not match the blocks in the file")
		}
	} else if s.Err == nil {
		s.problem("no index trailer (the writer did not close the journal; obz journal recover writes one)")
	}
	return s, nil
}

func sameBlocks(a, b []Block) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Recover writes the good prefix of the journal at src to dst: every block
// before the first torn or corrupt one, copied as is, and a new index. It
// returns the stats of src as read.
func Recover(src, dst string, opts *ReaderOptions) (*Stats, error) {
	s, err := Verify(src, opts)
	if err != nil {
		return nil, err
	}
	if errors.Is(s.Err, ErrUnresolved) || errors.Is(s.Err, ErrSourceChanged) {
		// Its own blocks may be whole: cutting them would lose events.
		return s, fmt.Errorf("%s cannot be recovered while a journal it refers to cannot be read: %w", src, s.Err)
	}
	o := ReaderOptions{Scan: true}
	if opts != nil {
		o.MaxBlock = opts.MaxBlock
	}
	r, err := Open(src, &o)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	out, err := os.Create(dst)
	if err != nil {
		return nil, err
	}
	version := byte(zstdVersion)
	for _, b := range r.Blocks() {
		if b.Flags&FlagS2 != 0 {
			version = FormatVersion
		}
	}
	buf := appendHeader(nil, version)
	off := int64(len(buf))
	var kept []Block
	var last uint64
	for i, b := range r.Blocks() {
		if s.Err != nil && b.Offset >= s.GoodBytes {
			break
		}
		if err := r.load(i); err != nil {
			break
		}
		data := r.data
		nb := b
		if !nb.HasMeta {
			nb = Block{DataSize: int64(len(data)), Lines: uint32(bytes.Count(data, []byte{'\n'})), HasMeta: true}
			nb.FirstSeq, nb.LastSeq = seqRange(data)
			nb.LastSeq = max(nb.LastSeq, last)
			nb.DataCRC = crc32.ChecksumIEEE(data)
		}
		last = nb.LastSeq
		zoff, zlen := b.Offset, b.Size
		if b.HasMeta {
			zoff, zlen = zoff+metaSize, zlen-metaSize
		}
		z := make([]byte, zlen)
		if _, err := r.ra.ReadAt(z, zoff); err != nil && err != io.EOF {
			out.Close()
			return nil, err
		}
		nb.Offset = off
		nb.Size = metaSize + zlen
		buf = nb.appendMeta(buf)
		buf = append(buf, z...)
		off += nb.Size
		kept = append(kept, nb)
		if len(buf) > 1<<20 {
			if _, err := out.Write(buf); err != nil {
				out.Close()
				return nil, err
			}
			buf = buf[:0]
		}
	}
	buf = appendIndex(buf, kept)
	if _, err := out.Write(buf); err != nil {
		out.Close()
		return nil, err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return nil, err
	}
	return s, out.Close()
}
