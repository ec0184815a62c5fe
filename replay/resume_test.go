package replay

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/obz-dev/obz/flow"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

// killed records a run of topology killed while out was writing: src
// journaled two events, big one, and out's receipts say it delivered big's
// first event. text, if not "", replaces the topology (file and manifest).
func killed(t *testing.T, dir, text string) string {
	t.Helper()
	runDir := record(t, dir, false, map[string]string{"src": "stopped", "big": "failed", "out": "killed"}, map[string][]wire.Frame{
		"src": srcFrames()[:2], "big": bigFrames(`{"v":3}`)[:1], "out": {receipt("big", 1)},
	})
	if text != "" {
		rec, err := flow.ReadManifest(runDir)
		if err != nil {
			t.Fatal(err)
		}
		rec.Topology = text
		if err := flow.WriteManifest(rec); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(rec.File, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return runDir
}

func refusal(t *testing.T, err error, want string) {
	t.Helper()
	var re *RefusedError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want a refusal with %q", err, want)
	}
}

func TestResumeSkips(t *testing.T) {
	dir := t.TempDir()
	runDir := killed(t, dir, "")
	o := ResumeOptions{RunDir: runDir, Commands: commands, Stages: fakeStages}
	p, err := PlanResume(o)
	if err != nil {
		t.Fatal(err)
	}
	// The source checks what it produces against its journal; the sink,
	// which replaces its file only when complete, skips what it delivered;
	// the transform runs again from the start.
	want := map[string][]string{
		"src": {"gen", "--resume-from", filepath.Join(runDir, "journals", "src.zst"), "--count", "3"},
		"big": {"filter", ".v > 1"},
		"out": {"write", "--skip-delivered", "big:1", "out.ndjson"},
	}
	for name, argv := range want {
		if got := p.Topology.Lookup(name).Argv; !slices.Equal(got, argv) {
			t.Errorf("%s: %q, want %q", name, got, argv)
		}
	}
	if p.From != runDir || len(p.Notes) != 0 {
		t.Errorf("from %s, notes %q", p.From, p.Notes)
	}

	// Resumed once: a second resume is refused, unless forced.
	if err := p.Begin(); err != nil {
		t.Fatal(err)
	}
	if err := p.Done("runs/orders-2"); err != nil {
		t.Fatal(err)
	}
	_, err = PlanResume(o)
	refusal(t, err, "the run was resumed already (resumed by runs/orders-2)")
	o.Force = true
	if _, err := PlanResume(o); err != nil {
		t.Errorf("--force: %v", err)
	}
}

func TestResumeRefused(t *testing.T) {
	stdout := strings.Replace(topology, `"write out.ndjson"`, `"write -"`, 1)
	post := strings.Replace(topology, `"write out.ndjson"`, `"post out.ndjson"`, 1)
	for _, c := range []struct {
		name, text string
		setup      func(t *testing.T, runDir string)
		want       string
		forced     string // "": --force resumes it; else it is refused with this
	}{
		// A sink that delivers in place (stdout, appending) and was killed
		// may have written past its last receipt.
		{"in place", stdout, nil, `sink "out" was killed while it wrote to write -: what it wrote after its last journaled receipt is not known`, ""},
		{"cannot skip", post, nil, `sink "out" (post) delivered events, and it cannot skip them on resume`, `cannot skip them`},
		{"changed", "", func(t *testing.T, runDir string) {
			rec, _ := flow.ReadManifest(runDir)
			os.WriteFile(rec.File, []byte(topology+"# changed\n"), 0o644)
		}, "orders.toml changed since the run", ""},
		{"no journal", "", func(t *testing.T, runDir string) {
			rec, _ := flow.ReadManifest(runDir)
			rec.Stages[1].Journal = ""
			flow.WriteManifest(rec)
		}, `the run has no journal for stage "big" (was it run with --no-journal?)`, "no journal"},
		{"finished", "", func(t *testing.T, runDir string) {
			rec, _ := flow.ReadManifest(runDir)
			for _, s := range rec.Stages {
				s.State = flow.StateDone
			}
			rec.Ended = rec.Started
			flow.WriteManifest(rec)
		}, "nothing to resume: the run", "nothing to resume"},
		{"newer manifest", "", func(t *testing.T, runDir string) {
			os.WriteFile(filepath.Join(runDir, "manifest.json"), []byte(`{"manifest_version": 2}`), 0o644)
		}, "has schema version 2", "schema version 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			runDir := killed(t, t.TempDir(), c.text)
			if c.setup != nil {
				c.setup(t, runDir)
			}
			o := ResumeOptions{RunDir: runDir, Commands: commands, Stages: fakeStages}
			_, err := PlanResume(o)
			refusal(t, err, c.want)
			o.Force = true
			_, err = PlanResume(o)
			if c.forced == "" && err != nil {
				t.Errorf("--force: %v", err)
			} else if c.forced != "" {
				refusal(t, err, c.forced)
			}
		})
	}
}

