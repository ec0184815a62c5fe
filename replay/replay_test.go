package replay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/obz-dev/obz/flow"
	"github.com/obz-dev/obz/journal"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

// The tests build run directories by hand (a manifest written with the
// flow package's codec, journals with the journal package) and run flows
// with a fake Start that writes the replay's journals: no process runs.

var commands = flow.Commands{"gen": "source", "filter": "transform", "tee": "observer", "exec": "transform", "write": "sink", "post": "sink"}

// fakeStages stands in for cmd/obz's lookup over the registry: the traits the
// real stages declare, for command lines without options.
func fakeStages(argv []string) (Stage, error) {
	args := argv[1:]
	st := Stage{Argv: append([]string{argv[0], "--"}, args...)}
	switch argv[0] {
	case "write":
		st.Traits = runner.Traits{Delivery: runner.DeliversWhole, SkipFlag: "skip-delivered", Replay: runner.ReplayDiscard}
		if len(args) == 0 || args[0] == "-" {
			st.Traits.Delivery = runner.DeliversInPlace
		}
	case "tee":
		st.Traits = runner.Traits{Replay: runner.ReplayRedirect, Outside: []runner.Effect{{Kind: runner.EffectFile, Target: args[0]}}}
	case "post": // a sink that cannot skip what it delivered
		st.Traits = runner.Traits{Delivery: runner.DeliversWhole, Replay: runner.ReplayDiscard}
	case "exec":
		st.Traits = runner.Traits{Outside: []runner.Effect{{Kind: runner.EffectProgram, Target: args[0]}}}
	}
	return st, nil
}

const topology = `name = "orders"
flow = ["src |> big |> out"]
[stages.src]
run = "gen --count 3"
[stages.big]
run = "filter '.v > 1'"
[stages.out]
run = "write out.ndjson"
`

func data(w string, seq uint64, parent wire.Ref, payload string) wire.Frame {
	return wire.Frame{Kind: wire.KindData, Writer: w, Seq: seq, Parent: parent, Payload: []byte(payload)}
}

func eof(w string, n uint64) wire.Frame {
	return wire.Frame{Kind: wire.KindEOF, Writer: w, Count: n, EOF: wire.Natural}
}

func receipt(w string, seq uint64) wire.Frame {
	return wire.Frame{Kind: wire.KindReceipt, Writer: "out", Of: wire.Ref{Writer: w, Seq: seq}, Status: "ok"}
}

