package stages

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/runner/runnertest"
	"github.com/obz-dev/obz/wire"
)

// execReplicas builds exec --one-to-one with argv, run as n programs
// dealt batch events at a time (obz parallel -j n), or as one exec when n
// is 0.
func execReplicas(t *testing.T, argv []string, n, batch int) runner.Stage {
	t.Helper()
	st, err := execSpec.New(runnertest.Options{Spec: &execSpec, Argv: argv, Flags: map[string]any{"one-to-one": true}})
	if err != nil {
		t.Fatal(err)
	}
	if n > 0 && !st.(runner.Replicated).Replicate(n, batch) {
		t.Fatalf("Replicate(%d, %d) refused", n, batch)
	}
	return st
}

// TestExecReplicasSameBytes: exec --one-to-one run as N programs writes
// byte for byte what one program writes: the answers in input order with
// their parents, the input's error events and watermarks in their place,
// the program's non-JSON lines as error events numbered as one program
// would have written them, over many batches, with programs that buffer
// their output until their input ends or a buffer fills.
func TestExecReplicasSameBytes(t *testing.T) {
	needProgram(t, "awk")
	in := exprWorkersInput(3000) + `{"obz":1,"t":"wm","w":"up","at":5}` + "\n" + exprWorkersInput(1000)
	progs := [][]string{
		{"cat"},
		// awk buffers its output on a pipe; an id ending in 3 gets an
		// answer that is not JSON.
		{"awk", `{ if ($0 ~ /"id":[0-9]*3,/) print "not json"; else print }`},
		// sort -s -k1,1 answers nothing before its input ends: all of a
		// program's answers wait for EOF.
		{"sh", "-c", `nl -ba -w9 | sort -n -s | cut -c11-`},
	}
	if hasProgram("python3") {
		progs = append(progs, []string{"python3", "-c", `import sys, json
for l in sys.stdin:
    o = json.loads(l)
    print(json.dumps(o if not isinstance(o, dict) else dict(o, n=len(l))))`})
	}
	for _, argv := range progs {
		want := runnertest.Run(t, &execSpec, execReplicas(t, argv, 0, 0), in, nil)
		if want.Err != nil {
			t.Fatalf("%s: %v", argv[0], want.Err)
		}
		for _, c := range []struct{ n, batch int }{{1, 256}, {2, 1}, {2, 256}, {3, 7}, {3, 5000}} {
			got := runnertest.Run(t, &execSpec, execReplicas(t, argv, c.n, c.batch), in, nil)
			if got.Err != nil {
				t.Errorf("%s, %d programs, batch %d: %v", argv[0], c.n, c.batch, got.Err)
			}
			if !bytes.Equal(got.Out, want.Out) {
				t.Errorf("%s, %d programs, batch %d: output differs from one program's (%d bytes, want %d)\n%s", argv[0], c.n, c.batch, len(got.Out), len(want.Out), firstDiff(got.Out, want.Out))
			}
			if got.Stderr != want.Stderr {
				t.Errorf("%s, %d programs, batch %d: stderr %q, want %q", argv[0], c.n, c.batch, got.Stderr, want.Stderr)
			}
		}
	}
}

// firstDiff shows the first line where got and want differ.
func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return fmt.Sprintf("line %d:\n got %s\nwant %s", i+1, g[i], w[i])
		}
	}
	return fmt.Sprintf("%d lines, want %d", len(g), len(w))
}

func hasProgram(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}

