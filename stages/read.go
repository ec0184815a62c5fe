package stages

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/obz-dev/obz/format"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

var readSpec = runner.Spec{
	Name:      "read",
	Family:    runner.FamilySource,
	Summary:   "read NDJSON, JSON, CSV, TSV or text files (or stdin), plain or compressed, as events",
	ArgsUsage: "[FILE...|-]",
	Description: `Reads the files in order, one event per record, then ends with a natural
EOF. "-" or no FILE reads stdin. Every file is checked before anything is
written: one that cannot be opened stops obz with no events at all (only
the poison EOF every failed stage leaves on framed output). A FIFO or pipe
(mkfifo, <(cmd)) is opened once, when its turn comes (the open waits for
a writer), a device once at the check, and each is read from that one
open; their name's .gz or .zst is checked when the first bytes arrive.
SIGINT or SIGTERM stops reading at the next chunk of input, also from
input that never pauses (/dev/zero) or that blocks (stdin, a FIFO without
a writer): a stopped EOF.

FORMAT: --format ndjson|json|csv|tsv|text for every input, or else by
extension: .json is JSON, .csv CSV, .tsv TSV, .txt and .log text, anything
else (.ndjson, .jsonl, stdin) NDJSON.

COMPRESSION: gzip and zstd input is decompressed, files and stdin alike,
recognised by its first bytes. The format comes from the name without
.gz/.zst: orders.csv.gz is CSV. A file named .gz or .zst that is not so
compressed is refused before any output; a corrupt or truncated one ends
the stage (exit 1) after the events before the damage. zstd frames that
need a window over 128 MiB are refused (memory stays bounded).

NDJSON: one JSON value per line, with the same line rules as every stage:
blank lines are skipped, CRLF and a leading BOM are accepted, the last line
needs no newline, lines over --max-line are errors. A line that is an obz
frame (a saved framed stream) gives its payload: data frames become events,
error frames stay error events, EOF and other control frames are dropped
(read starts a new stream with its own sequence numbers and EOF).

JSON: if the first non-space byte is "[", each element of the top-level
array is an event (further top-level arrays may follow: their elements
too); otherwise the input is JSON values one after another, separated by
whitespace or not ({..}{..}, pretty-printed objects, NDJSON), each an
event. Values are streamed, one at a time in memory (at most --max-line
bytes each), and written compactly. A syntax error becomes one error event
(kind parse; too-long for a value over --max-line) holding the first 1 KiB
of what is skipped, and reading resumes at the next line that starts with
"{" or "[" (in an array: whose first non-blank character is "{"), so a bad
line of NDJSON or a bad object of jq output costs only itself; with no
such line the rest of the file is skipped. Its message gives FILE:LINE,
the bytes skipped and where reading resumed.

JSON maps: --entries reads a top-level object as a map of records
({"pkg":{...},...}): each member NAME:V becomes an event {"key":NAME,...}
with V's fields after the key (jq: to_entries[] | {key} + .value), or
{"key":NAME,"value":V} when V is no object; --entries-key names the key
field. A member whose object has that field already is an error event
(kind entries). The object is held whole, up to --max-line bytes.

TEXT: each line is an event {"line":"...","n":N}, N its line number in
that file (from 1). Blank lines are events too; "\n" or "\r\n" ends a line,
a BOM at the start is dropped. Invalid UTF-8 is replaced by U+FFFD (the
line stays an event) and counted in a warning on stderr.

CSV/TSV: the first row names the fields, in order; each later row becomes
an object with those keys. Empty header names become c<N> (N the column,
from 1); a repeated name gets _2, _3 ... appended. --no-header names the
fields c1, c2, ... and --header a,b,c names them a, b, c; with either, the
file has no header row and every row is data. Every row must have as many
fields as the header (or, without one, as the first row), unless
--allow-ragged: then a shorter row lacks the missing keys and a longer
one keeps the extra fields under keys "4", "5" ... (their position, as mlr
--allow-ragged-csv-input names them; c4, c5 ... with --no-header). Blank
lines are skipped; a UTF-8 BOM is dropped.

CSV is RFC 4180: quoted fields may hold the delimiter, "" and newlines.
--lazy-quotes accepts a bare " in a field; a row whose field then holds a
line break is reported on stderr (FILE:LINE, the lines it spans), as a stray
quote swallows the rows after it.

TSV is IANA text/tab-separated-values, as mlr reads and writes it: one row
per line, fields split at every tab, no quoting (a " is an ordinary
character). In a field, \t, \n, \r and \\ stand for a tab, a newline, a
carriage return and a backslash; any other backslash is itself.

NUMBERS: a CSV or TSV field becomes a JSON number only when its text
already is one that a float64 (jq's and JavaScript's numbers) holds without
losing a digit, and it is written byte for byte: 42, -0.5, 1.50 (stays
1.50), 1e-3. Everything else stays a string, so reading never changes a
value: 007, +3, 1., .5, " 42", 0x1F, 1e5x, NaN, integers beyond +-2^53
(16-digit and longer ids such as 9007199254740993) and numbers with more
digits than a float64 keeps. true, false and empty fields stay strings.
--strings keeps every field a string; --infer also makes true and false
booleans and an empty field null.

FOLLOW: -f/--follow reads one regular FILE from its start, then waits for
it to grow (polling every --poll), like tail -F, until SIGINT or SIGTERM
(then a stopped EOF). Events are flushed before each wait. A line (or row,
or value) still being written is held until it is complete; at a stop it
is dropped. If the file is renamed and a new one created at the path
(rotation), or the file shrinks (truncation), the old file is read to its
end, its last line taken as complete, and the path is read from its start
as a new input (line numbers from 1, a CSV header again). Lines written to
the old file after that are not read. Not for stdin (read - already waits)
or compressed files.

ERRORS: a bad line or row becomes an error event and reading goes on:
invalid JSON (kind parse), invalid UTF-8 (utf8), a line over --max-line
(too-long), a broken frame (frame), a CSV row with the wrong number of
fields or bad quoting (csv), a CSV row that is not UTF-8 (utf8), a TSV line
over --max-line (too-long). Its message starts with FILE:LINE (stdin:LINE
for stdin), its line is the line within that file, and it keeps the raw
text of the line or row. Two CSV problems end the stage instead (exit 1),
as no later row could be trusted: a header row that does not parse, and a
row that runs past --max-line (an unclosed quote, most likely).`,
	Examples: `obz read testdata/orders.ndjson -r
obz read testdata/orders.csv | obz filter '.amount > 50' -r
obz read testdata/orders.csv --strings | obz head -n 2 -r
obz read testdata/customers.csv testdata/orders.csv --stats > /dev/null
cat testdata/orders.ndjson | obz read - | obz head -n 2 -r
tail -n 3 testdata/orders.csv | obz read --format csv --header id,ts,customer,country,device,amount -r
obz read testdata/orders.json -r | head -n 2
obz read testdata/packages.tsv -r | head -n 2
obz read testdata/ubuntu.csv --allow-ragged -r | tail -n 2
obz read testdata/checksums.csv --header module,version,hash -r | head -n 2
obz read testdata/packages.json --entries --entries-key name -r | head -n 2
obz read testdata/orders.csv.gz -r | head -n 2
gzip -c testdata/orders.ndjson | obz read -r | head -n 2
obz read --format text README.md -r | head -n 2
obz read -f testdata/orders.ndjson | obz filter '.amount > 100' -r   # then waits for more lines, until Ctrl-C`,
	Flags: []runner.Flag{
		{Name: "format", Usage: "input `FORMAT` of every file: ndjson, json, csv, tsv or text (default: by extension; stdin is ndjson)", Default: ""},
		{Name: "follow", Short: "f", Usage: "wait for FILE to grow, following rotation, until stopped (like tail -F)", Default: false},
		{Name: "poll", Usage: "--follow: how often to look for more input", Default: defaultPoll},
		{Name: "strings", Usage: "CSV/TSV: every field is a string (no numbers; see NUMBERS)", Default: false},
		{Name: "infer", Usage: "CSV/TSV: also true/false as booleans and empty fields as null (see NUMBERS)", Default: false},
		{Name: "no-header", Usage: "CSV/TSV: there is no header row; name the fields c1, c2, ...", Default: false},
		{Name: "header", Usage: "CSV/TSV: there is no header row; name the fields `a,b,c`", Default: []string{}},
		{Name: "delimiter", Usage: "CSV/TSV: field separator `CHAR`, one character (\"tab\" or \\t for a tab)", Default: ""},
		{Name: "lazy-quotes", Usage: "CSV: accept a bare \" in a field and unescaped quotes in a quoted field (a field that then holds a line break is reported)", Default: false},
		{Name: "entries", Usage: "JSON: a top-level object is a map of records: each member NAME:{...} becomes an event {\"key\":NAME,...} (see JSON)", Default: false},
		{Name: "entries-key", Usage: "--entries: the `FIELD` that holds each member's name", Default: "key"},
		{Name: "invalid-utf8", Usage: "NDJSON: a line that is not valid UTF-8: error (to the error lane) or replace (each bad byte becomes U+FFFD, as jq reads it)", Default: "error"},
		{Name: "allow-ragged", Usage: "CSV/TSV: a row may have fewer fields than the header (the missing keys are absent) or more (kept under keys \"4\", \"5\" ... by position, as mlr --allow-ragged-csv-input)", Default: false},
	},
	New: newRead,
}

