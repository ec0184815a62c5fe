package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/obz-dev/obz/wire"
)

// DefaultMaxBlock bounds one block's uncompressed size when reading (and so
// the longest line): 256 MiB. The decoder never allocates more than this
// for a block, whatever the file claims.
const DefaultMaxBlock = 256 << 20

// ReaderOptions tune a Reader. The zero value gives the defaults.
type ReaderOptions struct {
	MaxBlock int64 // largest uncompressed block accepted; DefaultMaxBlock if 0
	// Scan ignores the index trailer and walks the file's frames, as when
	// the trailer is missing (verify does this, to check both).
	Scan bool
	// NoPayloads leaves reference lines unresolved: the frames they stand
	// for are returned with a null payload. For readers that need only
	// kinds, seqs and parents (lineage), which then do not need the
	// journals the references name.
	NoPayloads bool
}

// Reader reads the frames of a journal in order. Frames from complete
// blocks are returned; a torn tail or corruption ends the stream with an
// *Error (wrapping ErrTorn or ErrCorrupt) instead of io.EOF, after every
// good frame before it.
type Reader struct {
	ra      io.ReaderAt
	size    int64
	file    *os.File
	blocks  []Block
	indexed bool  // the blocks came from the index trailer
	tail    error // what ended the scan: nil, or an *Error
	max     int64
	dec     *zstd.Decoder

	next    int // next block to load
	cur     int // block being read, -1 before the first
	cbuf    []byte
	data    []byte
	pos     int
	line    []byte
	lineNo  int // line number within the current block, 1-based
	err     error
	from    uint64 // --from-seq: skip data frames below it
	gate    uint64 // control frames pass once lastSeq reaches it
	lastSeq uint64 // highest data seq read so far

	dir   string                // where the journals that references name are
	srcs  map[string]*refSource // those journals, opened as needed
	exp   expansion             // the reference line being expanded
	synth []byte                // the frame line made from it
	noPay bool                  // ReaderOptions.NoPayloads

	path  string              // the journal's file, when opened from one
	files map[string]*fileSrc // the files that file references name
	fexp  fileExpansion       // the file reference being expanded
	fbuf  []byte              // its bytes
	rexp  runExpansion        // the run line being expanded
	fspan FileSpan            // where the frame read last is in a file (FileSpan)

	inputs map[string]*inputSrc // the files of frames that references name
	ibuf   []byte               // the payloads of the reference being expanded, from one
}

// Open opens the journal file at path.
func Open(path string, opts *ReaderOptions) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	r, err := NewReader(f, st.Size(), opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.file = f
	r.dir = filepath.Dir(path)
	r.path = path
	return r, nil
}

// NewReader reads a journal of the given size from ra.
func NewReader(ra io.ReaderAt, size int64, opts *ReaderOptions) (*Reader, error) {
	var o ReaderOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxBlock <= 0 {
		o.MaxBlock = DefaultMaxBlock
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(o.MaxBlock)),
		zstd.WithDecoderMaxWindow(uint64(max(o.MaxBlock, zstd.MinWindowSize))), zstd.WithDecoderLowmem(true))
	if err != nil {
		return nil, err
	}
	r := &Reader{ra: ra, size: size, max: o.MaxBlock, dec: dec, cur: -1, noPay: o.NoPayloads}
	if !o.Scan {
		r.blocks = readIndex(ra, size)
		r.indexed = r.blocks != nil
	}
	if !r.indexed {
		r.blocks, r.tail = scan(ra, size)
	}
	return r, nil
}

// Close releases the decoder and closes the file if Open opened it.
func (r *Reader) Close() error {
	r.closeSources()
	r.closeFiles()
	r.closeInputs()
	r.dec.Close()
	if r.file != nil {
		return r.file.Close()
	}
	return nil
}

// Blocks returns the journal's blocks (from its index, or found by a scan).
func (r *Reader) Blocks() []Block { return r.blocks }

// Indexed reports whether the blocks came from the index trailer.
func (r *Reader) Indexed() bool { return r.indexed }

// Tail returns the torn tail or corruption that the scan of the file's
// frames stopped at (nil if none, and always nil when the index was read).
// Next returns it after the last good frame.
func (r *Reader) Tail() error { return r.tail }

// Size returns the file's size.
func (r *Reader) Size() int64 { return r.size }

// SeekSeq makes Next start at the data frame of seq n (or the first one
// after it), with the control frames that follow it; control frames
// written before data frame n-1 are skipped. It uses the index: only the
// blocks from the one holding seq n-1 on are decompressed.
func (r *Reader) SeekSeq(n uint64) {
	r.from, r.gate = n, 0
	r.next, r.cur, r.data, r.pos, r.err, r.lastSeq = 0, -1, nil, 0, nil, 0
	r.exp = expansion{}
	r.fexp = fileExpansion{}
	r.rexp = runExpansion{}
	if n <= 1 {
		return
	}
	r.gate = n - 1
	if k := len(r.blocks); k > 0 && r.blocks[k-1].HasMeta {
		r.gate = min(r.gate, r.blocks[k-1].LastSeq)
	}
	for i := range r.blocks {
		if !r.blocks[i].HasMeta {
			return
		}
		if r.blocks[i].LastSeq >= n-1 {
			r.next = i
			if i > 0 {
				r.lastSeq = r.blocks[i-1].LastSeq
			}
			return
		}
	}
	// Past the last data frame: only the trailing control frames.
	if k := len(r.blocks); k > 0 {
		r.next = k - 1
		if k > 1 {
			r.lastSeq = r.blocks[k-2].LastSeq
		}
	}
}

