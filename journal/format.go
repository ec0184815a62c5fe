package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"

	"github.com/klauspost/compress/s2"
)

// Magic numbers (little endian on disk). The skippable frames use the range
// zstd reserves for them, so `zstd -d` decodes a journal to plain NDJSON.
const (
	zstdMagic   = 0xFD2FB528
	headerMagic = 0x184D2A5A // file header: "OBZJ", format version
	metaMagic   = 0x184D2A5B // block metadata, before each data frame
	indexMagic  = 0x184D2A5C // the index trailer, written by Close
	s2Magic     = 0x184D2A5D // a block's data as an S2 block (FlagS2)
)

// FormatVersion is the journal format version written in the header.
// Version 2 added reference lines (ref.go), version 3 file references
// (fileref.go), version 4 the path of a referenced file relative to the
// journal ("r"), version 5 blocks compressed with S2 (FlagS2); a journal
// of an older version has none of what came later and reads the same. A
// Writer with the zstd codec writes version 4, which an obz that predates
// S2 still reads.
const FormatVersion = 5

// zstdVersion is the format version written by a Writer with CodecZstd:
// its journals hold nothing that version 4 lacks.
const zstdVersion = 4

const (
	headerSize = 8 + 8  // skippable header + "OBZJ" + version u8 + 3 reserved
	metaSize   = 8 + 52 // skippable header + meta body
	metaBody   = 52
	entrySize  = 8 + metaBody
	footerSize = 16 // u32 count, u32 crc, "OBZJIDX1"
)

var footerMagic = [8]byte{'O', 'B', 'Z', 'J', 'I', 'D', 'X', '1'}

// ErrTorn means the journal ends inside a block: the writer did not finish
// (it was killed, or is still writing). The blocks before are good; the
// caller should treat the stream as truncated, and `obz journal recover` can
// rewrite the good prefix.
var ErrTorn = errors.New("torn tail")

// ErrCorrupt means a complete part of the journal is damaged (bad magic, a
// checksum mismatch, a line that is not a frame). Nothing after it is
// trusted; the caller should stop and report the offset.
var ErrCorrupt = errors.New("corrupt")

// Error is a problem found in a journal, at a byte offset of the file.
// It wraps ErrTorn or ErrCorrupt.
type Error struct {
	Offset int64
	Kind   error // ErrTorn or ErrCorrupt
	Msg    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("journal %v at offset %d: %s", e.Kind, e.Offset, e.Msg)
}

// Unwrap returns ErrTorn or ErrCorrupt.
func (e *Error) Unwrap() error { return e.Kind }

func torn(off int64, format string, args ...any) *Error {
	return &Error{Offset: off, Kind: ErrTorn, Msg: fmt.Sprintf(format, args...)}
}

func corrupt(off int64, format string, args ...any) *Error {
	return &Error{Offset: off, Kind: ErrCorrupt, Msg: fmt.Sprintf(format, args...)}
}

// Block describes one block of a journal: a metadata frame and the frame
// that holds its lines after it (a zstd frame, or an S2 block in a
// skippable frame with FlagS2).
type Block struct {
	Offset   int64  // of the block's first byte (its metadata frame)
	Size     int64  // metadata frame + data frame, in bytes
	DataSize int64  // uncompressed size of the lines
	Lines    uint32 // frame lines in the block
	FirstSeq uint64 // seq of the block's first data or error frame; 0 if none
	LastSeq  uint64 // highest data or error seq up to the end of this block
	Start    int64  // Unix ns when the block's first line was written
	End      int64  // Unix ns when its last line was written
	DataCRC  uint32 // CRC-32 (IEEE) of the uncompressed lines
	Flags    uint32 // FlagStored, FlagS2
	HasMeta  bool   // false for a bare zstd frame (no obz metadata before it)
}