// stdinName is how stdin is named on the command line.
const stdinName = "-"

// ctxCheckEvery is how many records a source reads between two looks at ctx.
const ctxCheckEvery = 256

type readStage struct {
	files   []string      // "-" is stdin
	format  format.Format // "": by extension
	csv     format.CSVOptions
	entries string        // --entries: the key field; "" = off
	utf8    bool          // --invalid-utf8 replace
	follow  time.Duration // --follow: the poll interval; 0 = no follow
	in      inCounter
	sink    readSink // the input being read
	// held are the inputs that are neither regular files nor FIFOs (a
	// device, a socket), by their index in files: opened once, by newRead,
	// and read from that one open, since their data can be read only once.
	held map[int]*os.File
	// fifo marks the inputs that are FIFOs (named pipes, and the pipes of
	// <(cmd) as /dev/fd/N): opened once, when their turn comes (opening
	// one waits for a writer, who may wait for the files before it).
	// Opening a FIFO twice drops the writer that connected to the first
	// open.
	fifo     map[int]bool
	progress readProgress
}

// inCounter keeps a source's In and BytesIn counters (--stats, the status
// channel): records and bytes read, summed over the files.
type inCounter struct {
	c              *runner.Counters
	records, bytes uint64
}

// publish stores the totals, counting records and bytes of the current file.
func (ic *inCounter) publish(records int, bytes int64) {
	if ic.c != nil {
		ic.c.In.Store(ic.records + uint64(records))
		ic.c.BytesIn.Store(ic.bytes + uint64(bytes))
	}
}