// NextLine returns the next line of the journal, without its newline, as
// stored. It is valid until the next call. It ignores SeekSeq's filter
// (not its starting block).
//
// A reference line (a stage that passed its input's payloads on) is
// returned as the data frames it stands for, their payloads read from the
// journal it refers to, beside this one: an error wrapping ErrUnresolved
// when that journal is missing or damaged, or ErrTorn when it ends torn
// before the event.
func (r *Reader) NextLine() ([]byte, error) {
	r.fspan.Path = ""
	if r.exp.done < r.exp.n {
		return r.nextExpanded()
	}
	if r.fexp.done < r.fexp.N {
		r.line = r.expandFile()
		return r.line, nil
	}
	if r.rexp.done < r.rexp.n {
		return r.nextRun()
	}
	for {
		line, err := r.rawLine()
		if err != nil {
			return nil, err
		}
		switch {
		case isRef(line):
			x, ok := parseRef(line)
			if !ok {
				r.err = corrupt(r.blocks[r.cur].Offset, "line %d of the block is not a valid reference", r.lineNo)
				return nil, r.err
			}
			r.exp = expansion{ref: x, ends: r.exp.ends[:0]}
			if x.in != nil && !r.noPay {
				if err := r.startInputRef(); err != nil {
					r.err = err
					r.exp = expansion{}
					return nil, err
				}
			}
			return r.nextExpanded()
		case isFileRef(line):
			if err := r.startFileRef(line); err != nil {
				r.err = err
				r.fexp = fileExpansion{}
				return nil, err
			}
			r.line = r.expandFile()
			return r.line, nil
		case isRun(line):
			x, ok := parseRun(line)
			if !ok {
				r.err = corrupt(r.blocks[r.cur].Offset, "line %d of the block is not a valid run of frames", r.lineNo)
				return nil, r.err
			}
			r.rexp = x
			return r.nextRun()
		case isFileSum(line):
			if _, ok := parseFileSum(line); !ok {
				r.err = corrupt(r.blocks[r.cur].Offset, "line %d of the block is not a valid file checksum", r.lineNo)
				return nil, r.err
			}
			continue // not a frame: what the checks of file references read
		}
		return line, nil
	}
}

// StoredLine returns the next line of the journal as it is stored, valid
// until the next call: a reference line, file reference, file checksum or
// run line as it is, not the frames it stands for (what `zstd -d` gives of
// a journal of the zstd codec, whatever the codec). Not to be mixed with
// NextLine or Next on one Reader.
func (r *Reader) StoredLine() ([]byte, error) { return r.rawLine() }

// rawLine returns the next line as stored, references unresolved.
func (r *Reader) rawLine() ([]byte, error) {
	for r.pos >= len(r.data) {
		if r.err != nil {
			return nil, r.err
		}
		if r.next >= len(r.blocks) {
			r.err = r.tail
			if r.err == nil {
				r.err = io.EOF
			}
			return nil, r.err
		}
		if err := r.load(r.next); err != nil {
			r.err = err
			return nil, err
		}
		r.next++
	}
	i := bytes.IndexByte(r.data[r.pos:], '\n')
	line := r.data[r.pos : r.pos+i]
	r.pos += i + 1
	r.lineNo++
	r.line = line
	return line, nil
}

func (r *Reader) nextRun() ([]byte, error) {
	line, err := r.expandRun()
	if err != nil {
		r.err = err
		r.rexp = runExpansion{}
		return nil, err
	}
	r.line = line
	return line, nil
}

func (r *Reader) nextExpanded() ([]byte, error) {
	line, err := r.expand()
	if err != nil {
		r.err = err
		r.exp = expansion{}
		return nil, err
	}
	r.line = line
	return line, nil
}

// Line returns the stored bytes of the frame Next returned last (without
// the newline): the journal's bytes, canonical, for verbatim output.
func (r *Reader) Line() []byte { return r.line }

// LineTime estimates when the line read last was written, in Unix ns: the
// blocks record when their first and last lines were written, and lines in
// between are spread evenly. It is 0 when the journal has no times.
func (r *Reader) LineTime() int64 {
	if r.cur < 0 {
		return 0
	}
	b := &r.blocks[r.cur]
	if b.Start == 0 || b.Lines == 0 || b.End < b.Start {
		return 0
	}
	return b.Start + (b.End-b.Start)*int64(r.lineNo-1)/int64(b.Lines)
}

