package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/obz-dev/obz/exitstatus"
	"github.com/obz-dev/obz/journal"
	"github.com/obz-dev/obz/replay"
	"github.com/obz-dev/obz/runner"
	"github.com/urfave/cli/v2"
)

// runnerFlags are the options every stage shares; the runner acts on them.
func runnerFlags(spec *runner.Spec) []cli.Flag {
	var fs []cli.Flag
	if spec.Family != runner.FamilySink {
		fs = append(fs,
			&cli.BoolFlag{Name: "raw", Aliases: []string{"r"}, Usage: "write bare payload NDJSON (for jq and friends) instead of frames"},
			&cli.BoolFlag{Name: "text", Usage: "write results as jq -r does: a string as its text (no quotes, escapes decoded), other values as JSON, one per line"},
			&cli.StringFlag{Name: "color", Value: "auto", Usage: "auto: pretty, coloured output on a terminal (unless NO_COLOR is set); always: also into a pipe or file (less -R); never"},
		)
	}
	fs = append(fs,
		&cli.StringFlag{Name: "on-error", Value: "continue", Usage: "what an error event does: continue (pass it on in the error lane) or fail (exit 1)"},
		&cli.StringFlag{Name: "max-line", Value: "16MiB", Usage: "longest payload accepted (a bare input line, or the payload of a frame); longer ones become error events"},
		&cli.BoolFlag{Name: "stats", Usage: "print counters (in, out, errors, bytes, time) on stderr at the end"},
		&cli.StringFlag{Name: "name", Usage: "writer name in output frames (default: the stage name)"},
		&cli.DurationFlag{Name: "drain-timeout", Value: 10 * time.Second, Usage: "after SIGINT/SIGTERM, how long to wait for input to end"},
		&cli.StringFlag{Name: "progress", Value: "auto", Usage: "a progress line on stderr when it is a terminal: auto (one stage of a pipeline draws it, the source first; a read of files shows a percentage and an ETA), always or never"},
		&cli.StringFlag{Name: "journal", Usage: "also write the output frames to this journal FILE.zst (see obz journal, obz replay)"},
		&cli.StringFlag{Name: "journal-codec", Value: "s2", Usage: "with --journal, how its blocks are compressed: s2 (about a third of zstd's CPU, a larger journal) or zstd (the smaller journal, which zstd -d also reads)"},
		&cli.IntSliceFlag{Name: "in-fd", Usage: "read input from this file descriptor (repeat for fan-in; used by obz flow)", Hidden: true},
		&cli.StringSliceFlag{Name: "in-name", Usage: "the stage each --in-fd comes from, in order, for messages (used by obz flow)", Hidden: true},
		&cli.IntSliceFlag{Name: "out-fd", Usage: "write output to this file descriptor (repeat for fan-out; used by obz flow)", Hidden: true},
		&cli.IntFlag{Name: "status-fd", Usage: "write status lines to this file descriptor (used by obz flow)", Hidden: true},
	)
	if spec.Family == runner.FamilySource {
		fs = append(fs, &cli.StringFlag{Name: "resume-from", Usage: "check the first events against this journal of a killed run, then go on (used by obz flow --resume)", Hidden: true},
			&cli.BoolFlag{Name: "resume-continue", Usage: "with --resume-from: the events that match the journal are not written out, the consumers have them (used by obz flow to restart a failed source)", Hidden: true},
			&cli.BoolFlag{Name: "journal-flush", Usage: "write each batch to the journal file before the outputs see it, so that a restart knows what was delivered (used by obz flow for restartable sources)", Hidden: true},
			&cli.StringFlag{Name: "journal-sources", Value: "ref", Usage: "with --journal, the lines of a regular NDJSON file read: ref journals them as references to the file (its path, size, time, offsets, checksums; a replay refuses when the file changed since), copy as bytes (for input files that will not last); stdin, pipes, --follow and compressed files are always copied"})
	} else {
		if spec.PassesPayloads {
			fs = append(fs, &cli.StringFlag{Name: "journal-sources", Value: "ref", Usage: "with --journal, when stdin is a regular file of frames: ref journals the events passed on as references to the file's frames (its path, size, time, a checksum per run; a reader refuses when the file changed since), copy journals their payloads (for input files that will not last); with --journal-refs, references to the upstream journal instead"})
		}
		fs = append(fs, &cli.StringFlag{Name: "merge", Value: "arrival", Usage: "how several inputs (fan-in) merge: arrival (as events come) or ordered (by seq, waiting for every input: the same order on every run)"})
		fs = append(fs, &cli.StringFlag{Name: "merge-order", Usage: "consume several inputs in the order this journal of a recorded run says (used by obz replay RUN_DIR)", Hidden: true},
			&cli.StringFlag{Name: "invalid-utf8", Value: "error", Usage: "a bare input line that is not valid UTF-8: error (the error lane) or replace (U+FFFD for each bad byte, as jq reads it)"},
			&cli.BoolFlag{Name: "journal-refs", Usage: "with --journal: journal the events passed on unchanged as references to their upstream writer's journal, WRITER.zst in the same directory, not as bytes again (obz flow sets it)"})
	}
	return fs
}

