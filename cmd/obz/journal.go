package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/obz-dev/obz/journal"
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
		return subcommand(cmdName, runErr, "journal", journalExit, name, usage, args, help, flags, func(c *cli.Context) error {
			if c.NArg() < 1 {
				return &usageError{msg: "a journal file is required, e.g. obz journal " + name + " out.zst"}
			}
			return fn(c)
		})
	}
	return &cli.Command{
		Name:         "journal",
		Usage:        "inspect, check and repair journals (zstd files of a stage's output frames)",
		Category:     "journals",
		OnUsageError: onUsageError(cmdName, "journal"),
		Subcommands: []*cli.Command{
			sub("cat", "print a journal's frames (or bare payloads with -r)", "FILE.zst",
				"EXAMPLES:\n   obz read testdata/orders.csv --infer --journal orders.zst > /dev/null   # a journal to try\n   obz journal cat orders.zst | head -n 3\n   obz journal cat -r --from-seq 10 --to-seq 12 orders.zst | jq .amount\n",
				append([]cli.Flag{&cli.BoolFlag{Name: "raw", Aliases: []string{"r"}, Usage: "print data payloads only, one per line (for jq)"},
					&cli.BoolFlag{Name: "stored", Usage: "print the lines as the journal stores them: reference, file reference and run lines as they are, not the frames they stand for (whatever the journal's codec)"}}, seqFlags...), journalCat),
			sub("stat", "counts per kind, seq and time range, compression ratio, EOF, torn tail", "FILE.zst...",
				"EXAMPLES:\n   obz flow testdata/flows/orders.toml && obz journal stat $(ls -d .obz/runs/orders-* | tail -n 1)/journals/*.zst\n   obz read testdata/orders.csv --journal orders.zst > /dev/null && obz journal stat --json orders.zst | jq .ratio\n",
				[]cli.Flag{&cli.BoolFlag{Name: "json", Usage: "one JSON object per journal"}}, journalStat),
			sub("verify", "check a journal's integrity; report the first bad offset (exit 1 when bad)", "FILE.zst...",
				"DESCRIPTION:\n   Walks every frame of the file (without trusting the index), checks each\n   block's checksum and header, that every line is a frame, that seqs have no\n   gap and that the EOF count matches, and that the index trailer matches.\n\nEXAMPLES:\n   obz read testdata/orders.csv --journal orders.zst > /dev/null && obz journal verify orders.zst\n   head -c 300 orders.zst > torn.zst; obz journal verify torn.zst   # exit 1: torn at offset ...\n", nil, journalVerify),
			sub("recover", "rewrite the good prefix of a torn or corrupt journal to a new file", "FILE.zst",
				"DESCRIPTION:\n   Copies every block before the first torn or corrupt one, as is, to -o, and\n   writes a new index. The recovered journal has no EOF if the original lost\n   it: replaying it ends with a truncated EOF.\n\nEXAMPLES:\n   obz gen --count 100000 --journal big.zst > /dev/null && head -c 1000000 big.zst > crashed.zst\n   obz journal recover crashed.zst -o fixed.zst && obz replay fixed.zst | obz head -n 1 -r\n",
				[]cli.Flag{&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "the new journal `FILE` (required)"}}, journalRecover),
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
	if c.Bool("stored") {
		if c.Bool("raw") || c.IsSet("from-seq") || c.IsSet("to-seq") {
			return &usageError{msg: "--stored prints every stored line: not with -r, --from-seq or --to-seq"}
		}
		return journalCatStored(c, path, r)
	}
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

// journalCatStored prints the journal's lines as stored (journal cat --stored).
func journalCatStored(c *cli.Context, path string, r *journal.Reader) error {
	out := bufio.NewWriterSize(c.App.Writer, 64<<10)
	defer out.Flush()
	for {
		line, err := r.StoredLine()
		if err == io.EOF {
			return out.Flush()
		}
		if err != nil {
			out.Flush()
			return journalProblem(path, err)
		}
		out.Write(line)
		out.WriteByte('\n')
	}
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
		if s.Err != nil {
			bad = journalProblem(path, s.Err)
		} else if len(s.Problems) > 0 {
			bad = journalProblem(path, errors.New(s.Problems[0]))
		}
		if c.Bool("json") {
			writeStatJSON(w, path, s)
			continue
		}
		fmt.Fprintf(w, "%s:\n", path)
		fmt.Fprintf(w, "  frames     %d (%s)\n", s.Frames, kindCounts(s.Kinds))
		if s.FirstSeq > 0 {
			fmt.Fprintf(w, "  seq        %d..%d (writer %s)\n", s.FirstSeq, s.LastSeq, wire.Printable(s.Writer))
		} else {
			fmt.Fprintf(w, "  seq        none\n")
		}
		if s.Start > 0 {
			a, b := time.Unix(0, s.Start).UTC(), time.Unix(0, s.End).UTC()
			fmt.Fprintf(w, "  written    %s .. %s (%s)\n", a.Format(time.RFC3339Nano), b.Format(time.RFC3339Nano), b.Sub(a).Round(time.Millisecond))
		}
		fmt.Fprintf(w, "  size       %d bytes, %d uncompressed, ratio %.2f, %d blocks, index %s\n", s.FileBytes, s.DataBytes, s.Ratio(), s.Blocks, yesNo(s.Indexed, "present", "missing (rebuilt by a scan)"))
		switch {
		case s.Blocks == 0:
		case s.S2 == 0:
			fmt.Fprintf(w, "  codec      zstd\n")
		case s.S2 == s.Blocks:
			fmt.Fprintf(w, "  codec      s2\n")
		default:
			fmt.Fprintf(w, "  codec      s2 (%d blocks), zstd (%d)\n", s.S2, s.Blocks-s.S2)
		}
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
		} else {
			fmt.Fprintf(w, "  tail       clean\n")
		}
		for _, p := range s.Problems {
			fmt.Fprintf(w, "  problem    %s\n", p)
		}
	}
	return bad
}

