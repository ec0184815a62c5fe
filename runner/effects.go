package runner

// Effects say what a stage does beyond writing its output stream: what
// resume, replay and verify (package replay) need to know about it, so that
// they hold no knowledge of particular stages. The zero value describes a
// stage whose only effect is its output (and stderr): replaying or re-running
// it from the start is harmless.
type Effects struct {
	// Delivery says how the stage, with these options, delivers events out
	// of the flow with receipts (sinks). Nil means DeliversNothing.
	Delivery func(o Options) Delivery
	// SkipFlag names the stage's repeatable WRITER:SEQ flag that makes it
	// skip the events a killed run delivered (set by obz flow --resume from
	// the receipts in the sink's journal). Empty: the stage cannot skip
	// delivered events, and resuming a run in which it delivered some is
	// refused.
	SkipFlag string
	// RewindFlag names the stage's flag that takes the journal of the run
	// that is resumed (set by obz flow --resume), for the command lines
	// Rewinds says. Such a stage records, before it delivers anything in
	// place, where its delivery began, in RewindRecord(its journal); with
	// the flag it cuts its target back to where the resumed run began and
	// delivers everything again, so that nothing the resumed run wrote,
	// torn by a kill or partial after a stop, is kept.
	RewindFlag string
	Rewinds    func(o Options) bool
	// Outside lists what the stage, with these options, does outside the
	// run directory: the files it writes, the program it runs. Nil: nothing.
	Outside func(o Options) []Effect
	// Replay says how a replay (obz replay RUN_DIR) keeps those effects
	// from happening again.
	Replay Silencing
}

// Delivery is how a stage delivers events out of the flow.
type Delivery int

// The ways of delivering.
const (
	// DeliversNothing: the stage's output goes to the flow only.
	DeliversNothing Delivery = iota
	// DeliversWhole: the output replaces its target only once it is
	// complete (FILE is written under a temporary name and renamed).
	// Delivering again from the start is safe.
	DeliversWhole
	// DeliversInPlace: the output is written as it goes (stdout, appending
	// to FILE). After a kill, what was written past the last receipt is not
	// known, and delivering again may duplicate events.
	DeliversInPlace
)

// EffectKind is what an Effect touches.
type EffectKind int

// The kinds of effect.
const (
	// EffectFile: the stage writes a file.
	EffectFile EffectKind = iota + 1
	// EffectProgram: the stage runs a program, which may do anything.
	EffectProgram
)

// Effect is one thing a stage does outside the run directory.
type Effect struct {
	Kind EffectKind
	// Target is the file written ("-" is stdout) or the program run, as
	// the command line gives it.
	Target string
	// Where the command line names Target, for a replay that redirects it:
	// the value of the option Flag, or else the Arg'th argument (from 0).
	Flag string
	Arg  int
}

// Silencing is how a replay keeps a stage's effects outside the run
// directory from happening again.
type Silencing int

// The ways of silencing.
const (
	// ReplayAsRecorded: the stage cannot be silenced (exec runs a user's
	// program): the replay re-runs it with its effects, and says so.
	ReplayAsRecorded Silencing = iota
	// ReplayRedirect: each file Effect is written under the replay's own
	// directory instead; the stage's output is compared as any other.
	ReplayRedirect
	// ReplayDiscard: the stage's output is its effect (a sink). The replay
	// runs it as "NAME -", to stdout, which the replay discards, and does
	// not compare it.
	ReplayDiscard
)

// Traits are a stage's Effects evaluated for one command line.
type Traits struct {
	Delivery   Delivery
	SkipFlag   string
	RewindFlag string
	Outside    []Effect
	Replay     Silencing
}

// Traits evaluates e for the options o.
func (e Effects) Traits(o Options) Traits {
	t := Traits{SkipFlag: e.SkipFlag, Replay: e.Replay}
	if e.Rewinds != nil && e.Rewinds(o) {
		t.RewindFlag = e.RewindFlag
	}
	if e.Delivery != nil {
		t.Delivery = e.Delivery(o)
	}
	if e.Outside != nil {
		t.Outside = e.Outside(o)
	}
	return t
}

// RewindRecord is the file beside a stage's journal in which a stage with
// a RewindFlag records where its in-place delivery began. It exists once
// the stage may have delivered something in place.
func RewindRecord(journal string) string { return journal + ".rewind" }
