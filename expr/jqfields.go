package expr

import (
	"slices"
	"strings"

	"github.com/itchyny/gojq"
	"github.com/obz-dev/obz/wire"
)

// An expression on gojq's path gets its input decoded into Go values, and
// that decoding is most of what a cheap gojq expression costs: every
// member of the event becomes a map entry, every string a string, every
// array a slice. Most expressions read a few top-level fields of the
// event (.msg | test("timeout"), {id, u: (.user | ascii_downcase)}), and
// their outputs on an object are the same on the object cut down to those
// fields. inputFields finds those fields when it can prove it, and run
// then decodes only them.

// inputFields returns the top-level fields of its input that q reads when
// that is all q reads of it: q reads its members only as .name, ."name"
// or .["name"] (a constant key), and uses the input itself only to pass it
// on to such reads (select(f) | .a, if .c then .a end | .b), never as a
// value (., keys, . + {}, a binding, an assignment, reduce ...), so that
// q's outputs and errors on an object are those on the object with only
// these members. ok is false when q may read more, or when the analysis
// cannot tell.
func inputFields(q *gojq.Query) (fields []string, ok bool) {
	s := fieldSet{ok: true}
	if s.query(q) {
		return nil, false // q outputs its input itself
	}
	if !s.ok {
		return nil, false
	}
	return s.names, true
}

// fieldSet collects the fields read of the input by the parts of a query
// that run on the input itself (the root: the left of a pipe, and its right
// when the left passes the input on, both sides of , + and the like, object
// values, array elements, conditions and branches of if, the body of try,
// the argument of select, index expressions in suffixes).
type fieldSet struct {
	names []string
	ok    bool
}

func (s *fieldSet) add(name string) {
	if !slices.Contains(s.names, name) {
		s.names = append(s.names, name)
	}
}

// query walks q, which runs on the input, and says whether q may output
// the input itself.
func (s *fieldSet) query(q *gojq.Query) (whole bool) {
	if !s.ok {
		return false
	}
	if q == nil || q.Meta != nil || len(q.Imports) > 0 || len(q.FuncDefs) > 0 || len(q.Patterns) > 0 {
		s.ok = false
		return false
	}
	if q.Term != nil {
		if q.Left != nil || q.Right != nil || q.Op != 0 {
			s.ok = false
			return false
		}
		return s.term(q.Term)
	}
	switch q.Op {
	case gojq.OpPipe:
		// The right side runs on the left side's outputs: on the input
		// itself when the left passes it on, and otherwise on values the
		// input was read for, which it may use as it likes.
		if s.query(q.Left) {
			return s.query(q.Right)
		}
		return false
	case gojq.OpComma, gojq.OpAlt:
		l := s.query(q.Left)
		r := s.query(q.Right)
		return l || r
	case gojq.OpAdd, gojq.OpSub, gojq.OpMul, gojq.OpDiv, gojq.OpMod,
		gojq.OpEq, gojq.OpNe, gojq.OpGt, gojq.OpLt, gojq.OpGe, gojq.OpLe,
		gojq.OpAnd, gojq.OpOr:
		s.value(q.Left)
		s.value(q.Right)
		return false
	default: // assignments and updates read and rebuild the whole input
		s.ok = false
		return false
	}
}

// value walks q, which runs on the input and whose outputs are used as
// values (operands, object values, array elements, keys, conditions): the
// input itself there is read whole.
func (s *fieldSet) value(q *gojq.Query) {
	if s.query(q) {
		s.ok = false
	}
}