// done adds a finished file.
func (ic *inCounter) done(records int, bytes int64) {
	ic.publish(records, bytes)
	ic.records += uint64(records)
	ic.bytes += uint64(bytes)
}

func newRead(o runner.Options) (runner.Stage, error) {
	r := &readStage{files: o.Args()}
	if len(r.files) == 0 {
		r.files = []string{stdinName}
	}
	if f := o.String("format"); f != "" {
		var ok bool
		if r.format, ok = format.Named(f); !ok {
			return nil, runner.Usagef("--format must be ndjson, json, csv, tsv or text, not %q", f)
		}
	}
	var err error
	if r.csv, err = parseCSVOptions(o); err != nil {
		return nil, err
	}
	switch o.String("invalid-utf8") {
	case "", "error":
	case "replace":
		r.utf8 = true
	default:
		return nil, runner.Usagef("--invalid-utf8 must be error or replace, not %q", o.String("invalid-utf8"))
	}
	if o.Bool("entries") {
		if r.entries = o.String("entries-key"); r.entries == "" {
			return nil, runner.Usagef("--entries-key needs a field name")
		}
	} else if o.IsSet("entries-key") {
		return nil, runner.Usagef("--entries-key applies with --entries only")
	}
	if o.Bool("follow") {
		if r.follow, err = followOptions(o, r.files); err != nil {
			return nil, err
		}
	}
	// Check every file now, before the runner writes anything: a typo must
	// not leave a half-written stream behind. Regular files are opened
	// again, one at a time, while reading (so that thousands of files need
	// not all be open); FIFOs are only looked at, devices stay open.
	for i, name := range r.files {
		if name == stdinName {
			continue
		}
		f, fifo, err := openReadable(name, r.follow > 0)
		if err != nil {
			r.Close()
			return nil, err
		}
		switch {
		case fifo:
			if r.fifo == nil {
				r.fifo = map[int]bool{}
			}
			r.fifo[i] = true
		case f != nil:
			if r.held == nil {
				r.held = map[int]*os.File{}
			}
			r.held[i] = f
		}
	}
	return r, nil
}

