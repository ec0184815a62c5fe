package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/obz-dev/obz/wire"
)

// Family is a stage's role in a flow (after ObzenFlow's stage families).
type Family string

// The stage families.
const (
	FamilySource    Family = "source"
	FamilyTransform Family = "transform"
	FamilyStateful  Family = "stateful"
	FamilyJoin      Family = "join"
	FamilySink      Family = "sink"
	FamilyObserver  Family = "observer"
)

// Flag declares one option of a stage without tying it to a CLI library.
// The type of Default gives the flag's type: string, bool, int, float64,
// time.Duration or []string.
type Flag struct {
	Name    string
	Short   string // one-letter alias, or ""
	Usage   string
	Default any
	Hidden  bool
	// Arity is how many arguments the flag takes, for a []string flag
	// that takes more than one (--arg NAME VALUE: 2). Each occurrence adds
	// its arguments to the list in order, so Strings gives NAME, VALUE,
	// NAME, VALUE... 0 means one.
	Arity int
}

// Options is how a stage's constructor sees its parsed flags and arguments.
type Options interface {
	String(name string) string
	Bool(name string) bool
	Int(name string) int
	Float(name string) float64
	Duration(name string) time.Duration
	Strings(name string) []string
	IsSet(name string) bool
	Args() []string
}

// Spec is one entry of the registry: everything the CLI and the runner need
// to know about a stage.
type Spec struct {
	Name        string
	Family      Family
	Summary     string // one line for the command list
	ArgsUsage   string // e.g. "EXPR" or "[FILE...]"
	Description string // what it does, the policies a user must know
	Examples    string // shell lines that work when pasted
	ExitStatus  string // stage-specific additions to the common EXIT STATUS
	Flags       []Flag
	// Effects say what the stage does beyond its output stream, for
	// resume, replay and verify.
	Effects Effects
	// PassesPayloads says that the payloads of the data events the stage
	// emits are, as a rule, its input events' payloads unchanged (filter,
	// head, tee): with Env.JournalRefs its journal records those events
	// as references to the upstream events instead of their bytes. The
	// runner checks each event (the payload must be the input event's
	// own bytes) and journals any other event in full.
	PassesPayloads bool
	// PerEvent, if set, says the stage answers each event on its own, so
	// that it can run as replicas (obz parallel, replicas = N in a flow)
	// with their outputs merged back in input order. It returns why these
	// options make it not so (exec without --one-to-one), or nil.
	PerEvent func(o Options) error
	// PartitionKeys, if set, are the fields the stage keeps its state by
	// with these options (agg --by, top --group, dedupe --key): it can run
	// as replicas partitioned by one of them, each key on one replica.
	PartitionKeys func(o Options) []string
	// New checks the options and builds the stage: a Source or a Processor.
	// It returns a *UsageError for bad flags or arguments.
	New func(o Options) (Stage, error)
}

// Stage is a Source or a Processor (checked by Run).
type Stage any

// Source produces events. Produce returns nil when the source is exhausted
// (natural EOF) or when ctx is cancelled after a graceful stop (stopped EOF).
type Source interface {
	Produce(ctx context.Context, em *Emitter) error
}

// Processor handles the events of its inputs: transforms, filters, stateful
// stages and sinks.
type Processor interface {
	// Event is called for each data event, in order. It returns nil, an
	// *EventError (the event goes to the error lane), ErrStop (read no more
	// input, end naturally), or another error (the stage fails).
	Event(ev *wire.Frame, em *Emitter) error
	// Finish is called once every input has ended with a natural or stopped
	// EOF: the moment to emit end-of-input results and commit output. It is
	// not called when an input broke: see Aborter.
	Finish(em *Emitter, end wire.EOFKind) error
}

// FileInputs is implemented by processors that take input files as
// arguments, as jq and mlr do (obz map EXPR FILE...): Run reads the files
// one after another, in order, instead of stdin ("-" is stdin), each file
// an input edge of its own with its own contract, and Emitter.InputFile
// names the file of the event being handled.
type FileInputs interface {
	InputFiles() []string
}

// MemberReader is implemented by processors that read top-level fields of
// their events (filter, map, agg, top, dedupe): where ReadsMembers is true,
// the reader of each input indexes the members of each payload that is an
// object as it checks it (a bare line, a frame from anything but a flow
// edge: wire.Reader.Index), for the processor to find its fields in.
type MemberReader interface {
	ReadsMembers() bool
}

// Aborter is implemented by processors that must clean up when the input
// broke or the stage failed (remove a temporary file, say). Finish is not
// called in that case.
type Aborter interface {
	Abort()
}

