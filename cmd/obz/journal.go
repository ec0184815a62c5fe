package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/obz-dev/obz/journal"
	"github.com/obz-dev/obz/stages"
	"github.com/obz-dev/obz/wire"
	"github.com/urfave/cli/v2"
)

// refusedError: replay or verify will not run (exit 3).
type refusedError struct{ msg string }

func (e *refusedError) Error() string { return e.msg }

const journalExit = `EXIT STATUS:
   0    success (verify: the journal is whole)
   1    the journal is torn or corrupt (the first bad offset is reported), or a read failed
   2    usage error
`

var seqFlags = []cli.Flag{
	&cli.Uint64Flag{Name: "from-seq", Usage: "start at the data frame of this seq (uses the index: earlier blocks are not read)"},
	&cli.Uint64Flag{Name: "to-seq", Usage: "stop after the data frame of this seq"},
}

func journalCommand(cmdName *string, runErr *error) *cli.Command {
	sub := func(name, usage, args, help string, flags []cli.Flag, fn func(*cli.Context) error) *cli.Command {
		return &cli.Command{
			Name: name, Usage: usage, ArgsUsage: args, Flags: flags,
			CustomHelpTemplate: "NAME:\n   obz journal " + name + " - " + usage + "\n\nUSAGE:\n   obz journal " + name + " [options] " + args + "\n\n" + help +
				"\nOPTIONS:\n{{range .VisibleFlags}}   {{.}}\n{{end}}\n" + journalExit,
			OnUsageError: func(_ *cli.Context, err error, _ bool) error {
				*cmdName = "journal " + name
				return &usageError{msg: err.Error()}
			},
			Action: func(c *cli.Context) error {
				*cmdName = "journal " + name
				if c.NArg() < 1 {
					*runErr = &usageError{msg: "a journal file is required, e.g. obz journal " + name + " out.zst"}
					return nil
				}
				*runErr = fn(c)
				return nil
			},
		}
	}
	return &cli.Command{
		Name:     "journal",
		Usage:    "inspect, check and repair journals (zstd files of a stage's output frames)",
		Category: "journals",
		Subcommands: []*cli.Command{
			sub("cat", "print a journal's frames (or bare payloads with -r)", "FILE.zst",
				"EXAMPLES:\n   obz journal cat run/journals/orders.zst | head\n   obz journal cat -r --from-seq 1000 --to-seq 1010 orders.zst | jq .amount\n",
				append([]cli.Flag{&cli.BoolFlag{Name: "raw", Aliases: []string{"r"}, Usage: "print data payloads only, one per line (for jq)"}}, seqFlags...), journalCat),
			sub("stat", "counts per kind, seq and time range, compression ratio, EOF, torn tail", "FILE.zst...",
				"EXAMPLES:\n   obz journal stat .obz/runs/orders-*/journals/*.zst\n", nil, journalStat),
			sub("verify", "check a journal's integrity; report the first bad offset (exit 1 when bad)", "FILE.zst...",
				"DESCRIPTION:\n   Walks every frame of the file (without trusting the index), checks each\n   block's checksum and header, that every line is a frame, that seqs have no\n   gap and that the EOF count matches, and that the index trailer matches.\n\nEXAMPLES:\n   obz journal verify orders.zst\n", nil, journalVerify),
			sub("recover", "rewrite the good prefix of a torn or corrupt journal to a new file", "FILE.zst",
				"DESCRIPTION:\n   Copies every block before the first torn or corrupt one, as is, to -o, and\n   writes a new index. The recovered journal has no EOF if the original lost\n   it: replaying it ends with a truncated EOF.\n\nEXAMPLES:\n   obz journal recover crashed.zst -o fixed.zst\n",
				[]cli.Flag{&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "the new journal file", Required: true}}, journalRecover),
		},
	}
}

