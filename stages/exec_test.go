package stages

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/runner/runnertest"
	"github.com/obz-dev/obz/wire"
)

// The conformance suite runs exec with cat as its program, and the
// observers with their defaults (tee writes to a temp file it is given).
func init() {
	conformance["exec"] = confCase{args: []string{"cat"}, flags: map[string]any{"one-to-one": true}}
	conformance["tap"] = confCase{flags: map[string]any{"first": 1}}
	conformance["stats"] = confCase{}
	conformance["tee"] = confCase{args: []string{os.DevNull}}
}

// lockedBuffer is a stderr that a program's stderr copier and the stage may
// write at the same time.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func needProgram(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed", name)
	}
}

// execRun runs obz exec with argv over in.
func execRun(t *testing.T, ctx context.Context, argv []string, in io.Reader, mod func(*runner.Env)) runnertest.Result {
	t.Helper()
	st, err := execSpec.New(runnertest.Options{Spec: &execSpec, Argv: argv})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	var stderr lockedBuffer
	env := &runner.Env{Stdin: in, Stdout: &out, Stderr: &stderr}
	if mod != nil {
		mod(env)
	}
	err = runner.Run(ctx, &execSpec, st, env)
	return runnertest.Result{Err: err, Out: out.Bytes(), Stderr: stderr.String()}
}

