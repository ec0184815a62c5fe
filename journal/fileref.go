package journal

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/cespare/xxhash/v2"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/obz-dev/obz/wire"
)

// A source that reads a regular file may journal the events it made of the
// file's lines as a reference to the file instead of a copy of their bytes
// (obz read, docs/journal.md). The line
//
//	{"obz":1,"t":"fref","w":"src","s":5,"n":3,"f":"/data/orders.ndjson","z":9120,"m":1764851234000000000,"o":1234,"l":370,"c":3735928559}
//
// is the data frames src:5, src:6, src:7, without parents, whose payloads
// are the 3 lines of the file f that bytes o to o+l hold (each ended by a
// newline, the last one possibly by the end of the file); the file had z bytes
// and was modified at m (Unix ns) when the source opened it, and c is the
// CRC-32C of the l bytes. When the source has read the file to its end,
//
//	{"obz":1,"t":"fsum","w":"src","f":"/data/orders.ndjson","z":9120,"m":1764851234000000000,"xxh64":"9c2a31b2e04d8f11"}
//
// gives the size read, the modification time then and the XXH64 (xxHash,
// 64 bits, as xxhsum -H64 prints it) of the whole file as the source read
// it (hashed as read: no second pass). A reader resolves the references
// from the file and refuses, naming the file, when it cannot be read
// (ErrUnresolved) or its content is no longer what the run read
// (ErrSourceChanged).
var (
	frefPrefix = []byte(`{"obz":1,"t":"fref",`)
	fsumPrefix = []byte(`{"obz":1,"t":"fsum",`)
)

// ErrSourceChanged means a file a journal refers to (a source recorded it
// by reference) is no longer the file the run read: its content differs.
// The frames before the reference were read; the error names the file.
var ErrSourceChanged = errors.New("source file changed")

// castagnoli is the CRC-32C table of file references' checksums.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// FileCRC extends crc (CRC-32C, 0 to start) with p: the checksum of a
// file reference's bytes.
func FileCRC(crc uint32, p []byte) uint32 { return crc32.Update(crc, castagnoli, p) }

// FilePath reports whether a file's path can be written in a file
// reference as is (a JSON string without escapes): valid UTF-8 without
// quotes, backslashes or control characters.
func FilePath(path string) bool {
	if path == "" || !utf8.ValidString(path) {
		return false
	}
	for i := 0; i < len(path); i++ {
		if c := path[i]; c < 0x20 || c == '"' || c == '\\' || c == 0x7f {
			return false
		}
	}
	return true
}

// FileID is a file as a source opened it: its path (absolute, passing
// FilePath), size and modification time (Unix ns), and where it is seen
// from the journal's directory.
type FileID struct {
	Path  string
	Size  int64
	MTime int64
	// Rel, if set, is Path relative to the directory of the journal that
	// refers to it (passing FilePath; format 4): a reader that finds
	// nothing at Path looks there, so that a run directory moved with its
	// input files (a project cloned elsewhere) still resolves.
	Rel string
}

// locate returns where the file is: Path, or when nothing is there, Rel
// in dir (the directory of the journal that refers to it) when something
// is there. Otherwise it returns Path and the place Rel names, for the
// error that says neither can be read.
func (id *FileID) locate(dir string) (path, alt string) {
	if id.Rel == "" || dir == "" {
		return id.Path, ""
	}
	if _, err := os.Stat(id.Path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return id.Path, ""
	}
	alt = filepath.Join(dir, id.Rel)
	if _, err := os.Stat(alt); err == nil {
		return alt, ""
	}
	if a, err := filepath.Abs(alt); err == nil && a == id.Path {
		return id.Path, "" // the same place: nothing to add
	}
	return id.Path, alt
}

// RelPath returns path (absolute) relative to dir, the directory of the
// journal that will refer to it (absolute), for FileID.Rel: "" when it
// has none that a reference can hold.
func RelPath(dir, path string) string {
	if dir == "" {
		return ""
	}
	rel, err := filepath.Rel(dir, path)
	if err != nil || !FilePath(rel) {
		return ""
	}
	return rel
}