func openJournal(path string) (*journal.Reader, error) {
	r, err := journal.Open(path, nil)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// journalProblem wraps a torn tail or corruption with the file's name.
func journalProblem(path string, err error) error {
	return fmt.Errorf("%s: %w", path, err)
}

func journalCat(c *cli.Context) error {
	path := c.Args().First()
	r, err := openJournal(path)
	if err != nil {
		return err
	}
	defer r.Close()
	if n := c.Uint64("from-seq"); n > 0 {
		r.SeekSeq(n)
	}
	to := c.Uint64("to-seq")
	raw := c.Bool("raw")
	out := bufio.NewWriterSize(c.App.Writer, 64<<10)
	defer out.Flush()
	var f wire.Frame
	var skipped int64
	for {
		err := r.Next(&f)
		if err == io.EOF {
			break
		}
		if err != nil {
			out.Flush()
			return journalProblem(path, err)
		}
		data := f.Kind == wire.KindData || f.Kind == wire.KindError
		if to > 0 && data && f.Seq > to {
			break
		}
		switch {
		case !raw:
			out.Write(r.Line())
			out.WriteByte('\n')
		case f.Kind == wire.KindData:
			out.Write(f.Payload)
			out.WriteByte('\n')
		case f.Kind == wire.KindError:
			skipped++
		}
		if to > 0 && data && f.Seq == to {
			break
		}
	}
	if skipped > 0 {
		fmt.Fprintf(c.App.ErrWriter, "obz journal cat: %d error events not shown (-r prints data payloads; drop -r to see them)\n", skipped)
	}
	return out.Flush()
}

func journalStat(c *cli.Context) error {
	var bad error
	for _, path := range c.Args().Slice() {
		r, err := openJournal(path)
		if err != nil {
			return err
		}
		s, err := journal.Stat(r)
		r.Close()
		if err != nil {
			return err
		}
		w := c.App.Writer
		fmt.Fprintf(w, "%s:\n", path)
		fmt.Fprintf(w, "  frames     %d (%s)\n", s.Frames, kindCounts(s.Kinds))
		if s.FirstSeq > 0 {
			fmt.Fprintf(w, "  seq        %d..%d (writer %s)\n", s.FirstSeq, s.LastSeq, s.Writer)
		} else {
			fmt.Fprintf(w, "  seq        none\n")
		}
		if s.Start > 0 {
			a, b := time.Unix(0, s.Start).UTC(), time.Unix(0, s.End).UTC()
			fmt.Fprintf(w, "  written    %s .. %s (%s)\n", a.Format(time.RFC3339Nano), b.Format(time.RFC3339Nano), b.Sub(a).Round(time.Millisecond))
		}
		fmt.Fprintf(w, "  size       %d bytes, %d uncompressed, ratio %.2f, %d blocks, index %s\n", s.FileBytes, s.DataBytes, s.Ratio(), s.Blocks, yesNo(s.Indexed, "present", "missing (rebuilt by a scan)"))
		if s.Stored > 0 {
			fmt.Fprintf(w, "  stored     %d blocks uncompressed (the compressor was behind the stage)\n", s.Stored)
		}
		if s.HasEOF {
			fmt.Fprintf(w, "  eof        %s, count %d\n", s.EOFKind, s.EOFCount)
		} else {
			fmt.Fprintf(w, "  eof        none (the writer did not finish: replay ends with a truncated EOF)\n")
		}
		if s.Err != nil {
			fmt.Fprintf(w, "  tail       %v\n", s.Err)
			bad = journalProblem(path, s.Err)
		} else {
			fmt.Fprintf(w, "  tail       clean\n")
		}
		for _, p := range s.Problems {
			fmt.Fprintf(w, "  problem    %s\n", p)
		}
	}
	return bad
}

func kindCounts(m map[string]int64) string {
	var parts []string
	for _, k := range []string{"data", "error", "eof", "wm", "receipt"} {
		if m[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	if len(parts) == 0 {
		return "empty"
	}
	return strings.Join(parts, ", ")
}

func yesNo(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

func journalVerify(c *cli.Context) error {
	bad := 0
	for _, path := range c.Args().Slice() {
		s, err := journal.Verify(path, nil)
		if err != nil {
			return err
		}
		if s.OK() {
			fmt.Fprintf(c.App.Writer, "%s: ok: %d frames in %d blocks, EOF %s\n", path, s.Frames, s.Blocks, eofText(s))
			continue
		}
		bad++
		if s.Err != nil {
			fmt.Fprintf(c.App.Writer, "%s: bad: %v (good prefix: %d bytes, %d blocks, %d frames; obz journal recover keeps it)\n", path, s.Err, s.GoodBytes, s.Blocks, s.Frames)
		}
		for _, p := range s.Problems {
			fmt.Fprintf(c.App.Writer, "%s: bad: %s\n", path, p)
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d journals failed verification", bad, c.NArg())
	}
	return nil
}

func eofText(s *journal.Stats) string {
	if !s.HasEOF {
		return "none"
	}
	return fmt.Sprintf("%s, count %d", s.EOFKind, s.EOFCount)
}

func journalRecover(c *cli.Context) error {
	src, dst := c.Args().First(), c.String("output")
	if src == dst {
		return &usageError{msg: "-o must name a new file, not the journal being recovered"}
	}
	s, err := journal.Recover(src, dst, nil)
	if err != nil {
		return err
	}
	v, err := journal.Verify(dst, nil)
	if err != nil {
		return err
	}
	what := "nothing was lost"
	if s.Err != nil {
		what = fmt.Sprintf("dropped %d bytes from offset %d: %v", s.FileBytes-s.GoodBytes, s.GoodBytes, errors.Unwrap(s.Err))
	}
	fmt.Fprintf(c.App.Writer, "%s: kept %d frames in %d blocks (seq ..%d, EOF %s); %s\n", dst, v.Frames, v.Blocks, v.LastSeq, eofText(v), what)
	return nil
}

// permuteSubArgs moves the options of obz journal SUB, replay and diff
// before their arguments, as permuteArgs does for stages.
func permuteSubArgs(args []string, app *cli.App) []string {
	if len(args) < 3 {
		return args
	}
	var cmd *cli.Command
	head := 2
	for _, c := range app.Commands {
		if c.Name == args[1] && (c.Name == "journal" || c.Name == "replay" || c.Name == "diff") {
			cmd = c
		}
	}
	if cmd != nil && len(cmd.Subcommands) > 0 {
		parent := cmd
		cmd, head = nil, 3
		for _, s := range parent.Subcommands {
			if s.Name == args[2] {
				cmd = s
			}
		}
	}
	if cmd == nil {
		return args
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	var flags, positional []string
	rest := args[head:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		switch {
		case a == "--":
			positional = append(positional, rest[i+1:]...)
			i = len(rest)
		case len(a) > 1 && a[0] == '-':
			flags = append(flags, a)
			if name := strings.TrimLeft(a, "-"); !strings.Contains(name, "=") && takesValue[name] && i+1 < len(rest) {
				i++
				flags = append(flags, rest[i])
			}
		default:
			positional = append(positional, a)
		}
	}
	out := append(append([]string{}, args[:head]...), flags...)
	if len(positional) > 0 {
		out = append(out, "--")
		out = append(out, positional...)
	}
	return out
}

const replayHelp = `NAME:
   obz replay - stream a journal's frames to stdout, to feed any stage

USAGE:
   obz replay [options] FILE.zst
   obz replay [--verify] [--topology NEW.toml] [--run-sinks] RUN_DIR

DESCRIPTION:
   Writes the frames recorded in a journal (obz flow writes one per stage in
   RUN_DIR/journals/; any stage writes one with --journal FILE.zst), so a
   recorded output feeds a stage or a pipeline again. A whole journal is
   replayed byte for byte, its EOF included. A journal without an EOF (its
   writer was killed; see obz journal stat) replays with a truncated EOF, and
   obz replay exits 1.

   With --from-seq or --to-seq the slice is a new stream: its events are
   numbered from 1 (so the next stage's gap check holds), each with the
   recorded event (writer, seq) as its parent, and it ends with a stopped
   EOF (or the recorded one's kind, if worse).

   --speed 1x paces events as they were written (from the write times each
   journal block records; events within a block are spread evenly), 2x twice
   as fast; max (the default) does not wait.

   Given a run directory of obz flow, it re-runs the flow (the recorded
   topology, or --topology NEW.toml): each source is replaced by a replay of
   its journal (no external input is read), every other stage runs again,
   sinks drain their input without writing (--run-sinks runs them as
   recorded). The replay's run directory is RUN_DIR/replays/FLOW-TIME/.
   With --verify each stage's new journal is compared with the recorded one:
   per stage match, diverged (with the first divergent seq and the fields
   that differ), skipped (sinks) or new. Run it from the directory the flow
   was run from (relative paths in the topology are resolved there).

EXAMPLES:
   obz replay .obz/runs/orders-*/journals/orders.zst | obz filter '.amount > 50' -r
   obz replay .obz/runs/orders-20260101T120000.000Z --verify --topology orders-new.toml
   obz replay orders.zst --from-seq 1000 --to-seq 1999 | obz head -n 5 -r
   obz replay orders.zst --speed 1x | obz map '{id}'

OPTIONS:
{{range .VisibleFlags}}   {{.}}
{{end}}
EXIT STATUS:
   0    the journal was replayed, its EOF included; RUN_DIR: every stage matched
   1    the journal is torn or corrupt, or has no EOF: what was good was
        replayed, then a truncated EOF; RUN_DIR: a stage diverged or failed
   2    usage error
   3    RUN_DIR: refused: not a run directory, a run without journals, an
        incomplete run (--verify), a source that was not recorded
   130  stopped by SIGINT (a stopped EOF was written); 143 for SIGTERM
`

func replayCommand(cmdName *string, runErr *error) *cli.Command {
	return &cli.Command{
		Name:               "replay",
		Usage:              "stream a journal's frames to stdout, to feed any stage",
		ArgsUsage:          "FILE.zst",
		Category:           "journals",
		CustomHelpTemplate: replayHelp,
		Flags: append(append([]cli.Flag{}, seqFlags...),
			&cli.BoolFlag{Name: "raw", Aliases: []string{"r"}, Usage: "write data payloads only (bare NDJSON, no EOF)"},
			&cli.StringFlag{Name: "speed", Value: "max", Usage: "max, or a multiple of the recorded pace: 1x, 2x, 0.5x"},
			&cli.BoolFlag{Name: "verify", Usage: "RUN_DIR: compare each stage's new output with its recorded journal"},
			&cli.StringFlag{Name: "topology", Usage: "RUN_DIR: run this topology instead of the recorded one (e.g. with a changed transform)"},
			&cli.BoolFlag{Name: "run-sinks", Usage: "RUN_DIR: run the sinks as recorded (they write their outputs again) instead of draining their input"},
			&cli.StringFlag{Name: "run-dir", Usage: "RUN_DIR: base directory of the replay's run directory (default RUN_DIR/replays)"},
			// Set by obz flow when a replay stands in for a source.
			&cli.StringFlag{Name: "journal", Usage: "also journal what is replayed to this file", Hidden: true},
			&cli.StringFlag{Name: "name", Hidden: true},
			&cli.StringFlag{Name: "on-error", Hidden: true},
			&cli.IntSliceFlag{Name: "out-fd", Hidden: true},
			&cli.IntFlag{Name: "status-fd", Hidden: true},
		),
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			*cmdName = "replay"
			return &usageError{msg: err.Error()}
		},
		Action: func(c *cli.Context) error {
			*cmdName = "replay"
			*runErr = runReplay(c)
			return nil
		},
	}
}

func parseSpeed(s string) (float64, error) {
	if s == "max" {
		return 0, nil
	}
	var x float64
	if _, err := fmt.Sscanf(strings.TrimSuffix(s, "x"), "%g", &x); err != nil || x <= 0 || !strings.HasSuffix(s, "x") {
		return 0, &usageError{msg: fmt.Sprintf("--speed must be max or a positive multiple like 1x or 2.5x, not %q", s)}
	}
	return x, nil
}

func runReplay(c *cli.Context) error {
	if c.NArg() != 1 {
		return &usageError{msg: "replay takes one journal file, e.g. obz replay orders.zst"}
	}
	speed, err := parseSpeed(c.String("speed"))
	if err != nil {
		return err
	}
	path := c.Args().First()
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return replayRun(c, path)
	}
	if c.Bool("verify") || c.IsSet("topology") || c.Bool("run-sinks") {
		return &refusedError{msg: path + " is not a run directory: --verify, --topology and --run-sinks replay a run of obz flow (obz replay RUN_DIR --verify)"}
	}
	r, err := openJournal(path)
	if err != nil {
		return err
	}
	defer r.Close()
	out, finish, err := replayOutputs(c)
	if err != nil {
		return err
	}
	var events uint64
	err = replay(c.Context, r, path, replayOptions{from: c.Uint64("from-seq"), to: c.Uint64("to-seq"), raw: c.Bool("raw"), speed: speed, events: &events},
		out, c.App.ErrWriter)
	return finish(err, events)
}

// replayOutputs is where a replay writes: stdout, or under obz flow the
// --out-fd pipes (fan-out), the --journal tee and the --status-fd channel.
// finish closes them and returns the replay's result.
func replayOutputs(c *cli.Context) (io.Writer, func(error, uint64) error, error) {
	fo := &fanout{}
	for _, fd := range c.IntSlice("out-fd") {
		f := os.NewFile(uintptr(fd), "fd "+strconv.Itoa(fd))
		if f == nil {
			return nil, nil, &usageError{msg: fmt.Sprintf("--out-fd %d is not an open file descriptor", fd)}
		}
		fo.outs = append(fo.outs, f)
	}
	if len(fo.outs) == 0 {
		fo.outs = []io.Writer{c.App.Writer}
	}
	var status *os.File
	if fd := c.Int("status-fd"); fd > 0 {
		if status = os.NewFile(uintptr(fd), "status"); status == nil {
			return nil, nil, &usageError{msg: fmt.Sprintf("--status-fd %d is not an open file descriptor", fd)}
		}
	}
	if p := c.String("journal"); p != "" {
		jw, err := journal.Create(p, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("--journal: %w", err)
		}
		fo.journal = jw
	}
	start := time.Now()
	name := c.String("name")
	if name == "" {
		name = "replay"
	}
	finish := func(err error, events uint64) error {
		if fo.journal != nil {
			if cerr := fo.journal.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("journal: %w", cerr)
			}
		}
		for _, o := range fo.all {
			if f, ok := o.(*os.File); ok && f != os.Stdout {
				f.Close()
			}
		}
		if status != nil {
			st := stages.Status{Stage: name, State: "done", Out: events, BytesOut: fo.bytes, Elapsed: time.Since(start).Seconds()}
			if err != nil {
				st.State, st.Error = "failed", err.Error()
			}
			json.NewEncoder(status).Encode(st)
			status.Close()
		}
		return err
	}
	fo.all = slices.Clone(fo.outs)
	return fo, finish, nil
}

// fanout writes a replay to every output (dropping a consumer that went
// away, as the stage runner does) and to the journal first.
type fanout struct {
	outs, all []io.Writer
	journal   *journal.Writer
	bytes     uint64
}

func (f *fanout) Write(p []byte) (int, error) {
	if f.journal != nil {
		if _, err := f.journal.Write(p); err != nil {
			return 0, fmt.Errorf("journal: %w", err)
		}
	}
	for i := 0; i < len(f.outs); i++ {
		if _, err := f.outs[i].Write(p); err != nil {
			if !errors.Is(err, syscall.EPIPE) {
				return 0, err
			}
			f.outs = append(f.outs[:i], f.outs[i+1:]...)
			i--
		}
	}
	if len(f.outs) == 0 {
		return 0, syscall.EPIPE
	}
	f.bytes += uint64(len(p))
	return len(p), nil
}

type replayOptions struct {
	from, to uint64
	raw      bool
	speed    float64 // 0: as fast as possible
	events   *uint64 // if set, receives the number of events written
}

// replay writes r's frames to w (see replayHelp).
func replay(ctx context.Context, r *journal.Reader, path string, o replayOptions, w, stderr io.Writer) error {
	ranged := o.from > 1 || o.to > 0
	if o.from > 1 {
		r.SeekSeq(o.from)
	}
	out := bufio.NewWriterSize(w, 64<<10)
	var (
		f, g      wire.Frame
		n         uint64 // events written
		writer    string
		eof       *wire.Frame
		tailErr   error
		cut       bool
		errEvents int64
		t0, w0    int64
		buf       []byte
	)
	for i := 0; ; i++ {
		err := r.Next(&f)
		if err == io.EOF {
			break
		}
		if err != nil {
			tailErr = err
			break
		}
		if i%1024 == 0 && ctx.Err() != nil {
			break
		}
		data := f.Kind == wire.KindData || f.Kind == wire.KindError
		if writer == "" {
			writer = f.Writer
		}
		if o.to > 0 && data && f.Seq > o.to {
			cut = true
			break
		}
		if o.speed > 0 {
			if t := r.LineTime(); t > 0 {
				if t0 == 0 {
					t0, w0 = t, time.Now().UnixNano()
				}
				if wait := time.Duration(float64(t-t0)/o.speed) - time.Duration(time.Now().UnixNano()-w0); wait > 0 {
					out.Flush()
					select {
					case <-time.After(wait):
					case <-ctx.Done():
					}
					if ctx.Err() != nil {
						break
					}
				}
			}
		}
		if f.Kind == wire.KindEOF {
			e := f
			eof = &e
			if ranged || o.raw {
				continue
			}
		}
		if data {
			n++
		}
		switch {
		case o.raw:
			if f.Kind == wire.KindData {
				out.Write(f.Payload)
				out.WriteByte('\n')
			} else if f.Kind == wire.KindError {
				errEvents++
			}
		case ranged && data:
			g = f
			g.Seq, g.Parent = n, wire.Ref{Writer: f.Writer, Seq: f.Seq}
			buf = wire.AppendFrame(buf[:0], &g)
			out.Write(buf)
		case ranged && f.Kind == wire.KindEOF:
		default:
			out.Write(r.Line())
			out.WriteByte('\n')
		}
		if o.to > 0 && data && f.Seq == o.to {
			cut = true
			break
		}
	}
	if errEvents > 0 {
		fmt.Fprintf(stderr, "obz replay: %d error events not written (-r writes data payloads)\n", errEvents)
	}
	stopped := ctx.Err() != nil
	if o.events != nil {
		*o.events = n
	}
	var problem error
	if !o.raw && (ranged || eof == nil || stopped) {
		kind := wire.Stopped
		switch {
		case tailErr != nil || eof == nil && !cut && !stopped:
			kind = wire.Truncated
		case eof != nil && !cut && !stopped:
			kind = max(eof.EOF, wire.Stopped)
		}
		if writer == "" {
			writer = strings.TrimSuffix(filepathBase(path), ".zst")
		}
		buf = wire.AppendFrame(buf[:0], &wire.Frame{Kind: wire.KindEOF, Writer: writer, Count: n, EOF: kind})
		out.Write(buf)
	}
	if tailErr != nil {
		problem = fmt.Errorf("%s: replayed %d events, then %w; ended with a truncated EOF", path, n, tailErr)
	} else if eof == nil && !cut && !stopped {
		problem = fmt.Errorf("%s: the journal has no EOF (its writer did not finish): replayed %d events with a truncated EOF", path, n)
	}
	if err := out.Flush(); err != nil {
		if errors.Is(err, syscall.EPIPE) {
			return nil
		}
		return err
	}
	return problem
}

func filepathBase(p string) string { return filepath.Base(p) }

func diffCommand(cmdName *string, runErr *error) *cli.Command {
	return &cli.Command{
		Name:      "diff",
		Usage:     "compare two journals event by event; name the first difference",
		ArgsUsage: "A.zst B.zst",
		Category:  "journals",
		CustomHelpTemplate: `NAME:
   obz diff - compare two journals event by event; name the first difference

USAGE:
   obz diff A.zst B.zst

DESCRIPTION:
   Compares the data and error events and the EOF of two journals by
   position: the first divergent seq, what differs (seq, parent, error, and
   the payload's top-level fields, compared as JSON values), and how many
   positions differ. Watermarks and receipts are not compared, nor writer
   names, so two stages' outputs can be compared.

EXAMPLES:
   obz diff old/journals/enrich.zst new/journals/enrich.zst

EXIT STATUS:
   0    the journals hold the same events and EOF
   1    they differ (or one could not be read to its end)
   2    usage error
`,
		Action: func(c *cli.Context) error {
			*cmdName = "diff"
			*runErr = runDiff(c)
			return nil
		},
	}
}

func runDiff(c *cli.Context) error {
	if c.NArg() != 2 {
		return &usageError{msg: "diff takes two journal files, e.g. obz diff a.zst b.zst"}
	}
	pa, pb := c.Args().Get(0), c.Args().Get(1)
	a, err := openJournal(pa)
	if err != nil {
		return err
	}
	defer a.Close()
	b, err := openJournal(pb)
	if err != nil {
		return err
	}
	defer b.Close()
	d, err := journal.Compare(a, b)
	if err != nil {
		return err
	}
	d.Report(c.App.Writer, pa, pb)
	for i, p := range []string{pa, pb} {
		if d.Ends[i] != nil {
			fmt.Fprintf(c.App.Writer, "  %s ends early: %v\n", p, d.Ends[i])
		}
	}
	if !d.Same() {
		return errors.New("the journals differ")
	}
	return nil
}