func TestExecPassesThroughAProgram(t *testing.T) {
	needProgram(t, "sh")
	in := "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n"
	res := execRun(t, context.Background(), []string{"sh", "-c", `sed 's/"a"/"b"/'`}, strings.NewReader(in), nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	fs := runnertest.Frames(t, res.Out)
	if got := strings.Join(runnertest.Payloads(fs), " "); got != `{"b":1} {"b":2} {"b":3}` {
		t.Errorf("payloads %s", got)
	}
	for i, f := range fs[:3] {
		if f.Writer != "exec" || f.Seq != uint64(i+1) || !f.Parent.IsZero() {
			t.Errorf("frame %d: %+v, want writer exec, seq %d, no parent", i, f, i+1)
		}
	}
	if eof := runnertest.LastEOF(t, fs); eof.Count != 3 || eof.EOF != wire.Natural {
		t.Errorf("EOF %+v", eof)
	}
}

func TestExecGarbageOutputBecomesErrorEvents(t *testing.T) {
	needProgram(t, "sh")
	prog := `cat >/dev/null; echo '{"ok":1}'; echo 'not json'; printf '\n'; echo '{"ok":2}'; printf '\377\n'`
	res := execRun(t, context.Background(), []string{"sh", "-c", prog}, strings.NewReader("{\"a\":1}\n"), nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	fs := runnertest.Frames(t, res.Out)
	if got := strings.Join(runnertest.Payloads(fs), " "); got != `{"ok":1} {"ok":2}` {
		t.Errorf("payloads %s", got)
	}
	var errs []wire.Frame
	for _, f := range fs {
		if f.Kind == wire.KindError {
			errs = append(errs, f)
		}
	}
	if len(errs) != 2 {
		t.Fatalf("%d error events, want 2: %s", len(errs), res.Out)
	}
	e := errs[0].Err
	if e.Kind != "exec-output" || e.Line != 2 || string(e.Raw) != "not json" || e.Stage != "exec" || !strings.Contains(e.Msg, "invalid JSON") {
		t.Errorf("error event %+v", e)
	}
	if e := errs[1].Err; e.Kind != "exec-output" || e.Line != 5 || !strings.Contains(e.Msg, "UTF-8") {
		t.Errorf("error event %+v, want the bad UTF-8 of output line 5", e)
	}
	if eof := runnertest.LastEOF(t, fs); eof.Count != 4 {
		t.Errorf("EOF count %d, want 4", eof.Count)
	}
}

func TestExecExitStatusFailsTheStage(t *testing.T) {
	needProgram(t, "sh")
	res := execRun(t, context.Background(), []string{"sh", "-c", `cat; echo 'bad thing' >&2; printf 'no newline' >&2; exit 3`}, strings.NewReader("{\"a\":1}\n"), nil)
	if res.Err == nil || res.Err.Error() != "program sh exited with status 3" {
		t.Fatalf("Run = %v", res.Err)
	}
	fs := runnertest.Frames(t, res.Out)
	if eof := runnertest.LastEOF(t, fs); eof.EOF != wire.Poison || eof.Count != 1 {
		t.Errorf("EOF %+v, want poison after the 1 event", eof)
	}
	if res.Stderr != "[exec] bad thing\n[exec] no newline\n" {
		t.Errorf("stderr %q", res.Stderr)
	}
}

func TestExecKilledBySignal(t *testing.T) {
	needProgram(t, "sh")
	res := execRun(t, context.Background(), []string{"sh", "-c", `kill -9 $$`}, strings.NewReader("{\"a\":1}\n"), nil)
	if res.Err == nil || !strings.Contains(res.Err.Error(), "program sh was killed by signal 9") {
		t.Fatalf("Run = %v", res.Err)
	}
}

func TestExecCannotStart(t *testing.T) {
	res := execRun(t, context.Background(), []string{"obz-no-such-program"}, strings.NewReader("{\"a\":1}\n"), nil)
	if res.Err == nil || !strings.Contains(res.Err.Error(), "cannot start program obz-no-such-program") {
		t.Fatalf("Run = %v", res.Err)
	}
	if eof := runnertest.LastEOF(t, runnertest.Frames(t, res.Out)); eof.EOF != wire.Poison || eof.Count != 0 {
		t.Errorf("EOF %+v", eof)
	}
}

func TestExecUsage(t *testing.T) {
	_, err := execSpec.New(runnertest.Options{Spec: &execSpec})
	var ue *runner.UsageError
	if !errors.As(err, &ue) {
		t.Fatalf("New without a program = %v, want a usage error", err)
	}
}

// Error events on input pass on without reaching the program.
func TestExecErrorEventsBypassTheProgram(t *testing.T) {
	needProgram(t, "sh")
	in := runnertest.Data("up", 1, `{"a":1}`) +
		runnertest.ErrFrame("up", 2, wire.ErrorInfo{Kind: "parse", Msg: "bad", Stage: "read", Line: 2, Raw: []byte("oops")}, "") +
		runnertest.Data("up", 3, `{"a":3}`) + runnertest.EOF("up", 3, wire.Natural)
	// The program counts its input lines: it must see 2.
	res := execRun(t, context.Background(), []string{"sh", "-c", `n=$(wc -l); echo "{\"lines\":$n}"`}, strings.NewReader(in), nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	fs := runnertest.Frames(t, res.Out)
	var data, errs []wire.Frame
	for _, f := range fs {
		switch f.Kind {
		case wire.KindData:
			data = append(data, f)
		case wire.KindError:
			errs = append(errs, f)
		}
	}
	if len(data) != 1 || strings.ReplaceAll(string(data[0].Payload), " ", "") != `{"lines":2}` {
		t.Errorf("data %s", runnertest.Payloads(data))
	}
	if len(errs) != 1 || string(errs[0].Err.Raw) != "oops" || errs[0].Parent != (wire.Ref{Writer: "up", Seq: 2}) {
		t.Errorf("error events %+v", errs)
	}
	if eof := runnertest.LastEOF(t, fs); eof.Count != 2 {
		t.Errorf("EOF count %d, want 2", eof.Count)
	}
}

// A program that stops reading early ends the input like head does.
func TestExecProgramStopsReading(t *testing.T) {
	needProgram(t, "head")
	var in strings.Builder
	for range 200000 {
		in.WriteString("{\"a\":1}\n")
	}
	res := execRun(t, context.Background(), []string{"head", "-n", "2"}, strings.NewReader(in.String()), nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	fs := runnertest.Frames(t, res.Out)
	if len(runnertest.Payloads(fs)) != 2 {
		t.Errorf("payloads %s", runnertest.Payloads(fs))
	}
	if !strings.Contains(res.Stderr, "head stopped reading its input") {
		t.Errorf("stderr %q", res.Stderr)
	}
}

// A broken input kills the program and writes a truncated EOF.
func TestExecBrokenInputKillsTheProgram(t *testing.T) {
	needProgram(t, "cat")
	in := runnertest.Data("up", 1, `{"a":1}`) + runnertest.Data("up", 2, `{"a":2}`)
	res := execRun(t, context.Background(), []string{"cat"}, strings.NewReader(in), nil)
	runnertest.WantBroken(t, res.Err, "input from 'up' ended without EOF after 2 events")
	if eof := runnertest.LastEOF(t, runnertest.Frames(t, res.Out)); eof.EOF != wire.Truncated {
		t.Errorf("EOF %+v, want truncated", eof)
	}
}

// A stop signal gives the program no more input: its stdin is closed at
// once, the answers to what it was given are passed on, under a stopped EOF.
func TestExecStopClosesTheProgramsInput(t *testing.T) {
	needProgram(t, "sh")
	pr, pw := io.Pipe()
	or, ow := io.Pipe()
	defer or.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	st, err := execSpec.New(runnertest.Options{Spec: &execSpec, Argv: []string{"sh", "-c", "cat > " + dir + "/seen; echo '{\"bye\":1}'"}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- runner.Run(ctx, &execSpec, st, &runner.Env{Stdin: pr, Stdout: ow, Stderr: io.Discard})
		ow.Close()
	}()
	out := runnertest.NewFrameReader(t, or)
	go io.WriteString(pw, "{\"a\":1}\n")
	// The program answers only at the end of its input: the stop ends it.
	fileHas(t, dir+"/seen", `{"a":1}`)
	cancel()
	go io.WriteString(pw, "{\"a\":2}\n{\"a\":3}\n") // never given to the program
	if f := out.Next(); f.Kind != wire.KindData || string(f.Payload) != `{"bye":1}` {
		t.Fatalf("got %+v, want the answer", f)
	}
	if f := out.Next(); f.Kind != wire.KindEOF || f.EOF != wire.Stopped || f.Count != 1 {
		t.Fatalf("got %+v, want a stopped EOF after 1", f)
	}
	if err := runnertest.Wait(t, done); err != nil {
		t.Fatal(err)
	}
	if seen, _ := os.ReadFile(dir + "/seen"); string(seen) != "{\"a\":1}\n" {
		t.Errorf("the program was given %q", seen)
	}
}

// After a stop, a program that does not end within the drain timeout is
// ended with its process group; the stage ends stopped and says so.
func TestExecStopEndsASlowProgram(t *testing.T) {
	needProgram(t, "sh")
	var in strings.Builder
	for range 20000 {
		in.WriteString("{\"a\":1}\n")
	}
	pr, pw := io.Pipe()
	defer pr.Close()
	go io.WriteString(pw, in.String()) // more than the program takes: it never ends
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prog := `trap '' TERM; read -r l; echo "$l"; while :; do sleep 1; done`
	st, err := execSpec.New(runnertest.Options{Spec: &execSpec, Argv: []string{"sh", "-c", prog},
		Flags: map[string]any{"drain-timeout": 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	or, ow := io.Pipe()
	defer or.Close()
	var stderr lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- runner.Run(ctx, &execSpec, st, &runner.Env{Stdin: pr, Stdout: ow, Stderr: &stderr})
		ow.Close()
	}()
	out := runnertest.NewFrameReader(t, or)
	if f := out.Next(); f.Kind != wire.KindData || string(f.Payload) != `{"a":1}` {
		t.Fatalf("got %+v, want the first answer", f)
	}
	cancel()
	if f := out.Next(); f.Kind != wire.KindEOF || f.EOF != wire.Stopped || f.Count != 1 {
		t.Fatalf("got %+v, want a stopped EOF after 1", f)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(runnertest.HangGuard + execGrace):
		t.Fatal("the stage did not end")
	}
	if !strings.Contains(stderr.String(), "stopped: sh did not end within the drain timeout (100ms) after the stop signal; its process group was ended") {
		t.Errorf("stderr %q", stderr.String())
	}
}

// fileHas waits until the file at path holds s.
func fileHas(t *testing.T, path, s string) {
	t.Helper()
	guard := time.Now().Add(runnertest.HangGuard)
	for {
		b, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if strings.Contains(string(b), s) {
			return
		}
		if time.Now().After(guard) {
			t.Fatalf("%s never held %s", path, s)
		}
		time.Sleep(time.Millisecond)
	}
}

// Input reaches the program while the input stays open, and the answer is
// passed on before the next input event.
func TestExecStreamsWhileInputIsOpen(t *testing.T) {
	needProgram(t, "cat")
	pr, pw := io.Pipe()
	or, ow := io.Pipe()
	defer or.Close()
	st, err := execSpec.New(runnertest.Options{Spec: &execSpec, Argv: []string{"cat"}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- runner.Run(context.Background(), &execSpec, st, &runner.Env{Stdin: pr, Stdout: ow, Stderr: io.Discard})
		ow.Close()
	}()
	out := runnertest.NewFrameReader(t, or)
	for i, line := range []string{`{"a":1}`, `{"a":2}`, `{"a":3}`} {
		go io.WriteString(pw, line+"\n")
		if f := out.Next(); f.Kind != wire.KindData || string(f.Payload) != line || f.Seq != uint64(i+1) {
			t.Fatalf("got %+v, want %s while input is open", f, line)
		}
	}
	pw.Close()
	if f := out.Next(); f.Kind != wire.KindEOF || f.Count != 3 {
		t.Fatalf("got %+v, want EOF", f)
	}
	if err := runnertest.Wait(t, done); err != nil {
		t.Fatal(err)
	}
}

// Closed stdout downstream ends the stage quietly and stops the program.
func TestExecDownstreamGone(t *testing.T) {
	needProgram(t, "cat")
	var in strings.Builder
	for range 100000 {
		in.WriteString("{\"a\":1}\n")
	}
	st, _ := execSpec.New(runnertest.Options{Spec: &execSpec, Argv: []string{"cat"}})
	pr, pw := io.Pipe()
	pr.Close()
	err := runner.Run(context.Background(), &execSpec, st, &runner.Env{Stdin: strings.NewReader(in.String()), Stdout: pw, Stderr: io.Discard})
	if err != nil {
		t.Fatalf("Run = %v, want a quiet end", err)
	}
}

// --one-to-one gives each output its input as parent (and its source time)
// and keeps error events in their place.
func TestExecOneToOne(t *testing.T) {
	needProgram(t, "cat")
	in := `{"obz":1,"t":"data","w":"up","s":1,"ts":42,"d":{"a":1}}` + "\n" +
		runnertest.ErrFrame("up", 2, wire.ErrorInfo{Kind: "parse", Msg: "bad", Stage: "read", Line: 2, Raw: []byte("oops")}, "") +
		runnertest.Data("up", 3, `{"a":3}`) + runnertest.EOF("up", 3, wire.Natural)
	st, err := execSpec.New(runnertest.Options{Spec: &execSpec, Argv: []string{"cat"}, Flags: map[string]any{"one-to-one": true}})
	if err != nil {
		t.Fatal(err)
	}
	res := runnertest.Run(t, &execSpec, st, in, nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	fs := runnertest.Frames(t, res.Out)
	want := []struct {
		kind   wire.Kind
		parent uint64
	}{{wire.KindData, 1}, {wire.KindError, 2}, {wire.KindData, 3}, {wire.KindEOF, 0}}
	if len(fs) != len(want) {
		t.Fatalf("%d frames, want %d: %s", len(fs), len(want), res.Out)
	}
	for i, w := range want {
		if fs[i].Kind != w.kind || fs[i].Parent.Seq != w.parent || w.parent > 0 && fs[i].Parent.Writer != "up" {
			t.Errorf("frame %d: %+v, want %v with parent up/%d", i, fs[i], w.kind, w.parent)
		}
	}
	if fs[0].TS != 42 || fs[2].TS != 0 {
		t.Errorf("source times %d and %d, want 42 (the input's) and none", fs[0].TS, fs[2].TS)
	}
}

func TestExecOneToOneBroken(t *testing.T) {
	needProgram(t, "sh")
	for _, c := range []struct{ prog, msg string }{
		{`cat; echo '{"extra":1}'`, "program sh wrote more lines than it was given (--one-to-one)"},
		{`head -n 1`, "program sh left 1 input events without an answer (--one-to-one)"},
	} {
		st, err := execSpec.New(runnertest.Options{Spec: &execSpec, Argv: []string{"sh", "-c", c.prog}, Flags: map[string]any{"one-to-one": true}})
		if err != nil {
			t.Fatal(err)
		}
		res := runnertest.Run(t, &execSpec, st, "{\"a\":1}\n{\"a\":2}\n", nil)
		if res.Err == nil || res.Err.Error() != c.msg {
			t.Errorf("%s: Run = %v, want %q", c.prog, res.Err, c.msg)
		}
	}
}
