package flow

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// obzBin is the obz binary built once for the tests that run real flows.
var obzBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "obz-flow-test")
	if err != nil {
		panic(err)
	}
	obzBin = filepath.Join(dir, "obz")
	out, err := exec.Command("go", "build", "-o", obzBin, "../cmd/obz").CombinedOutput()
	if err != nil {
		panic("building obz: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var testCommands = Commands{"gen": "source", "tap": "observer", "read": "source", "filter": "transform", "map": "transform", "write": "sink", "join": "join"}

func TestSplitCommand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`filter '.amount > 50'`, []string{"filter", ".amount > 50"}},
		{`map "{a: .b}"`, []string{"map", "{a: .b}"}},
		{`exec -- awk '{print}'`, []string{"exec", "--", "awk", "{print}"}},
		{`read a\ b.csv  --infer`, []string{"read", "a b.csv", "--infer"}},
		{`map ".x == \"y\""`, []string{"map", `.x == "y"`}},
		{`write ''`, []string{"write", ""}},
	} {
		got, err := splitCommand(tc.in)
		if err != nil || strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
			t.Errorf("splitCommand(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := splitCommand(`filter '.a`); err == nil {
		t.Error("unterminated quote: no error")
	}
}

func TestParseChainsAndOrder(t *testing.T) {
	topo, err := Parse("t.toml", []byte(`
flow = ["a |> b |> c", "a |> d"]
[stages.c]
run = "write c.out"
[stages.b]
run = "filter true"
[stages.a]
run = "gen --count 3"
[stages.d]
run = ["write", "d.out"]
`), testCommands)
	if err != nil {
		t.Fatal(err)
	}
	if topo.Name != "t" {
		t.Errorf("name = %q, want the file name without .toml", topo.Name)
	}
	var names []string
	for _, s := range topo.Order() {
		names = append(names, s.Name)
	}
	pos := map[string]int{}
	for i, n := range names {
		pos[n] = i
	}
	if !(pos["a"] < pos["b"] && pos["b"] < pos["c"] && pos["a"] < pos["d"]) {
		t.Errorf("order %v: a stage comes before its input", names)
	}
	if got := topo.Lookup("a").Outputs; len(got) != 2 {
		t.Errorf("a outputs = %v, want b and d (fan-out)", got)
	}
	if got := topo.Lookup("d").Argv; strings.Join(got, " ") != "write d.out" {
		t.Errorf("argv from an array = %q", got)
	}
}

