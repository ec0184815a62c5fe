package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/obz-dev/obz/exitstatus"
	"github.com/obz-dev/obz/flow"
	"github.com/obz-dev/obz/journal"
	"github.com/obz-dev/obz/natsedge"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
	"github.com/urfave/cli/v2"
)

const natsExit = `EXIT STATUS:
` + exitstatus.Help + `
`

// natsConnFlags are the connection options, as the nats CLI spells them.
var natsConnFlags = []cli.Flag{
	&cli.StringFlag{Name: "server", Aliases: []string{"s"}, EnvVars: []string{"NATS_URL"}, Usage: "NATS server `URL`s, comma separated (default nats://127.0.0.1:4222)"},
	&cli.StringFlag{Name: "creds", EnvVars: []string{"NATS_CREDS"}, Usage: "user credentials `FILE` (JWT and NKey seed)"},
	&cli.StringFlag{Name: "tlsca", EnvVars: []string{"NATS_CA"}, Usage: "TLS certificate authority `FILE` to verify the server with"},
	&cli.StringFlag{Name: "context", EnvVars: []string{"NATS_CONTEXT"}, Usage: "a nats CLI context `NAME` (~/.config/nats/context/NAME.json: its url, creds and ca)"},
}

// natsStreamFlags are the stream's name and the limits it is created with.
var natsStreamFlags = []cli.Flag{
	&cli.StringFlag{Name: "stream", Usage: "the JetStream stream `NAME` (default OBZ_ and the subject, dots as _)"},
	&cli.StringFlag{Name: "retention", Value: "work", Usage: "work (a frame is removed once read and acknowledged), limits (kept until max-age or a limit removes it) or interest"},
	&cli.StringFlag{Name: "discard", Value: "new", Usage: "when the stream is full: new (the publisher waits for room) or old (the oldest frames are dropped: a reader behind them sees a gap)"},
	&cli.StringFlag{Name: "max-bytes", Value: "1GiB", Usage: "the stream's size limit (-1 for none)"},
	&cli.Int64Flag{Name: "max-msgs", Value: -1, Usage: "the stream's limit in messages of up to 128KiB of frames (-1 for none)"},
	&cli.DurationFlag{Name: "max-age", Usage: "drop frames older than this (0 for never)"},
	&cli.DurationFlag{Name: "dupe-window", Value: 2 * time.Minute, Usage: "how long the server remembers a frame's writer:seq to drop it when published again"},
	&cli.BoolFlag{Name: "memory", Usage: "keep the stream in the server's memory instead of files"},
}

const natsStreamHelp = `
   A subject lives in a JetStream stream (--stream, by default OBZ_ and the
   subject with dots as _), created with the stream options below by
   whichever of pub and sub comes first; an existing stream keeps the
   options it was created with. The defaults make it an edge: retention
   work removes a frame once its reader acknowledged it, so the stream holds
   the backlog only, and a full stream (--max-bytes 1GiB, --max-msgs) makes
   the publisher wait for room (discard new, "waiting for room" on stderr),
   as a full pipe does: a slow reader slows the publisher down instead of
   growing the server. --discard old drops the oldest frames instead: a
   reader that had not read them sees a gap, and the stage it feeds reports
   the edge broken (exit 1). --retention limits keeps frames after they are
   read (a second reader, a replay): then only --max-age frees room.
`

func natsConn(c *cli.Context, name string) natsedge.Conn {
	stderr := c.App.ErrWriter
	return natsedge.Conn{Server: c.String("server"), Creds: c.String("creds"), TLSCA: c.String("tlsca"),
		Context: c.String("context"), Name: name,
		Warn: func(msg string) { fmt.Fprintf(stderr, "obz %s: nats: %s\n", name, msg) }}
}

