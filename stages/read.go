package stages

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/obz-dev/obz/wire"
)

var readSpec = Spec{
	Name:      "read",
	Family:    FamilySource,
	Summary:   "read NDJSON, CSV or TSV files (or stdin) as events",
	ArgsUsage: "[FILE...|-]",
	Description: `Reads the files in order, one event per record, then ends with a natural
EOF. "-" or no FILE reads stdin. Every file is checked before anything is
written: one that cannot be opened stops obz with no output at all.

FORMAT: --format ndjson|csv|tsv for every input, or else by extension:
.csv is CSV, .tsv is TSV, anything else (.ndjson, .jsonl, .json, stdin) is
NDJSON. (.json means one JSON value per line for now.)

NDJSON: one JSON value per line, with the same line rules as every stage:
blank lines are skipped, CRLF and a leading BOM are accepted, the last line
needs no newline, lines over --max-line are errors. A line that is an obz
frame (a saved framed stream) gives its payload: data frames become events,
error frames stay error events, EOF and other control frames are dropped
(read starts a new stream with its own sequence numbers and EOF).

CSV/TSV: the first row names the fields, in order; each later row becomes
an object with those keys. Empty header names become c<N> (N the column,
from 1); a repeated name gets _2, _3 ... appended. --no-header names the
fields c1, c2, ... and --header a,b,c names them a, b, c; with either, the
file has no header row and every row is data. Every row must have as many
fields as the header (or, without one, as the first row). Quoted fields may
hold the delimiter, "" and newlines (RFC 4180); a UTF-8 BOM is dropped;
TSV is the same with a tab as delimiter. Values are strings unless --infer:
then an empty field is null, true and false are booleans, and a field
written exactly as a JSON number (-12, 0, 3.5, 1e-3) is that number, except
integers beyond +-2^53 (they would lose digits). Everything else stays a
string: 007, +5, 1., .5, " 42", NaN, TRUE, null.

ERRORS: a bad line or row becomes an error event and reading goes on:
invalid JSON (kind parse), invalid UTF-8 (utf8), a line over --max-line
(too-long), a broken frame (frame), a CSV row with the wrong number of
fields or bad quoting (csv), a CSV row that is not UTF-8 (utf8). Its message starts with FILE:LINE (stdin:LINE
for stdin), its line is the line within that file, and it keeps the raw
text of the line or row. Two CSV problems end the stage instead (exit 1),
as no later row could be trusted: a header row that does not parse, and a
row that runs past --max-line (an unclosed quote, most likely).`,
	Examples: `obz read testdata/orders.ndjson -r
obz read testdata/orders.csv --infer | obz filter '.amount > 50' -r
obz read testdata/customers.csv testdata/orders.csv --infer --stats > /dev/null
cat testdata/orders.ndjson | obz read - | obz head -n 2 -r
tail -n 3 testdata/orders.csv | obz read --format csv --header id,ts,customer,country,device,amount -r`,
	Flags: []Flag{
		{Name: "format", Usage: "input `FORMAT` of every file: ndjson, csv or tsv (default: by extension; stdin is ndjson)", Default: ""},
		{Name: "infer", Usage: "CSV/TSV: numbers, true/false and empty (null) instead of strings (see DESCRIPTION)", Default: false},
		{Name: "no-header", Usage: "CSV/TSV: there is no header row; name the fields c1, c2, ...", Default: false},
		{Name: "header", Usage: "CSV/TSV: there is no header row; name the fields `a,b,c`", Default: []string{}},
		{Name: "delimiter", Usage: "CSV/TSV: field separator `CHAR`, one character (\"tab\" or \\t for a tab)", Default: ""},
		{Name: "lazy-quotes", Usage: "CSV/TSV: accept a bare \" in a field and unescaped quotes in a quoted field", Default: false},
	},
	New: newRead,
}

// Input formats.
const (
	formatAuto   = ""
	formatNDJSON = "ndjson"
	formatCSV    = "csv"
	formatTSV    = "tsv"
)

// stdinName is how stdin is named on the command line.
const stdinName = "-"

// ctxCheckEvery is how many records a source reads between two looks at ctx.
const ctxCheckEvery = 256

type readStage struct {
	files  []string // "-" is stdin
	format string   // formatAuto: by extension
	csv    csvOptions
	in     inCounter
}

