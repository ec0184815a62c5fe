package stages

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/obz-dev/obz/format"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

var writeSpec = runner.Spec{
	Name:        "write",
	Family:      runner.FamilySink,
	Summary:     "write events to a file (replaced only when complete, appended, split, compressed) or stdout",
	ArgsUsage:   "[FILE|-]",
	Description: writeDescription,
	Examples: `obz read testdata/orders.ndjson | obz write orders-copy.ndjson
obz read testdata/orders.csv | obz filter '.amount > 50' | obz write big.csv
obz read testdata/orders.ndjson | obz map '{id, country, amount}' | obz write orders.tsv.gz
obz read testdata/orders.ndjson | obz write orders.csv --dead-letter bad.ndjson  # exit 4: rows with tags or coupon keys are in bad.ndjson
obz gen --count 100000 | obz write events.ndjson.zst --split-every 25000   # events-000001.ndjson.zst ... events-000004.ndjson.zst
obz gen --count 10 | obz write log.ndjson --append
obz read testdata/orders.ndjson | obz write orders-copy.ndjson --receipts | grep -c '"t":"receipt"'
obz read testdata/orders.csv | obz write -`,
	ExitStatus: `For write: 1 also when FILE could not be written (it is left as it was);
4 means FILE was written with the other events, and the error events are in
the --dead-letter file or were reported on stderr; after 130/143 the events
drained before the stop are in FILE.partial (appended to FILE with --append).`,
	Flags: []runner.Flag{
		{Name: "format", Usage: "ndjson, csv or tsv (default: from FILE's extension, else ndjson)", Default: ""},
		{Name: "dead-letter", Usage: "write error events to `FILE` (NDJSON) instead of stderr", Default: ""},
		{Name: "header", Usage: "csv/tsv: write the header line (--header=false to leave it out)", Default: true},
		{Name: "append", Short: "a", Usage: "append to FILE instead of replacing it (a failed run is cut back off it)", Default: false},
		{Name: "fsync", Usage: "sync each file (and its directory) before it counts as written; --fsync=false for scratch output", Default: true},
		{Name: "split-every", Usage: "start a new numbered part of FILE every `N` events", Default: 0},
		{Name: "split-size", Usage: "start a new numbered part of FILE when a part reaches `SIZE` (e.g. 100MiB; before compression)", Default: ""},
		{Name: "compress", Usage: "gzip, zstd or none (default: from FILE's extension .gz, .zst)", Default: ""},
		{Name: "receipts", Usage: "print a delivery receipt frame per event on stdout, as the events are committed (with FILE)", Default: false},
		{Name: "skip-delivered", Usage: "WRITER:SEQ: the events up to SEQ were delivered by the run that is resumed (set by obz flow --resume)", Default: []string{}, Hidden: true},
		{Name: "rewind-from", Usage: "`JOURNAL` of the run that is resumed: --append cuts FILE back to where that run began appending and writes everything again (set by obz flow --resume)", Default: "", Hidden: true},
	},
	Effects: runner.Effects{
		Delivery: func(o runner.Options) runner.Delivery {
			if a := o.Args(); len(a) == 0 || a[0] == "-" || o.Bool("append") {
				return runner.DeliversInPlace
			}
			return runner.DeliversWhole
		},
		SkipFlag:   "skip-delivered",
		RewindFlag: "rewind-from",
		Rewinds:    writeRewinds,
		Outside:    writeEffects,
		Replay:     runner.ReplayDiscard,
	},
	New: newWrite,
}

// writeRewinds: --append FILE records where its appending began, beside
// its journal (write_resume.go); split parts are not cut back.
func writeRewinds(o runner.Options) bool {
	a := o.Args()
	return o.Bool("append") && len(a) > 0 && a[0] != "-" && o.Int("split-every") == 0 && o.String("split-size") == ""
}

// writeEffects: FILE (or stdout) and the dead-letter file.
func writeEffects(o runner.Options) []runner.Effect {
	e := []runner.Effect{{Kind: runner.EffectFile, Target: "-"}}
	if a := o.Args(); len(a) > 0 {
		e[0].Target = a[0]
	}
	if d := o.String("dead-letter"); d != "" {
		e = append(e, runner.Effect{Kind: runner.EffectFile, Target: d, Flag: "dead-letter"})
	}
	return e
}

// writeBuffer is the output buffer: output is written in batches this big,
// and when input goes idle (stdout only).
const writeBuffer = 64 << 10

