package natsedge

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
)

// TestSuspendThenResume: a publisher that stopped to be resumed
// (Suspend) does not break the edge: the reader says so and waits, and a
// reader that passed on frames 1..150 before (Seen, a resumed reading
// bridge) drops those when they come again, published again from the
// start, and hands over the rest once.
func TestSuspendThenResume(t *testing.T) {
	nc := testServer(t)
	s := Stream{Subject: "edge.suspend"}
	o := newOut(t, nc, s, OutOptions{})
	send(t, o, frames("src", 1, 300, false))
	if err := o.Suspend("the obz flow of its host died"); err != nil {
		t.Fatal(err)
	}
	// Published again from the start, as a resumed producer does.
	send(t, newOut(t, nc, s, OutOptions{}), frames("src", 1, 500, true))

	var mu sync.Mutex
	var warned []string
	in, err := NewIn(context.Background(), nc, s, "b", InOptions{
		Seen: map[string]uint64{"src": 150},
		Warn: func(m string) { mu.Lock(); warned = append(warned, m); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	got, err := readAll(t, in)
	if err != io.EOF {
		t.Fatalf("reading a suspended then resumed edge: %v, want the EOF", err)
	}
	if want := frames("src", 151, 500, true); !bytes.Equal(got, want) {
		t.Errorf("got %d bytes, want frames 151..500 and the EOF once (%d bytes)", len(got), len(want))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(warned) != 1 || !strings.Contains(warned[0], "subject edge.suspend: the publishing side stopped before its EOF, to be resumed: the obz flow of its host died") {
		t.Errorf("warnings %q, want one naming the subject and why", warned)
	}
}
