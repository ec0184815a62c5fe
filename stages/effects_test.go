package stages

import (
	"slices"
	"testing"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/runner/runnertest"
)

// Every stage that can deliver or write outside the run says how, and the
// flag it names for resume is one it declares.
func TestEffects(t *testing.T) {
	for _, s := range All() {
		if f := s.Effects.SkipFlag; f != "" && !slices.ContainsFunc(s.Flags, func(fl runner.Flag) bool { return fl.Name == f }) {
			t.Errorf("%s: SkipFlag %q is not one of its flags", s.Name, f)
		}
		if s.Family == runner.FamilySink && (s.Effects.Delivery == nil || s.Effects.Replay != runner.ReplayDiscard) {
			t.Errorf("%s: a sink must say how it delivers and be discarded in a replay", s.Name)
		}
	}
	traits := func(spec *runner.Spec, args []string, flags map[string]any) runner.Traits {
		return spec.Effects.Traits(runnertest.Options{Spec: spec, Argv: args, Flags: flags})
	}
	for _, c := range []struct {
		args   []string
		flags  map[string]any
		want   runner.Delivery
		target string
	}{
		{[]string{"out.ndjson"}, nil, runner.DeliversWhole, "out.ndjson"},
		{[]string{"out.ndjson"}, map[string]any{"append": true}, runner.DeliversInPlace, "out.ndjson"},
		{[]string{"-"}, nil, runner.DeliversInPlace, "-"},
		{nil, nil, runner.DeliversInPlace, "-"},
	} {
		tr := traits(&writeSpec, c.args, c.flags)
		if tr.Delivery != c.want || tr.Outside[0].Target != c.target || tr.SkipFlag != "skip-delivered" {
			t.Errorf("write %v %v: %+v", c.args, c.flags, tr)
		}
	}
	tr := traits(&writeSpec, []string{"o.csv"}, map[string]any{"dead-letter": "bad.ndjson"})
	if len(tr.Outside) != 2 || tr.Outside[1] != (runner.Effect{Kind: runner.EffectFile, Target: "bad.ndjson", Flag: "dead-letter"}) {
		t.Errorf("write --dead-letter: %+v", tr.Outside)
	}
	tr = traits(&teeSpec, []string{"copy.ndjson"}, nil)
	if tr.Delivery != runner.DeliversNothing || tr.Replay != runner.ReplayRedirect || len(tr.Outside) != 1 || tr.Outside[0].Target != "copy.ndjson" {
		t.Errorf("tee: %+v", tr)
	}
	tr = traits(&execSpec, []string{"python3", "x.py"}, nil)
	if tr.Replay != runner.ReplayAsRecorded || len(tr.Outside) != 1 || tr.Outside[0] != (runner.Effect{Kind: runner.EffectProgram, Target: "python3"}) {
		t.Errorf("exec: %+v", tr)
	}
	if tr := traits(&filterSpec, []string{"true"}, nil); tr.Outside != nil || tr.Delivery != runner.DeliversNothing {
		t.Errorf("filter: %+v", tr)
	}
}