// FileRef is a run of a source's events that are the lines of a file.
type FileRef struct {
	Writer string // the source's writer name (passing RefName)
	Seq, N uint64 // events Seq..Seq+N-1
	File   FileID
	Off    int64  // the bytes Off..Off+Len of the file hold the N lines
	Len    int64  //
	CRC    uint32 // CRC-32C of those bytes (FileCRC)
}

// AppendFileRef appends the reference line of r, with its newline.
func AppendFileRef(dst []byte, r *FileRef) []byte {
	dst = appendLineHead(dst, frefPrefix, r.Writer, r.Seq, r.N)
	dst = appendFileID(dst, &r.File)
	dst = append(dst, `,"o":`...)
	dst = strconv.AppendInt(dst, r.Off, 10)
	dst = append(dst, `,"l":`...)
	dst = strconv.AppendInt(dst, r.Len, 10)
	dst = append(dst, `,"c":`...)
	dst = strconv.AppendUint(dst, uint64(r.CRC), 10)
	return append(dst, "}\n"...)
}

func appendFileID(dst []byte, id *FileID) []byte {
	dst = append(dst, `,"f":"`...)
	dst = append(dst, id.Path...)
	dst = append(dst, `","z":`...)
	dst = strconv.AppendInt(dst, id.Size, 10)
	dst = append(dst, `,"m":`...)
	dst = strconv.AppendInt(dst, id.MTime, 10)
	if id.Rel != "" {
		dst = append(dst, `,"r":"`...)
		dst = append(dst, id.Rel...)
		dst = append(dst, '"')
	}
	return dst
}

// AppendFileSum appends the line that says writer read the file id (its
// size and modification time after the read) to its end, and the XXH64
// of its bytes, with its newline.
func AppendFileSum(dst []byte, writer string, id FileID, sum [8]byte) []byte {
	dst = append(dst, fsumPrefix...)
	dst = append(dst, `"w":"`...)
	dst = append(dst, writer...)
	dst = append(dst, '"')
	dst = appendFileID(dst, &id)
	dst = append(dst, `,"xxh64":"`...)
	dst = hex.AppendEncode(dst, sum[:])
	return append(dst, "\"}\n"...)
}

func isFileRef(line []byte) bool { return bytes.HasPrefix(line, frefPrefix) }
func isFileSum(line []byte) bool { return bytes.HasPrefix(line, fsumPrefix) }

// lineParser reads the fixed layouts of reference lines.
type lineParser struct {
	p  []byte
	ok bool
}

func (lp *lineParser) key(k string) bool {
	if lp.ok && bytes.HasPrefix(lp.p, []byte(k)) {
		lp.p = lp.p[len(k):]
		return true
	}
	lp.ok = false
	return false
}

func (lp *lineParser) str(k string, valid func(string) bool) string {
	if !lp.key(k) {
		return ""
	}
	i := bytes.IndexByte(lp.p, '"')
	if i < 0 || !valid(string(lp.p[:i])) {
		lp.ok = false
		return ""
	}
	s := string(lp.p[:i])
	lp.p = lp.p[i+1:]
	return s
}

func (lp *lineParser) num(k string) uint64 {
	if !lp.key(k) {
		return 0
	}
	i := 0
	for i < len(lp.p) && lp.p[i] >= '0' && lp.p[i] <= '9' {
		i++
	}
	v, err := strconv.ParseUint(string(lp.p[:i]), 10, 63)
	lp.p = lp.p[i:]
	lp.ok = lp.ok && err == nil
	return v
}

func (lp *lineParser) fileID() FileID {
	id := FileID{Path: lp.str(`,"f":"`, FilePath), Size: int64(lp.num(`,"z":`)), MTime: int64(lp.num(`,"m":`))}
	if lp.ok && bytes.HasPrefix(lp.p, []byte(`,"r":"`)) {
		id.Rel = lp.str(`,"r":"`, FilePath)
	}
	return id
}