// term walks t, which runs on the input, and says whether t may output the
// input itself.
func (s *fieldSet) term(t *gojq.Term) (whole bool) {
	switch t.Type {
	case gojq.TermTypeIdentity:
		whole = true
	case gojq.TermTypeNull, gojq.TermTypeTrue, gojq.TermTypeFalse, gojq.TermTypeNumber:
	case gojq.TermTypeIndex:
		s.index(t.Index)
	case gojq.TermTypeString:
		s.str(t.Str)
	case gojq.TermTypeObject:
		s.object(t.Object)
	case gojq.TermTypeArray:
		if t.Array.Query != nil {
			s.value(t.Array.Query)
		}
	case gojq.TermTypeUnary:
		if s.term(t.Unary.Term) {
			s.ok = false
		}
	case gojq.TermTypeQuery:
		whole = s.query(t.Query)
	case gojq.TermTypeIf:
		s.value(t.If.Cond)
		whole = s.query(t.If.Then)
		for _, e := range t.If.Elif {
			s.value(e.Cond)
			whole = s.query(e.Then) || whole
		}
		if t.If.Else == nil { // if without else: else .
			whole = true
		} else {
			whole = s.query(t.If.Else) || whole
		}
	case gojq.TermTypeTry:
		// catch runs on the error's message, not on the input.
		whole = s.query(t.Try.Body)
	case gojq.TermTypeFunc:
		whole = s.function(t.Func)
	default: // .., @format, reduce, foreach, label, break
		s.ok = false
	}
	if len(t.SuffixList) > 0 && whole {
		s.ok = false // .[], (select(f)).a: a suffix on the input itself
	}
	// A suffix applies to the term's outputs, but the expressions in it
	// (.a[.i], .a[.i:.j]) run on the input.
	for _, x := range t.SuffixList {
		if x.Index != nil {
			s.indexArgs(x.Index)
		}
	}
	return whole
}

// function walks a call of f on the input, and says whether it may output
// the input itself. Only functions whose use of the input is known are
// allowed: any other reads it (length, keys, map(f), tojson).
func (s *fieldSet) function(f *gojq.Func) (whole bool) {
	switch len(f.Args) {
	case 0:
		switch {
		case strings.HasPrefix(f.Name, "$"):
			// A variable ($x, $ENV) reads nothing.
		case slices.Contains([]string{"empty", "now", "env", "infinite", "nan", "input_filename"}, f.Name):
			// Functions that ignore their input.
		case f.Name == "type" || f.Name == "not":
			// "object" and false for an object, whatever its members: a
			// partial decode is of an object event only.
		default:
			s.ok = false
		}
	case 1:
		switch f.Name {
		case "select":
			s.value(f.Args[0])
			return true
		case "first", "last":
			return s.query(f.Args[0]) // some of f's outputs
		case "error":
			s.value(f.Args[0]) // raises f's output: never the input
		case "has":
			if !constString(f.Args[0]) {
				s.ok = false
				return false
			}
			// Whether the member is there: it is decoded when it is.
			s.add(f.Args[0].Term.Str.Str)
		default:
			s.ok = false
		}
	case 2:
		if f.Name != "limit" {
			s.ok = false
			return false
		}
		s.value(f.Args[0])
		return s.query(f.Args[1]) // some of f's outputs
	default:
		s.ok = false
	}
	return false
}

// index is .name, ."name", .["name"] or .[...] on the input.
func (s *fieldSet) index(x *gojq.Index) {
	switch {
	case x.Start != nil && x.End == nil && !x.IsSlice && constString(x.Start):
		s.add(x.Start.Term.Str.Str) // .["a b"]
	case x.Start != nil || x.End != nil || x.IsSlice:
		s.ok = false // .[0], .[.k], .[1:]: not a constant key
	case x.Str != nil:
		if x.Str.Queries != nil {
			s.ok = false // ."\(.k)": a computed key
			return
		}
		s.add(x.Str.Str)
	default:
		s.add(x.Name)
	}
}

// constString says whether q is a string literal without interpolation.
func constString(q *gojq.Query) bool {
	t := q.Term
	return t != nil && q.Left == nil && q.Right == nil && q.Op == 0 && len(q.Patterns) == 0 && len(q.FuncDefs) == 0 &&
		t.Type == gojq.TermTypeString && t.Str.Queries == nil && len(t.SuffixList) == 0
}

