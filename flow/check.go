package flow

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The flags obz flow puts on a stage's command line itself: the supervisor
// writes them from these names, and validation refuses a topology whose
// run sets any of them (managedFlags).
const (
	flagName           = "--name"            // the stage's table name
	flagOnError        = "--on-error"        // the flow's on_error
	flagStatusFD       = "--status-fd"       // the status channel
	flagInFD           = "--in-fd"           // one per input edge
	flagInName         = "--in-name"         // the stage each --in-fd comes from, in order
	flagRefFD          = "--ref-fd"          // a join's reference edge
	flagOutFD          = "--out-fd"          // one per output edge
	flagJournal        = "--journal"         // RUN_DIR/journals/STAGE.zst
	flagJournalFlush   = "--journal-flush"   // a restartable source's journal
	flagJournalRefs    = "--journal-refs"    // a stage with inputs: payloads passed on are references
	flagResumeFrom     = "--resume-from"     // obz flow --resume, a restart
	flagResumeContinue = "--resume-continue" // a restart
)

// managedFlags lists the flags obz flow sets, each with what a topology
// says instead.
var managedFlags = [...]struct{ flag, instead string }{
	{flagName, "the stage's name is its table's, [stages.NAME]"},
	{flagOnError, "set on_error for the flow"},
	{flagStatusFD, ""},
	{flagInFD, "use inputs or a flow chain"},
	{flagInName, "use inputs or a flow chain"},
	{flagRefFD, "use reference"},
	{flagOutFD, "use inputs or a flow chain in the stages that read it"},
	{flagJournal, "every stage is journaled in its run directory; obz flow --no-journal turns that off"},
	{flagJournalFlush, "a source with restart = \"on-failure\" gets it"},
	{flagJournalRefs, "every stage with inputs gets it with its journal"},
	{flagResumeFrom, "use obz flow --resume RUN_DIR"},
	{flagResumeContinue, "a source with restart = \"on-failure\" gets it"},
}

// ManagedFlags returns the flags obz flow sets on a stage's command line
// itself (--name, --in-fd, --journal, ...): a topology may not set them.
func ManagedFlags() []string {
	fs := make([]string, len(managedFlags))
	for i, m := range managedFlags {
		fs[i] = m.flag
	}
	return fs
}

// checkManaged refuses a stage whose run sets a flag obz flow sets. What
// follows "--" are arguments (exec's program), not obz's flags.
func (v *validator) checkManaged(s *Stage) {
	for _, a := range s.Argv[1:] {
		if a == "--" {
			return
		}
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, _, _ := strings.Cut(a, "=")
		name = "--" + strings.TrimLeft(name, "-")
		for _, m := range managedFlags {
			if name != m.flag {
				continue
			}
			msg := fmt.Sprintf("stage %q: %s is set by obz flow; remove it from run", s.Name, m.flag)
			if m.instead != "" {
				msg += " (" + m.instead + ")"
			}
			v.add(s.Line, "%s", msg)
		}
	}
}

// StageCheck checks one stage's command line as obz would run it, without
// running it: it parses the flags and arguments with the CLI's own rules
// and builds the stage (compiling its expressions). command is the stage's
// obz command (filter), args the rest of the command line obz flow runs it
// with (the flags it sets, then the run's arguments). It must not use the
// fds those flags name. cmd/obz makes it from the stage registry, so that
// flow needs no stage.
type StageCheck func(command string, args []string) error

// Check runs check on every stage's command line and returns a
// *ValidationError listing each problem with the topology file and line,
// or nil. Run does the same before it creates anything (Options.Check).
func (t *Topology) Check(check StageCheck) error {
	return t.check(check, true)
}

func (t *Topology) check(check StageCheck, journals bool) error {
	v := &validator{file: t.File}
	v.checkCommands(t, nil, check, journals)
	if len(v.problems) > 0 {
		return &ValidationError{Problems: v.problems}
	}
	return nil
}

// checkCommands checks the command line of every stage, as Run would make
// it; given cmds, only of those whose command it has (checkStages reports
// the others).
func (v *validator) checkCommands(t *Topology, cmds Commands, check StageCheck, journals bool) {
	edges := edgeArgs(t.Order())
	for _, s := range t.Stages {
		if len(s.Argv) == 0 || s.isBridge() {
			continue // a bridge is obz nats pub or sub, not a stage
		}
		family, ok := cmds[s.Command()]
		if cmds != nil && (!ok || s.Replicas > 0 && !replicable(family)) {
			continue // checkStages reports it
		}
		journal := ""
		if journals {
			journal = filepath.Join("journals", s.Name+".zst")
		}
		argv := t.commandLine(s, edges[s.Name], journal, journal != "" && s.Restartable() && len(s.AllInputs()) == 0)
		if err := check(argv[0], argv[1:]); err != nil {
			v.add(s.Line, "stage %q (%s): %v", s.Name, s.Command(), err)
		}
	}
}

