package stages

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// How write's output is built: events go into s.w (buffered), then through
// s.raw (uncompressed bytes of the current output, for --split-size), the
// compressor if any, and s.disk (bytes that reach the file or stdout).

// compressor is a gzip or zstd writer; write keeps one and resets it for
// each part.
type compressor interface {
	io.Writer
	Flush() error
	Close() error
	Reset(w io.Writer)
}

// outCompression returns the compression named by path's extension: gzip
// for .gz, zstd for .zst, "" for none.
func outCompression(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".gz":
		return "gzip"
	case ".zst":
		return "zstd"
	}
	return ""
}

// trimCompression returns path without its .gz or .zst extension.
func trimCompression(path string) string {
	if outCompression(path) != "" {
		return strings.TrimSuffix(path, filepath.Ext(path))
	}
	return path
}

// compressTo points the compressor at w, making it on first use.
func (s *writeStage) compressTo(w io.Writer) (compressor, error) {
	if s.comp != nil {
		s.comp.Reset(w)
		return s.comp, nil
	}
	switch s.compression {
	case "gzip":
		s.comp = gzip.NewWriter(w)
	case "zstd":
		enc, err := zstd.NewWriter(w)
		if err != nil {
			return nil, err
		}
		s.comp = enc
	default:
		return nil, fmt.Errorf("unknown compression %q", s.compression)
	}
	return s.comp, nil
}

// chain points the output chain at under (a file or stdout): s.w writes to
// it through the compressor, if any.
func (s *writeStage) chain(under io.Writer) error {
	s.disk = countWriter{w: under}
	s.raw = countWriter{w: &s.disk}
	if s.compression != "" {
		c, err := s.compressTo(&s.disk)
		if err != nil {
			return err
		}
		s.raw.w = c
	}
	return nil
}

// openFile opens FILE, or the next part of a split output, as the output.
func (s *writeStage) openFile() error {
	name, target := s.path, s.target
	if s.split.on() {
		name = s.split.name(s.split.next)
		target = resolveTarget(name)
	}
	var f *atomicFile
	var err error
	if s.append && !s.split.on() {
		f, err = openAppend(target, name)
	} else {
		f, err = createAtomic(target, name)
	}
	if err != nil {
		return err
	}
	f.nosync = !s.fsync
	s.file = f
	s.partEvents = 0
	return s.chain(f.f)
}

// flushOut writes out what is buffered for the current output, compressor
// included (it is not finished: more may follow).
func (s *writeStage) flushOut() error {
	if s.csv != nil {
		if err := s.csv.Flush(); err != nil {
			return err
		}
	}
	return s.w.Flush()
}

// endOut flushes the output and ends the compressed stream.
func (s *writeStage) endOut() error {
	if err := s.flushOut(); err != nil {
		return err
	}
	if s.compression != "" {
		return s.comp.Close()
	}
	return nil
}

// commitFile ends the current file and commits it under its name+suffix.
// It reports whether its events are now in their final place: a file
// renamed to its name, appended or written in place, not a .partial.
func (s *writeStage) commitFile(suffix string) (final bool, err error) {
	f := s.file
	if err := s.endOut(); err != nil {
		return false, s.outputError(err)
	}
	s.closedBytes += s.disk.n.Load()
	s.disk.n.Store(0)
	if err := f.commit(suffix); err != nil {
		return false, err
	}
	s.file = nil
	if s.split.on() {
		s.split.next++
		if suffix == "" {
			s.parts++
			s.partsEvents += s.partEvents
		}
	}
	return suffix == "" || f.inPlace(), nil
}

// rotate ends the current part when it is full: it is committed and its
// events get their receipts. The next part is opened by the next event.
func (s *writeStage) rotate() error {
	if !s.split.full(s.partEvents, s.raw.n.Load()+uint64(s.w.Buffered())) {
		return nil
	}
	if _, err := s.commitFile(""); err != nil {
		return err
	}
	return s.receipts(&s.ok, "ok")
}

