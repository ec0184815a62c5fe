package main

import (
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/stages"
)

// The lookup package replay gets parses a stage's command line as the stage
// does (options after arguments, aliases) and gives its spec's traits.
func TestStageLookup(t *testing.T) {
	var (
		name string
		err  error
	)
	reg := stages.All()
	lookup := stageLookup(reg, newApp(reg, strings.NewReader(""), io.Discard, io.Discard, &name, &err))
	for _, c := range []struct {
		argv     []string
		delivery runner.Delivery
		norm     []string
	}{
		{[]string{"write", "out.ndjson"}, runner.DeliversWhole, []string{"write", "--", "out.ndjson"}},
		{[]string{"write", "out.ndjson", "-a"}, runner.DeliversInPlace, []string{"write", "-a", "--", "out.ndjson"}},
		{[]string{"write", "--append=false", "out.ndjson"}, runner.DeliversWhole, []string{"write", "--append=false", "--", "out.ndjson"}},
		{[]string{"write", "-"}, runner.DeliversInPlace, []string{"write", "--", "-"}},
		{[]string{"write", "--format", "csv"}, runner.DeliversInPlace, []string{"write", "--format", "csv"}},
		{[]string{"tee", "copy.ndjson", "--append"}, runner.DeliversNothing, []string{"tee", "--append", "--", "copy.ndjson"}},
	} {
		st, err := lookup(c.argv)
		if err != nil {
			t.Errorf("%q: %v", c.argv, err)
			continue
		}
		if st.Traits.Delivery != c.delivery || !slices.Equal(st.Argv, c.norm) {
			t.Errorf("%q: delivery %v, argv %q; want %v, %q", c.argv, st.Traits.Delivery, st.Argv, c.delivery, c.norm)
		}
	}
	if st, _ := lookup([]string{"write", "o.csv", "--dead-letter", "bad.ndjson"}); len(st.Traits.Outside) != 2 || st.Traits.Outside[1].Target != "bad.ndjson" {
		t.Errorf("--dead-letter: %+v", st.Traits.Outside)
	}
	for _, argv := range [][]string{{"nosuch"}, {"write", "--nosuch"}} {
		if _, err := lookup(argv); err == nil {
			t.Errorf("%q: no error", argv)
		}
	}
}
