package expr

import (
	"bufio"
	"bytes"
	"os"
	"strings"
	"testing"
)

// realisticMinShare is the share of testdata/realistic.txt that must
// compile to the fast path, in percent: a floor that only goes up.
const realisticMinShare = 97

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		lines = append(lines, l)
	}
	return lines
}

// TestRealisticSet runs the realistic expression set on its payloads: every
// expression that compiles to the fast path gives gojq's exact outcome on
// every payload (outputs, keep/drop, errors left to gojq), and the share on
// the fast path is reported (go test -v -run TestRealisticSet ./expr lists
// the expressions left to gojq).
func TestRealisticSet(t *testing.T) {
	exprs := readLines(t, "testdata/realistic.txt")
	payloads := readLines(t, "testdata/realistic-payloads.ndjson")
	fast, answered, cases := 0, 0, 0
	for _, e := range exprs {
		p, err := Compile(e)
		if err != nil {
			t.Errorf("%s: %v", e, err)
			continue
		}
		if p.fast == nil {
			t.Logf("gojq: %s", e)
			continue
		}
		fast++
		for _, pl := range payloads {
			cases++
			if _, a := checkFastVsGojq(t, e, []byte(pl)); a {
				answered++
			}
		}
	}
	share := 100 * fast / len(exprs)
	t.Logf("%d of %d expressions (%d %%) compile to the fast path; it answered %d of their %d cases", fast, len(exprs), share, answered, cases)
	if share < realisticMinShare {
		t.Errorf("%d %% of the realistic set is on the fast path, want at least %d %%", share, realisticMinShare)
	}
}