// Block flags, in the metadata.
const (
	// FlagStored marks a block written without compression (as zstd raw
	// blocks) because the compressor was behind the stage.
	FlagStored = 1
	// FlagS2 marks a block whose lines are an S2 block (the block format of
	// github.com/klauspost/compress/s2, no stream framing) in a skippable
	// frame of magic 0x184D2A5D, not a zstd frame (format 5).
	FlagS2 = 2
)

// appendS2 appends data compressed as an S2 block in its skippable frame.
func appendS2(dst, data []byte) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, s2Magic)
	dst = binary.LittleEndian.AppendUint32(dst, 0) // the length, below
	need := s2.MaxEncodedLen(len(data))
	dst = slices.Grow(dst, need)
	n := len(s2.Encode(dst[len(dst):len(dst)+need], data))
	dst = dst[:len(dst)+n]
	binary.LittleEndian.PutUint32(dst[start+4:], uint32(n))
	return dst
}

func (b *Block) appendMeta(dst []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, metaMagic)
	dst = binary.LittleEndian.AppendUint32(dst, metaBody)
	return b.appendBody(dst)
}

func (b *Block) appendBody(dst []byte) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, b.Lines)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(b.DataSize))
	dst = binary.LittleEndian.AppendUint64(dst, b.FirstSeq)
	dst = binary.LittleEndian.AppendUint64(dst, b.LastSeq)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(b.Start))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(b.End))
	dst = binary.LittleEndian.AppendUint32(dst, b.DataCRC)
	dst = binary.LittleEndian.AppendUint32(dst, b.Flags)
	return binary.LittleEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start:]))
}

func (b *Block) parseBody(p []byte) bool {
	if len(p) != metaBody || crc32.ChecksumIEEE(p[:metaBody-4]) != binary.LittleEndian.Uint32(p[metaBody-4:]) {
		return false
	}
	b.Lines = binary.LittleEndian.Uint32(p)
	b.DataSize = int64(binary.LittleEndian.Uint32(p[4:]))
	b.FirstSeq = binary.LittleEndian.Uint64(p[8:])
	b.LastSeq = binary.LittleEndian.Uint64(p[16:])
	b.Start = int64(binary.LittleEndian.Uint64(p[24:]))
	b.End = int64(binary.LittleEndian.Uint64(p[32:]))
	b.DataCRC = binary.LittleEndian.Uint32(p[40:])
	b.Flags = binary.LittleEndian.Uint32(p[44:])
	b.HasMeta = true
	return true
}

// appendStored appends data as a zstd frame of raw (uncompressed) blocks:
// single segment, 8-byte content size, no checksum (the block's metadata
// holds a CRC-32 of the data).
func appendStored(dst, data []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, zstdMagic)
	dst = append(dst, 0xE0) // FCS field 8 bytes, single segment, no checksum
	dst = binary.LittleEndian.AppendUint64(dst, uint64(len(data)))
	for {
		n := min(len(data), 128<<10)
		h := uint32(n) << 3 // raw block
		if n == len(data) {
			h |= 1 // last
		}
		dst = append(dst, byte(h), byte(h>>8), byte(h>>16))
		dst = append(dst, data[:n]...)
		data = data[n:]
		if len(data) == 0 {
			return dst
		}
	}
}

func appendHeader(dst []byte, version byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, headerMagic)
	dst = binary.LittleEndian.AppendUint32(dst, 8)
	return append(dst, 'O', 'B', 'Z', 'J', version, 0, 0, 0)
}

// appendIndex appends the index trailer: a skippable frame holding one
// entry per block (its offset and metadata body) and a fixed footer, so a
// reader finds it from the end of the file.
func appendIndex(dst []byte, blocks []Block) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, indexMagic)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(blocks)*entrySize+footerSize))
	start := len(dst)
	for i := range blocks {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(blocks[i].Offset))
		dst = blocks[i].appendBody(dst)
	}
	crc := crc32.ChecksumIEEE(dst[start:])
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(blocks)))
	dst = binary.LittleEndian.AppendUint32(dst, crc)
	return append(dst, footerMagic[:]...)
}