type writeStage struct {
	path        string // FILE as given; "" for stdout
	target      string // FILE with symlinks resolved: the file that gets replaced
	deadPath    string
	format      string
	header      bool
	compression string // "", "gzip" or "zstd"
	append      bool
	fsync       bool
	split       splitter
	csvHeader   []string // --append to a CSV file: its header

	em     *runner.Emitter // set by open
	opened bool
	file   *atomicFile // FILE or the current part; nil for stdout or between parts
	dead   *atomicFile
	w      *bufio.Writer // FILE or stdout
	raw    countWriter   // uncompressed bytes of the current output
	disk   countWriter   // bytes that reached the current file or stdout
	comp   compressor
	deadW  *bufio.Writer
	csv    *format.CSVEncoder

	written, errors uint64
	partEvents      uint64 // events in the current part
	parts           int    // parts committed
	partsEvents     uint64 // events in them
	closedBytes     uint64 // bytes of the files committed
	ok, failed      receiptLog
	rout            *receiptOut // --receipts
	inReceipts      bool
	done            bool              // Finish or Abort ran
	delivered       map[string]uint64 // --skip-delivered (write_resume.go)
	rewound         string            // what --rewind-from did, said at open
}

func newWrite(o runner.Options) (runner.Stage, error) {
	args := o.Args()
	if len(args) > 1 {
		return nil, runner.Usagef("write takes one FILE (or - for stdout), got %d arguments", len(args))
	}
	s := &writeStage{format: strings.ToLower(o.String("format")), deadPath: o.String("dead-letter"), header: o.Bool("header"),
		append: o.Bool("append"), fsync: o.Bool("fsync")}
	if len(args) == 1 && args[0] != "-" {
		s.path = args[0]
		s.target = resolveTarget(s.path)
		if fi, err := os.Stat(s.target); err == nil && fi.IsDir() {
			return nil, runner.Usagef("%s is a directory", s.path)
		}
	}
	switch c := strings.ToLower(o.String("compress")); c {
	case "":
		s.compression = outCompression(s.path)
	case "gzip", "gz":
		s.compression = "gzip"
	case "zstd", "zst":
		s.compression = "zstd"
	case "none":
	default:
		return nil, runner.Usagef("--compress must be gzip, zstd or none, not %q", c)
	}
	if s.format == "" {
		switch strings.ToLower(filepath.Ext(trimCompression(s.path))) {
		case ".csv":
			s.format = "csv"
		case ".tsv":
			s.format = "tsv"
		default:
			s.format = "ndjson"
		}
	}
	if s.format != "ndjson" && s.format != "csv" && s.format != "tsv" {
		return nil, runner.Usagef("--format must be ndjson, csv or tsv, not %q", s.format)
	}
	if o.IsSet("header") && s.format == "ndjson" {
		return nil, runner.Usagef("--header applies to csv and tsv only")
	}
	switch {
	case s.deadPath == "" && o.IsSet("dead-letter"), s.deadPath == "-":
		return nil, runner.Usagef("--dead-letter needs a file name (error events go to stderr without it)")
	case s.deadPath != "" && s.path != "" && samePath(resolveTarget(s.deadPath), s.target):
		return nil, runner.Usagef("--dead-letter must be another file than %s", s.path)
	}
	if err := s.splitOptions(o); err != nil {
		return nil, err
	}
	var err error
	if s.delivered, err = parseDelivered(o.Strings("skip-delivered")); err != nil {
		return nil, err
	}
	if s.path == "" {
		switch {
		case s.append:
			return nil, runner.Usagef("--append needs FILE (stdout is a stream: use the shell's >>)")
		case s.split.on():
			return nil, runner.Usagef("--split-every and --split-size need FILE: the parts are named after it")
		case o.Bool("receipts"):
			return nil, runner.Usagef("--receipts needs FILE: without it stdout carries the events")
		}
	}
	if o.Bool("receipts") {
		s.rout = &receiptOut{} // its writer is stdout, known at open
	}
	if err := s.rewind(o); err != nil {
		return nil, err
	}
	if s.append && !s.split.on() && s.format != "ndjson" && s.header {
		h, err := format.ReadCSVHeader(s.target, format.Compression(s.compression), format.Format(s.format))
		if err != nil {
			return nil, fmt.Errorf("cannot append to %s: %w", s.path, err)
		}
		s.csvHeader = h
	}
	return s, nil
}

// splitOptions reads --split-every and --split-size. Without --append the
// parts must not exist yet (a mix of old and new parts would look like one
// output); with it, numbering goes on after the last existing part.
func (s *writeStage) splitOptions(o runner.Options) error {
	if n := o.Int("split-every"); n < 0 {
		return runner.Usagef("--split-every must be a number of events, not %d", n)
	} else {
		s.split.every = uint64(n)
	}
	if v := o.String("split-size"); v != "" {
		n, err := parseByteSize(v)
		if err != nil {
			return runner.Usagef("--split-size: %v", err)
		}
		s.split.size = n
	}
	if !s.split.on() || s.path == "" {
		return nil
	}
	s.split.setName(s.path)
	s.split.next, s.split.first = 1, 1
	nums, err := s.split.existing()
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", s.path, err)
	}
	if len(nums) == 0 {
		return nil
	}
	if !s.append {
		return runner.Usagef("%s exists (parts of an earlier run): remove them, or --append to add parts after them", s.split.name(nums[0]))
	}
	for _, n := range nums {
		s.split.next = max(s.split.next, n+1)
	}
	s.split.first = s.split.next
	return nil
}