// multiArgFlag is a flag of several arguments (runner.Flag.Arity):
// permuteArgs turns --arg NAME VALUE into --arg=NAME --arg=VALUE, and the
// stage reads them in pairs.
type multiArgFlag struct {
	*cli.StringSliceFlag
	arity int
}

// String is the flag's line in --help: "--arg NAME VALUE", the names of
// the arguments after NAME taken from the usage's first upper-case word
// after $NAME.
func (m *multiArgFlag) String() string {
	val := "VALUE"
	for _, w := range strings.Fields(m.Usage)[1:] {
		if w = strings.Trim(w, ".,;:()"); w != "" && w == strings.ToUpper(w) && w != strings.ToLower(w) {
			val = w
			break
		}
	}
	return fmt.Sprintf("--%s NAME %s\t%s", m.Name, val, m.Usage)
}

func stageFlags(spec *runner.Spec) []cli.Flag {
	var fs []cli.Flag
	for _, f := range spec.Flags {
		var aliases []string
		if f.Short != "" {
			aliases = []string{f.Short}
		}
		switch d := f.Default.(type) {
		case string:
			fs = append(fs, &cli.StringFlag{Name: f.Name, Aliases: aliases, Usage: f.Usage, Value: d, Hidden: f.Hidden})
		case bool:
			fs = append(fs, &cli.BoolFlag{Name: f.Name, Aliases: aliases, Usage: f.Usage, Value: d, Hidden: f.Hidden})
		case int:
			fs = append(fs, &cli.IntFlag{Name: f.Name, Aliases: aliases, Usage: f.Usage, Value: d, Hidden: f.Hidden})
		case float64:
			fs = append(fs, &cli.Float64Flag{Name: f.Name, Aliases: aliases, Usage: f.Usage, Value: d, Hidden: f.Hidden})
		case time.Duration:
			fs = append(fs, &cli.DurationFlag{Name: f.Name, Aliases: aliases, Usage: f.Usage, Value: d, Hidden: f.Hidden})
		case []string:
			sf := &cli.StringSliceFlag{Name: f.Name, Aliases: aliases, Usage: f.Usage, Value: cli.NewStringSlice(d...), Hidden: f.Hidden}
			if f.Arity > 1 {
				fs = append(fs, &multiArgFlag{StringSliceFlag: sf, arity: f.Arity})
				continue
			}
			fs = append(fs, sf)
		default:
			panic(fmt.Sprintf("stage %s flag %s: unsupported default type %T", spec.Name, f.Name, f.Default))
		}
	}
	return append(fs, runnerFlags(spec)...)
}

// stageCommand is the command of one stage; do runs it (runStage), or
// only checks it (checkStage).
func stageCommand(spec *runner.Spec, do func(*cli.Context, *runner.Spec) error, cmdName *string, runErr *error) *cli.Command {
	return &cli.Command{
		Name:               spec.Name,
		Usage:              spec.Summary,
		ArgsUsage:          spec.ArgsUsage,
		Category:           string(spec.Family),
		Flags:              stageFlags(spec),
		CustomHelpTemplate: helpTemplate(spec),
		OnUsageError:       onUsageError(cmdName, spec.Name),
		Action: func(c *cli.Context) error {
			*cmdName = spec.Name
			*runErr = do(c, spec)
			return nil
		},
	}
}

func runStage(c *cli.Context, spec *runner.Spec) error {
	st, err := spec.New(cliOptions{c})
	if err != nil {
		return err
	}
	return runBuilt(c, spec, st)
}

