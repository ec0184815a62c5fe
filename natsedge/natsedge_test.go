package natsedge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

// server starts an embedded server on a free loopback port with JetStream
// in a temporary directory, and connects to it.
func testServer(t *testing.T) *nats.Conn {
	t.Helper()
	s, err := StartServer(ServerOptions{Port: -1, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return connect(t, s.ClientURL())
}

func connect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := Connect(Conn{Server: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// frames returns the lines of writer's data frames from..to, and its EOF
// of count to when eof is set.
func frames(writer string, from, to uint64, eof bool) []byte {
	var b []byte
	for seq := from; seq <= to; seq++ {
		f := wire.Frame{Kind: wire.KindData, Writer: writer, Seq: seq, Payload: fmt.Appendf(nil, `{"n":%d}`, seq)}
		b = wire.AppendFrame(b, &f)
	}
	if eof {
		f := wire.Frame{Kind: wire.KindEOF, Writer: writer, Count: to, EOF: wire.Natural}
		b = wire.AppendFrame(b, &f)
	}
	return b
}

// send publishes b in batches of about 100 lines and waits for the acks.
func send(t *testing.T, o *Out, b []byte) {
	t.Helper()
	lines := bytes.SplitAfter(b, []byte("\n"))
	for i := 0; i < len(lines); i += 100 {
		if err := o.Send(bytes.Join(lines[i:min(i+100, len(lines))], nil)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := o.Ack(); err != nil {
		t.Fatal(err)
	}
}

// readN reads frames until n are read or the edge ends, and returns them
// as lines, and the edge's end (nil if it has not ended).
func readN(t *testing.T, in *In, n int) ([]byte, error) {
	t.Helper()
	var out []byte
	got := 0
	for got < n {
		var b runner.InBatch
		err := in.Read(&b)
		for i := range b.Frames {
			out = wire.AppendFrame(out, &b.Frames[i])
			got++
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// readAll reads to the end of the edge, acknowledging each batch as its
// owner does once the frames are downstream (the consumer delivers no more
// than its max ack pending without acks), and returns the frames as lines
// and the edge's end.
func readAll(t *testing.T, in *In) ([]byte, error) {
	t.Helper()
	var out []byte
	for {
		var b runner.InBatch
		err := in.Read(&b)
		for i := range b.Frames {
			out = wire.AppendFrame(out, &b.Frames[i])
		}
		if aerr := in.Ack(context.Background(), true); aerr != nil {
			t.Fatal(aerr)
		}
		if err != nil {
			return out, err
		}
	}
}

func newOut(t *testing.T, nc *nats.Conn, s Stream, opts OutOptions) *Out {
	t.Helper()
	o, err := NewOut(context.Background(), nc, s, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	return o
}

func newIn(t *testing.T, nc *nats.Conn, s Stream, durable string) *In {
	t.Helper()
	in, err := NewIn(context.Background(), nc, s, durable, InOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// TestRoundTrip: the frames published come out as they went in, EOF
// included, and the edge ends at the EOF.
func TestRoundTrip(t *testing.T) {
	nc := testServer(t)
	s := Stream{Subject: "edge.rt"}
	want := frames("src", 1, 5000, true)
	o := newOut(t, nc, s, OutOptions{Window: 256})
	send(t, o, want)
	if n, _ := o.Ack(); n != int64(len(want)) {
		t.Errorf("Ack: %d bytes stored, want %d", n, len(want))
	}
	in := newIn(t, nc, s, "rt")
	defer in.Close()
	got, err := readAll(t, in)
	if err != io.EOF {
		t.Fatalf("the edge ended with %v, want io.EOF", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("read %d bytes, not the %d published", len(got), len(want))
	}
}

// TestDurableRestart: a reader that acknowledged k frames and stopped is
// followed by one that starts at k+1; frames read but not acknowledged are
// delivered again.
func TestDurableRestart(t *testing.T) {
	nc := testServer(t)
	s := Stream{Subject: "edge.restart"}
	all := frames("src", 1, 20000, true) // more than two batches
	send(t, newOut(t, nc, s, OutOptions{}), all)

	// The first reader has a connection of its own, closed as a process
	// that dies closes it.
	nc1 := connect(t, nc.ConnectedUrl())
	in := newIn(t, nc1, s, "d")
	first, err := readN(t, in, 1) // one batch
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Ack(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	// Read on without acknowledging: these come again.
	if _, err := readN(t, in, 1); err != nil {
		t.Fatal(err)
	}
	in.Close()
	nc1.Close()

	in = newIn(t, nc, s, "d")
	defer in.Close()
	rest, err := readAll(t, in)
	if err != io.EOF {
		t.Fatalf("the edge ended with %v, want io.EOF", err)
	}
	// The second reader starts after the last message the first one
	// acknowledged: at the frame after the first's last, or earlier within
	// the one message the first handed over only in part (those frames
	// again are the duplicates the next stage drops by writer:seq).
	k := bytes.Count(first, []byte("\n"))
	if !bytes.HasSuffix(all, rest) {
		t.Fatalf("the second reader read %d frames, not a suffix of what was published", bytes.Count(rest, []byte("\n")))
	}
	again := len(all) - len(rest) - len(first) // negative: read again
	if again > 0 || -again > MaxMessage {
		t.Errorf("after a restart at %d frames acknowledged: the second reader starts %d bytes after them, want 0 or less, by at most one message", k, again)
	}
}

// TestRepublishDeduplicated: a publisher that died after k frames and
// publishes everything again stores each frame once.
func TestRepublishDeduplicated(t *testing.T) {
	nc := testServer(t)
	s := Stream{Subject: "edge.dedupe"}
	send(t, newOut(t, nc, s, OutOptions{}), frames("src", 1, 700, false))
	o := newOut(t, nc, s, OutOptions{})
	all := frames("src", 1, 2000, true)
	send(t, o, all)
	if o.Duplicates() != 700 {
		t.Errorf("Duplicates() = %d, want 700", o.Duplicates())
	}
	in := newIn(t, nc, s, "d")
	defer in.Close()
	got, err := readAll(t, in)
	if err != io.EOF || !bytes.Equal(got, all) {
		t.Errorf("read %d frames (end %v), want the %d published once", bytes.Count(got, []byte("\n")), err, bytes.Count(all, []byte("\n")))
	}
}

// TestFullStreamWaits: a stream of at most 50 messages (discard new)
// holds the publisher back until its consumer takes messages; nothing is
// lost or reordered, and the publisher says what it waits for.
func TestFullStreamWaits(t *testing.T) {
	nc := testServer(t)
	s := Stream{Subject: "edge.full", MaxMsgs: 50}
	all := frames("src", 1, 1000, true)
	var mu sync.Mutex
	var notes []string
	o := newOut(t, nc, s, OutOptions{Window: 16, Warn: func(m string) { mu.Lock(); notes = append(notes, m); mu.Unlock() }})
	done := make(chan error, 1)
	go func() {
		lines := bytes.SplitAfter(all, []byte("\n"))
		for i := 0; i < len(lines); i += 10 {
			if err := o.Send(bytes.Join(lines[i:min(i+10, len(lines))], nil)); err != nil {
				done <- err
				return
			}
		}
		_, err := o.Ack()
		done <- err
	}()
	// Nothing reads yet: the publisher must stop at the limit.
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("the publisher ended (%v) with no consumer and a 50-message stream", err)
	default:
	}
	in := newIn(t, nc, s, "d")
	defer in.Close()
	got, err := readAll(t, in)
	if err != io.EOF {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, all) {
		t.Errorf("read %d frames, want the %d published, in order", bytes.Count(got, []byte("\n")), bytes.Count(all, []byte("\n")))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(notes) == 0 || !strings.Contains(notes[0], "is full") {
		t.Errorf("the publisher waited without saying so: %q", notes)
	}
}

// TestNotAFrame: only frames cross the edge, either way.
func TestNotAFrame(t *testing.T) {
	nc := testServer(t)
	s := Stream{Subject: "edge.bare"}
	o := newOut(t, nc, s, OutOptions{})
	err := o.Send([]byte("{\"a\":1}\n"))
	if err == nil || !strings.Contains(err.Error(), "not a frame") {
		t.Errorf("Send of a bare line: %v, want an error that says it is not a frame", err)
	}
	if _, err := nc.Request("edge.bare", []byte(`{"a":1}`), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	in := newIn(t, nc, s, "d")
	defer in.Close()
	_, err = readN(t, in, 1)
	if err == nil || !strings.Contains(err.Error(), "message 1 of the stream, line 1: not a frame") {
		t.Errorf("Read of a message that is not a frame: %v", err)
	}
}

// TestServerRestart: the server stops and starts again (same port, same
// store) in the middle of the stream, while the reader is reading and the
// publisher has no message in flight (see docs/nats.md, Known limits, for a
// restart with messages in flight). The reader, reconnected, gets every
// frame once.
func TestServerRestart(t *testing.T) {
	dir := t.TempDir()
	srv, err := StartServer(ServerOptions{Port: -1, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	url := srv.ClientURL()
	port := srv.Addr().(*net.TCPAddr).Port
	defer func() { srv.Shutdown() }()
	s := Stream{Subject: "edge.restart"}
	all := frames("src", 1, 100000, true)

	nc := connect(t, url)
	read := make(chan []byte, 1)
	in := newIn(t, connect(t, url), s, "d") // before the restart
	go func() {
		defer in.Close()
		var out []byte
		for {
			var b runner.InBatch
			err := in.Read(&b)
			for i := range b.Frames {
				out = wire.AppendFrame(out, &b.Frames[i])
			}
			if aerr := in.Ack(context.Background(), false); aerr != nil {
				t.Log(aerr) // the server is away: the frames come again
			}
			if err != nil {
				if err != io.EOF {
					t.Error(err)
				}
				read <- out
				return
			}
		}
	}()

	restarted := false
	publish := func() error {
		o, err := NewOut(context.Background(), nc, s, OutOptions{AckTimeout: 2 * time.Second})
		if err != nil {
			return err
		}
		lines := bytes.SplitAfter(all, []byte("\n"))
		for i := 0; i < len(lines); i += 500 {
			if err := o.Send(bytes.Join(lines[i:min(i+500, len(lines))], nil)); err != nil {
				return err
			}
			if i == 30000 && !restarted {
				restarted = true
				if _, err := o.Ack(); err != nil {
					return err
				}
				srv.Shutdown()
				srv.WaitForShutdown()
				if srv, err = StartServer(ServerOptions{Port: port, Dir: dir}); err != nil {
					t.Fatal(err)
				}
				t.Logf("restarted at %v", time.Now())
			}
		}
		_, err = o.Ack()
		return err
	}
	if err := publish(); err != nil {
		t.Logf("the publisher failed across the restart (%v): publishing again", err)
		for try := 0; ; try++ {
			err := publish()
			if err == nil {
				break
			}
			t.Logf("try %d at %v: %v", try, time.Now(), err)
			if try == 5 {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
		}
	}
	select {
	case got := <-read:
		if !bytes.Equal(got, all) {
			t.Errorf("the reader got %d frames, want the %d published, each once, in order", bytes.Count(got, []byte("\n")), bytes.Count(all, []byte("\n")))
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the reader did not get to the EOF within 2 minutes")
	}
}

// TestAbort: a publisher whose input broke says so after the frames it
// has; the reader hands those over, then fails with its words instead of
// waiting for an EOF, and a reader started again with the same durable
// continues after the abort, with what is published again.
func TestAbort(t *testing.T) {
	nc := testServer(t)
	s := Stream{Subject: "edge.abort"}
	o := newOut(t, nc, s, OutOptions{})
	send(t, o, frames("src", 1, 300, false))
	if err := o.Abort("stdin ended without the EOF of src"); err != nil {
		t.Fatal(err)
	}
	in := newIn(t, nc, s, "b")
	got, err := readAll(t, in)
	in.Close()
	var broken *BrokenError
	if !errors.As(err, &broken) || broken.Why != "stdin ended without the EOF of src" || broken.Subject != s.Subject {
		t.Fatalf("reading an aborted edge: %v, want a BrokenError with the publisher's words", err)
	}
	if want := frames("src", 1, 300, false); !bytes.Equal(got, want) {
		t.Errorf("frames before the abort: %d bytes, want %d", len(got), len(want))
	}

	// Published again, whole: the reader continues after the abort, and
	// drops nothing it had not handed over.
	send(t, newOut(t, nc, s, OutOptions{}), frames("src", 1, 500, true))
	in = newIn(t, nc, s, "b")
	defer in.Close()
	rest, err := readAll(t, in)
	if err != io.EOF {
		t.Fatalf("after publishing again: %v, want the EOF", err)
	}
	if want := frames("src", 301, 500, true); !bytes.Equal(rest, want) {
		t.Errorf("after the abort: %d bytes, want frames 301..500 and the EOF (%d bytes)", len(rest), len(want))
	}
}

// TestDeleteStream: a reader that read the edge to its EOF and
// acknowledged it deletes the stream; before that it refuses to.
func TestDeleteStream(t *testing.T) {
	nc := testServer(t)
	s := Stream{Subject: "edge.once"}
	send(t, newOut(t, nc, s, OutOptions{}), frames("src", 1, 100, true))
	in := newIn(t, nc, s, "b")
	defer in.Close()
	if err := in.DeleteStream(context.Background()); err == nil {
		t.Fatal("deleted a stream not read to its end")
	}
	if _, err := readAll(t, in); err != io.EOF {
		t.Fatal(err)
	}
	if err := in.DeleteStream(context.Background()); err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Stream(context.Background(), StreamName(s.Subject)); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("the stream after DeleteStream: %v, want not found", err)
	}
}

// TestServerRestartInFlight: the server stops and starts again three
// times while the publisher has messages in flight. Each message expects
// the one before it, so none is stored after one that was lost; the
// publisher publishes again from the first not stored, on its own, and
// the reader gets every frame once, in order: no hole, no loss.
func TestServerRestartInFlight(t *testing.T) {
	dir := t.TempDir()
	srv, err := StartServer(ServerOptions{Port: -1, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	url := srv.ClientURL()
	port := srv.Addr().(*net.TCPAddr).Port
	defer func() { srv.Shutdown() }()
	s := Stream{Subject: "edge.inflight"}
	all := frames("src", 1, 100000, true)

	nc := connect(t, url)
	read := make(chan []byte, 1)
	in := newIn(t, connect(t, url), s, "d")
	go func() {
		defer in.Close()
		var out []byte
		for {
			var b runner.InBatch
			err := in.Read(&b)
			for i := range b.Frames {
				out = wire.AppendFrame(out, &b.Frames[i])
			}
			in.Ack(context.Background(), false) // the server away: the frames come again
			if err != nil {
				if err != io.EOF {
					t.Error(err)
				}
				read <- out
				return
			}
		}
	}()

	var mu sync.Mutex
	var notes []string
	o := newOut(t, nc, s, OutOptions{AckTimeout: 2 * time.Second, RetryFor: time.Minute,
		Warn: func(m string) { mu.Lock(); notes = append(notes, m); mu.Unlock() }})
	lines := bytes.SplitAfter(all, []byte("\n"))
	for i := 0; i < len(lines); i += 200 {
		if err := o.Send(bytes.Join(lines[i:min(i+200, len(lines))], nil)); err != nil {
			t.Fatal(err)
		}
		if i == 20000 || i == 50000 || i == 80000 {
			// No Ack first: the messages of the last batches are in
			// flight.
			srv.Shutdown()
			srv.WaitForShutdown()
			if srv, err = StartServer(ServerOptions{Port: port, Dir: dir}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := o.Ack(); err != nil {
		t.Fatalf("the publisher failed across the restarts: %v", err)
	}
	rounds, msgs, dups := o.Resends()
	t.Logf("published again %d times, %d messages, %d frames stored already", rounds, msgs, dups)
	mu.Lock()
	for _, n := range notes {
		t.Log(n)
	}
	mu.Unlock()
	select {
	case got := <-read:
		if !bytes.Equal(got, all) {
			t.Errorf("the reader got %d frames, want the %d published, each once, in order", bytes.Count(got, []byte("\n")), bytes.Count(all, []byte("\n")))
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the reader did not get to the EOF within 2 minutes")
	}
}

// TestFanIn: two publishers write to one subject (a reader with two
// writers), the second between two batches of the first. The first then
// expects its own previous message, but the stream's last is the other's:
// it says so and publishes without expecting from then on; every frame
// arrives once.
func TestFanIn(t *testing.T) {
	nc := testServer(t)
	s := Stream{Subject: "edge.fanin"}
	var notes []string
	a := newOut(t, nc, s, OutOptions{Warn: func(m string) { notes = append(notes, m) }})
	send(t, a, frames("a", 1, 10000, false))
	send(t, newOut(t, nc, s, OutOptions{}), frames("b", 1, 20000, true))
	rest := frames("a", 10001, 20000, true)
	send(t, a, rest)
	in, err := NewIn(context.Background(), nc, s, "d", InOptions{Writers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	got, err := readAll(t, in)
	if err != io.EOF {
		t.Fatal(err)
	}
	if n := bytes.Count(got, []byte("\n")); n != 40002 || !bytes.HasSuffix(got, rest) {
		t.Errorf("read %d frames, want 40002, a's last ones last", n)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "another publisher (b:") {
		t.Errorf("the first publisher did not say (once) that it shares the stream: %q", notes)
	}
}

// readEnd reads in in the background to the end of the edge, and returns
// how it ended on the channel.
func readEnd(t *testing.T, in *In) <-chan error {
	t.Helper()
	end := make(chan error, 1)
	go func() {
		defer in.Close()
		for {
			var b runner.InBatch
			err := in.Read(&b)
			if aerr := in.Ack(context.Background(), false); aerr != nil && err == nil {
				err = aerr
			}
			if err != nil {
				end <- err
				return
			}
		}
	}()
	return end
}

// TestIdleTimeout: a reader waits as long as the publisher's heartbeats
// come, frames or not; once they stop (its host lost), it fails after
// its idle timeout, naming the subject.
func TestIdleTimeout(t *testing.T) {
	nc := testServer(t)
	s := Stream{Subject: "edge.idle"}
	o := newOut(t, nc, s, OutOptions{Heartbeat: 20 * time.Millisecond})
	send(t, o, frames("src", 1, 100, false))
	in, err := NewIn(context.Background(), nc, s, "d", InOptions{IdleTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	end := readEnd(t, in)
	select {
	case err := <-end:
		t.Fatalf("the reader ended (%v) while the publisher was alive", err)
	case <-time.After(time.Second):
	}
	o.Close() // no heartbeat from now on, as from a lost host
	select {
	case err := <-end:
		var idle *IdleError
		if !errors.As(err, &idle) || idle.Subject != s.Subject || idle.Suspended || !strings.Contains(err.Error(), "no frame nor heartbeat") {
			t.Errorf("the reader ended with %v, want an IdleError for %s", err, s.Subject)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the reader still waits for a publisher that stopped")
	}
}

// TestResumeTimeout: after a suspend mark the reader waits without limit
// by default (its idle timeout does not apply), and reads on when a
// publisher resumes; with a resume timeout it fails after it.
func TestResumeTimeout(t *testing.T) {
	nc := testServer(t)
	s := Stream{Subject: "edge.suspend"}
	o := newOut(t, nc, s, OutOptions{Heartbeat: 20 * time.Millisecond})
	send(t, o, frames("src", 1, 100, false))
	if err := o.Suspend("its host died"); err != nil {
		t.Fatal(err)
	}
	in, err := NewIn(context.Background(), nc, s, "d", InOptions{IdleTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	end := readEnd(t, in)
	select {
	case err := <-end:
		t.Fatalf("the reader ended (%v) while the edge was suspended", err)
	case <-time.After(time.Second):
	}
	o = newOut(t, nc, s, OutOptions{Heartbeat: 20 * time.Millisecond})
	send(t, o, frames("src", 1, 200, true))
	o.Close()
	if err := <-end; err != io.EOF {
		t.Fatalf("after the publisher resumed: %v, want the EOF", err)
	}

	s = Stream{Subject: "edge.suspend2"}
	o = newOut(t, nc, s, OutOptions{Heartbeat: 20 * time.Millisecond})
	send(t, o, frames("src", 1, 100, false))
	if err := o.Suspend("its host died"); err != nil {
		t.Fatal(err)
	}
	in, err = NewIn(context.Background(), nc, s, "d", InOptions{IdleTimeout: 100 * time.Millisecond, ResumeTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-readEnd(t, in):
		var idle *IdleError
		if !errors.As(err, &idle) || !idle.Suspended || !strings.Contains(err.Error(), "was not resumed") {
			t.Errorf("the reader ended with %v, want an IdleError of a suspended edge", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the reader still waits for a publisher past its resume timeout")
	}
}

// TestPayloadChecked: a frame published to the subject by something other
// than obz, whose payload is not valid JSON, reaches the edge as an error
// event of the same writer and seq (the edges downstream trust payloads).
func TestPayloadChecked(t *testing.T) {
	nc := testServer(t)
	s := Stream{Subject: "edge.junk"}
	o := newOut(t, nc, s, OutOptions{})
	frames := `{"obz":1,"t":"data","w":"x","s":1,"d":{"a":1}}` + "\n" +
		`{"obz":1,"t":"data","w":"x","s":2,"d":{"a":tru}}` + "\n" +
		`{"obz":1,"t":"data","w":"x","s":3,"d":"\xff"}` + "\n" +
		`{"obz":1,"t":"eof","w":"x","n":3,"kind":"natural"}` + "\n"
	if err := o.Send([]byte(frames)); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Ack(); err != nil {
		t.Fatal(err)
	}
	in := newIn(t, nc, s, "d")
	defer in.Close()
	out, err := readAll(t, in)
	if err != io.EOF {
		t.Fatalf("edge ended with %v, want EOF", err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d frames, want 4:\n%s", len(lines), out)
	}
	fs := make([]wire.Frame, 4)
	for i, l := range lines {
		if err := wire.Decode([]byte(l), &fs[i]); err != nil {
			t.Fatalf("frame %d %q: %v", i+1, l, err)
		}
	}
	if fs[0].Kind != wire.KindData || string(fs[0].Payload) != `{"a":1}` {
		t.Errorf("frame 1: %v %q, want the data event", fs[0].Kind, fs[0].Payload)
	}
	for i, f := range fs[1:3] {
		if f.Kind != wire.KindError || f.Writer != "x" || f.Seq != uint64(i+2) || f.Err == nil || f.Err.Kind != "parse" || f.Payload != nil || !utf8.Valid(f.Err.Raw) {
			t.Errorf("%s: want an error event of x, kind parse, with the payload as raw", lines[i+1])
		}
	}
}

// TestStartTimeout: a reader whose publishing side never comes (no message
// stored, no heartbeat) waits without limit by default, and with a start
// timeout fails after it; a publisher that comes in time is read.
func TestStartTimeout(t *testing.T) {
	nc := testServer(t)
	s := Stream{Subject: "edge.never"}
	in, err := NewIn(context.Background(), nc, s, "d", InOptions{IdleTimeout: 100 * time.Millisecond, StartTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	end := readEnd(t, in)
	select {
	case err := <-end:
		var idle *IdleError
		if !errors.As(err, &idle) || !idle.NotStarted || idle.Subject != s.Subject || !strings.Contains(err.Error(), "never started") {
			t.Errorf("the reader ended with %v, want an IdleError (not started) for %s", err, s.Subject)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the reader still waits for a publisher that never came")
	}

	// A publisher that comes within the start timeout: read to its EOF.
	s2 := Stream{Subject: "edge.late"}
	in2, err := NewIn(context.Background(), nc, s2, "d", InOptions{StartTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer in2.Close()
	o := newOut(t, nc, s2, OutOptions{})
	time.Sleep(200 * time.Millisecond)
	send(t, o, frames("src", 1, 10, true))
	if _, err := readAll(t, in2); err != io.EOF {
		t.Errorf("the reader of a publisher that came in time ended with %v, want EOF", err)
	}
}