// parseFileRef parses a file reference line (without its newline), exactly
// as AppendFileRef writes it.
func parseFileRef(line []byte) (FileRef, bool) {
	lp := lineParser{p: line[len(frefPrefix):], ok: true}
	var r FileRef
	r.Writer = lp.str(`"w":"`, RefName)
	r.Seq = lp.num(`,"s":`)
	r.N = lp.num(`,"n":`)
	r.File = lp.fileID()
	r.Off = int64(lp.num(`,"o":`))
	r.Len = int64(lp.num(`,"l":`))
	c := lp.num(`,"c":`)
	r.CRC = uint32(c)
	return r, lp.ok && string(lp.p) == "}" && c <= 0xffffffff && r.Seq > 0 && r.N > 0 && r.Seq+r.N > r.Seq &&
		r.Len >= int64(r.N) && r.Off+r.Len > r.Off
}

// fileSum is a parsed fsum line.
type fileSum struct {
	writer string
	id     FileID
	sum    [8]byte
}

func parseFileSum(line []byte) (fileSum, bool) {
	lp := lineParser{p: line[len(fsumPrefix):], ok: true}
	var s fileSum
	s.writer = lp.str(`"w":"`, RefName)
	s.id = lp.fileID()
	h := lp.str(`,"xxh64":"`, func(h string) bool { return len(h) == 16 })
	if !lp.ok || string(lp.p) != "}" {
		return s, false
	}
	_, err := hex.Decode(s.sum[:], []byte(h))
	return s, err == nil
}

// FileSums returns what the journal at path says of the files its writer
// recorded by reference: each file's identity from its first reference,
// and the size, time and XXH64 of its fsum line when the writer read it
// to its end (Sum false otherwise, e.g. a source that was killed). It
// reads the journal's lines without resolving anything.
func FileSums(path string) ([]SourceFile, error) {
	r, err := Open(path, nil)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var files []SourceFile
	at := map[string]int{}
	for {
		line, err := r.rawLine()
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return files, err
		}
		var id FileID
		var s fileSum
		switch {
		case isFileRef(line):
			x, ok := parseFileRef(line)
			if !ok {
				return files, corrupt(r.blocks[r.cur].Offset, "line %d of the block is not a valid file reference", r.lineNo)
			}
			id = x.File
		case isFileSum(line):
			var ok bool
			if s, ok = parseFileSum(line); !ok {
				return files, corrupt(r.blocks[r.cur].Offset, "line %d of the block is not a valid file checksum", r.lineNo)
			}
			id = s.id
		default:
			continue
		}
		i, seen := at[id.Path]
		if !seen {
			i = len(files)
			at[id.Path] = i
			files = append(files, SourceFile{Opened: id, dir: r.dir})
		}
		if isFileRef(line) {
			x, _ := parseFileRef(line)
			files[i].spans = append(files[i].spans, span{x.Off, x.Len, x.CRC})
		}
		if isFileSum(line) {
			files[i].Read, files[i].XXH64, files[i].Sum = s.id, s.sum, true
		}
	}
}

// SourceFile is a file a journal's writer recorded by reference.
type SourceFile struct {
	Opened FileID // as the writer opened it (its first reference)
	// Read, XXH64: the size read, the modification time after the read
	// and the XXH64 of the bytes read, when the writer read it to its
	// end (Sum).
	Read  FileID
	XXH64 [8]byte
	Sum   bool

	spans []span // the bytes its references cover (FileSums)
	dir   string // the directory of the journal (FileID.Rel is relative to it)
}

// span is the bytes of a file that a reference covers.
type span struct {
	off, n int64
	crc    uint32
}