// runBuilt runs a stage built from the command line c with the runner
// flags of c: its streams, inherited fds, resume, merge order, journal.
func runBuilt(c *cli.Context, spec *runner.Spec, st runner.Stage) error {
	return runBuiltWorkers(c, spec, st, 0)
}

// runBuiltWorkers is runBuilt with the stage's events answered by workers
// goroutines (runner.Env.Workers; obz parallel in-process), 0 for none.
func runBuiltWorkers(c *cli.Context, spec *runner.Spec, st runner.Stage, workers int) error {
	env, err := stageEnv(c, spec)
	if err != nil {
		return err
	}
	env.Workers = workers
	defer tuneGC(os.Getenv)()
	closers, err := inheritFDs(c, env)
	defer func() {
		for _, cl := range closers {
			cl.Close()
		}
	}()
	if err != nil {
		return err
	}
	if p := c.String("resume-from"); p != "" {
		rec, err := replay.OpenRecorded(p)
		if err != nil {
			return fmt.Errorf("--resume-from: %w", err)
		}
		defer rec.Close()
		env.Resume = rec
		env.ResumeContinue = c.Bool("resume-continue")
	} else if c.Bool("resume-continue") {
		return &usageError{msg: "--resume-continue needs --resume-from"}
	}
	if p := c.String("merge-order"); p != "" {
		mo, err := replay.OpenMergeOrder(p)
		if err != nil {
			return fmt.Errorf("--merge-order: %w", err)
		}
		defer mo.Close()
		env.MergeOrder = mo
	}
	path := c.String("journal")
	if path == "" {
		return ranStage(runner.Run(c.Context, spec, st, env))
	}
	codec, err := journal.ParseCodec(c.String("journal-codec"))
	if err != nil {
		return &usageError{msg: "--journal-codec: " + err.Error()}
	}
	jw, err := journal.Create(path, &journal.WriterOptions{Codec: codec})
	if err != nil {
		return fmt.Errorf("--journal: %w", err)
	}
	env.Journal = jw
	if abs, err := filepath.Abs(path); err == nil {
		env.JournalDir = filepath.Dir(abs)
	}
	env.JournalRefs = spec.Family != runner.FamilySource && c.Bool("journal-refs")
	if spec.Family == runner.FamilySource || spec.PassesPayloads {
		switch c.String("journal-sources") {
		case "ref":
			env.JournalSources = true
		case "copy":
		default:
			jw.Close()
			return &usageError{msg: fmt.Sprintf("--journal-sources must be ref or copy, not %q", c.String("journal-sources"))}
		}
	}
	if c.Bool("journal-flush") {
		env.Journal = flushingJournal{jw}
	}
	err = runner.Run(c.Context, spec, st, env)
	if cerr := jw.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("journal %s: %w", path, cerr)
	}
	return ranStage(err)
}

// ranStage marks the error of a stage whose runner ran, and so wrote its
// EOF: no verdict is owed (verdict.go).
func ranStage(err error) error {
	if err == nil {
		return nil
	}
	return &runnerEnded{err}
}

