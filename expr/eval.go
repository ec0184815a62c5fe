package expr

import (
	"fmt"

	"github.com/itchyny/gojq"
	"github.com/obz-dev/obz/wire"
)

// Test reports whether an output of the expression on payload is true
// (anything but false and null), as jq's select does: filter's question.
// valid says whether payload is known to be valid JSON (a bare line the
// reader checked) rather than a frame's payload, trusted but not checked.
// An event on which the expression fails is an *EvalError.
func (p *Program) Test(payload []byte, valid bool) (bool, error) {
	return p.test(payload, valid, nil)
}

// TestFrame is Test on an event's frame: its payload is valid for a bare
// line, whose members the reader may have indexed (wire.Frame.Members).
func (p *Program) TestFrame(f *wire.Frame) (bool, error) {
	return p.test(f.Payload, f.Checked, frameMembers(f))
}

// frameMembers returns the index of f's members where the fast path may
// use it: that of a payload checked by the reader that made it.
func frameMembers(f *wire.Frame) []uint32 {
	if !f.Checked {
		return nil
	}
	return f.Members
}

func (p *Program) test(payload []byte, valid bool, members []uint32) (bool, error) {
	if p.fast != nil {
		p.fast.ctx.members = members
		if keep, ok := p.fast.keepEvent(payload, valid); ok {
			p.stats.Fast++
			return keep, nil
		}
	}
	p.stats.Gojq++
	keep := false
	err := p.run(payload, valid, members, func(v any) error {
		if truthy(v) {
			keep = true
		}
		return nil
	})
	return keep, err
}

// Outputs calls emit with the JSON encoding of each output of the
// expression on payload, in order, as gojq.Marshal writes it: map's
// question. valid is as for Test. The bytes passed to emit are only valid
// during the call. An event on which the expression fails is an
// *EvalError, after the outputs before the failure were emitted; an error
// from emit is returned as it is.
func (p *Program) Outputs(payload []byte, valid bool, emit func(out []byte) error) error {
	return p.outputs(payload, valid, nil, emit)
}

// OutputsFrame is Outputs on an event's frame (see TestFrame).
func (p *Program) OutputsFrame(f *wire.Frame, emit func(out []byte) error) error {
	return p.outputs(f.Payload, f.Checked, frameMembers(f), emit)
}

func (p *Program) outputs(payload []byte, valid bool, members []uint32, emit func(out []byte) error) error {
	if p.fast != nil {
		p.fast.ctx.members = members
		out, n, ok := p.fast.appendEvent(p.out[:0], payload, valid)
		p.out = out
		if ok {
			p.stats.Fast++
			if n <= 1 || p.fast.gen == nil {
				if n == 0 {
					return nil
				}
				return emit(out)
			}
			start := 0
			for _, end := range p.fast.ends {
				if err := emit(out[start:end]); err != nil {
					return err
				}
				start = end
			}
			return nil
		}
	}
	p.stats.Gojq++
	return p.run(payload, valid, members, func(v any) error {
		b, err := gojq.Marshal(v)
		if err != nil {
			return &EvalError{Kind: "expr", Msg: fmt.Sprintf("cannot encode output: %v", err)}
		}
		return emit(b)
	})
}