func natsStream(c *cli.Context, subject string) (natsedge.Stream, error) {
	s := natsedge.Stream{Name: c.String("stream"), Subject: subject, Retention: c.String("retention"), Discard: c.String("discard"),
		MaxMsgs: c.Int64("max-msgs"), MaxAge: c.Duration("max-age"), Duplicates: c.Duration("dupe-window"), Memory: c.Bool("memory")}
	switch c.String("retention") {
	case "work", "limits", "interest":
	default:
		return s, &usageError{msg: fmt.Sprintf("--retention %q: want work, limits or interest", c.String("retention"))}
	}
	switch c.String("discard") {
	case "new", "old":
	default:
		return s, &usageError{msg: fmt.Sprintf("--discard %q: want new or old", c.String("discard"))}
	}
	if mb := c.String("max-bytes"); mb == "-1" {
		s.MaxBytes = -1
	} else {
		n, err := flow.ParseSize(mb)
		if err != nil {
			return s, &usageError{msg: "--max-bytes: " + err.Error()}
		}
		s.MaxBytes = n
	}
	if strings.ContainsAny(subject, "*> \t") || subject == "" {
		return s, &usageError{msg: fmt.Sprintf("subject %q: an edge's subject is one name like orders.eu, without wildcards or spaces", subject)}
	}
	return s, nil
}