// readIndex reads the index trailer at the end of a file of the given size.
// It returns nil when there is none or it does not check out: the caller
// then scans the file.
func readIndex(ra io.ReaderAt, size int64) []Block {
	if size < headerSize+8+footerSize {
		return nil
	}
	var foot [footerSize]byte
	if _, err := ra.ReadAt(foot[:], size-footerSize); err != nil || [8]byte(foot[8:]) != footerMagic {
		return nil
	}
	n := int64(binary.LittleEndian.Uint32(foot[:]))
	frame := 8 + n*entrySize + footerSize
	if n == 0 && size != headerSize+frame || frame > size-headerSize {
		return nil
	}
	p := make([]byte, frame-footerSize)
	if _, err := ra.ReadAt(p, size-frame); err != nil {
		return nil
	}
	if binary.LittleEndian.Uint32(p) != indexMagic || int64(binary.LittleEndian.Uint32(p[4:])) != frame-8 {
		return nil
	}
	body := p[8:]
	if crc32.ChecksumIEEE(body) != binary.LittleEndian.Uint32(foot[4:]) {
		return nil
	}
	blocks := make([]Block, n)
	next := int64(headerSize)
	for i := range blocks {
		e := body[i*entrySize : (i+1)*entrySize]
		b := &blocks[i]
		b.Offset = int64(binary.LittleEndian.Uint64(e))
		if b.Offset != next || !b.parseBody(e[8:]) {
			return nil
		}
		if i > 0 {
			blocks[i-1].Size = b.Offset - blocks[i-1].Offset
		}
		next = -1 // later offsets are checked against the previous one
		if i+1 < len(blocks) {
			next = int64(binary.LittleEndian.Uint64(body[(i+1)*entrySize:]))
			if next <= b.Offset {
				return nil
			}
		}
	}
	if n > 0 {
		last := &blocks[n-1]
		last.Size = size - frame - last.Offset
		if last.Size <= metaSize {
			return nil
		}
	}
	return blocks
}

// frameSize returns the size of the zstd or skippable frame at off, reading
// only headers. A frame that runs past the end of the file is ErrTorn; bytes
// that are not a frame are ErrCorrupt. maxBlock bounds a skippable frame.
func frameSize(ra io.ReaderAt, off, size int64) (magic uint32, n int64, err error) {
	var h [18]byte
	read := func(at int64, p []byte) error {
		if at+int64(len(p)) > size {
			return torn(off, "the file ends inside a frame")
		}
		if _, err := ra.ReadAt(p, at); err != nil && err != io.EOF {
			return err
		}
		return nil
	}
	if err := read(off, h[:4]); err != nil {
		return 0, 0, err
	}
	magic = binary.LittleEndian.Uint32(h[:])
	if magic&0xFFFFFFF0 == 0x184D2A50 {
		if err := read(off+4, h[4:8]); err != nil {
			return magic, 0, err
		}
		n = 8 + int64(binary.LittleEndian.Uint32(h[4:]))
		if off+n > size {
			return magic, 0, torn(off, "the file ends inside a skippable frame")
		}
		return magic, n, nil
	}
	if magic != zstdMagic {
		return magic, 0, corrupt(off, "not a zstd frame (magic %#08x)", magic)
	}
	if err := read(off+4, h[4:5]); err != nil {
		return magic, 0, err
	}
	fhd := h[4]
	if fhd&0x08 != 0 {
		return magic, 0, corrupt(off, "zstd frame header has the reserved bit set")
	}
	single := fhd&0x20 != 0
	hdr := int64(5)
	if !single {
		hdr++
	}
	hdr += [4]int64{0, 1, 2, 4}[fhd&3]
	fcs := [4]int64{0, 2, 4, 8}[fhd>>6]
	if fcs == 0 && single {
		fcs = 1
	}
	pos := off + hdr + fcs
	for {
		if err := read(pos, h[:3]); err != nil {
			return magic, 0, err
		}
		bh := uint32(h[0]) | uint32(h[1])<<8 | uint32(h[2])<<16
		last, typ, bsize := bh&1 == 1, (bh>>1)&3, int64(bh>>3)
		switch typ {
		case 1: // RLE: one byte
			bsize = 1
		case 3:
			return magic, 0, corrupt(pos, "zstd block of the reserved type")
		}
		if bh>>3 > 128<<10 {
			return magic, 0, corrupt(pos, "zstd block larger than 128 KiB")
		}
		pos += 3 + bsize
		if pos > size {
			return magic, 0, torn(off, "the file ends inside a zstd frame")
		}
		if last {
			break
		}
	}
	if fhd&0x04 != 0 {
		pos += 4
	}
	if pos > size {
		return magic, 0, torn(off, "the file ends inside a zstd frame")
	}
	return magic, pos - off, nil
}