// abortOut removes what was not committed. It returns what a user must be
// told about FILE (or the current part).
func (s *writeStage) abortOut() string {
	f := s.file
	s.file = nil
	if s.comp != nil {
		// Release the compressor without finishing the stream in the file.
		s.comp.Reset(io.Discard)
		s.comp.Close()
	}
	switch {
	case f.appended:
		s.w.Reset(io.Discard)
		if f.rollback(int64(s.disk.n.Load())) {
			if f.created {
				return fmt.Sprintf("nothing was appended to %s (it did not exist before and was removed)", f.name)
			}
			return fmt.Sprintf("nothing was appended to %s (cut back to its %d bytes before this run)", f.name, f.size0)
		}
		return fmt.Sprintf("%s was changed by another writer meanwhile, so it was not cut back: it holds what this run appended before it failed (%d bytes after its first %d)",
			f.name, s.disk.n.Load(), f.size0)
	case f.direct:
		f.discard()
		return fmt.Sprintf("%s was written in place and holds what came before the failure", f.name)
	}
	f.discard()
	note := ""
	if _, err := os.Stat(f.target); err == nil {
		note = " (the existing file is unchanged)"
	}
	return f.name + " was not written" + note
}

// splitter names and sizes the parts of a split output (--split-every,
// --split-size): FILE out.ndjson.gz makes out-000001.ndjson.gz,
// out-000002.ndjson.gz ...
type splitter struct {
	every  uint64 // events per part; 0: no limit
	size   uint64 // bytes per part, before compression; 0: no limit
	prefix string // "dir/out-"
	suffix string // ".ndjson.gz"
	next   int    // the number of the next part
	first  int    // the number of this run's first part
}

func (sp *splitter) on() bool { return sp.every > 0 || sp.size > 0 }

// full reports whether a part with events and size bytes is complete.
func (sp *splitter) full(events, size uint64) bool {
	return (sp.every > 0 && events >= sp.every) || (sp.size > 0 && size >= sp.size)
}

func (sp *splitter) name(n int) string {
	return fmt.Sprintf("%s%06d%s", sp.prefix, n, sp.suffix)
}

// setName derives the part names from FILE: the number goes before the
// format extension and the compression extension, if any.
func (sp *splitter) setName(path string) {
	dir, base := filepath.Split(path)
	suffix := ""
	if c := filepath.Ext(base); outCompression(base) != "" && c != base {
		base, suffix = strings.TrimSuffix(base, c), c
	}
	if e := filepath.Ext(base); e != "" && e != base {
		base, suffix = strings.TrimSuffix(base, e), e+suffix
	}
	sp.prefix, sp.suffix = dir+base+"-", suffix
}

// existing returns the numbers of the parts of this name that exist.
func (sp *splitter) existing() ([]int, error) {
	dir, prefix := filepath.Split(sp.prefix)
	if dir == "" {
		dir = "."
	}
	es, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var nums []int
	for _, e := range es {
		n := e.Name()
		if !strings.HasPrefix(n, prefix) || !strings.HasSuffix(n, sp.suffix) || len(n) < len(prefix)+len(sp.suffix)+6 {
			continue
		}
		digits := n[len(prefix) : len(n)-len(sp.suffix)]
		if k, err := strconv.Atoi(digits); err == nil && k > 0 && strings.Trim(digits, "0123456789") == "" {
			nums = append(nums, k)
		}
	}
	return nums, nil
}

// parseByteSize reads sizes like 1048576, 64KiB, 100MiB, 1G (powers of 1024).
func parseByteSize(s string) (uint64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := uint64(1)
	for _, u := range []struct {
		suffix string
		mult   uint64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"TIB", 1 << 40}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"TB", 1 << 40},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseUint(strings.TrimSpace(t), 10, 64)
	if err != nil || n == 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("bad size %q (want e.g. 1048576, 64KiB, 100MiB, 2GiB)", s)
	}
	return n * mult, nil
}
