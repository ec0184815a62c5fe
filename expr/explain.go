package expr

import (
	"fmt"
	"strings"
)

// PathStats counts the events a Program answered on each path.
type PathStats struct {
	Fast uint64 // answered by the fast path
	Gojq uint64 // run by gojq: the expression is outside the fast path's subset, or the fast path was unsure of the event
}

// Stats returns how many events the program answered on each path so far.
func (p *Program) Stats() PathStats { return p.stats }

// Fast reports whether the expression compiled to the fast path.
func (p *Program) Fast() bool { return p.fast != nil }

// ReadsFields reports whether the program reads top-level fields of the
// payload (the fast path, or gojq's path decoding only some), which an
// index of its members (wire.Frame.Members) saves it looking for.
func (p *Program) ReadsFields() bool {
	if p.fast != nil {
		return len(p.fast.keys) > 0
	}
	return p.partial && len(p.fields) > 0
}

// Explain says which path runs the expression, and why it is not on the
// fast path when it is not, in a few lines for --explain.
func (p *Program) Explain() string {
	if p.fast != nil {
		return fmt.Sprintf("expression: %s\npath: fast (answers from the payload's bytes; an event it is not sure of, such as one on which the expression fails, is run by gojq)\n", p.src)
	}
	decodes := "decodes each event whole"
	switch {
	case p.partial && len(p.fields) == 0:
		decodes = "reads nothing of an object event"
	case p.partial:
		decodes = "decodes only " + strings.Join(p.fields, ", ") + " of an object event"
	}
	return fmt.Sprintf("expression: %s\npath: gojq (every event): not in the fast path's subset: %s\ngojq input: %s\n", p.src, p.slowWhy, decodes)
}