// A run killed as it started journaled nothing, or only some stages: those
// start from the beginning (no --resume-from), with a note.
func TestResumeEarlyKill(t *testing.T) {
	runDir := killed(t, t.TempDir(), "")
	os.Remove(filepath.Join(runDir, "journals", "src.zst"))
	p, err := PlanResume(ResumeOptions{RunDir: runDir, Commands: commands, Stages: fakeStages})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Topology.Lookup("src").Argv; !slices.Equal(got, []string{"gen", "--count", "3"}) {
		t.Errorf("src: %q", got)
	}
	if len(p.Notes) != 1 || !strings.Contains(p.Notes[0], `source "src" journaled nothing`) {
		t.Errorf("notes %q", p.Notes)
	}

	os.RemoveAll(filepath.Join(runDir, "journals"))
	p, err = PlanResume(ResumeOptions{RunDir: runDir, Commands: commands, Stages: fakeStages})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Topology.Lookup("out").Argv; !slices.Equal(got, []string{"write", "out.ndjson"}) {
		t.Errorf("out: %q", got)
	}
	if len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "the run journaled nothing") {
		t.Errorf("notes %q", p.Notes)
	}
}

// What a stage emitted as it finished after a stop (no parent, before a
// stopped EOF), and what derives from it, is not delivered for resume: a
// sink that skips cannot take it back from stdout, and is refused; the
// same events before a natural EOF are skipped as usual.
func TestResumeEndDependent(t *testing.T) {
	stdout := strings.Replace(topology, `"write out.ndjson"`, `"write -"`, 1)
	for _, c := range []struct {
		name string
		end  wire.EOFKind
		want string // "": resumed, skipping big:2
	}{
		{"stopped", wire.Stopped, `sink "out" delivered 1 events to write - that depended on how the run ended (stage "big" emitted them as it finished after a stop, from its event 2 on)`},
		{"natural", wire.Natural, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			big := []wire.Frame{data("big", 1, wire.Ref{Writer: "src", Seq: 2}, `{"v":2}`), data("big", 2, wire.Ref{}, `{"n":2,"partial":true}`), eof("big", 2)}
			big[2].EOF = c.end
			runDir := record(t, t.TempDir(), false, map[string]string{"src": "stopped", "big": "done", "out": "killed"}, map[string][]wire.Frame{
				"src": srcFrames()[:2], "big": big, "out": {receipt("big", 1), receipt("big", 2), eof("out", 0)},
			})
			rec, _ := flow.ReadManifest(runDir)
			rec.Topology = stdout
			flow.WriteManifest(rec)
			os.WriteFile(rec.File, []byte(stdout), 0o644)
			p, err := PlanResume(ResumeOptions{RunDir: runDir, Commands: commands, Stages: fakeStages})
			if c.want != "" {
				refusal(t, err, c.want)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Topology.Lookup("out").Argv; !slices.Equal(got, []string{"write", "--skip-delivered", "big:2", "-"}) {
				t.Errorf("out: %q", got)
			}
		})
	}
}

// A sink that recorded where its in-place delivery began rewinds: it gets
// the killed run's journal (its RewindFlag) and no skips, and is not
// refused for having been killed while it delivered.
func TestResumeRewinds(t *testing.T) {
	stages := func(argv []string) (Stage, error) {
		st, err := fakeStages(argv)
		if argv[0] == "write" {
			st.Traits.Delivery, st.Traits.RewindFlag = runner.DeliversInPlace, "rewind-from"
		}
		return st, err
	}
	runDir := killed(t, t.TempDir(), "")
	o := ResumeOptions{RunDir: runDir, Commands: commands, Stages: stages}
	_, err := PlanResume(o)
	refusal(t, err, `sink "out" was killed while it wrote to write out.ndjson`)

	j := filepath.Join(runDir, "journals", "out.zst")
	os.WriteFile(runner.RewindRecord(j), []byte(`{"file":"/x/out.ndjson","size":0,"created":true}`), 0o644)
	p, err := PlanResume(o)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Topology.Lookup("out").Argv; !slices.Equal(got, []string{"write", "--rewind-from", j, "out.ndjson"}) {
		t.Errorf("out: %q", got)
	}
}

// Resume trusts only the receipts the sink wrote: one of another writer in
// its journal (forged upstream, or another sink's) delivers nothing.
func TestResumeOwnReceiptsOnly(t *testing.T) {
	dir := t.TempDir()
	forged := receipt("big", 1)
	forged.Writer = "big"
	runDir := record(t, dir, false, map[string]string{"src": "stopped", "big": "failed", "out": "killed"}, map[string][]wire.Frame{
		"src": srcFrames()[:2], "big": bigFrames(`{"v":3}`)[:1], "out": {forged},
	})
	p, err := PlanResume(ResumeOptions{RunDir: runDir, Commands: commands, Stages: fakeStages})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Topology.Lookup("out").Argv; !slices.Equal(got, []string{"write", "out.ndjson"}) {
		t.Errorf("out: %q, want no events skipped", got)
	}
}