// edgeArgs numbers the fds of every edge, per stage from 3: for each stage
// in order, each of its inputs in turn (the reference first) adds an
// --out-fd to the producer and an --in-fd (--ref-fd) to the consumer. Run
// makes the pipes in the same order.
func edgeArgs(order []*Stage) map[string][]string {
	n := map[string]int{}
	args := map[string][]string{}
	for _, s := range order {
		for i, in := range s.AllInputs() {
			n[in]++
			args[in] = append(args[in], flagOutFD, strconv.Itoa(2+n[in]))
			n[s.Name]++
			flag := flagInFD
			if i == 0 && s.Reference != "" {
				flag = flagRefFD
			}
			args[s.Name] = append(args[s.Name], flag, strconv.Itoa(2+n[s.Name]))
		}
	}
	return args
}

// commandLine is the command line obz flow runs stage s with: its command,
// the flags obz flow sets (its name, on_error, its status fd, which follows
// its edges' fds, its edges, its journal unless "", flushed for a source
// that restarts), then the run's arguments.
//
// A stage with replicas runs as obz parallel: the flags above go to the
// coordinator, which writes the stage's merged output and journal as one
// writer, and the stage's own command line follows "--".
func (t *Topology) commandLine(s *Stage, edges []string, journal string, flush bool) []string {
	if s.isBridge() {
		// obz nats pub reads its one edge, obz nats sub writes its one
		// edge, and each reports its counts. sub journals the frames it
		// passes on (the recorded input of this host's part); pub does
		// not: its input is its producer's journal.
		argv := append(slices.Clone(s.Argv), edges...)
		if journal != "" {
			argv = append(argv, flagJournal, journal)
		}
		return append(argv, flagStatusFD, strconv.Itoa(3+len(edges)/2))
	}
	statusFD := 3 + len(edges)/2
	command, inner := s.Argv[0], s.Argv
	var head []string
	if s.Replicas > 0 {
		command = "parallel"
		head = []string{"--replicas", strconv.Itoa(s.Replicas)}
		if s.PartitionBy != "" {
			head = append(head, "--by", s.PartitionBy)
		}
		// Runner flags that obz replay puts right after the command
		// (--merge-order JOURNAL) are the coordinator's, and so is a
		// fan-in's --merge in run: the coordinator reads the inputs.
		for len(inner) >= 3 && inner[1] == "--merge-order" {
			head = append(head, inner[1], inner[2])
			inner = append([]string{inner[0]}, inner[3:]...)
		}
		inner = slices.Clone(inner)
		for i := 1; i < len(inner) && inner[i] != "--"; i++ {
			switch {
			case strings.HasPrefix(inner[i], "--merge="):
				head = append(head, inner[i])
				inner = slices.Delete(inner, i, i+1)
				i--
			case inner[i] == "--merge" && i+1 < len(inner):
				head = append(head, inner[i], inner[i+1])
				inner = slices.Delete(inner, i, i+2)
				i--
			}
		}
	}
	argv := append([]string{command}, head...)
	argv = append(argv, flagName, s.Name, flagOnError, t.OnError, flagStatusFD, strconv.Itoa(statusFD))
	if s.Replicas > 0 {
		// A join's reference edge is the join's own flag: the replicas,
		// goroutines of obz parallel, share the table it reads.
		edges = slices.Clone(edges)
		for i := 0; i+1 < len(edges); i += 2 {
			if edges[i] == flagRefFD {
				inner = append(inner[:1:1], append([]string{edges[i], edges[i+1]}, inner[1:]...)...)
				edges = slices.Delete(edges, i, i+2)
				break
			}
		}
	}
	argv = append(argv, edges...)
	// Name each --in-fd by the stage it comes from, for messages (an edge
	// whose producer died before writing a frame). The reference, first in
	// AllInputs, has --ref-fd and its own messages.
	ins := s.AllInputs()
	if s.Reference != "" && len(ins) > 0 {
		ins = ins[1:]
	}
	for _, in := range ins {
		argv = append(argv, flagInName, in)
	}
	if journal != "" {
		argv = append(argv, flagJournal, journal)
		if len(s.AllInputs()) > 0 && !t.readsBridge(s) {
			// The stages upstream journal in the same directory.
			argv = append(argv, flagJournalRefs)
		}
		if flush {
			// What the journal file holds is at least what was
			// delivered: a restart continues after it.
			argv = append(argv, flagJournalFlush)
		}
	}
	if s.Replicas > 0 {
		return append(append(argv, "--"), inner...)
	}
	return append(argv, s.Argv[1:]...)
}