// stageEnv turns the runner flags into a runner.Env, without its inherited
// fds (inheritFDs).
func stageEnv(c *cli.Context, spec *runner.Spec) (*runner.Env, error) {
	stdout := c.App.Writer
	env := &runner.Env{
		Name:         c.String("name"),
		Stdin:        c.App.Reader,
		Stdout:       stdout,
		Stderr:       c.App.ErrWriter,
		Stats:        c.Bool("stats"),
		DrainTimeout: c.Duration("drain-timeout"),
	}
	switch c.String("on-error") {
	case "continue":
		env.OnError = runner.ErrorsContinue
	case "fail":
		env.OnError = runner.ErrorsFail
	default:
		return nil, &usageError{msg: fmt.Sprintf("--on-error must be continue or fail, not %q", c.String("on-error"))}
	}
	switch c.String("invalid-utf8") {
	case "", "error":
	case "replace":
		env.ReplaceInvalidUTF8 = true
	default:
		return nil, &usageError{msg: fmt.Sprintf("--invalid-utf8 must be error or replace, not %q", c.String("invalid-utf8"))}
	}
	switch c.String("merge") {
	case "", "arrival": // "" for sources, which have no inputs
	case "ordered":
		env.OrderedMerge = true
	default:
		return nil, &usageError{msg: fmt.Sprintf("--merge must be arrival or ordered, not %q", c.String("merge"))}
	}
	maxLine, err := parseSize(c.String("max-line"))
	if err != nil {
		return nil, &usageError{msg: "--max-line: " + err.Error()}
	}
	env.MaxLine = maxLine
	if f, ok := c.App.Reader.(*os.File); ok && isTerminal(f) {
		env.InputIsTerminal = true
	}

	if err := setProgress(c, spec, env); err != nil {
		return nil, err
	}

	env.Output = runner.Framed
	if spec.Family != runner.FamilySink {
		color := c.String("color")
		if color != "auto" && color != "always" && color != "never" {
			return nil, &usageError{msg: fmt.Sprintf("--color must be auto, always or never, not %q", color)}
		}
		onTerminal := false
		if f, ok := stdout.(*os.File); ok && isTerminal(f) {
			onTerminal = true
		}
		// --color always asks for colour where auto would not give it: on
		// a terminal despite NO_COLOR, and into a pipe or file (pretty, as
		// jq -C: for less -R). Not into obz flow's pipes (--out-fd), where
		// the next stage reads frames; -r stays bare NDJSON.
		if len(c.IntSlice("out-fd")) > 0 {
			for f, typed := range map[string]string{"raw": "-r", "text": "--text"} {
				if c.Bool(f) {
					return nil, &usageError{msg: typed + " writes bare lines, but obz flow's edges carry frames and their contracts: drop it from the stage's run"}
				}
			}
		}
		switch {
		case c.Bool("raw") && c.Bool("text"):
			return nil, &usageError{msg: "-r and --text are two output formats: take one (--text writes strings unquoted, -r writes JSON)"}
		case c.Bool("text"):
			env.Output = runner.Text
		case c.Bool("raw"):
			env.Output = runner.Raw
		case onTerminal:
			env.Output = runner.Pretty
			env.Color = color == "always" || color == "auto" && os.Getenv("NO_COLOR") == ""
		case color == "always" && len(c.IntSlice("out-fd")) == 0:
			env.Output = runner.Pretty
			env.Color = true
		}
	}
	return env, nil
}

// inheritFDs opens the fds obz flow gave the stage (--in-fd, --out-fd,
// --status-fd) into env. It returns what to close, also on error.
func inheritFDs(c *cli.Context, env *runner.Env) ([]io.Closer, error) {
	var closers []io.Closer
	names := c.StringSlice("in-name")
	for i, fd := range c.IntSlice("in-fd") {
		f := inheritedFile(fd, "fd "+strconv.Itoa(fd))
		if f == nil {
			return closers, &usageError{msg: fmt.Sprintf("--in-fd %d is not an open file descriptor", fd)}
		}
		closers = append(closers, f)
		name := "fd " + strconv.Itoa(fd)
		if i < len(names) {
			name = "from " + names[i]
		}
		env.Inputs = append(env.Inputs, runner.Input{Name: name, R: f, Framed: true})
	}
	for _, fd := range c.IntSlice("out-fd") {
		f := inheritedFile(fd, "fd "+strconv.Itoa(fd))
		if f == nil {
			return closers, &usageError{msg: fmt.Sprintf("--out-fd %d is not an open file descriptor", fd)}
		}
		closers = append(closers, f)
		env.Outputs = append(env.Outputs, runner.PipeOutput(f))
	}
	if fd := c.Int("status-fd"); fd > 0 {
		f := inheritedFile(fd, "status")
		if f == nil {
			return closers, &usageError{msg: fmt.Sprintf("--status-fd %d is not an open file descriptor", fd)}
		}
		closers = append(closers, f)
		env.Status = f
	}
	return closers, nil
}

// inheritedFile returns the open descriptor fd as a file, or nil when fd is
// not open (os.NewFile alone accepts any number, and the mistake would only
// show later as a read error blamed on a broken input).
func inheritedFile(fd int, name string) *os.File {
	f := os.NewFile(uintptr(fd), name)
	if f == nil {
		return nil
	}
	if _, err := f.Stat(); err != nil {
		return nil
	}
	return f
}