// inCounter keeps a source's In and BytesIn counters (--stats, the status
// channel): records and bytes read, summed over the files.
type inCounter struct {
	c              *Counters
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

func newRead(o Options) (Stage, error) {
	r := &readStage{files: o.Args()}
	if len(r.files) == 0 {
		r.files = []string{stdinName}
	}
	switch f := strings.ToLower(o.String("format")); f {
	case formatAuto, formatNDJSON, formatCSV, formatTSV:
		r.format = f
	case "jsonl", "json":
		r.format = formatNDJSON
	default:
		return nil, Usagef("--format must be ndjson, csv or tsv, not %q", o.String("format"))
	}
	var err error
	if r.csv, err = parseCSVOptions(o); err != nil {
		return nil, err
	}
	// Check every file now, before the runner writes anything: a typo must
	// not leave a half-written stream behind. Files are opened again, one at
	// a time, while reading (so that thousands of files need not all be open).
	for _, name := range r.files {
		if name == stdinName {
			continue
		}
		if err := checkReadable(name); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func checkReadable(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s: is a directory", name)
	}
	return nil
}

// formatOf returns the format of one input.
func (r *readStage) formatOf(name string) string {
	if r.format != formatAuto {
		return r.format
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		return formatCSV
	case ".tsv", ".tab":
		return formatTSV
	}
	return formatNDJSON
}

func (r *readStage) Produce(ctx context.Context, em *Emitter) error {
	r.in = inCounter{c: em.counters}
	for _, name := range r.files {
		if ctx.Err() != nil {
			return nil
		}
		if err := r.readOne(ctx, em, name); err != nil {
			return err
		}
	}
	return nil
}

func (r *readStage) readOne(ctx context.Context, em *Emitter, name string) error {
	var in io.Reader
	var pump *stdinPump
	if name == stdinName {
		if em.Stdin() == nil {
			return errors.New("no stdin to read")
		}
		pump = newStdinPump(ctx, em.Stdin(), func() { em.Flush() })
		defer pump.Close()
		in = pump
	} else {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	format := r.formatOf(name)
	if name == stdinName {
		name = "stdin" // for messages
	}
	switch format {
	case formatCSV, formatTSV:
		return r.readCSV(ctx, em, name, in, pump, format)
	default:
		return r.readNDJSON(ctx, em, name, in, pump)
	}
}

// readNDJSON emits one event per line of in. pump is in when reading stdin.
func (r *readStage) readNDJSON(ctx context.Context, em *Emitter, name string, in io.Reader, pump *stdinPump) error {
	rd := wire.NewReader(in, em.MaxLine())
	var f wire.Frame
	n := 0
	defer func() { r.in.done(n, rd.BytesRead()) }()
	for ; ; n++ {
		if n%ctxCheckEvery == 0 {
			if ctx.Err() != nil {
				return nil
			}
			r.in.publish(n, rd.BytesRead())
		}
		err := rd.Next(&f)
		if pump != nil && pump.cut(rd.BytesRead()) {
			return nil // the stop came in the middle of this line: it is not an event
		}
		if err == nil {
			switch f.Kind {
			case wire.KindData:
				err = em.Emit(f.Payload)
			case wire.KindError:
				info := f.Err
				if info == nil {
					info = &wire.ErrorInfo{Kind: "frame", Msg: fmt.Sprintf("%s:%d: error frame without error info", name, f.Line), Stage: em.Name(), Line: f.Line}
				}
				err = em.EmitError(info, f.Payload)
			}
			if err != nil {
				return err
			}
			continue
		}
		var le *wire.LineError
		if errors.As(err, &le) {
			info := &wire.ErrorInfo{Kind: le.Kind, Msg: fmt.Sprintf("%s:%d: %s", name, le.Line, le.Msg),
				Stage: em.Name(), Line: le.Line, Raw: le.Raw}
			if err := em.EmitError(info, nil); err != nil {
				return err
			}
			continue
		}
		if err == io.EOF || errors.Is(err, errPumpStopped) {
			return nil
		}
		return fmt.Errorf("reading %s: %w", name, err)
	}
}

// errPumpStopped ends stdin when the stage is asked to stop.
var errPumpStopped = errors.New("stopped")

// stdinPump reads stdin in its own goroutine so that a stop signal ends a
// read that would otherwise block for ever (`tail -f log | obz read -`),
// and flushes the stage's output before it waits for more input.
type stdinPump struct {
	ctx   context.Context
	flush func()
	full  chan pumpChunk
	free  chan []byte
	done  chan struct{}
	cur   pumpChunk
	off   int
	err   error

	delivered int64 // bytes returned by Read
	last      byte  // the last of them
	stopped   bool  // Read returned errPumpStopped
}

type pumpChunk struct {
	buf []byte
	n   int
	err error
}

const pumpBuffer = 64 << 10

func newStdinPump(ctx context.Context, r io.Reader, flush func()) *stdinPump {
	p := &stdinPump{ctx: ctx, flush: flush, full: make(chan pumpChunk, 1), free: make(chan []byte, 2), done: make(chan struct{}), last: '\n'}
	p.free <- make([]byte, pumpBuffer)
	p.free <- make([]byte, pumpBuffer)
	go func() {
		for {
			var buf []byte
			select {
			case buf = <-p.free:
			case <-p.done:
				return
			}
			n, err := r.Read(buf)
			select {
			case p.full <- pumpChunk{buf, n, err}:
			case <-p.done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return p
}

func (p *stdinPump) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for p.off >= p.cur.n {
		if p.err != nil {
			return 0, p.err
		}
		if p.cur.buf != nil {
			p.free <- p.cur.buf
			p.cur = pumpChunk{}
		}
		var c pumpChunk
		select {
		case c = <-p.full:
		default:
			p.flush() // about to wait: let downstream see what we have
			select {
			case c = <-p.full:
			case <-p.ctx.Done():
				p.err, p.stopped = errPumpStopped, true
				return 0, p.err
			}
		}
		p.cur, p.off, p.err = c, 0, c.err
	}
	n := copy(b, p.cur.buf[p.off:p.cur.n])
	p.off += n
	p.delivered += int64(n)
	p.last = b[n-1]
	return n, nil
}

// cut reports whether the stop signal came in the middle of a line and the
// reader, having consumed consumed bytes, is at that line's unfinished end.
func (p *stdinPump) cut(consumed int64) bool {
	return p.stopped && consumed == p.delivered && p.last != '\n'
}

// Close stops the pump's goroutine, unless it is blocked reading stdin:
// that one ends with the process.
func (p *stdinPump) Close() error {
	close(p.done)
	return nil
}

// parseDelimiter reads --delimiter: one character, "tab" or `\t`.
func parseDelimiter(s string) (rune, error) {
	switch s {
	case "tab", `\t`:
		return '\t', nil
	}
	r, size := utf8.DecodeRuneInString(s)
	if size == 0 || size != len(s) || r == utf8.RuneError || r == '"' || r == '\r' || r == '\n' {
		return 0, Usagef("--delimiter must be one character other than a quote or newline, not %q", s)
	}
	return r, nil
}