// openReadable checks name: a file to read, not a directory; a regular
// file named .gz or .zst must be compressed so (or empty); one to follow
// must be a regular file. A regular file is closed again (nil is
// returned). A FIFO is not opened (fifo is true): opening one waits for a
// writer. Anything else (a device, a socket) is returned open, unread: its
// data can be read only once.
func openReadable(name string, follow bool) (f *os.File, fifo bool, err error) {
	fi, err := os.Stat(name)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			pe.Op = "open" // what reading it needs: "open x.csv: no such file or directory"
		}
		return nil, false, err
	}
	if fi.IsDir() {
		return nil, false, fmt.Errorf("%s: is a directory", name)
	}
	if follow && !fi.Mode().IsRegular() {
		return nil, false, fmt.Errorf("%s: --follow needs a regular file (a pipe or device already waits for more: obz read %s)", name, name)
	}
	if fi.Mode()&os.ModeNamedPipe != 0 {
		return nil, true, nil
	}
	if f, err = os.Open(name); err != nil {
		return nil, false, err
	}
	if !fi.Mode().IsRegular() {
		return f, false, nil
	}
	defer f.Close()
	if c, _ := format.CompressionOf(name); c != format.None && !format.Matches(f, c) {
		return nil, false, errNotCompressed(name, c)
	}
	return nil, false, nil
}

func errNotCompressed(name string, c format.Compression) error {
	return fmt.Errorf("%s: not %s data (the name says %s; rename the file or use --format)", name, c, c)
}

// Close closes the inputs newRead held open and has not read yet.
func (r *readStage) Close() {
	for i, f := range r.held {
		f.Close()
		delete(r.held, i)
	}
}

// formatOf returns the format of one input: --format, or the extension of
// the name without .gz or .zst.
func (r *readStage) formatOf(name string) format.Format {
	if r.format != "" {
		return r.format
	}
	return format.ByExtension(name)
}

func (r *readStage) Produce(ctx context.Context, em *runner.Emitter) error {
	defer r.Close()
	r.in = inCounter{c: em.Counters()}
	if r.follow > 0 {
		return r.readFollow(ctx, em, r.files[0])
	}
	for i, name := range r.files {
		if ctx.Err() != nil {
			return nil
		}
		if err := r.readOne(ctx, em, i, name); err != nil {
			return err
		}
	}
	return nil
}

