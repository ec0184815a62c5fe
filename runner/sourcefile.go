package runner

import (
	"github.com/cespare/xxhash/v2"
	"io"
	"os"
	"path/filepath"

	"github.com/obz-dev/obz/journal"
)

// SourceFile is a regular file a source reads, whose lines its journal
// records as references to the file (journal.FileRef: path, size,
// modification time, offsets and a CRC-32C per run of lines, and the
// file's XXH64 once it was read to its end) instead of copies of their
// bytes (Env.JournalSources). The source reads the file through Reader,
// which hashes it as it is read (no second pass), emits the events that
// are lines of it as they are with EmitSpan, and calls Close when it is
// done with the file. A nil *SourceFile is valid: it does nothing, and
// the events are journaled as bytes.
type SourceFile struct {
	em   *Emitter
	f    *os.File
	id   journal.FileID
	h    *xxhash.Digest
	read int64
	on   bool // references are being made
}

// fileRun is a run of events journaled as one file reference.
type fileRun struct {
	sf *SourceFile
	journal.FileRef
	nl bool // the run's last line ended with a newline: another may follow
	// pend holds the run's bytes not yet in CRC: the CRC-32C of a line
	// at a time ran one lane of the CPU's instruction, and its calls
	// cost as much as the bytes (14 % of read's CPU in the benchmark
	// flow); a few KiB at a time take the fast path.
	pend []byte
}

// crcChunk is how many bytes fileRun.pend gathers before they are checksummed.
const crcChunk = 16 << 10

// flushCRC adds r.pend to r.CRC.
func (r *fileRun) flushCRC() {
	r.CRC = journal.FileCRC(r.CRC, r.pend)
	r.pend = r.pend[:0]
}

// SourceFile starts reading f, opened from path, as a file the journal
// may refer to. It returns nil when it may not: no journal, file
// references not asked for, a file that is not regular (a FIFO, a device:
// it cannot be read again), a path a reference cannot hold, or a writer
// name a reference cannot hold.
func (em *Emitter) SourceFile(path string, f *os.File) *SourceFile {
	if em.journal == nil || !em.fileRefs || !journal.RefName(em.name) {
		return nil
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil
	}
	abs, err := filepath.Abs(path)
	if err != nil || !journal.FilePath(abs) {
		return nil
	}
	// What was batched before goes to the journal as it was batched.
	if em.Flush() != nil {
		return nil
	}
	em.fsrc = true
	// The file's identity (its first reference) reaches the journal's
	// file before any of its events goes downstream: a journal's file
	// otherwise lags its stage by up to a block, and a source killed
	// before its first block would leave no trace of the file that its
	// consumers read from, so a resume could not tell that it changed.
	em.durableRef = true
	id := journal.FileID{Path: abs, Size: st.Size(), MTime: st.ModTime().UnixNano(), Rel: journal.RelPath(em.journalDir, abs)}
	return &SourceFile{em: em, f: f, id: id, h: xxhash.New(), on: true}
}

// Reader returns r (the file's bytes, from its start), hashed as it is
// read.
func (sf *SourceFile) Reader(r io.Reader) io.Reader {
	if sf == nil {
		return r
	}
	return hashingReader{sf, r}
}

type hashingReader struct {
	sf *SourceFile
	r  io.Reader
}

func (h hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if h.sf.h != nil {
		h.sf.h.Write(p[:n])
		h.sf.read += int64(n)
	}
	return n, err
}

// Close ends the file's references; whole says that the source read the
// file to its end, and then its size, modification time and XXH64 are
// journaled. Called early (a compressed file, whose lines are not its
// bytes), it makes the rest of the file's events journaled as bytes.
func (sf *SourceFile) Close(whole bool) error {
	if sf == nil || !sf.on {
		return nil
	}
	em := sf.em
	sf.on = false
	em.endRef()
	if whole && sf.h != nil {
		id := journal.FileID{Path: sf.id.Path, Size: sf.read, MTime: sf.id.MTime, Rel: sf.id.Rel}
		if st, err := sf.f.Stat(); err == nil {
			id.MTime = st.ModTime().UnixNano()
		}
		var sum [8]byte
		sf.h.Sum(sum[:0])
		em.jbuf = journal.AppendFileSum(em.jbuf, em.name, id, sum)
	}
	sf.h = nil
	err := em.Flush()
	em.fsrc = false
	return err
}

// EmitSpan writes one data event whose payload is the bytes off..
// off+len(payload) of the file sf reads, followed by a newline when span
// is one more than the payload's length (the file's last line may have
// none): the journal refers to the file for it. With sf nil or span 0 it
// is Emit.
func (em *Emitter) EmitSpan(payload []byte, sf *SourceFile, off, span int64) error {
	return em.emit(payload, sf, off, span)
}

// addFileRef journals data event em.seq, whose payload is the line at off
// of sf's file, as part of a file reference run.
func (em *Emitter) addFileRef(sf *SourceFile, payload []byte, off, span int64) {
	r := &em.fref
	if r.N == 0 || r.sf != sf || !r.nl || em.seq != r.Seq+r.N || off != r.Off+r.Len {
		em.endRef()
		r.sf, r.FileRef = sf, journal.FileRef{Writer: em.name, Seq: em.seq, File: sf.id, Off: off}
	}
	r.N++
	r.Len += span
	r.nl = span > int64(len(payload))
	if len(payload) >= crcChunk {
		r.flushCRC()
		r.CRC = journal.FileCRC(r.CRC, payload)
	} else {
		r.pend = append(r.pend, payload...)
	}
	if r.nl {
		r.pend = append(r.pend, '\n')
	}
	if len(r.pend) >= crcChunk {
		r.flushCRC()
	}
}

// endFileRef writes the file reference run being built to jbuf.
func (em *Emitter) endFileRef() {
	if r := &em.fref; r.N > 0 {
		r.flushCRC()
		em.jbuf = journal.AppendFileRef(em.jbuf, &r.FileRef)
		*r = fileRun{pend: r.pend}
	}
}
