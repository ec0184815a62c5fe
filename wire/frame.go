package wire

import (
	"errors"
	"fmt"
)

// Version is the protocol version written in every frame's "obz" field.
// A reader refuses frames with a higher version.
const Version = 1

// DefaultMaxLine is the default limit on one input line (16 MiB).
const DefaultMaxLine = 16 << 20

// Kind says what a frame is.
type Kind uint8

// Frame kinds. Data and Error frames form the data lane: each takes the next
// sequence number of its writer. The others are control frames.
const (
	KindData Kind = iota + 1
	KindError
	KindEOF
	KindWatermark
	KindReceipt
	// KindOrder records the order in which a stage with several inputs
	// consumed them (Frame.Runs). It is written to the stage's journal only,
	// never to its outputs; a stage that reads one on input ignores it.
	KindOrder
)

var kindNames = [...]string{KindData: "data", KindError: "error", KindEOF: "eof", KindWatermark: "wm", KindReceipt: "receipt", KindOrder: "order"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// EOFKind says how a writer's stream ended. The kinds are ordered: when a
// stage has several inputs, the worst kind wins.
type EOFKind uint8

// EOF kinds, from best to worst.
const (
	// Natural: the input was exhausted; everything the writer had was written.
	Natural EOFKind = iota
	// Stopped: the writer was asked to stop (SIGINT/SIGTERM) and drained
	// cleanly. What was written is consistent but not everything there was.
	Stopped
	// Truncated: an upstream edge broke (no EOF, a gap, a count mismatch);
	// the output is incomplete and must not be taken as a finished result.
	Truncated
	// Poison: the writer failed (a fatal error, a strict join miss).
	Poison
)

var eofNames = [...]string{Natural: "natural", Stopped: "stopped", Truncated: "truncated", Poison: "poison"}

func (k EOFKind) String() string {
	if int(k) < len(eofNames) {
		return eofNames[k]
	}
	return fmt.Sprintf("eofkind(%d)", k)
}

// ParseEOFKind returns the kind named s.
func ParseEOFKind(s string) (EOFKind, bool) {
	for i, n := range eofNames {
		if n == s {
			return EOFKind(i), true
		}
	}
	return 0, false
}

// Ref names one frame of one writer: the causal parent of a frame, or the
// frame a receipt acknowledges.
type Ref struct {
	Writer string
	Seq    uint64
}

// IsZero reports whether r names nothing.
func (r Ref) IsZero() bool { return r.Writer == "" && r.Seq == 0 }

// Run is a run of a fan-in stage's merge order: N data-lane frames (data
// and error) of Writer consumed one after the other.
type Run struct {
	Writer string
	N      uint64
}

// ErrorInfo describes why an event is in the error lane.
type ErrorInfo struct {
	Kind  string // parse, utf8, too-long, frame, version, expr, ... (see docs/wire.md)
	Msg   string
	Stage string // the stage that raised the error
	Line  int64  // 1-based line number in that stage's input, 0 if not from a line
	// Event is the input event the stage failed on (an expression error,
	// say): its writer and seq, which name it even among merged inputs.
	// Zero when the error came from a line (Line) or from no event.
	Event Ref
	// Via lists the stages that passed the error event on after Stage
	// raised it, in order.
	Via []string
	// Raw holds the input text when it was not valid JSON (then the frame has
	// no Payload). Raw is valid UTF-8: invalid bytes are replaced by U+FFFD.
	Raw []byte
}

// Frame is one line of the protocol. Payload and Raw may alias a reader's
// buffer: they are valid until the reader's next call unless copied.
type Frame struct {
	Kind   Kind
	Writer string
	Seq    uint64 // data and error frames: 1, 2, 3 ... per writer
	Parent Ref    // data and error frames: the input event this one came from
	// TS is the source time of a sampled data frame: when the source of
	// the event's lineage emitted it, in microseconds since the Unix epoch;
	// 0 for none. It is a measurement, not part of the event: only some
	// frames carry it, and Compare, verify and resume ignore it
	// (docs/wire.md, "Source time").
	TS uint64

	// Payload is the event's JSON value, byte for byte as it arrived. Error
	// frames carry the original payload here, or Err.Raw when there was none.
	Payload []byte

	Err *ErrorInfo // error frames

	Count uint64  // EOF: data and error frames the writer wrote
	EOF   EOFKind // EOF

	Time float64 // watermark: event time, seconds since the Unix epoch

	Of     Ref    // receipt: the frame delivered
	Status string // receipt: ok, failed

	Runs []Run // order: the merge order since the previous order frame

	// Bare is set by the Reader on data frames made from bare NDJSON lines
	// (not obz frames); Writer is then "-" and Seq counts the bare lines.
	Bare bool
	// Checked is set by the Reader on data frames whose payload it checked
	// (valid UTF-8, one JSON value): bare lines, and frames unless it
	// trusts their payloads (TrustPayloads). A stage may skip checking
	// such a payload again.
	Checked bool
	// Line is the physical input line the frame was read from (1-based).
	Line int64
	// Members indexes the top-level members of a payload the Reader
	// checked (Checked) that is an object, where a Reader with Index set
	// made it while checking: four offsets into Payload per member, in order (the key from
	// its opening quote to after its closing one, KeyEscaped set in the
	// end when the key has an escape; the value from its first byte to
	// after its last). Nil when there is none; it points into the
	// Reader's index (see SwapIndex), and must be dropped (set to nil)
	// where Payload is replaced.
	Members []uint32
}

// ErrFrameTooLarge is returned (wrapped in a *LineError) for a line longer
// than the reader's limit. The reader has skipped the line; the caller should
// turn it into an error event and keep reading, or raise the limit.
var ErrFrameTooLarge = errors.New("line exceeds the size limit")

// ErrTornFrame is the end of a framed stream whose last line has no
// newline: every writer ends a frame with "\n", so that line is a frame
// its writer was stopped in the middle of (kill -9), however well it
// decodes (cut just after its payload's "}", it decodes to a payload
// without that "}"). The Reader reports it as a *LineError of kind frame.
var ErrTornFrame = errors.New("torn frame: the stream ended in the middle of a frame (its writer stopped while it wrote it)")

// LineError is a line that could not be read as an event: malformed JSON,
// invalid UTF-8, a broken frame, a line over the size limit. The Reader has
// consumed the line and can go on; the caller makes an error event of it.
type LineError struct {
	Line int64
	Kind string // parse, utf8, frame, too-long, version
	Msg  string
	Raw  []byte // the line (a prefix of it for too-long), valid UTF-8
	Size int64  // the line's length in bytes
}

func (e *LineError) Error() string {
	return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
}

// Unwrap returns ErrFrameTooLarge for too-long lines and ErrVersion for
// frames of a newer protocol.
func (e *LineError) Unwrap() error {
	switch e.Kind {
	case "too-long":
		return ErrFrameTooLarge
	case "version":
		return ErrVersion
	}
	return nil
}