// Next decodes the next frame into f (after SeekSeq, skipping what comes
// before). f's byte slices are valid until the next call. It returns io.EOF
// at a clean end, or an *Error.
func (r *Reader) Next(f *wire.Frame) error {
	for {
		line, err := r.NextLine()
		if err != nil {
			return err
		}
		if err := wire.Decode(line, f); err != nil {
			r.err = corrupt(r.blocks[r.cur].Offset, "line %d of the block is not a frame: %v", r.lineNo, err)
			return r.err
		}
		data := f.Kind == wire.KindData || f.Kind == wire.KindError
		if data {
			r.lastSeq = max(r.lastSeq, f.Seq)
			if f.Seq < r.from {
				continue
			}
		} else if r.lastSeq < r.gate {
			continue
		}
		return nil
	}
}

// load decompresses block i and checks it against its metadata.
func (r *Reader) load(i int) error {
	b := &r.blocks[i]
	r.cur, r.data, r.pos, r.lineNo = i, r.data[:0], 0, 0
	off, n := b.Offset, b.Size
	if b.HasMeta {
		off, n = off+metaSize, n-metaSize
	}
	if n <= 0 || off+n > r.size {
		return corrupt(b.Offset, "block extends past the end of the file")
	}
	if err := r.checkSequence(i); err != nil {
		return err
	}
	if n > r.max+r.max/8+1024 {
		return corrupt(b.Offset, "block of %d compressed bytes exceeds the limit of %d", n, r.max)
	}
	if b.HasMeta && b.DataSize > r.max {
		return corrupt(b.Offset, "block of %d bytes exceeds the limit of %d", b.DataSize, r.max)
	}
	if int64(cap(r.cbuf)) < n {
		r.cbuf = make([]byte, n)
	}
	r.cbuf = r.cbuf[:n]
	if _, err := r.ra.ReadAt(r.cbuf, off); err != nil && err != io.EOF {
		return fmt.Errorf("reading journal: %w", err)
	}
	var data []byte
	var err error
	if b.Flags&FlagS2 != 0 {
		data, err = r.decodeS2(b)
	} else {
		data, err = r.dec.DecodeAll(r.cbuf, r.data[:0])
	}
	if err != nil {
		return corrupt(b.Offset, "block does not decompress: %v", err)
	}
	r.data = data
	if len(data) == 0 || data[len(data)-1] != '\n' {
		return corrupt(b.Offset, "block does not end with a newline")
	}
	if b.HasMeta {
		if int64(len(data)) != b.DataSize {
			return corrupt(b.Offset, "block holds %d bytes, its header says %d", len(data), b.DataSize)
		}
		if lines := bytes.Count(data, []byte{'\n'}); lines != int(b.Lines) {
			return corrupt(b.Offset, "block holds %d lines, its header says %d", lines, b.Lines)
		}
		if crc32.ChecksumIEEE(data) != b.DataCRC {
			return corrupt(b.Offset, "block's data does not match its CRC-32")
		}
	}
	return nil
}

// decodeS2 decodes the S2 block in r.cbuf (its skippable frame) of block b,
// never into more than the block's header says it holds.
func (r *Reader) decodeS2(b *Block) ([]byte, error) {
	p := r.cbuf
	if len(p) < 8 || binary.LittleEndian.Uint32(p) != s2Magic || int(binary.LittleEndian.Uint32(p[4:])) != len(p)-8 {
		return nil, errors.New("not an S2 frame of the block's size")
	}
	n, err := s2.DecodedLen(p[8:])
	if err != nil {
		return nil, err
	}
	if int64(n) != b.DataSize {
		return nil, fmt.Errorf("S2 block of %d bytes, its header says %d", n, b.DataSize)
	}
	dst := r.data[:0]
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	return s2.Decode(dst[:n], p[8:])
}

// checkSequence checks that block i follows the block before it: each
// block's metadata holds the seq range it covers, so a block cut out of the
// middle (or the start) of a journal shows as a jump, whether the blocks
// came from the index or from a scan.
func (r *Reader) checkSequence(i int) error {
	b := &r.blocks[i]
	if !b.HasMeta {
		return nil
	}
	if i == 0 {
		if b.FirstSeq > 1 {
			return corrupt(b.Offset, "the journal starts at seq %d: seq 1..%d are missing (a block was lost)", b.FirstSeq, b.FirstSeq-1)
		}
		return nil
	}
	prev := &r.blocks[i-1]
	if !prev.HasMeta {
		return nil
	}
	switch {
	case b.FirstSeq != 0 && b.FirstSeq != prev.LastSeq+1:
		return corrupt(b.Offset, "block starts at seq %d after a block that ended at seq %d: a block was lost", b.FirstSeq, prev.LastSeq)
	case b.FirstSeq == 0 && b.LastSeq != prev.LastSeq:
		return corrupt(b.Offset, "block without events claims seq %d after a block that ended at seq %d: a block was lost", b.LastSeq, prev.LastSeq)
	}
	return nil
}