// readOne reads one file (files[i]), or stdin, decompressing it if it
// starts with the gzip or zstd magic number. A stop signal ends the read
// at the next chunk of input, also when input never pauses (/dev/zero)
// or when a read blocks (a pipe, a FIFO, stdin).
func (r *readStage) readOne(ctx context.Context, em *runner.Emitter, i int, name string) (err error) {
	var src io.Reader
	var sf *runner.SourceFile
	defer func() {
		if cerr := sf.Close(err == nil && ctx.Err() == nil); err == nil {
			err = cerr
		}
	}()
	held := r.held[i]
	if r.fifo[i] {
		f, err := openFIFO(ctx, name, func() { em.Flush() })
		if err != nil {
			if errors.Is(err, errStopped) {
				return nil
			}
			return err
		}
		held = f
	}
	switch {
	case name == stdinName:
		if em.Stdin() == nil {
			return errors.New("no stdin to read")
		}
		pump := newPump(ctx, em.Stdin(), func() { em.Flush() })
		defer pump.Close()
		src = pump
	case held != nil:
		delete(r.held, i)
		defer held.Close()
		pump := newPump(ctx, held, func() { em.Flush() })
		defer pump.Close()
		src = pump
	default:
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		// The journal may refer to the lines of an NDJSON file instead of
		// copying them (other formats' events are not the file's bytes):
		// the file is hashed as it is read.
		if r.formatOf(name) == format.NDJSON {
			sf = em.SourceFile(name, f)
		}
		src = r.progress.counted(stopReader{ctx: ctx, r: sf.Reader(f)})
	}
	f := r.formatOf(name)
	if name == stdinName {
		name = "stdin" // for messages
	}
	c, src := format.Sniff(src)
	if c != format.None {
		// Its lines are not its bytes: the journal copies them.
		if err := sf.Close(false); err != nil {
			return err
		}
	}
	if held != nil {
		// Checked here, not by newRead: its first bytes can be read once.
		if want, _ := format.CompressionOf(name); want != format.None && c != want && !emptyInput(&src) {
			return errNotCompressed(name, want)
		}
	}
	src, release, err := format.Decompress(c, src)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("reading %s: %w", name, err)
	}
	defer release()
	return r.parse(ctx, em, name, f, src, sf)
}

// parse emits the events of in, read as f.
func (r *readStage) parse(ctx context.Context, em *runner.Emitter, name string, f format.Format, in io.Reader, sf *runner.SourceFile) error {
	dec := format.NewDecoder(in, f, format.Options{Name: name, MaxLine: em.MaxLine(), CSV: r.csv, Entries: r.entries, ReplaceInvalidUTF8: r.utf8})
	r.sink = readSink{ctx: ctx, em: em, in: &r.in, name: name, dec: dec, sf: sf}
	err := dec.Decode(r.sink.take)
	r.in.done(dec.Pos())
	if k := &r.sink; k.invalid > 0 {
		em.Warnf("%s: %d line(s) of invalid UTF-8 (the first is line %d): bytes replaced by U+FFFD", name, k.invalid, k.firstInvalid)
	}
	if k := &r.sink; k.notes > maxNotes {
		em.Warnf("%s: %d row(s) with a field that holds a line break in all (%d shown)", name, k.notes, maxNotes)
	}
	if err != nil && stoppedInput(ctx, err) {
		return nil // the runner writes a stopped EOF
	}
	return err
}

// stoppedInput reports whether err, from a decoder, says that reading
// stopped because the stage is stopping.
func stoppedInput(ctx context.Context, err error) bool {
	var ie *format.InputError
	switch {
	case errors.Is(err, errStopped) && ctx.Err() != nil:
		return true
	case errors.As(err, &ie):
		return errors.Is(ie.Err, errStopped) || ctx.Err() != nil
	}
	return false
}

// readSink turns the records of one input into events.
type readSink struct {
	ctx                   context.Context
	em                    *runner.Emitter
	in                    *inCounter
	name                  string
	dec                   format.Decoder
	sf                    *runner.SourceFile // the file read, when the journal may refer to it
	n                     int
	invalid, firstInvalid int64 // text lines with invalid UTF-8
	notes                 int   // records with a warning (Record.Note)
}