func natsCommand(cmdName *string, runErr *error) *cli.Command {
	sub := func(name, usage, args, help string, flags []cli.Flag, fn func(*cli.Context) error) *cli.Command {
		return subcommand(cmdName, runErr, "nats", natsExit, name, usage, args, help, flags, fn)
	}
	withStream := func(fs ...cli.Flag) []cli.Flag {
		return append(append(append([]cli.Flag{}, fs...), natsConnFlags...), natsStreamFlags...)
	}
	return &cli.Command{
		Name:         "nats",
		Usage:        "edges over NATS JetStream: a server, a publishing end, a reading end",
		Category:     "flows",
		OnUsageError: onUsageError(cmdName, "nats"),
		Subcommands: []*cli.Command{
			sub("serve", "run a NATS server with JetStream on a local directory", "[-- CMD [ARGS...]]",
				`DESCRIPTION:
   Starts an embedded NATS server with JetStream, its streams stored in
   --dir, and prints its URL on stdout. It runs until Ctrl-C; with a
   command after --, it runs that command with $NATS_URL set to the server
   and stops when the command ends, with its exit status: a server for one
   script. Nothing to install: the zero-setup way to try obz nats pub and
   sub on one machine. For machines that share it, listen on their network
   (--host 0.0.0.0) and give the others its URL (--server or $NATS_URL); a
   production server is a nats-server of its own (docs/nats.md).

EXAMPLES:
   obz nats serve --port -1   # until Ctrl-C
   obz nats serve --port -1 --dir .obz/nats-try -- sh -c 'obz gen --count 3 | obz nats pub try && obz nats sub try --durable me | obz map -r .id'
`, []cli.Flag{
					&cli.StringFlag{Name: "dir", Value: filepath.Join(".obz", "nats"), Usage: "the `DIR` JetStream keeps its streams in"},
					&cli.StringFlag{Name: "host", Value: "127.0.0.1", Usage: "the address to listen on (0.0.0.0 for every interface)"},
					&cli.IntFlag{Name: "port", Value: 4222, Usage: "the port to listen on (-1 for a free one)"},
					&cli.StringFlag{Name: "max-store", Usage: "the disk JetStream may use in all (default: the server's choice, a share of the free disk)"},
				}, natsServe),
			sub("pub", "publish framed stdin to a JetStream subject (a sink)", "SUBJECT",
				`DESCRIPTION:
   Reads frames on stdin (the output of an obz stage) and publishes them to
   SUBJECT unchanged, in messages of up to 128KiB of whole frames: the reader
   at the other end (obz nats sub) writes the same frames, writer, seqs and
   EOF included, so the stage after it checks the edge's contract as on a
   pipe. A line that is not a frame is refused (exit 1): pipe bare NDJSON
   through an obz stage first.

   A message's Nats-Msg-Id is the writer:seq of its first and last frames
   (writer:eof for the EOF): a publisher that died and publishes the same
   input again, within --dupe-window, has its messages stored once (the
   frames already stored are counted and said on stderr); only the last
   message before the break, cut short, is stored again in full, and the
   stage after sub drops its frames as duplicates by writer:seq. Publishing
   runs ahead of the server's acknowledgements by --window messages; pub
   ends once every frame is acknowledged (stored), and fails if stdin ended
   without an EOF frame (its writer died): it then publishes that the edge
   broke, and the reader of SUBJECT (obz nats sub) fails with its message
   instead of waiting for the EOF; publish again, and a sub started again
   continues after that mark.

   Each message is published expecting the one before it to be the
   stream's last (Nats-Expected-Last-Msg-Id): when the connection breaks
   or the server restarts with messages in flight, the server stores
   nothing after one it lost, and pub publishes again, in order, from the
   first message not stored (the server drops what it had), for up to
   --retry-for, and says so on stderr. Several publishers writing to one
   stream at once (a reader with --writers N) cannot expect their own last
   message: pub sees it and publishes without (--shared says so from the
   start); a restart with messages in flight can then leave a hole, which
   the stage after sub reports. Every --heartbeat while it runs, pub tells
   the readers of SUBJECT that it is alive, frames or not.
`+natsStreamHelp+`
EXAMPLES:
   obz nats serve --port -1 --dir .obz/nats-try -- sh -c 'obz gen --count 1000 --seed 1 | obz nats pub orders --stats'
   obz nats serve --port -1 --dir .obz/nats-try -- sh -c 'obz gen --count 10 | obz nats pub orders && obz gen --count 10 | obz nats pub orders --stats'   # the second publish is deduplicated
`, withStream(
					&cli.IntFlag{Name: "window", Value: natsedge.DefaultWindow, Usage: "messages published ahead of their acknowledgement"},
					&cli.BoolFlag{Name: "shared", Usage: "other publishers write to the stream at the same time (a reader with --writers N): publish without expecting the previous message (said on stderr when seen)"},
					&cli.DurationFlag{Name: "heartbeat", Value: natsedge.DefaultHeartbeat, Usage: "how often to tell the readers of SUBJECT that this publisher is alive, frames or not (0: never; their --idle-timeout counts from the last)"},
					&cli.DurationFlag{Name: "retry-for", Value: natsedge.DefaultRetryFor, Usage: "after a message was not stored (the connection broke, the server restarted), how long to keep publishing it again, from it and in order, before failing (0: fail at once)"},
					&cli.BoolFlag{Name: "stats", Usage: "print counts on stderr at the end"},
					&cli.IntFlag{Name: "in-fd", Usage: "read the frames from this file descriptor instead of stdin (used by obz flow --host)", Hidden: true},
					&cli.IntFlag{Name: "status-fd", Usage: "write status lines to this file descriptor (used by obz flow --host)", Hidden: true},
				), natsPub),
			sub("sub", "write the frames of a JetStream subject to stdout (a source)", "SUBJECT",
				`DESCRIPTION:
   Reads SUBJECT through the durable consumer --durable NAME (created if it
   does not exist) and writes its frames to stdout unchanged, until the
   EOF of --writers writers (1: one publishing stage). Pipe it into an obz
   stage, which checks the edge's contract: seqs without gaps, the EOF's
   count, no missing EOF.

   A message is acknowledged once all its frames are written to stdout:
   that is where they are safely downstream, as on a pipe. A sub started
   again with the same --durable continues after the last message
   acknowledged: nothing lost. If it died between a write and the
   acknowledgement (kill -9), those frames are written again; the stage
   reading them drops them as duplicates by writer:seq (--stats counts
   them), so nothing is duplicated downstream either. One reader per
   durable name at a time.

   A publisher that goes silent, no frames and no heartbeat for
   --idle-timeout (its host lost or cut off from the server), fails sub
   (exit 1), naming the subject and how long it waited: the edge is
   broken, as when a pipe's writer dies. The wait counts from the first
   sign of a publisher (a message in the stream, a heartbeat): a sub
   started before its publisher waits for it, without limit, or for
   --start-timeout. A publisher that said it stopped to be resumed (its
   obz flow died: obz flow --resume) is waited for without limit, or for
   --resume-timeout.
`+natsStreamHelp+`
EXAMPLES:
   obz nats serve --port -1 --dir .obz/nats-try -- sh -c 'obz gen --count 5 | obz nats pub demo && obz nats sub demo --durable d | obz map -r .amount'
   obz nats serve --port -1 --dir .obz/nats-try -- sh -c 'obz nats sub big --durable d | obz agg --count -r & obz gen --count 100000 | obz nats pub big; wait'
`, withStream(
					&cli.StringFlag{Name: "durable", Usage: "the durable consumer's `NAME` (required): where reading continues after a restart"},
					&cli.IntFlag{Name: "writers", Value: 1, Usage: "how many writers' EOFs end the subject (stages publishing to it)"},
					&cli.DurationFlag{Name: "start-timeout", Usage: "fail (exit 1) when the publishing side gives no sign at all (no frame stored, no heartbeat) within this long of the start: its host never came (0: wait without limit, for a publisher that starts later)"},
					&cli.DurationFlag{Name: "idle-timeout", Value: natsedge.DefaultIdleTimeout, Usage: "fail (exit 1) after waiting this long with neither frames nor a heartbeat from the publishing side: its host lost (0: wait without limit; counted from its first sign)"},
					&cli.DurationFlag{Name: "resume-timeout", Usage: "after the publishing side said it stopped to be resumed (its obz flow died), fail if it is not resumed within this (0: wait without limit)"},
					&cli.DurationFlag{Name: "ack-wait", Value: 30 * time.Second, Usage: "how long the server waits for an acknowledgement before it delivers a frame again"},
					&cli.BoolFlag{Name: "stats", Usage: "print counts on stderr at the end"},
					&cli.BoolFlag{Name: "delete-stream", Usage: "once the EOF is read and acknowledged, delete the stream (and its consumers): for a subject used once, as obz flow --host's edges are"},
					&cli.IntFlag{Name: "out-fd", Usage: "write the frames to this file descriptor instead of stdout (used by obz flow --host)", Hidden: true},
					&cli.StringFlag{Name: "journal", Usage: "journal the frames to this file, each batch before it is written out (used by obz flow --host)", Hidden: true},
					&cli.StringFlag{Name: "resume-from", Usage: "first write the frames of this journal (of a sub that was killed), then read on after them (used by obz flow --resume)", Hidden: true},
					&cli.IntFlag{Name: "status-fd", Usage: "write status lines to this file descriptor (used by obz flow --host)", Hidden: true},
				), natsSub),
		},
	}
}

