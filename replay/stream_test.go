package replay

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obz-dev/obz/journal"
	"github.com/obz-dev/obz/wire"
)

func stream(t *testing.T, path string, o StreamOptions) (string, StreamResult, error) {
	t.Helper()
	r, err := journal.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var b bytes.Buffer
	o.Path = path
	res, err := Stream(context.Background(), r, &b, o)
	return b.String(), res, err
}

func TestStream(t *testing.T) {
	dir := t.TempDir()
	whole := filepath.Join(dir, "src.zst")
	writeJournal(t, whole, srcFrames()...)
	var want []byte
	for _, f := range srcFrames() {
		want = wire.AppendFrame(want, &f)
	}
	if got, res, err := stream(t, whole, StreamOptions{}); got != string(want) || res.Events != 3 || err != nil {
		t.Errorf("whole: %d events, %v:\n%s", res.Events, err, got)
	}

	// A slice is a new stream: numbered from 1, the recorded event as its
	// parent, a stopped EOF.
	got, res, err := stream(t, whole, StreamOptions{From: 2, To: 2})
	f := data("src", 1, wire.Ref{Writer: "src", Seq: 2}, `{"v":2}`)
	e := wire.Frame{Kind: wire.KindEOF, Writer: "src", Count: 1, EOF: wire.Stopped}
	if wantSlice := string(wire.AppendFrame(wire.AppendFrame(nil, &f), &e)); got != wantSlice || res.Events != 1 || err != nil {
		t.Errorf("slice: %v:\n%s\nwant\n%s", err, got, wantSlice)
	}

	if got, _, _ := stream(t, whole, StreamOptions{Raw: true}); got != "{\"v\":1}\n{\"v\":2}\n{\"v\":3}\n" {
		t.Errorf("raw:\n%s", got)
	}

	// A journal without an EOF: what it holds, then a truncated EOF, and
	// an error that says so.
	cut := filepath.Join(dir, "cut.zst")
	writeJournal(t, cut, srcFrames()[:2]...)
	got, _, err = stream(t, cut, StreamOptions{})
	if err == nil || !strings.Contains(err.Error(), "the journal has no EOF") || !strings.Contains(got, "truncated") {
		t.Errorf("no EOF: %v:\n%s", err, got)
	}
}
