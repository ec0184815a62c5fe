package journal

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/obz-dev/obz/wire"
)

// WriterOptions tune a Writer. The zero value gives the defaults.
type WriterOptions struct {
	MaxLines int           // close a block at this many lines (default 4096)
	MaxBytes int           // close a block at this many uncompressed bytes (default 256 KiB)
	MaxDelay time.Duration // close a block this long after its first line (default 200 ms)
	Buffers  int           // blocks in flight to the compressor before Write waits (default 8)
	// Workers compress blocks in parallel (default GOMAXPROCS-1, from 1 to
	// 4): on a machine with idle cores compression keeps up with the stage.
	Workers int
	// Codec compresses the blocks: CodecZstd or CodecS2 (default
	// DefaultCodec).
	Codec Codec
	Level zstd.EncoderLevel // of CodecZstd
	// StoreWhenBehind stores a block uncompressed (as zstd raw blocks)
	// when every worker is busy and one more block is queued, instead of
	// making the stage wait for the compressor. Off by default: on a 2-CPU
	// machine it saved ~10% of a passthrough stage's time and doubled the
	// journal's size.
	StoreWhenBehind bool
	// Sync makes Close fsync a file made by Create. Without it a journal
	// survives a crash of the process (the kernel has every block written)
	// but not of the machine; with it Close waits for the disk.
	Sync bool

	storeAll bool // tests: store every block
}

func (o *WriterOptions) defaults() WriterOptions {
	var d WriterOptions
	if o != nil {
		d = *o
	}
	if d.MaxLines <= 0 {
		d.MaxLines = 4096
	}
	if d.MaxBytes <= 0 {
		d.MaxBytes = 256 << 10
	}
	if d.MaxDelay <= 0 {
		d.MaxDelay = 200 * time.Millisecond
	}
	if d.Buffers <= 0 {
		d.Buffers = 8
	}
	if d.Workers <= 0 {
		d.Workers = min(max(runtime.GOMAXPROCS(0)-1, 1), 4)
	}
	if d.Level == 0 {
		d.Level = zstd.SpeedFastest
	}
	if d.Codec == 0 {
		d.Codec = DefaultCodec
	}
	return d
}

// Codec is how a Writer compresses its blocks.
type Codec uint8

const (
	// CodecZstd compresses blocks as zstd frames (zstd's fastest level):
	// the smaller journal, which `zstd -d` decodes; format version 4.
	CodecZstd Codec = 1 + iota
	// CodecS2 compresses blocks as S2 blocks (format version 5): about a
	// third of zstd's CPU, a larger journal; `zstd -d` skips them.
	CodecS2
)

// DefaultCodec is the codec of a Writer whose options name none.
const DefaultCodec = CodecS2

// ParseCodec returns the codec named s: "zstd" or "s2".
func ParseCodec(s string) (Codec, error) {
	switch s {
	case "zstd":
		return CodecZstd, nil
	case "s2":
		return CodecS2, nil
	}
	return 0, fmt.Errorf("unknown journal codec %q (want s2 or zstd)", s)
}

func (c Codec) String() string {
	switch c {
	case CodecZstd:
		return "zstd"
	case CodecS2:
		return "s2"
	}
	return fmt.Sprintf("Codec(%d)", uint8(c))
}

// Writer is an io.Writer that journals whole frame lines. Write appends the
// bytes to the block being filled and returns; when the block is full it is
// handed to the compressor's goroutines, which compress blocks and write
// them out in order. The stage's goroutine hands over a block, not each
// Write: waking another goroutine for every batch cost the journaled flow
// more system time than its compression (futex and scheduler calls). When
// the compressor falls behind, Write waits: the journal slows the stage
// down rather than lose frames. A Writer is not safe for concurrent use.
type Writer struct {
	out    io.Writer
	file   *os.File // set by Create: synced and closed by Close
	opts   WriterOptions
	c      *compressor
	done   chan struct{}
	mu     sync.Mutex
	err    error // first error of the compressor
	closed bool
	bytes  int64 // bytes written to out, for Stats

	// The block being filled, shared by Write and the MaxDelay timer.
	bmu     sync.Mutex
	block   []byte
	lines   int   // newlines in block
	start   int64 // Unix ns of the Write of the block's first line
	end     int64 // Unix ns of its last Write
	timer   *time.Timer
	armed   bool
	closing bool
}

// Create creates (or truncates) the journal file at path.
func Create(path string, opts *WriterOptions) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	w, err := NewWriter(f, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	w.file = f
	return w, nil
}

