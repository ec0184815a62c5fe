package journal

import (
	"strings"
	"testing"

	"github.com/obz-dev/obz/wire"
)

func TestRunLines(t *testing.T) {
	var want, lines []byte
	var run RunLine
	var ts uint64
	add := func(seq uint64, parent wire.Ref, payload string) {
		want = wire.AppendFrame(want, &wire.Frame{Kind: wire.KindData, Writer: "m", Seq: seq, Parent: parent, TS: ts, Payload: []byte(payload)})
		if !run.Add(seq, parent, ts, []byte(payload)) {
			lines = run.Append(lines)
			run.Start("m", seq, parent, ts, []byte(payload))
		}
	}
	add(1, wire.Ref{Writer: "src", Seq: 3}, `{"a":1}`)
	ts = 1764851234000123
	add(2, wire.Ref{Writer: "src", Seq: 4}, `[1,2,"x,y"]`)
	ts = 0
	add(3, wire.Ref{Writer: "src", Seq: 9}, `"],\"d\":["`)
	add(4, wire.Ref{Writer: "other", Seq: 10}, `1`)
	add(5, wire.Ref{}, `null`)
	add(6, wire.Ref{}, `{}`)
	lines = run.Append(lines)
	if n := strings.Count(string(lines), "\n"); n != 3 {
		t.Fatalf("%d lines:\n%s", n, lines)
	}
	got, err := Frames(lines, "")
	if err != nil || string(got) != string(want) {
		t.Fatalf("%v:\n%s\nwant\n%s\nfrom\n%s", err, got, want, lines)
	}
	for _, bad := range []string{
		`{"obz":1,"t":"run","w":"m","s":1,"n":2,"l":[1,1],"d":[1]}`,
		`{"obz":1,"t":"run","w":"m","s":1,"n":2,"l":[1,1],"d":[1,22]}`,
		`{"obz":1,"t":"run","w":"m","s":1,"n":2,"l":[1],"d":[1,2]}`,
		`{"obz":1,"t":"run","w":"m","s":1,"n":2,"l":[2,1],"d":[1,2]}`,
		`{"obz":1,"t":"run","w":"m","s":1,"n":2,"l":[01,1],"d":[1,2]}`,
		`{"obz":1,"t":"run","w":"m","s":1,"n":2,"p":{"w":"x","s":1},"g":[1,2],"l":[1,1],"d":[1,2]}`,
		`{"obz":1,"t":"run","w":"m","s":0,"n":1,"l":[1],"d":[1]}`,
	} {
		x, ok := parseRun([]byte(bad))
		if !ok {
			continue
		}
		// Lengths that parse but do not fit are found while expanding.
		if _, err := Frames([]byte(bad+"\n"), ""); err == nil {
			t.Errorf("accepted %s (%+v)", bad, x)
		}
	}
}