// Check reports whether the file is still the one the writer read: nil,
// or an error wrapping ErrUnresolved (it cannot be read) or
// ErrSourceChanged, naming it. With strict the XXH64 is always checked
// (one pass over the file), or when the writer did not read the file to
// its end, the CRC-32C of the bytes each reference covers (as FileSums
// found them); otherwise the XXH64 only when the size or modification
// time differ from what was recorded. A file that was only appended to
// or touched since, whose first bytes are still the ones read, passes.
func (s *SourceFile) Check(strict bool) error {
	path, alt := s.Opened.locate(s.dir)
	// Only a regular file: opening a FIFO would wait for a writer, and a
	// device may never end a line.
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		return unreadable(path, errors.New("not a regular file"))
	}
	f, err := os.Open(path)
	if err != nil {
		return unreadableAt(path, alt, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return unreadable(path, err)
	}
	id := s.Opened
	if s.Sum {
		id = s.Read
	}
	same := st.Size() == id.Size && st.ModTime().UnixNano() == id.MTime
	if !s.Sum && strict {
		// No XXH64 (the writer did not read the file to its end): the
		// bytes every reference covers are checked.
		var buf []byte
		for _, sp := range s.spans {
			if int64(cap(buf)) < sp.n {
				buf = make([]byte, sp.n)
			}
			b := buf[:sp.n]
			if _, err := f.ReadAt(b, sp.off); err != nil || FileCRC(0, b) != sp.crc {
				return changed(path, id, st, fmt.Sprintf("bytes %d..%d are not the ones read (CRC-32C)", sp.off, sp.off+sp.n))
			}
		}
		return nil
	}
	if !s.Sum || same && !strict {
		if !s.Sum && st.Size() < id.Size {
			return changed(path, id, st, "it is shorter")
		}
		return nil
	}
	if st.Size() < id.Size {
		return changed(path, id, st, "it is shorter")
	}
	h := xxhash.New()
	if _, err := io.Copy(h, io.LimitReader(f, id.Size)); err != nil {
		return unreadable(path, err)
	}
	if !bytes.Equal(h.Sum(nil), s.XXH64[:]) {
		what := "its content differs"
		if st.Size() > id.Size {
			what = fmt.Sprintf("its first %d bytes differ", id.Size)
		}
		return changed(path, id, st, what+" (XXH64)")
	}
	return nil
}

// fileError is an error about a file a journal refers to: Kind is
// ErrUnresolved or ErrSourceChanged.
type fileError struct {
	Kind error
	Msg  string
}

func (e *fileError) Error() string { return e.Msg }
func (e *fileError) Unwrap() error { return e.Kind }

// copyHint says how to keep what a changed or lost file held: the flag
// of obz flow, of read and of the passthrough stages that journal their
// stdin by reference.
const copyHint = "--journal-sources copy keeps a copy of input files that will not last"

func unreadable(path string, err error) error { return unreadableAt(path, "", err) }

// unreadableAt is unreadable, saying that alt (the file's path relative
// to the journal, when that is elsewhere) has nothing either.
func unreadableAt(path, alt string, err error) error {
	also := ""
	if alt != "" {
		also = fmt.Sprintf(", nor is it at %s (where it was relative to the journal)", alt)
	}
	return &fileError{ErrUnresolved, fmt.Sprintf("%s, which the run recorded by reference, cannot be read: %v%s (%s)", path, err, also, copyHint)}
}

func changed(path string, id FileID, st os.FileInfo, what string) error {
	return &fileError{ErrSourceChanged, fmt.Sprintf("%s changed since the run recorded it by reference: %s (then %d bytes, modified %s; now %d bytes, modified %s) (%s)",
		path, what, id.Size, time.Unix(0, id.MTime).UTC().Format(time.RFC3339Nano),
		st.Size(), st.ModTime().UTC().Format(time.RFC3339Nano), copyHint)}
}

// fileSrc is a file that references name, opened and checked once.
type fileSrc struct {
	f    *os.File
	path string // where it was found (FileID.locate)
	err  error
}

// fileExpansion is a file reference being turned into frames.
type fileExpansion struct {
	FileRef
	rest []byte // the lines not yet returned
	pos  int64  // the file offset of rest
	path string // where the file was found
	done uint64
}