// open creates the output on the first call: lazily, so that a stage that
// never runs leaves no temporary file behind.
func (s *writeStage) open(em *runner.Emitter) error {
	if s.opened {
		return nil
	}
	s.opened, s.em = true, em
	if s.rewound != "" {
		em.Warnf("%s", s.rewound)
	}
	s.w = bufio.NewWriterSize(&s.raw, writeBuffer)
	if s.rout != nil {
		s.rout = newReceiptOut(em.Stdout())
	}
	if s.deadPath != "" {
		f, err := createAtomic(resolveTarget(s.deadPath), s.deadPath)
		if err != nil {
			return err
		}
		f.nosync = !s.fsync
		s.dead, s.deadW = f, bufio.NewWriterSize(f.f, writeBuffer)
	}
	if s.path != "" {
		if err := s.openFile(); err != nil {
			return err
		}
	} else if err := s.chain(em.Stdout()); err != nil {
		return err
	}
	switch s.format {
	case "csv":
		s.csv = format.NewCSVEncoder(s.w, ',', s.header)
	case "tsv":
		s.csv = format.NewCSVEncoder(s.w, '\t', s.header)
	}
	if s.csv != nil && s.csvHeader != nil {
		s.csv.UseHeader(s.csvHeader)
	}
	// The runner flushes its emitter whenever input goes idle; do the same
	// with stdout so that a slow stream is not held back in our buffer.
	// What reached stdout is delivered: its receipts go out then.
	em.OnFlush(func() {
		if s.path == "" && s.compression == "" && !s.done && !s.inReceipts {
			// An error sticks in s.w: the next write returns it.
			if s.w.Flush() == nil && !s.ok.empty() {
				s.inReceipts = true
				s.receipts(&s.ok, "ok") // an error sticks in em
				s.inReceipts = false
			}
		}
		em.SetBytesOut(s.closedBytes + s.disk.n.Load())
	})
	return nil
}

func (s *writeStage) Event(ev *wire.Frame, em *runner.Emitter) error {
	if err := s.open(em); err != nil {
		return err
	}
	if skip, err := s.skipDelivered(ev, em); skip || err != nil {
		return err
	}
	if s.file == nil && s.path != "" { // the next part
		if err := s.openFile(); err != nil {
			return err
		}
		if s.csv != nil {
			if err := s.csv.WriteHeader(); err != nil {
				return s.outputError(err)
			}
		}
	}
	if s.csv != nil {
		bad, err := s.csv.Encode(ev.Payload)
		if err != nil {
			return s.outputError(err)
		}
		if bad != nil {
			info := &wire.ErrorInfo{Kind: bad.Kind, Msg: bad.Msg, Stage: em.Name(), Line: ev.Line}
			payload := ev.Payload
			if bad.Kind == "parse" {
				info.Raw, payload = []byte(strings.ToValidUTF8(string(ev.Payload), "\uFFFD")), nil
			}
			return s.errorEvent(em, info, ev.Writer, ev.Seq, payload)
		}
	} else {
		s.w.Write(ev.Payload)
		if err := s.w.WriteByte('\n'); err != nil {
			return s.outputError(err)
		}
	}
	s.written++
	s.partEvents++
	em.Delivered()
	s.ok.add(ev.Writer, ev.Seq)
	if s.split.on() {
		return s.rotate()
	}
	return nil
}

// ErrorEvent takes the error events that reach the sink.
func (s *writeStage) ErrorEvent(ev *wire.Frame, em *runner.Emitter) error {
	if err := s.open(em); err != nil {
		return err
	}
	info := ev.Err
	if info == nil {
		info = &wire.ErrorInfo{Kind: "frame", Msg: "error frame without error details"}
	}
	writer := ev.Writer
	if writer == runner.LocalErrorWriter {
		writer = ""
	}
	return s.errorEvent(em, info, writer, ev.Seq, ev.Payload)
}

// errorEvent reports one error event on stderr or in the dead-letter file.
// Its receipt says failed. writer is "" for a line this stage could not
// read: it was no writer's event and gets no receipt.
func (s *writeStage) errorEvent(em *runner.Emitter, info *wire.ErrorInfo, writer string, seq uint64, payload []byte) error {
	if em.FailOnError() {
		return &runner.EventFailedError{Info: *info}
	}
	s.errors++
	if writer != "" {
		s.failed.add(writer, seq)
	}
	if s.dead == nil {
		em.ReportError(info, payload)
		return nil
	}
	em.CountError(info.Kind)
	if _, err := s.deadW.Write(appendDeadLetter(nil, info, writer, seq, payload)); err != nil {
		return fmt.Errorf("writing %s: %w", s.deadPath, err)
	}
	return nil
}
