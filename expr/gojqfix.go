package expr

import (
	"reflect"

	"github.com/itchyny/gojq"
)

// walkQueries calls f on every query of q's tree, q included, whatever
// holds it (a term, an if, a function's argument, an object's value, ...).
func walkQueries(q *gojq.Query, f func(*gojq.Query)) {
	walkValue(reflect.ValueOf(q), f)
}

var queryType = reflect.TypeFor[*gojq.Query]()

func walkValue(v reflect.Value, f func(*gojq.Query)) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		if v.Type() == queryType {
			f(v.Interface().(*gojq.Query))
		}
		walkValue(v.Elem(), f)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				walkValue(v.Field(i), f)
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			walkValue(v.Index(i), f)
		}
	}
}

// avoidConstAfterBranch rewrites q so that gojq (v0.12.20 and before)
// gives jq's answer where its peephole optimizer does not: when a constant
// follows a branch whose arms are constants, as in
// select((.a > 1 or .b) | "x"), gojq loses track of the stack on one arm
// and outputs true instead of the input. Every pipe "X | K..." whose right
// side starts with a literal (which ignores its input) becomes
// "X as $__obz_k | K...": the same outputs, and a store between the branch
// and the constant, so the optimizer leaves them alone.
func avoidConstAfterBranch(q *gojq.Query) {
	walkQueries(q, func(q *gojq.Query) {
		if q.Op == gojq.OpPipe && len(q.Patterns) == 0 && q.Left != nil && startsWithLiteral(q.Right) {
			q.Patterns = []*gojq.Pattern{{Name: "$__obz_k"}}
		}
	})
}

// startsWithLiteral reports whether the first thing q evaluates is a
// number, string (without interpolation), true, false or null literal,
// with no suffix (an index such as "x"[.a] reads the input).
func startsWithLiteral(q *gojq.Query) bool {
	for q != nil && q.Term == nil && q.Op == gojq.OpPipe && len(q.Patterns) == 0 && len(q.FuncDefs) == 0 {
		q = q.Left
	}
	if q == nil || q.Term == nil || len(q.FuncDefs) > 0 || len(q.Term.SuffixList) > 0 {
		return false
	}
	switch t := q.Term; t.Type {
	case gojq.TermTypeNumber, gojq.TermTypeTrue, gojq.TermTypeFalse, gojq.TermTypeNull:
		return true
	case gojq.TermTypeString:
		return t.Str != nil && len(t.Str.Queries) == 0 && t.Format == ""
	}
	return false
}