func natsServe(c *cli.Context) error {
	var maxStore int64
	if s := c.String("max-store"); s != "" {
		n, err := flow.ParseSize(s)
		if err != nil {
			return &usageError{msg: "--max-store: " + err.Error()}
		}
		maxStore = n
	}
	dir, err := filepath.Abs(c.String("dir"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	s, err := natsedge.StartServer(natsedge.ServerOptions{Host: c.String("host"), Port: c.Int("port"), Dir: dir, MaxStore: maxStore})
	if err != nil {
		return err
	}
	defer s.Shutdown()
	url := s.ClientURL()
	args := c.Args().Slice()
	if len(args) == 0 {
		fmt.Fprintln(c.App.Writer, url)
		fmt.Fprintf(c.App.ErrWriter, "obz nats serve: NATS with JetStream on %s, streams in %s; Ctrl-C stops it\n", url, dir)
		<-c.Context.Done()
		return nil
	}
	cmd := exec.CommandContext(c.Context, args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.App.Reader, c.App.Writer, c.App.ErrWriter
	cmd.Env = append(os.Environ(), "NATS_URL="+url)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &exitStatusError{code: ee.ExitCode(), msg: fmt.Sprintf("%s: %v", args[0], ee)}
	}
	return err
}

// exitStatusError passes a command's exit status on (obz nats serve -- CMD).
type exitStatusError struct {
	code int
	msg  string
}

func (e *exitStatusError) Error() string { return e.msg }

// natsConnect connects to the server the command line names.
func natsConnect(c *cli.Context, name string) (*nats.Conn, error) {
	nc, err := natsedge.Connect(natsConn(c, name))
	if err != nil {
		return nil, err
	}
	return nc, nil
}

func natsPub(c *cli.Context) error {
	st, err := startNatsStatus(c.Int("status-fd"))
	if err != nil {
		return err
	}
	err = publish(c, st)
	st.end(err)
	return err
}

func publish(c *cli.Context, status *natsStatus) (err error) {
	if c.NArg() != 1 {
		return &usageError{msg: "one subject is required, e.g. obz nats pub orders"}
	}
	subject := c.Args().First()
	st, err := natsStream(c, subject)
	if err != nil {
		return err
	}
	if c.Int("window") < 1 {
		return &usageError{msg: fmt.Sprintf("--window must be 1 or more, not %d", c.Int("window"))}
	}
	nc, err := natsConnect(c, "obz nats pub "+subject)
	if err != nil {
		return err
	}
	defer nc.Close()
	stderr := c.App.ErrWriter
	warn := func(msg string) { fmt.Fprintf(stderr, "obz nats pub: %s\n", msg) }
	start := time.Now()
	// A flow's bridge (--in-fd) is not stopped by a signal: its input
	// ends with its producer's EOF, or, when its obz flow died (SIGTERM,
	// its death signal), without one, as its producer dies too: then it
	// says that the edge broke.
	bridge := c.Int("in-fd") > 0
	ctx := c.Context
	if bridge {
		// Nor by more signals (a second one would end it at once).
		signal.Ignore(syscall.SIGINT, syscall.SIGTERM)
		ctx = context.WithoutCancel(ctx)
	}
	retry := c.Duration("retry-for")
	if retry <= 0 {
		retry = -1 // fail at once
	}
	out, err := natsedge.NewOut(ctx, nc, st, natsedge.OutOptions{Window: c.Int("window"), Warn: warn, Shared: c.Bool("shared"), RetryFor: retry, Heartbeat: heartbeatEvery(c.Duration("heartbeat"))})
	if err != nil {
		return err
	}

	defer out.Close()

	input := c.App.Reader
	if fd := c.Int("in-fd"); fd > 0 {
		f := os.NewFile(uintptr(fd), fmt.Sprintf("fd %d", fd))
		if f == nil {
			return &usageError{msg: fmt.Sprintf("--in-fd %d is not an open file descriptor", fd)}
		}
		defer f.Close()
		input = f
	}
	// broken tells the reader of the subject that the input broke before
	// its EOF, so that it fails instead of waiting for the EOF.
	// When the bridge's obz flow died (it is an orphan now), the host's
	// part is to be resumed (obz flow --resume): the reader is told to
	// wait for the frames the resumed producer publishes again, instead.
	ppid := os.Getppid()
	aborted := false
	mark := func(err error) error {
		if bridge && orphaned(ppid) {
			return out.Suspend("the obz flow of its host died (resume it there: obz flow --resume RUN_DIR): " + err.Error())
		}
		return out.Abort(err.Error())
	}
	broken := func(err error) error {
		aborted = true
		if aerr := mark(err); aerr != nil {
			return fmt.Errorf("%w (and %v)", err, aerr)
		}
		return err
	}
	// Whatever else fails it (a publish the server refused) breaks the
	// edge too, unless every EOF was stored: the reader is told.
	var eofsStored bool
	defer func() {
		if err != nil && !aborted && !eofsStored {
			if aerr := mark(err); aerr != nil {
				err = fmt.Errorf("%w (and %v)", err, aerr)
			}
		}
	}()
	var batch []byte
	var line, frames int64
	counts := map[string]uint64{} // data and error frames per writer
	eofs := map[string]bool{}
	var order []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := out.Send(batch)
		batch = batch[:0]
		return err
	}
	// Frames are published 256 KiB at a time, or as soon as stdin has
	// nothing more ready: a slow producer's frames are not held back.
	var idleErr error
	sc := bufio.NewScanner(newReadAhead(input, 256<<10, func() error {
		idleErr = flush()
		return idleErr
	}))
	sc.Buffer(make([]byte, 256<<10), wire.DefaultMaxLine+1)
	// A last line without its newline is a frame its writer was stopped
	// in the middle of: it may decode (cut after its payload's "}"), to a
	// payload without that "}".
	torn := false
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		adv, tok, err := bufio.ScanLines(data, atEOF)
		if atEOF && tok != nil && adv == len(data) && data[len(data)-1] != '\n' {
			torn = true
		}
		return adv, tok, err
	})
	var f wire.Frame
	var dec wire.Decoder
	for t := time.Now(); sc.Scan(); t = time.Now() {
		status.wait(t, false)
		line++
		b := sc.Bytes()
		err := wire.ErrTornFrame
		if !torn {
			err = dec.Decode(b, &f)
		}
		if err != nil || f.Kind == 0 {
			flush()
			out.Ack()
			if !wire.IsFrame(b) {
				return broken(fmt.Errorf("stdin line %d is not a frame but bare NDJSON: publish the output of an obz stage (obz read, obz map . ...)", line))
			}
			return broken(fmt.Errorf("stdin line %d: %w", line, err))
		}
		if _, ok := counts[f.Writer]; !ok && f.Writer != "" {
			counts[f.Writer] = 0
			order = append(order, f.Writer)
		}
		switch f.Kind {
		case wire.KindData, wire.KindError:
			counts[f.Writer]++
		case wire.KindEOF:
			eofs[f.Writer] = true
		}
		frames++
		status.frame(&f, len(b)+1, false)
		batch = append(append(batch, b...), '\n')
		if len(batch) >= 256<<10 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if idleErr != nil {
		return idleErr
	}
	readErr := sc.Err()
	if err := flush(); err != nil {
		return err
	}
	stored, err := out.Ack()
	if err != nil {
		return err
	}
	eofsStored = len(order) > 0
	for _, w := range order {
		eofsStored = eofsStored && eofs[w]
	}
	if d := out.Duplicates(); d > 0 {
		fmt.Fprintf(stderr, "obz nats pub: %d of %d frames were in stream %s already (published before): stored once\n", d, frames, out.Stream())
	}
	if rounds, msgs, dups := out.Resends(); rounds > 0 {
		fmt.Fprintf(stderr, "obz nats pub: published again from the first message not stored, in order, %d time(s): %d messages, %d of their frames stored already (stored once); no hole\n", rounds, msgs, dups)
	}
	if c.Bool("stats") {
		fmt.Fprintf(stderr, "obz nats pub: %d frames, %d bytes acknowledged by stream %s (subject %s), %.3fs\n",
			frames, stored, out.Stream(), subject, time.Since(start).Seconds())
	}
	if readErr != nil {
		return broken(fmt.Errorf("reading stdin after line %d: %w", line, readErr))
	}
	if c.Context.Err() != nil && !bridge {
		return nil
	}
	for _, w := range order {
		if !eofs[w] {
			return broken(fmt.Errorf("stdin ended without the EOF of %s after %d events: the readers of %s fail; publish its frames again (those stored are deduplicated)",
				wire.ShowName(w), counts[w], subject))
		}
	}
	if frames == 0 {
		return broken(fmt.Errorf("stdin was empty, not even an EOF frame: its writer died before its first frame; nothing was published to %s", subject))
	}
	return nil
}