// scan walks a journal's frames from the start and returns its blocks, and
// the problem that stopped the walk (a torn tail or corruption), if any.
// An index trailer at the end is accepted and ends the walk.
func scan(ra io.ReaderAt, size int64) ([]Block, error) {
	var blocks []Block
	off := int64(0)
	var pending *Block // metadata seen, its zstd frame not yet
	for off < size {
		magic, n, err := frameSize(ra, off, size)
		if err != nil {
			if pending != nil {
				var e *Error
				if errors.As(err, &e) && e.Kind == ErrTorn {
					e.Offset = pending.Offset
				}
			}
			return blocks, err
		}
		switch {
		case magic == headerMagic:
			if off != 0 || n != headerSize {
				return blocks, corrupt(off, "journal header in the wrong place")
			}
			var p [8]byte
			if _, err := ra.ReadAt(p[:], off+8); err != nil {
				return blocks, err
			}
			if string(p[:4]) != "OBZJ" {
				return blocks, corrupt(off, "bad journal header")
			}
			if p[4] > FormatVersion {
				return blocks, corrupt(off, "journal format version %d is newer than this obz understands (%d)", p[4], FormatVersion)
			}
		case magic == metaMagic:
			if pending != nil {
				return blocks, corrupt(off, "two block headers in a row")
			}
			if n != metaSize {
				return blocks, corrupt(off, "block header of the wrong size")
			}
			var p [metaBody]byte
			if _, err := ra.ReadAt(p[:], off+8); err != nil {
				return blocks, err
			}
			b := Block{Offset: off}
			if !b.parseBody(p[:]) {
				return blocks, corrupt(off, "block header checksum mismatch")
			}
			pending = &b
		case magic == indexMagic:
			if pending != nil {
				return blocks, corrupt(off, "index where a block's data was expected")
			}
			if off+n == size {
				return blocks, nil
			}
			return blocks, corrupt(off, "index before the end of the file")
		case magic == zstdMagic || magic == s2Magic:
			b := Block{Offset: off}
			if pending != nil {
				b = *pending
				pending = nil
			}
			if (magic == s2Magic) != (b.Flags&FlagS2 != 0) {
				if !b.HasMeta {
					return blocks, corrupt(off, "S2 block without a block header")
				}
				return blocks, corrupt(b.Offset, "block header and data frame disagree on the codec (zstd or S2)")
			}
			b.Size = off + n - b.Offset
			if !b.HasMeta && len(blocks) > 0 {
				b.LastSeq = blocks[len(blocks)-1].LastSeq
			}
			blocks = append(blocks, b)
		default:
			if pending != nil {
				return blocks, corrupt(off, "unexpected frame where a block's data was expected")
			}
			// Another skippable frame: skipped, as zstd does.
		}
		off += n
	}
	if pending != nil {
		return blocks, torn(pending.Offset, "the file ends after a block header")
	}
	return blocks, nil
}