func TestValidation(t *testing.T) {
	for _, tc := range []struct{ name, toml, want string }{
		{"no stages", `name = "x"`, "no stages"},
		{"source with input", "[stages.a]\nrun = \"gen\"\ninputs = [\"b\"]\n[stages.b]\nrun = \"gen\"\n", `stage "a" is a source (gen) and cannot have inputs`},
		{"reads nothing", "[stages.a]\nrun = \"write x\"\n", `stage "a" reads nothing`},
		{"unread output", "[stages.a]\nrun = \"gen\"\n", `stage "a": no stage reads its output`},
		{"managed flag", "flow = \"a |> b\"\n[stages.a]\nrun = \"gen --out-fd 3\"\n[stages.b]\nrun = \"write x\"\n", "--out-fd is set by obz flow"},
		{"bad on_error", "on_error = \"maybe\"\n[stages.a]\nrun = \"gen\"\n", "on_error must be continue or fail"},
		{"toml syntax", "[stages.a\nrun = 1", "t.toml:2: expected"},
		{"empty run", "[stages.a]\ninputs = []\n", `stage "a" has no run command`},
		{"reference not join", "flow = \"a |> b\"\n[stages.a]\nrun = \"gen\"\n[stages.b]\nrun = \"write x\"\nreference = \"a\"\n", "reference is only for join stages"},
		{"restart not source", "flow = \"a |> b\"\n[stages.a]\nrun = \"gen\"\n[stages.b]\nrun = \"write x\"\nmax_restarts = 2\n", `t.toml:4: stage "b": restart, max_restarts and backoff are only for sources`},
		{"bad restart", "flow = \"a |> b\"\n[stages.a]\nrun = \"gen\"\nrestart = \"always\"\n[stages.b]\nrun = \"write x\"\n", `t.toml:2: stage "a": restart must be never or on-failure`},
		{"bad backoff", "flow = \"a |> b\"\n[stages.a]\nrun = \"gen\"\nbackoff = \"-1s\"\n[stages.b]\nrun = \"write x\"\n", "backoff must be a positive duration"},
		{"bad max_restarts", "flow = \"a |> b\"\n[stages.a]\nrun = \"gen\"\nmax_restarts = -1\n[stages.b]\nrun = \"write x\"\n", "max_restarts must be 0 or more"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.toml", []byte(tc.toml), testCommands)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestRestartPolicy(t *testing.T) {
	topo, err := Parse("t.toml", []byte("flow = \"a |> b |> c\"\n[stages.a]\nrun = \"gen\"\nrestart = \"on-failure\"\nbackoff = \"100ms\"\n[stages.b]\nrun = \"filter true\"\n[stages.c]\nrun = \"write x\"\n"), testCommands)
	if err != nil {
		t.Fatal(err)
	}
	a, b := topo.Lookup("a"), topo.Lookup("b")
	if !a.Restartable() || a.MaxRestarts != DefaultMaxRestarts || a.Backoff != 100*time.Millisecond {
		t.Errorf("a: restart %q, max %d, backoff %s", a.Restart, a.MaxRestarts, a.Backoff)
	}
	if b.Restartable() || b.Restart != "never" {
		t.Errorf("b: restart %q", b.Restart)
	}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 5: 16 * time.Second, 6: MaxBackoff, 100: MaxBackoff} {
		if got := restartBackoff(time.Second, n); got != want {
			t.Errorf("restartBackoff(1s, %d) = %s, want %s", n, got, want)
		}
	}
	if got := restartBackoff(time.Minute, 1); got != MaxBackoff {
		t.Errorf("restartBackoff(1m, 1) = %s", got)
	}
}

func endless(t *testing.T, dir string) *Topology {
	t.Helper()
	file := filepath.Join(dir, "endless.toml")
	os.WriteFile(file, []byte(`
name = "endless"
flow = "src |> pass |> out"
[stages.src]
run = "gen --rate 500/s"
[stages.pass]
run = "filter true"
[stages.out]
run = "write `+filepath.Join(dir, "out.ndjson")+`"
`), 0o644)
	topo, err := Load(file, testCommands)
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// TestMetricsDuringRun scrapes /metrics while a flow runs.
func TestMetricsDuringRun(t *testing.T) {
	dir := t.TempDir()
	topo := endless(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan string, 1)
	type outcome struct {
		res *Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := Run(ctx, topo, Options{Exe: obzBin, Stderr: io.Discard, Stdout: io.Discard, RunDir: filepath.Join(dir, "runs"),
			MetricsAddr: "127.0.0.1:0", MetricsReady: func(a string) { addrc <- a }})
		done <- outcome{res, err}
	}()
	addr := <-addrc
	deadline := time.Now().Add(30 * time.Second)
	var body string
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			if strings.Contains(body, `obz_stage_events_out_total{flow="endless",stage="pass"}`) &&
				!strings.Contains(body, `obz_stage_events_out_total{flow="endless",stage="pass"} 0`) {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{
		`obz_flow_running{flow="endless"} 1`,
		`obz_stage_state{flow="endless",stage="src",state="running"} 1`,
		`obz_stage_events_in_total{flow="endless",stage="out"}`,
		`# TYPE obz_stage_events_out_total counter`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	cancel()
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	if !o.res.Interrupted || o.res.Failed != "" {
		t.Errorf("after cancel: interrupted=%v failed=%q, want a clean stop", o.res.Interrupted, o.res.Failed)
	}
	for _, s := range o.res.Stages {
		if s.State != StateDone && s.State != StateStopped {
			t.Errorf("stage %s ended %s (exit %d)", s.Name, s.State, s.ExitCode)
		}
	}
}

// TestNoOrphans kills obz flow with SIGKILL and checks that its stages die.
func TestNoOrphans(t *testing.T) {
	dir := t.TempDir()
	endless(t, dir)
	cmd := exec.Command(obzBin, "flow", "--run-dir", filepath.Join(dir, "runs"), filepath.Join(dir, "endless.toml"))
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, bufio.NewReader(stderr))
	var pids []int
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && len(pids) < 3 {
		time.Sleep(50 * time.Millisecond)
		matches, _ := filepath.Glob(filepath.Join(dir, "runs", "endless-*", "manifest.json"))
		if len(matches) == 0 {
			continue
		}
		b, _ := os.ReadFile(matches[0])
		var r Result
		if json.Unmarshal(b, &r) != nil {
			continue
		}
		pids = pids[:0]
		for _, s := range r.Stages {
			if s.PID > 0 {
				pids = append(pids, s.PID)
			}
		}
	}
	if len(pids) != 3 {
		cmd.Process.Kill()
		t.Fatalf("stage pids not in the manifest: %v", pids)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	for _, pid := range pids {
		for !gone(pid) {
			if time.Now().After(deadline) {
				syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("stage pid %d outlived obz flow", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// gone reports whether pid has exited (a zombie counts as exited).
func gone(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(fields) > 0 && (fields[0] == "Z" || fields[0] == "X")
}
