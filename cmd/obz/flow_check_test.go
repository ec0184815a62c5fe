package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/obz-dev/obz/flow"
	"github.com/obz-dev/obz/stages"
)

// Every flag obz flow sets itself is a flag of the stages it sets it on:
// the names cannot drift apart.
func TestManagedFlagsAreStageFlags(t *testing.T) {
	reg := stages.All()
	for _, f := range flow.ManagedFlags() {
		name := strings.TrimPrefix(f, "--")
		found := false
		for _, spec := range reg {
			for _, fl := range stageFlags(spec) {
				found = found || slices.Contains(fl.Names(), name)
			}
		}
		if !found {
			t.Errorf("obz flow sets %s, which no stage has", f)
		}
	}
}

func TestStageChecker(t *testing.T) {
	check := stageChecker(stages.All())
	for _, tc := range []struct {
		argv []string
		want string // "" for ok
	}{
		{[]string{"filter", ".a > 1"}, ""},
		{[]string{"write", "out.csv", "--format", "csv"}, ""},
		{[]string{"read", "missing.csv", "-r"}, ""},
		{[]string{"exec", "--", "sh", "-c", "cat", "--sed"}, ""},
		{[]string{"filter", ".a >"}, `bad jq expression ".a >"`},
		{[]string{"gen", "--sed", "4"}, "unknown flag --sed (did you mean --seed?)"},
		{[]string{"write", "--formt", "csv", "x"}, "unknown flag --formt (did you mean --format?)"},
		{[]string{"gen", "--count", "many"}, `invalid value "many" for flag --count`},
		{[]string{"map", ".x", "--max-line"}, "flag needs an argument: --max-line"},
		{[]string{"filter", ".", "--on-error", "sometimes"}, "--on-error must be continue or fail"},
		{[]string{"nope"}, `unknown command "nope"`},
	} {
		err := check(tc.argv[0], tc.argv[1:])
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.argv, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: error %v, want %q", tc.argv, err, tc.want)
		}
	}
}