// setProgress turns the progress line on (--progress) when stderr is a
// terminal. With auto the stages of a pipeline share the terminal: one at
// a time draws (runner.Env.ProgressShared; the source first), and a stage
// whose data goes to the same terminal draws nothing and keeps the others
// from drawing (runner.Env.ProgressHold).
func setProgress(c *cli.Context, spec *runner.Spec, env *runner.Env) error {
	mode := c.String("progress")
	if mode != "auto" && mode != "always" && mode != "never" {
		return &usageError{msg: fmt.Sprintf("--progress must be auto, always or never, not %q", mode)}
	}
	f, ok := c.App.ErrWriter.(*os.File)
	if mode == "never" || !ok || !isTerminal(f) {
		return nil
	}
	dataOnTerminal := false
	if out, ok := c.App.Writer.(*os.File); ok && isTerminal(out) && len(c.IntSlice("out-fd")) == 0 {
		// A sink writing FILE leaves stdout alone.
		dataOnTerminal = spec.Family != runner.FamilySink || c.Args().First() == "" || c.Args().First() == "-"
	}
	env.Progress = mode == "always" || !dataOnTerminal
	env.ProgressShared = mode == "auto"
	env.ProgressHold = mode == "auto" && dataOnTerminal
	return nil
}

func isTerminal(f *os.File) bool {
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// parseSize reads sizes like 1048576, 64KiB, 16MiB, 1G.
func parseSize(s string) (int, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.Atoi(strings.TrimSpace(t))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q (want e.g. 65536, 64KiB, 16MiB)", s)
	}
	if n > (1<<31)/mult {
		return 0, fmt.Errorf("size %q is over 2 GiB", s)
	}
	return n * mult, nil
}

// cliOptions adapts a urfave context to runner.Options.
type cliOptions struct{ c *cli.Context }

func (o cliOptions) String(n string) string          { return o.c.String(n) }
func (o cliOptions) Bool(n string) bool              { return o.c.Bool(n) }
func (o cliOptions) Int(n string) int                { return o.c.Int(n) }
func (o cliOptions) Float(n string) float64          { return o.c.Float64(n) }
func (o cliOptions) Duration(n string) time.Duration { return o.c.Duration(n) }
func (o cliOptions) Strings(n string) []string       { return o.c.StringSlice(n) }
func (o cliOptions) IsSet(n string) bool             { return o.c.IsSet(n) }
func (o cliOptions) Args() []string                  { return o.c.Args().Slice() }

// helpTemplate is a stage's --help: usage, description, examples, options
// and the exit statuses.
func helpTemplate(spec *runner.Spec) string {
	esc := func(s string) string { return strings.ReplaceAll(s, "{{", `{{"{{"}}`) }
	indent := func(s string) string {
		lines := strings.Split(strings.TrimSpace(s), "\n")
		for i, l := range lines {
			lines[i] = "   " + l
		}
		return strings.Join(lines, "\n")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "NAME:\n   obz %s - %s (%s)\n\n", spec.Name, esc(spec.Summary), spec.Family)
	args := ""
	if spec.ArgsUsage != "" {
		args = " " + spec.ArgsUsage
	}
	fmt.Fprintf(&b, "USAGE:\n   obz %s [options]%s\n\n", spec.Name, esc(args))
	if spec.Description != "" {
		fmt.Fprintf(&b, "DESCRIPTION:\n%s\n\n", esc(indent(spec.Description)))
	}
	if spec.Examples != "" {
		fmt.Fprintf(&b, "EXAMPLES:\n%s\n\n", esc(indent(spec.Examples)))
	}
	b.WriteString("OPTIONS:\n{{range .VisibleFlags}}   {{.}}\n{{end}}\n")
	b.WriteString("   Options may come before or after arguments; one-letter options combine as in\n")
	b.WriteString("   coreutils (-rn 5, -n5); -- ends the options; - is stdin/stdout.\n\n")
	b.WriteString("EXIT STATUS:\n" + exitstatus.Help + "\n")
	if spec.ExitStatus != "" {
		b.WriteString(esc(indent(spec.ExitStatus)) + "\n")
	}
	return b.String()
}