// Preparer is implemented by processors that must do work before the first
// input event is read: a join hydrates its reference side to its EOF. An
// error fails the stage (nothing is read, a poison EOF is written); ErrStop
// ends it naturally without reading any input (head -n 0).
type Preparer interface {
	Prepare(ctx context.Context, em *Emitter) error
}

// Waker is implemented by processors that produce output on their own
// time, not only in answer to an input event: an external program's
// answers, a processing-time window closing. While input is idle the runner
// waits on Wake() as well as on input, and calls Woken from the stage's own
// goroutine (the Emitter is not safe for concurrent use). Woken must not
// block; a wake-up with nothing to do is fine. Woken may return ErrStop to
// read no more input, as Event may.
type Waker interface {
	Wake() <-chan struct{}
	Woken(em *Emitter) error
}

// Ticker is implemented by processors that act on the passing of time
// (processing-time windows): every Interval the runner calls Tick on the
// stage's goroutine, whether input flows or not. An Interval of 0 means
// never.
type Ticker interface {
	Interval() time.Duration
	Tick(now time.Time, em *Emitter) error
}

// InputTracker is implemented by processors whose results depend on which
// input an event came from: event-time windows over a fan-in keep a
// watermark per input (Emitter.Input tells an event's input). Inputs is
// called once, before any event, with the number of inputs; InputEnded when
// input i has ended, with how (natural, stopped, truncated, poison), before
// Finish for the last one. InputEnded may emit.
type InputTracker interface {
	Inputs(n int)
	InputEnded(i int, end wire.EOFKind, em *Emitter) error
}

// WatermarkSink is implemented by processors that take watermark frames
// of their inputs into account (event-time windows): Watermark is called
// for each one, with Emitter.Input telling its input, instead of passing it
// on. A stage that does not consume it passes it on with Emitter.Forward.
type WatermarkSink interface {
	Watermark(wm *wire.Frame, em *Emitter) error
}

// InOrder is implemented by processors whose answers to an event may come
// after Event returns (an external program, replicas): the runner hands
// them the error events and control frames (watermarks, receipts) of their
// input instead of passing them on itself, so that the stage can pass them
// on in their place, behind the answers to the events before them, with
// Emitter.PassOn. f is valid during the call only. It takes precedence
// over ErrorSink.
type InOrder interface {
	InOrder(f *wire.Frame, em *Emitter) error
}

// ErrorSink is implemented by processors that consume error events
// themselves (a sink's dead-letter file). Other processors never see error
// events: the runner forwards them downstream untouched.
type ErrorSink interface {
	ErrorEvent(ev *wire.Frame, em *Emitter) error
}

// ErrStop is returned by Processor.Event to stop reading input; the stage
// then finishes as if its input had ended naturally (head -n does this).
var ErrStop = errors.New("stop reading input")

// EventError puts one event in the error lane. The stage goes on with the
// next event unless --on-error fail is set.
type EventError struct {
	Kind string // expr, type, csv, ... (docs/wire.md lists them)
	Msg  string
}

func (e *EventError) Error() string { return e.Kind + ": " + e.Msg }

// EventErrorf returns an *EventError of the given kind.
func EventErrorf(kind, format string, args ...any) error {
	return &EventError{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// UsageError is a bad flag or argument; obz exits 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a *UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// BrokenInputError reports broken input edges: an input that ended without
// EOF, with a wrong count, with a gap, or an upstream that failed. The stage
// wrote a truncated (or poison) EOF downstream; obz exits 1.
type BrokenInputError struct {
	Problems []string
}

func (e *BrokenInputError) Error() string {
	msg := e.Problems[0]
	for _, p := range e.Problems[1:] {
		msg += "; " + p
	}
	return msg
}

// ErrorEventsError says the stage finished but some events went to the error
// lane and ended here (reported on stderr or in a dead-letter file); obz
// exits 4 so that scripts notice.
type ErrorEventsError struct {
	Count uint64
	Where string // "stderr" or the dead-letter file
}

func (e *ErrorEventsError) Error() string {
	return fmt.Sprintf("%d event(s) went to the error lane (see %s)", e.Count, e.Where)
}

// EventFailedError is the first error event under --on-error fail.
type EventFailedError struct {
	Info wire.ErrorInfo
}

func (e *EventFailedError) Error() string {
	where := ""
	if e.Info.Line > 0 {
		where = fmt.Sprintf("line %d: ", e.Info.Line)
	}
	if e.Info.Stage != "" {
		where = "from " + wire.ShowName(e.Info.Stage) + " " + where
	}
	return fmt.Sprintf("error event %s(%s) %s (--on-error fail)", where, wire.Printable(e.Info.Kind), wire.Printable(e.Info.Msg))
}