func writeJournal(t *testing.T, path string, frames ...wire.Frame) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	w, err := journal.Create(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	for i := range frames {
		b = wire.AppendFrame(b, &frames[i])
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// The recorded journals of a complete run of topology.
func srcFrames() []wire.Frame {
	return []wire.Frame{data("src", 1, wire.Ref{}, `{"v":1}`), data("src", 2, wire.Ref{}, `{"v":2}`), data("src", 3, wire.Ref{}, `{"v":3}`), eof("src", 3)}
}

func bigFrames(v3 string) []wire.Frame {
	return []wire.Frame{data("big", 1, wire.Ref{Writer: "src", Seq: 2}, `{"v":2}`), data("big", 2, wire.Ref{Writer: "src", Seq: 3}, v3), eof("big", 2)}
}

// record makes a run directory of topology under dir, with the given
// stage states and journals, and returns it.
func record(t *testing.T, dir string, ended bool, states map[string]string, journals map[string][]wire.Frame) string {
	t.Helper()
	runDir := filepath.Join(dir, "runs", "orders-1")
	file := filepath.Join(dir, "orders.toml")
	if err := os.WriteFile(file, []byte(topology), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	res := &flow.Result{Flow: "orders", File: file, RunDir: runDir, Started: time.Now(), Topology: topology}
	if ended {
		res.Ended = time.Now()
	}
	for _, name := range []string{"src", "big", "out"} {
		st := &flow.StageResult{Name: name, State: testState(cmp(states[name], "done")), Log: "logs/" + name + ".log"}
		if fs, ok := journals[name]; ok {
			st.Journal = filepath.Join("journals", name+".zst")
			writeJournal(t, filepath.Join(runDir, st.Journal), fs...)
		}
		res.Stages = append(res.Stages, st)
	}
	if err := flow.WriteManifest(res); err != nil {
		t.Fatal(err)
	}
	return runDir
}

func complete(t *testing.T, dir string) string {
	return record(t, dir, true, nil, map[string][]wire.Frame{
		"src": srcFrames(), "big": bigFrames(`{"v":3}`), "out": {receipt("big", 1), receipt("big", 2), eof("out", 0)},
	})
}

// fakeStart runs nothing: it makes the replay's run directory and writes
// each stage's journal, a source's as the journal it replays, the others
// from frames (the recorded journal's bytes where frames has none).
func fakeStart(t *testing.T, recorded string, frames map[string][]wire.Frame, seen *flow.Topology) func(context.Context, *flow.Topology, flow.Options) (*flow.Result, error) {
	return func(_ context.Context, top *flow.Topology, fo flow.Options) (*flow.Result, error) {
		if seen != nil {
			*seen = *top
		}
		if fo.Stdout == nil || fo.Stdout == os.Stdout {
			t.Errorf("a replay's stdout must be discarded")
		}
		res := &flow.Result{Flow: top.Name, RunDir: filepath.Join(fo.RunDir, top.Name+"-2")}
		for _, s := range top.Stages {
			st := &flow.StageResult{Name: s.Name, Argv: s.Argv, State: flow.StateDone, Journal: filepath.Join("journals", s.Name+".zst")}
			path := filepath.Join(res.RunDir, st.Journal)
			if fs, ok := frames[s.Name]; ok {
				writeJournal(t, path, fs...)
			} else {
				from := filepath.Join(recorded, "journals", s.Name+".zst")
				if s.Argv[0] == "replay" {
					from = s.Argv[1]
				}
				b, err := os.ReadFile(from)
				if err != nil {
					return nil, err
				}
				os.MkdirAll(filepath.Dir(path), 0o755)
				os.WriteFile(path, b, 0o644)
			}
			res.Stages = append(res.Stages, st)
		}
		return res, nil
	}
}

func verify(t *testing.T, o Options) (*Verification, *Replay) {
	t.Helper()
	p, err := Prepare(o)
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Run(context.Background(), flow.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := r.Verify()
	if err != nil {
		t.Fatal(err)
	}
	return v, p
}

func verdicts(v *Verification) string {
	var b strings.Builder
	for _, s := range v.Stages {
		fmt.Fprintf(&b, "%s:%s ", s.Stage, s.Verdict)
	}
	return strings.TrimSpace(b.String())
}

func TestVerifyIdentical(t *testing.T) {
	dir := t.TempDir()
	runDir := complete(t, dir)
	var seen flow.Topology
	v, p := verify(t, Options{RunDir: runDir, Verify: true, Commands: commands, Stages: fakeStages, Start: fakeStart(t, runDir, nil, &seen)})
	if got := verdicts(v); got != "src:match big:match out:skipped" || v.Compared != 2 || v.Diverged != 0 {
		t.Errorf("verdicts %s, compared %d, diverged %d", got, v.Compared, v.Diverged)
	}
	// The source replays its journal; the sink is discarded (run as
	// "write -", its stdout the replay's, which goes nowhere).
	src, out := seen.Lookup("src"), seen.Lookup("out")
	if src.Argv[0] != "replay" || src.Argv[1] != filepath.Join(runDir, "journals", "src.zst") {
		t.Errorf("source: %q", src.Argv)
	}
	if !slices.Equal(out.Argv, []string{"write", "-"}) {
		t.Errorf("sink: %q", out.Argv)
	}
	if len(p.Notes) != 0 {
		t.Errorf("notes: %q", p.Notes)
	}
	var b bytes.Buffer
	v.Print(&b)
	if !strings.Contains(b.String(), "  src              match       3 events, EOF natural") || !strings.HasSuffix(b.String(), "verdict: match (2 stages compared)\n") {
		t.Errorf("report:\n%s", &b)
	}

	// --run-sinks: the sink runs as recorded and is compared.
	v, _ = verify(t, Options{RunDir: runDir, Verify: true, RunSinks: true, Commands: commands, Stages: fakeStages, Start: fakeStart(t, runDir, nil, &seen)})
	if got := verdicts(v); got != "src:match big:match out:match" || !slices.Equal(seen.Lookup("out").Argv, []string{"write", "out.ndjson"}) {
		t.Errorf("--run-sinks: %s, sink %q", got, seen.Lookup("out").Argv)
	}
}

func TestVerifyDiffering(t *testing.T) {
	dir := t.TempDir()
	runDir := complete(t, dir)
	start := fakeStart(t, runDir, map[string][]wire.Frame{"big": bigFrames(`{"v":4}`)}, nil)
	v, _ := verify(t, Options{RunDir: runDir, Verify: true, Commands: commands, Stages: fakeStages, Start: start})
	if got := verdicts(v); got != "src:match big:diverged out:skipped" || v.Diverged != 1 || v.Compared != 2 {
		t.Fatalf("verdicts %s, compared %d, diverged %d", got, v.Compared, v.Diverged)
	}
	if d := v.Stages[1].Detail; !strings.Contains(d, "first at position 2 (seq 2)") || !strings.Contains(d, "field v: 3 vs 4") {
		t.Errorf("detail: %s", d)
	}
	var b bytes.Buffer
	v.Print(&b)
	if !strings.HasSuffix(b.String(), "verdict: diverged (1 of 2 compared stages)\n") {
		t.Errorf("report:\n%s", &b)
	}

	// A stage that did not finish in the replay diverged.
	failing := func(ctx context.Context, top *flow.Topology, fo flow.Options) (*flow.Result, error) {
		res, err := fakeStart(t, runDir, nil, nil)(ctx, top, fo)
		res.Stages[1].State, res.Stages[1].ExitCode, res.Failed = flow.StateFailed, 1, "big"
		return res, err
	}
	v, _ = verify(t, Options{RunDir: runDir, Verify: true, Commands: commands, Stages: fakeStages, Start: failing})
	if v.Stages[1].Verdict != Diverged || v.Stages[1].Detail != "the stage failed (exit 1) in the replay" || v.Failed != "big" {
		t.Errorf("a failed stage: %+v", v.Stages[1])
	}
}

func TestVerifyRefused(t *testing.T) {
	all := map[string][]wire.Frame{"src": srcFrames(), "big": bigFrames(`{"v":3}`), "out": {eof("out", 0)}}
	for _, c := range []struct {
		name  string
		setup func(t *testing.T, dir string) (runDir string, o Options)
		want  string
	}{
		{"no manifest", func(t *testing.T, dir string) (string, Options) {
			return dir, Options{}
		}, "is not a run directory of obz flow (no manifest.json)"},
		{"no journals", func(t *testing.T, dir string) (string, Options) {
			return record(t, dir, true, nil, nil), Options{}
		}, `the recorded run has no journal for stage "src" (was it run with --no-journal?)`},
		{"incomplete", func(t *testing.T, dir string) (string, Options) {
			return record(t, dir, false, map[string]string{"big": "killed"}, all), Options{}
		}, "the recorded run did not complete, so it is no baseline to verify against (big: killed; the supervisor did not finish (no end time))"},
		{"a newer manifest", func(t *testing.T, dir string) (string, Options) {
			runDir := complete(t, dir)
			b, _ := os.ReadFile(filepath.Join(runDir, "manifest.json"))
			b = bytes.Replace(b, []byte(`"manifest_version": 1`), []byte(`"manifest_version": 7`), 1)
			os.WriteFile(filepath.Join(runDir, "manifest.json"), b, 0o644)
			return runDir, Options{}
		}, "manifest.json has schema version 7, and this obz reads manifest versions 1 to 1"},
		{"a source not recorded", func(t *testing.T, dir string) (string, Options) {
			runDir := complete(t, dir)
			renamed := filepath.Join(dir, "renamed.toml")
			os.WriteFile(renamed, []byte(strings.ReplaceAll(topology, "src", "src2")), 0o644)
			return runDir, Options{Topology: renamed}
		}, `source "src2" is not in the recorded run`},
	} {
		t.Run(c.name, func(t *testing.T) {
			runDir, o := c.setup(t, t.TempDir())
			o.RunDir, o.Verify, o.Commands, o.Stages = runDir, true, commands, fakeStages
			o.Start = func(context.Context, *flow.Topology, flow.Options) (*flow.Result, error) {
				t.Fatal("a refused replay ran")
				return nil, nil
			}
			_, err := Prepare(o)
			var re *RefusedError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want a refusal with %q", err, c.want)
			}
		})
	}

	// An invalid topology is no refusal: a *TopologyError.
	dir := t.TempDir()
	runDir := complete(t, dir)
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte(`name = "orders"`+"\nflow = [\"src |> nosuch\"]\n[stages.src]\nrun = \"gen\"\n"), 0o644)
	var te *TopologyError
	if _, err := Prepare(Options{RunDir: runDir, Topology: bad, Commands: commands, Stages: fakeStages}); !errors.As(err, &te) {
		t.Errorf("an invalid topology: %v", err)
	}
}

// A stage that writes a file outside the run (tee) writes it under the
// replay's run directory instead; one that runs a program (exec) runs
// again, and the replay says so.
func TestReplayEffects(t *testing.T) {
	dir := t.TempDir()
	runDir := complete(t, dir)
	text := strings.Replace(topology, `"src |> big |> out"`, `"src |> big |> copy |> prog |> out"`, 1) +
		"[stages.copy]\nrun = \"tee production.ndjson\"\n[stages.prog]\nrun = \"exec python3 x.py\"\n"
	other := filepath.Join(dir, "effects.toml")
	os.WriteFile(other, []byte(text), 0o644)

	var seen flow.Topology
	start := func(ctx context.Context, top *flow.Topology, fo flow.Options) (*flow.Result, error) {
		tee := top.Lookup("copy").Argv
		if len(tee) != 3 || tee[1] != "--" || !strings.HasPrefix(tee[2], fo.RunDir) || filepath.Base(tee[2]) != "copy-production.ndjson" {
			t.Errorf("tee: %q (base %s)", tee, fo.RunDir)
		} else if err := os.WriteFile(tee[2], []byte("{}\n"), 0o644); err != nil {
			t.Error(err)
		}
		return fakeStart(t, runDir, map[string][]wire.Frame{"copy": nil, "prog": nil}, &seen)(ctx, top, fo)
	}
	p, err := Prepare(Options{RunDir: runDir, Topology: other, Commands: commands, Stages: fakeStages, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Notes) != 2 || !strings.Contains(p.Notes[0], `stage "copy": what it writes to production.ndjson goes to the replay's run directory (effects/copy-production.ndjson)`) ||
		!strings.Contains(p.Notes[1], `stage "prog" runs the program python3: the replay runs it again as recorded`) {
		t.Errorf("notes: %q", p.Notes)
	}
	r, err := p.Run(context.Background(), flow.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(r.Result.RunDir, "effects", "copy-production.ndjson")); err != nil {
		t.Errorf("the redirected file is not in the replay's run directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "production.ndjson")); err == nil {
		t.Error("the replay wrote the production file")
	}
	if !slices.Equal(seen.Lookup("prog").Argv, []string{"exec", "python3", "x.py"}) {
		t.Errorf("exec: %q", seen.Lookup("prog").Argv)
	}
}

// testState parses a state's name as the manifest writes it.
func testState(name string) flow.State {
	var s flow.State
	if err := s.UnmarshalText([]byte(name)); err != nil {
		panic(err)
	}
	return s
}