// indexArgs walks the expressions of a suffix's index, which run on the
// input.
func (s *fieldSet) indexArgs(x *gojq.Index) {
	if x.Str != nil {
		s.str(x.Str)
	}
	if x.Start != nil {
		s.value(x.Start)
	}
	if x.End != nil {
		s.value(x.End)
	}
}

// str walks the interpolations of a string literal.
func (s *fieldSet) str(x *gojq.String) {
	for _, q := range x.Queries {
		s.value(q)
	}
}

func (s *fieldSet) object(o *gojq.Object) {
	for _, kv := range o.KeyVals {
		switch {
		case kv.KeyQuery != nil:
			s.value(kv.KeyQuery)
		case kv.KeyString != nil:
			s.str(kv.KeyString)
			if kv.Val == nil {
				if kv.KeyString.Queries != nil {
					s.ok = false // {"\(.k)"}: a computed key read
					return
				}
				s.add(kv.KeyString.Str) // {"a b"} is {"a b": .["a b"]}
			}
		case kv.Key != "" && kv.Key[0] == '$':
			// {$x}: a variable (named arguments, $ENV).
		case kv.Key != "" && kv.Key[0] != '@':
			if kv.Val == nil {
				s.add(kv.Key) // {id} is {id: .id}
			}
		default:
			s.ok = false
			return
		}
		if kv.Val != nil {
			s.value(kv.Val)
		}
	}
}

// decodeFields decodes payload as gojq's input when it is an object and
// the program reads only the fields of p.fields: a map with those of its
// members (the last of a repeated key, as a full decode keeps). valid says
// payload is known to be valid JSON; otherwise it is checked first, and a
// payload that is not valid is left to the full decode, whose error the
// event gets. ok is false when the full decode is to be used. The members
// not read are not decoded, but the check (the reader's, or wire.Valid)
// refuses what the decoder would: nesting deeper than 10000 levels too.
func (p *Program) decodeFields(payload []byte, valid bool, members []uint32) (in any, ok bool) {
	i := wsSkip(payload, 0)
	if i >= len(payload) || payload[i] != '{' {
		return nil, false
	}
	if !valid && !wire.Valid(payload) {
		return nil, false
	}
	m := make(map[string]any, len(p.fields))
	// decode adds the member whose key and value start at ks, ke and vs,
	// if it is one of the fields.
	decode := func(ks, ke, vs int) bool {
		name, found := p.fieldOf(payload[ks:ke])
		if !found {
			return true
		}
		// From the value to the object's end: a number must be followed by
		// a byte for the decoder to see where it ends.
		it := payloadJSON.BorrowIterator(payload[vs:])
		v := it.Read()
		err := it.Error
		payloadJSON.ReturnIterator(it)
		m[name] = v
		return err == nil
	}
	// The reader's index of the members (wire.Frame.Members), as
	// Extractor.ExtractMembers takes it, spares walking the values.
	if membersFit(payload, members) {
		for j := 0; j+4 <= len(members); j += 4 {
			if !decode(int(members[j]), int(members[j+1]&^wire.KeyEscaped), int(members[j+2])) {
				return nil, false
			}
		}
		return m, true
	}
	sc := ScanMembers(payload)
	for {
		ks, ke, vs, _, more := sc.Next()
		if !more {
			break
		}
		if !decode(ks, ke, vs) {
			return nil, false
		}
	}
	if sc.bad {
		return nil, false
	}
	return m, true
}

// fieldOf returns which of p.fields a raw member key (quotes included)
// names.
func (p *Program) fieldOf(raw []byte) (string, bool) {
	key := raw[1 : len(raw)-1]
	if slices.Contains(key, '\\') {
		var s string
		if payloadJSON.Unmarshal(raw, &s) != nil {
			return "", false
		}
		key = []byte(s)
	}
	for _, f := range p.fields {
		if bytesString(key) == f {
			return f, true
		}
	}
	return "", false
}