// startFileRef checks and reads the bytes of the file reference line.
func (r *Reader) startFileRef(line []byte) error {
	x, ok := parseFileRef(line)
	if !ok {
		return corrupt(r.blocks[r.cur].Offset, "line %d of the block is not a valid file reference", r.lineNo)
	}
	r.fexp = fileExpansion{FileRef: x}
	if r.noPay {
		return nil
	}
	off := r.blocks[r.cur].Offset
	where := fmt.Sprintf("line %d of the block refers to %s's events %d..%d, bytes %d..%d of %s", r.lineNo, x.Writer, x.Seq, x.Seq+x.N-1, x.Off, x.Off+x.Len, x.File.Path)
	fs := r.files[x.File.Path]
	if fs == nil {
		fs = &fileSrc{}
		if r.files == nil {
			r.files = map[string]*fileSrc{}
		}
		r.files[x.File.Path] = fs
		fs.path = x.File.Path
		if fs.err = r.checkFile(x.File); fs.err == nil {
			fs.path, _ = x.File.locate(r.dir)
			fs.f, fs.err = os.Open(fs.path)
		}
	}
	if fs.err != nil {
		kind := ErrUnresolved
		if errors.Is(fs.err, ErrSourceChanged) {
			kind = ErrSourceChanged
		}
		return &Error{Offset: off, Kind: kind, Msg: where + ": " + fs.err.Error()}
	}
	if x.Len > r.max {
		return corrupt(off, "line %d of the block refers to %d bytes of %s, over the limit of %d", r.lineNo, x.Len, x.File.Path, r.max)
	}
	if int64(cap(r.fbuf)) < x.Len {
		r.fbuf = make([]byte, x.Len)
	}
	b := r.fbuf[:x.Len]
	if n, err := fs.f.ReadAt(b, x.Off); int64(n) < x.Len {
		if err == io.EOF {
			return &Error{Offset: off, Kind: ErrSourceChanged, Msg: fmt.Sprintf("%s: %s changed since the run recorded it by reference: it ends at byte %d (%s)", where, x.File.Path, x.Off+int64(n), copyHint)}
		}
		return &Error{Offset: off, Kind: ErrUnresolved, Msg: fmt.Sprintf("%s, which cannot be read: %v", where, err)}
	}
	if FileCRC(0, b) != x.CRC {
		return &Error{Offset: off, Kind: ErrSourceChanged, Msg: fmt.Sprintf("%s: %s changed since the run recorded it by reference: those bytes are not the ones read (CRC-32C) (%s)", where, x.File.Path, copyHint)}
	}
	lines := bytes.Count(b, []byte{'\n'})
	if b[len(b)-1] != '\n' {
		lines++ // the file's last line, without a newline
	}
	if uint64(lines) != x.N {
		return corrupt(off, "%s, which hold %d lines, not %d", where, lines, x.N)
	}
	r.fexp.rest, r.fexp.pos, r.fexp.path = b, x.Off, fs.path
	return nil
}

// checkFile checks, before the first reference to it is read, that the
// file is the one the writer read (SourceFile.Check, not strict: the
// XXH64 is checked when the size or time differ; the CRC-32C of each
// reference's bytes is checked always).
func (r *Reader) checkFile(id FileID) error {
	s := SourceFile{Opened: id, dir: r.dir}
	path, _ := id.locate(r.dir)
	if st, err := os.Stat(path); err == nil && (st.Size() != id.Size || st.ModTime().UnixNano() != id.MTime) && r.path != "" {
		// Changed in appearance: the fsum line, if the writer read the
		// file to its end, says whether its bytes are still the same.
		if files, err := FileSums(r.path); err == nil {
			for _, f := range files {
				if f.Opened.Path == id.Path && f.Sum {
					s = f
				}
			}
		}
	}
	if err := s.Check(false); err != nil {
		return err
	}
	return nil
}

// expandFile returns the next frame line of the file reference being
// expanded.
func (r *Reader) expandFile() []byte {
	x := &r.fexp
	payload := []byte("null")
	if !r.noPay {
		i := bytes.IndexByte(x.rest, '\n')
		if i < 0 {
			i = len(x.rest)
		}
		payload = x.rest[:i]
		x.rest = x.rest[min(i+1, len(x.rest)):]
		r.fspan = FileSpan{Path: x.path, Off: x.pos, Len: int64(i)}
		x.pos += int64(i) + 1
	}
	f := wire.Frame{Kind: wire.KindData, Writer: x.Writer, Seq: x.Seq + x.done, Payload: payload}
	r.synth = wire.AppendFrame(r.synth[:0], &f)
	x.done++
	return r.synth[:len(r.synth)-1]
}

// FileSpan is where in a file a source read an event's payload.
type FileSpan struct {
	Path     string
	Off, Len int64
}

// FileSpan returns where the frame read last came from when it is the
// line of a file its writer (a source) recorded by reference: the file,
// and the payload's offset and length in it.
func (r *Reader) FileSpan() (FileSpan, bool) { return r.fspan, r.fspan.Path != "" }

func (r *Reader) closeFiles() {
	for _, f := range r.files {
		if f.f != nil {
			f.f.Close()
		}
	}
	r.files = nil
}