// NewWriter returns a Writer that writes a journal to out, from its first
// byte (the offsets in the index count from there).
func NewWriter(out io.Writer, opts *WriterOptions) (*Writer, error) {
	o := opts.defaults()
	version := byte(FormatVersion)
	var enc *zstd.Encoder
	switch o.Codec {
	case CodecZstd:
		var err error
		enc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(o.Level), zstd.WithEncoderConcurrency(o.Workers),
			zstd.WithEncoderCRC(false), zstd.WithZeroFrames(true))
		if err != nil {
			return nil, err
		}
		version = zstdVersion
	case CodecS2:
	default:
		return nil, fmt.Errorf("journal: unknown codec %v", o.Codec)
	}
	w := &Writer{out: out, opts: o, done: make(chan struct{})}
	c := &compressor{w: w, enc: enc}
	w.c = c
	if err := c.write(appendHeader(nil, version)); err != nil {
		if enc != nil {
			enc.Close()
		}
		return nil, err
	}
	w.timer = time.AfterFunc(time.Hour, w.tick)
	w.timer.Stop()
	c.launch(o.Workers, o.Buffers)
	return w, nil
}

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("journal: write after close")

// Write journals p, which should hold whole lines: a block ends only after a
// newline. It returns the compressor's error, if it failed.
func (w *Writer) Write(p []byte) (int, error) {
	if w.closed {
		return 0, ErrClosed
	}
	if err := w.Err(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	now := time.Now().UnixNano()
	w.bmu.Lock()
	if len(w.block) == 0 {
		w.start = now
		if !w.armed {
			w.timer.Reset(w.opts.MaxDelay)
			w.armed = true
		}
	}
	w.end = now
	w.block = append(w.block, p...)
	w.lines += bytes.Count(p, []byte{'\n'})
	if w.lines >= w.opts.MaxLines || len(w.block) >= w.opts.MaxBytes {
		w.cut()
	}
	w.bmu.Unlock()
	return len(p), nil
}

// tick closes the block MaxDelay after its first line was written.
func (w *Writer) tick() {
	w.bmu.Lock()
	defer w.bmu.Unlock()
	w.armed = false
	if w.closing {
		return
	}
	w.cut()
	if len(w.block) > 0 { // a line still in progress
		w.timer.Reset(w.opts.MaxDelay)
		w.armed = true
	}
}

// cut hands the whole lines of the block to the compressor; an unfinished
// line stays for the next block. w.bmu is held.
func (w *Writer) cut() {
	n := bytes.LastIndexByte(w.block, '\n') + 1
	if n == 0 {
		return
	}
	c := w.c
	if c.failed() {
		w.block, w.lines = w.block[:0], 0
		return
	}
	j := &job{data: w.block[:n], done: make(chan struct{}),
		b: Block{DataSize: int64(n), Lines: uint32(w.lines), Start: w.start, End: w.end, HasMeta: true}}
	// The compressor is behind when its queue is full: store this block
	// as is rather than make the stage wait.
	stored := w.opts.storeAll || w.opts.StoreWhenBehind && len(c.jobs) == cap(c.jobs)
	if stored {
		j.b.Flags |= FlagStored
		j.sum()
		j.out = appendStored(append(j.out, metaHole[:]...), j.data)
		close(j.done)
	}
	var next []byte
	select {
	case next = <-c.spare:
	default:
		next = make([]byte, 0, w.opts.MaxBytes+128<<10)
	}
	w.block = append(next[:0], w.block[n:]...)
	w.lines = 0
	w.start = w.end
	c.order <- j
	if !stored {
		c.jobs <- j
	}
}

// Flush closes the current block and waits until it is written out.
func (w *Writer) Flush() error {
	if w.closed {
		return ErrClosed
	}
	sig := make(chan struct{})
	w.bmu.Lock()
	w.cut()
	w.c.order <- &job{flush: sig}
	w.bmu.Unlock()
	select {
	case <-sig:
	case <-w.done:
	}
	return w.Err()
}

// Err returns the compressor's error, if it failed.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close writes out the last block and the index, and closes the file if the
// Writer made it (after an fsync with WriterOptions.Sync). An unfinished last line is an error: it
// is not journaled.
func (w *Writer) Close() error {
	if w.closed {
		return ErrClosed
	}
	w.closed = true
	w.bmu.Lock()
	w.closing = true
	w.timer.Stop()
	w.cut()
	if len(w.block) > 0 {
		// Reported after the sink has written the whole lines before.
		w.c.partial = fmt.Errorf("journal: the last %d bytes written do not end with a newline; not journaled", len(w.block))
	}
	close(w.c.jobs)
	close(w.c.order)
	w.bmu.Unlock()
	<-w.done
	err := w.Err()
	if w.file != nil {
		if w.opts.Sync {
			if serr := w.file.Sync(); err == nil && serr != nil {
				err = serr
			}
		}
		if cerr := w.file.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// The compressor: workers compress blocks in parallel; the sink writes
// them out in order, completes their metadata and keeps the index.
type compressor struct {
	w     *Writer
	enc   *zstd.Encoder // EncodeAll is safe for concurrent use; nil for CodecS2
	jobs  chan *job     // to the workers
	order chan *job     // to the sink, in block order
	spare chan []byte   // recycled block buffers
	outs  chan []byte   // recycled output buffers
	wg    sync.WaitGroup

	partial error // an unfinished last line, found at Close

	// sink
	blocks []Block
	off    int64
	last   uint64 // highest data seq written so far
}

// job is one block on its way through the pipeline, or a flush marker.
type job struct {
	data  []byte
	b     Block
	out   []byte // metaHole, then the data frame: the sink writes the metadata in the hole
	done  chan struct{}
	flush chan struct{}
}

// metaHole is where a block's metadata goes, before its data frame: the
// sink fills it in, once it knows the last seq of the block before.
var metaHole [metaSize]byte

// sum sets the block's seq range (its own) and CRC from its lines.
func (j *job) sum() {
	j.b.FirstSeq, j.b.LastSeq = seqRange(j.data)
	j.b.DataCRC = crc32.ChecksumIEEE(j.data)
}

func (c *compressor) launch(workers, buffers int) {
	c.jobs = make(chan *job, workers)
	c.order = make(chan *job, buffers) // blocks in flight: then Write waits
	c.spare = make(chan []byte, buffers+workers+2)
	c.outs = make(chan []byte, buffers+workers+2)
	for range workers {
		c.wg.Add(1)
		go c.work()
	}
	go c.sink()
}

func (c *compressor) work() {
	defer c.wg.Done()
	for j := range c.jobs {
		var out []byte
		select {
		case out = <-c.outs:
		default:
		}
		j.sum()
		out = append(out[:0], metaHole[:]...)
		if c.enc == nil {
			j.b.Flags |= FlagS2
			j.out = appendS2(out, j.data)
		} else {
			j.out = c.enc.EncodeAll(j.data, out)
		}
		close(j.done)
	}
}

// sink writes the compressed blocks in order, then the index.
func (c *compressor) sink() {
	defer close(c.w.done)
	for j := range c.order {
		if j.flush != nil {
			close(j.flush)
			continue
		}
		<-j.done
		if !c.failed() {
			j.b.LastSeq = max(j.b.LastSeq, c.last)
			c.last = j.b.LastSeq
			j.b.appendMeta(j.out[:0])
			j.b.Offset = c.off
			j.b.Size = int64(len(j.out))
			if c.write(j.out) == nil {
				c.blocks = append(c.blocks, j.b)
			}
		}
		select {
		case c.spare <- j.data:
		default:
		}
		select {
		case c.outs <- j.out:
		default:
		}
	}
	c.wg.Wait()
	if c.enc != nil {
		c.enc.Close()
	}
	if !c.failed() {
		c.write(appendIndex(nil, c.blocks))
	}
	if c.partial != nil {
		c.fail(c.partial)
	}
}

func (c *compressor) write(p []byte) error {
	_, err := c.w.out.Write(p)
	if err != nil {
		c.fail(fmt.Errorf("journal: %w", err))
		return err
	}
	c.off += int64(len(p))
	c.w.mu.Lock()
	c.w.bytes = c.off
	c.w.mu.Unlock()
	return nil
}

func (c *compressor) fail(err error) {
	c.w.mu.Lock()
	if c.w.err == nil {
		c.w.err = err
	}
	c.w.mu.Unlock()
}

func (c *compressor) failed() bool { return c.w.Err() != nil }

// BytesWritten returns the journal's size so far (compressed).
func (w *Writer) BytesWritten() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.bytes
}

// seqRange returns the seq of the first and of the last data or error frame
// among whole lines; 0, 0 when there is none.
func seqRange(data []byte) (first, last uint64) {
	var f wire.Frame
	// seqs is the seq range of one line: a data or error frame's seq, a
	// reference line's frames; ok false for other lines.
	seqs := func(line []byte) (lo, hi uint64, ok bool) {
		if isRef(line) {
			x, ok := parseRef(line)
			return x.seq, x.seq + x.n - 1, ok
		}
		if isFileRef(line) {
			x, ok := parseFileRef(line)
			return x.Seq, x.Seq + x.N - 1, ok
		}
		if isRun(line) {
			x, ok := parseRun(line)
			return x.seq, x.seq + x.n - 1, ok
		}
		if wire.Decode(line, &f) == nil && (f.Kind == wire.KindData || f.Kind == wire.KindError) {
			return f.Seq, f.Seq, true
		}
		return 0, 0, false
	}
	for rest := data; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		if lo, _, ok := seqs(rest[:i]); ok {
			first = lo
			break
		}
		rest = rest[i+1:]
	}
	if first == 0 {
		return 0, 0
	}
	for end := len(data) - 1; end > 0; {
		i := bytes.LastIndexByte(data[:end], '\n') + 1
		if _, hi, ok := seqs(data[i:end]); ok {
			return first, hi
		}
		end = i - 1
	}
	return first, first
}