// orphaned says whether the process's parent, ppid when it started, is
// gone. A child's death signal (Pdeathsig) comes when the thread of the
// parent that started it exits, which can be before the parent's other
// threads: a producer killed so ends the bridge's input while getppid
// still names obz flow, for a moment. So it waits up to a second for the
// parent to be gone before it says no (a live obz flow, a stage that
// died: the edge broke).
func orphaned(ppid int) bool {
	for deadline := time.Now().Add(time.Second); os.Getppid() == ppid; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// heartbeatEvery is OutOptions.Heartbeat for --heartbeat: 0 is never.
func heartbeatEvery(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}

func natsSub(c *cli.Context) error {
	st, err := startNatsStatus(c.Int("status-fd"))
	if err != nil {
		return err
	}
	err = subscribe(c, st)
	st.end(err)
	return err
}

func subscribe(c *cli.Context, status *natsStatus) (err error) {
	if c.NArg() != 1 {
		return &usageError{msg: "one subject is required, e.g. obz nats sub orders --durable me"}
	}
	subject := c.Args().First()
	durable := c.String("durable")
	if durable == "" {
		return &usageError{msg: "--durable NAME is required: the consumer that remembers where reading is, e.g. obz nats sub " + subject + " --durable me"}
	}
	if strings.ContainsAny(durable, ".*> \t") {
		return &usageError{msg: fmt.Sprintf("--durable %q: a name without dots, wildcards or spaces", durable)}
	}
	if c.Int("writers") < 1 {
		return &usageError{msg: fmt.Sprintf("--writers must be 1 or more, not %d", c.Int("writers"))}
	}
	st, err := natsStream(c, subject)
	if err != nil {
		return err
	}
	var w io.Writer = c.App.Writer
	if fd := c.Int("out-fd"); fd > 0 {
		f := os.NewFile(uintptr(fd), fmt.Sprintf("fd %d", fd))
		if f == nil {
			return &usageError{msg: fmt.Sprintf("--out-fd %d is not an open file descriptor", fd)}
		}
		defer f.Close()
		w = f
	}
	// A flow's bridge journals what it passes on, each batch written out
	// to the file before the pipe sees it: the record of this host's
	// input from the other host, which replay and resume read.
	var jw *journal.Writer
	if p := c.String("journal"); p != "" {
		if jw, err = journal.Create(p, nil); err != nil {
			return fmt.Errorf("--journal: %w", err)
		}
		defer func() {
			if cerr := jw.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("journal %s: %w", p, cerr)
			}
		}()
	}
	// A bridge of a resumed host's part first passes on again what its
	// journal holds, then reads on, dropping what it passed on already.
	var seen map[string]uint64
	if p := c.String("resume-from"); p != "" {
		r, err := resend(p, jw, w)
		if err != nil {
			return err
		}
		if status != nil {
			status.Out.Add(r.events)
			status.BytesOut.Add(uint64(r.bytes))
		}
		if len(r.eofs) >= c.Int("writers") {
			return nil // it had read the subject to its end
		}
		seen = r.seen
	}
	nc, err := natsConnect(c, "obz nats sub "+subject)
	if err != nil {
		return err
	}
	defer nc.Close()
	start := time.Now()
	warn := func(msg string) { fmt.Fprintf(c.App.ErrWriter, "obz nats sub: %s\n", msg) }
	in, err := natsedge.NewIn(c.Context, nc, st, durable, natsedge.InOptions{Writers: c.Int("writers"), AckWait: c.Duration("ack-wait"), Seen: seen, Warn: warn,
		IdleTimeout: c.Duration("idle-timeout"), ResumeTimeout: c.Duration("resume-timeout"), StartTimeout: c.Duration("start-timeout")})
	if err != nil {
		return err
	}
	defer in.Close()
	stop := context.AfterFunc(c.Context, in.Close)
	defer stop()

	var b runner.InBatch
	var buf []byte
	var frames, bytes int64
	ctx := context.WithoutCancel(c.Context) // acks go out after a stop signal too
	for {
		b.Frames, b.Bytes = b.Frames[:0], 0
		t := time.Now()
		rerr := in.Read(&b)
		status.wait(t, false)
		buf = buf[:0]
		for i := range b.Frames {
			buf = wire.AppendFrame(buf, &b.Frames[i])
		}
		if len(buf) > 0 {
			if jw != nil {
				if _, err := jw.Write(buf); err != nil {
					return fmt.Errorf("journal %s: %w", c.String("journal"), err)
				}
				if err := jw.Flush(); err != nil {
					return fmt.Errorf("journal %s: %w", c.String("journal"), err)
				}
			}
			t := time.Now()
			_, err := w.Write(buf)
			status.wait(t, true)
			if err != nil {
				if errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrClosedPipe) {
					return nil // the reader is gone (| head): what it did not take stays unacknowledged
				}
				return fmt.Errorf("writing stdout: %w", err)
			}
			frames += int64(len(b.Frames))
			bytes += int64(len(buf))
			if status != nil {
				// What it read from the subject is what it wrote.
				for i := range b.Frames {
					status.frame(&b.Frames[i], 0, true)
					if b.Frames[i].Kind == wire.KindData {
						status.In.Add(1)
					}
				}
				status.BytesIn.Add(uint64(b.Bytes))
				status.BytesOut.Add(uint64(len(buf)))
			}
		}
		if err := in.Ack(ctx, rerr != nil); err != nil {
			return err
		}
		if rerr == io.EOF {
			if err := in.MarkEnded(ctx); err != nil {
				fmt.Fprintf(c.App.ErrWriter, "obz nats sub: %v\n", err)
			}
			if c.Bool("delete-stream") {
				// The frames are delivered: a stream left behind is
				// the server's to clean, not a failure of the edge.
				if err := in.DeleteStream(ctx); err != nil {
					fmt.Fprintf(c.App.ErrWriter, "obz nats sub: %v\n", err)
				}
			}
			break
		}
		if rerr != nil {
			if c.Context.Err() != nil {
				return nil // stopped by a signal: the next sub continues after what was written
			}
			return rerr
		}
	}
	if c.Bool("stats") {
		dups := ""
		if d := in.Duplicates(); d > 0 {
			dups = fmt.Sprintf(", %d delivered again and dropped", d)
		}
		fmt.Fprintf(c.App.ErrWriter, "obz nats sub: %d frames, %d bytes from %s (durable %s)%s, %.3fs\n",
			frames, bytes, subject, durable, dups, time.Since(start).Seconds())
	}
	return nil
}