// permuteArgs moves a command's options before its arguments, so that
// `obz read data.csv -r` works as GNU users expect (urfave/cli stops at the
// first argument). It knows each option from the command's own flags (for
// commands with subcommands, such as obz journal cat, the subcommand's).
// Everything after "--" stays an argument. A last option that lacks its
// value is an error here: after the move, urfave would take the "--" that
// precedes the arguments as its value.
func permuteArgs(args []string, app *cli.App) ([]string, error) {
	if len(args) < 3 {
		return args, nil
	}
	cmd, head := app.Command(args[1]), 2
	if cmd != nil && cmd.Name == "help" {
		return args, nil
	}
	if cmd != nil && len(cmd.Subcommands) > 0 {
		// A subcommand's flags, or the command's own when args[2] names
		// none and the command runs by itself (obz runs DIR --json); an
		// unknown subcommand of a group (obz journal nosuch) is left as it
		// is, for the usage error.
		group := cmd.Action == nil
		for _, sub := range cmd.Subcommands {
			if sub.HasName(args[2]) {
				cmd, head, group = sub, 3, false
				break
			}
		}
		if group {
			return args, nil
		}
	}
	if cmd == nil || len(args) <= head {
		return args, nil
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	// Flags of more than one argument (--arg NAME VALUE): each argument is
	// handed to urfave as one occurrence of the flag (see runner.Flag.Arity).
	arity := map[string]int{}
	for _, f := range cmd.Flags {
		if m, ok := f.(*multiArgFlag); ok {
			arity[m.Name] = m.arity
		}
	}
	var flags, positional []string
	rest := args[head:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		short, needsValue, err := splitShort(a, takesValue)
		if err != nil {
			return nil, err
		}
		if short != nil {
			flags = append(flags, short...)
			if needsValue {
				if i+1 == len(rest) {
					return nil, &usageError{msg: "flag needs an argument: " + short[len(short)-1]}
				}
				i++
				flags = append(flags, rest[i])
			}
			continue
		}
		switch {
		case a == "--":
			positional = append(positional, rest[i+1:]...)
			i = len(rest)
		case len(a) > 1 && a[0] == '-':
			name := strings.TrimLeft(a, "-")
			if base, inline, has := strings.Cut(name, "="); arity[base] > 1 {
				var vals []string
				if has {
					vals = append(vals, inline)
				}
				need := arity[base] - len(vals)
				if i+need >= len(rest) {
					return nil, &usageError{msg: fmt.Sprintf("flag --%s takes %d arguments", base, arity[base])}
				}
				vals = append(vals, rest[i+1:i+1+need]...)
				i += need
				for _, v := range vals {
					flags = append(flags, "--"+base+"="+v)
				}
				continue
			}
			flags = append(flags, a)
			if strings.Contains(name, "=") {
				continue
			}
			if takesValue[name] {
				if i+1 == len(rest) {
					return nil, &usageError{msg: "flag needs an argument: " + a}
				}
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
	return out, nil
}

// splitShort reads a cluster of one-letter options as getopt does
// (coreutils: head -n1, sort -rn): -rn is -r -n, and the first letter that
// takes a value takes the rest of the word (-n1, -rn1) or, at the end of
// the word, the next argument (needsValue). It returns nil when a is not
// such a cluster: a known name, a long option, or a word whose first
// letter is no option of the command (urfave then reports it); an unknown
// letter after a known one is an error here.
func splitShort(a string, takesValue map[string]bool) (short []string, needsValue bool, err error) {
	if len(a) < 3 || a[0] != '-' || a[1] == '-' || strings.Contains(a, "=") {
		return nil, false, nil
	}
	if _, known := takesValue[a[1:]]; known {
		return nil, false, nil
	}
	for i := 1; i < len(a); i++ {
		letter := a[i : i+1]
		tv, known := takesValue[letter]
		if !known && i == 1 {
			return nil, false, nil
		}
		if !known {
			return nil, false, &usageError{msg: fmt.Sprintf("unknown flag -%s in %s", letter, a)}
		}
		short = append(short, "-"+letter)
		if tv {
			if i+1 < len(a) {
				return append(short, a[i+1:]), false, nil
			}
			return short, true, nil
		}
	}
	return short, false, nil
}

// flushingJournal writes each batch to the journal file before it returns
// (--journal-flush): the emitter journals a batch before it writes it out,
// so what the file holds after a crash is at least what was delivered.
type flushingJournal struct{ w *journal.Writer }

func (j flushingJournal) Write(p []byte) (int, error) {
	n, err := j.w.Write(p)
	if err == nil {
		err = j.w.Flush()
	}
	return n, err
}