// maxNotes is how many record warnings read prints; the rest are counted.
const maxNotes = 10

func (k *readSink) take(rec *format.Record) error {
	if k.n%ctxCheckEvery == 0 {
		if k.ctx.Err() != nil {
			return errStopped
		}
		k.in.publish(k.dec.Pos())
	}
	k.n++
	switch {
	case rec.Problem != nil:
		p := rec.Problem
		info := &wire.ErrorInfo{Kind: p.Kind, Msg: fmt.Sprintf("%s:%d: %s", k.name, rec.Line, p.Msg),
			Stage: k.em.Name(), Line: rec.Line, Raw: p.Raw}
		return k.em.EmitError(info, rec.Payload)
	case rec.Forward != nil:
		return k.em.EmitError(rec.Forward, rec.Payload)
	case rec.Replaced:
		if k.invalid++; k.invalid == 1 {
			k.firstInvalid = rec.Line
		}
	case rec.Note != "":
		if k.notes++; k.notes <= maxNotes {
			k.em.Warnf("%s:%d: %s", k.name, rec.Line, rec.Note)
		}
	}
	return k.em.EmitSpan(rec.Payload, k.sf, rec.Off, rec.Span)
}

// parseCSVOptions reads read's CSV/TSV flags.
func parseCSVOptions(o runner.Options) (format.CSVOptions, error) {
	c := format.CSVOptions{NoHeader: o.Bool("no-header"), LazyQuotes: o.Bool("lazy-quotes"), Ragged: o.Bool("allow-ragged"),
		RaggedHint: "--allow-ragged reads such rows"}
	switch {
	case o.Bool("strings") && o.Bool("infer"):
		return c, runner.Usagef("--strings and --infer contradict each other: --strings keeps every field a string")
	case o.Bool("strings"):
		c.Values = format.Strings
	case o.Bool("infer"):
		c.Values = format.Scalars
	}
	if o.IsSet("header") {
		seen := map[string]bool{}
		for _, h := range o.Strings("header") {
			for _, name := range strings.Split(h, ",") {
				name = strings.TrimSpace(name)
				if name == "" {
					return c, runner.Usagef("--header: empty field name in %q", h)
				}
				if seen[name] {
					return c, runner.Usagef("--header: field %q named twice", name)
				}
				seen[name] = true
				c.Header = append(c.Header, name)
			}
		}
		if len(c.Header) == 0 {
			return c, runner.Usagef("--header needs field names, e.g. --header id,name,amount")
		}
	}
	if d := o.String("delimiter"); d != "" {
		var err error
		if c.Comma, err = parseDelimiter(d); err != nil {
			return c, err
		}
	}
	return c, nil
}

// parseDelimiter reads --delimiter: one character, "tab" or `\t`.
func parseDelimiter(s string) (rune, error) {
	switch s {
	case "tab", `\t`:
		return '\t', nil
	}
	r, size := utf8.DecodeRuneInString(s)
	if size == 0 || size != len(s) || r == utf8.RuneError || r == '"' || r == '\r' || r == '\n' {
		return 0, runner.Usagef("--delimiter must be one character other than a quote or newline, not %q", s)
	}
	return r, nil
}

// openFIFO opens a FIFO, which waits until a writer opens it too; a stop
// signal ends the wait (errStopped). flush runs first: downstream sees
// what was read before the wait.
func openFIFO(ctx context.Context, name string, flush func()) (*os.File, error) {
	flush()
	type opened struct {
		f   *os.File
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		f, err := os.Open(name)
		ch <- opened{f, err}
	}()
	select {
	case o := <-ch:
		return o.f, o.err
	case <-ctx.Done():
		// The open stays blocked until a writer comes or the process
		// ends; if a writer comes, the file is closed.
		go func() {
			if o := <-ch; o.f != nil {
				o.f.Close()
			}
		}()
		return nil, errStopped
	}
}