// TestExecReplicasFail: a program that answers too much or too little,
// exits non-zero, stops reading or dies fails the stage as one program
// would: an error naming the replica, a poison EOF, never a clean end.
func TestExecReplicasFail(t *testing.T) {
	needProgram(t, "sh")
	in := exprWorkersInput(3000)
	for _, c := range []struct{ prog, msg string }{
		{`cat; echo '{"extra":1}'`, "wrote more lines than it was given (--one-to-one)"},
		{`head -n 1`, "input events without an answer (--one-to-one)"},
		{`n=0; while IFS= read -r l; do n=$((n+1)); [ $n -gt 500 ] && exit 5; echo "$l"; done`, "exited with status 5"},
		{`head -n 700; exit 0`, "input events without an answer (--one-to-one)"},
		{`head -n 20; kill -9 $$`, "was killed by signal 9"},
		{`exit 3`, "exited with status 3"},
	} {
		for _, n := range []int{2, 3} {
			res := runnertest.Run(t, &execSpec, execReplicas(t, []string{"sh", "-c", c.prog}, n, 64), in, nil)
			if res.Err == nil || !strings.Contains(res.Err.Error(), c.msg) || !strings.Contains(res.Err.Error(), fmt.Sprintf(" of %d)", n)) {
				t.Errorf("%s, %d programs: Run = %v, want %q about a replica", c.prog, n, res.Err, c.msg)
			}
			fs := runnertest.Frames(t, res.Out)
			if len(fs) == 0 || fs[len(fs)-1].Kind != wire.KindEOF || fs[len(fs)-1].EOF != wire.Poison {
				t.Errorf("%s, %d programs: the output does not end with a poison EOF", c.prog, n)
			}
		}
	}
}

// TestExecReplicasStderr: each program's stderr is prefixed with the stage
// and the replica.
func TestExecReplicasStderr(t *testing.T) {
	needProgram(t, "sh")
	res := runnertest.Run(t, &execSpec, execReplicas(t, []string{"sh", "-c", `echo hello >&2; cat`}, 2, 1), "{\"a\":1}\n{\"a\":2}\n", nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	for _, w := range []string{"[exec 1/2] hello\n", "[exec 2/2] hello\n"} {
		if !strings.Contains(res.Stderr, w) {
			t.Errorf("stderr %q lacks %q", res.Stderr, w)
		}
	}
}

// TestExecReplicasStop: at a stop signal every program's stdin is closed,
// their answers are passed on in input order, and the stage ends with a
// stopped EOF; events after the signal are given to none.
func TestExecReplicasStop(t *testing.T) {
	needProgram(t, "sh")
	pr, pw := io.Pipe()
	or, ow := io.Pipe()
	defer or.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	// Each program answers only at the end of its input.
	st := execReplicas(t, []string{"sh", "-c", `cat > ` + dir + `/seen.$$; cat ` + dir + `/seen.$$`}, 2, 1)
	done := make(chan error, 1)
	go func() {
		done <- runner.Run(ctx, &execSpec, st, &runner.Env{Stdin: pr, Stdout: ow, Stderr: io.Discard})
		ow.Close()
	}()
	out := runnertest.NewFrameReader(t, or)
	go io.WriteString(pw, "{\"a\":1}\n{\"a\":2}\n")
	for seen := 0; seen < 2; time.Sleep(10 * time.Millisecond) {
		seen = 0
		files, _ := filepath.Glob(dir + "/seen.*")
		for _, f := range files {
			if b, _ := os.ReadFile(f); len(b) > 0 {
				seen++
			}
		}
	}
	cancel()
	go io.WriteString(pw, "{\"a\":3}\n{\"a\":4}\n") // never given to a program
	for i := 1; i <= 2; i++ {
		if f := out.Next(); f.Kind != wire.KindData || string(f.Payload) != fmt.Sprintf(`{"a":%d}`, i) || f.Parent.Seq != uint64(i) {
			t.Fatalf("got %+v, want the answer to event %d", f, i)
		}
	}
	if f := out.Next(); f.Kind != wire.KindEOF || f.EOF != wire.Stopped || f.Count != 2 {
		t.Fatalf("got %+v, want a stopped EOF after 2", f)
	}
	if err := runnertest.Wait(t, done); err != nil {
		t.Fatal(err)
	}
}