func writeStatJSON(w io.Writer, path string, s *journal.Stats) {
	type eof struct {
		Kind  string `json:"kind"`
		Count uint64 `json:"count"`
	}
	out := struct {
		File      string           `json:"file"`
		Frames    int64            `json:"frames"`
		Kinds     map[string]int64 `json:"kinds"`
		Writer    string           `json:"writer,omitempty"`
		FirstSeq  uint64           `json:"first_seq"`
		LastSeq   uint64           `json:"last_seq"`
		Start     string           `json:"start,omitempty"`
		End       string           `json:"end,omitempty"`
		Bytes     int64            `json:"bytes"`
		DataBytes int64            `json:"data_bytes"`
		Ratio     float64          `json:"ratio"`
		Blocks    int              `json:"blocks"`
		Stored    int              `json:"stored_blocks"`
		S2        int              `json:"s2_blocks"`
		Indexed   bool             `json:"indexed"`
		EOF       *eof             `json:"eof"`
		Tail      string           `json:"tail,omitempty"`
		Problems  []string         `json:"problems,omitempty"`
	}{File: path, Frames: s.Frames, Kinds: s.Kinds, Writer: s.Writer, FirstSeq: s.FirstSeq, LastSeq: s.LastSeq,
		Bytes: s.FileBytes, DataBytes: s.DataBytes, Ratio: math.Round(s.Ratio()*100) / 100, Blocks: s.Blocks, Stored: s.Stored, S2: s.S2,
		Indexed: s.Indexed, Problems: s.Problems}
	if s.Start > 0 {
		out.Start = time.Unix(0, s.Start).UTC().Format(time.RFC3339Nano)
		out.End = time.Unix(0, s.End).UTC().Format(time.RFC3339Nano)
	}
	if s.HasEOF {
		out.EOF = &eof{Kind: s.EOFKind.String(), Count: s.EOFCount}
	}
	if s.Err != nil {
		out.Tail = s.Err.Error()
	}
	b, _ := json.Marshal(out)
	fmt.Fprintf(w, "%s\n", b)
}

func kindCounts(m map[string]int64) string {
	var parts []string
	for _, k := range []string{"data", "error", "eof", "wm", "receipt", "order"} {
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
	if dst == "" || c.NArg() > 1 {
		return &usageError{msg: fmt.Sprintf("the recovered journal is written to -o FILE, a new file: obz journal recover %s -o fixed.zst", src)}
	}
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
   obz read testdata/orders.csv --strings --journal a.zst > /dev/null
   obz read testdata/orders.csv --journal b.zst > /dev/null
   obz diff a.zst b.zst   # exit 1: the amounts are strings in a.zst, numbers in b.zst

EXIT STATUS:
   0    the journals hold the same events and EOF
   1    they differ (or one could not be read to its end)
   2    usage error
`,
		OnUsageError: onUsageError(cmdName, "diff"),
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

// subcommand is a command of a group (obz journal NAME, obz nats NAME): its
// help in the shape of every obz command's, its usage errors and its
// outcome recorded for the exit table.
func subcommand(cmdName *string, runErr *error, group, exit, name, usage, args, help string, flags []cli.Flag, fn func(*cli.Context) error) *cli.Command {
	full := group + " " + name
	return &cli.Command{
		Name: name, Usage: usage, ArgsUsage: args, Flags: flags,
		CustomHelpTemplate: "NAME:\n   obz " + full + " - " + usage + "\n\nUSAGE:\n   obz " + full + " [options] " + args + "\n\n" + help +
			"\nOPTIONS:\n{{range .VisibleFlags}}   {{.}}\n{{end}}\n" + exit,
		OnUsageError: onUsageError(cmdName, full),
		Action: func(c *cli.Context) error {
			*cmdName = full
			*runErr = fn(c)
			return nil
		},
	}
}
