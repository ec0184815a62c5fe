package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/stages"
	"github.com/obz-dev/obz/wire"
)

func TestPermuteArgs(t *testing.T) {
	var name string
	var runErr error
	app := newApp(stages.All(), nil, io.Discard, io.Discard, &name, &runErr)
	tests := []struct{ in, want string }{
		// flags after arguments move before them; arguments follow --
		{"obz filter .a -r", "obz filter -r -- .a"},
		{"obz filter -r .a", "obz filter -r -- .a"},
		{"obz write out.ndjson --dead-letter bad.ndjson", "obz write --dead-letter bad.ndjson -- out.ndjson"},
		// a flag's value is not taken for an argument, even if it looks like one
		{"obz filter --on-error fail .a", "obz filter --on-error fail -- .a"},
		{"obz filter .a --name -r", "obz filter --name -r -- .a"},
		{"obz head -n 3 -r", "obz head -n 3 -r"},
		{"obz head -r -n 3", "obz head -r -n 3"},
		// --x=y is one word
		{"obz filter .a --max-line=1KiB", "obz filter --max-line=1KiB -- .a"},
		{"obz head --lines=2", "obz head --lines=2"},
		// -- ends the flags: what follows stays an argument
		{"obz filter -r -- -1", "obz filter -r -- -1"},
		{"obz map -- .a -r", "obz map -- .a -r"},
		// - is stdin/stdout, an argument
		{"obz read - -r", "obz read -r -- -"},
		{"obz write - --stats", "obz write --stats -- -"},
		// a bool flag takes no value
		{"obz filter -r .a --stats", "obz filter -r --stats -- .a"},
		// not a stage, or nothing to permute: unchanged
		{"obz help filter", "obz help filter"},
		{"obz nosuch .a -r", "obz nosuch .a -r"},
		{"obz filter", "obz filter"},
		{"obz filter --help", "obz filter --help"},
		{"obz filter .a --help", "obz filter --help -- .a"},
		// flow and the other commands permute the same way
		{"obz flow x.toml --check", "obz flow --check -- x.toml"},
		{"obz flow x.toml --drain-timeout 5s", "obz flow --drain-timeout 5s -- x.toml"},
	}
	for _, tt := range tests {
		args, err := permuteArgs(strings.Fields(tt.in), app)
		if got := strings.Join(args, " "); err != nil || got != tt.want {
			t.Errorf("permuteArgs(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	// A value flag without its value: after the move urfave would take the
	// "--" before the arguments as the value.
	for _, in := range []string{"obz filter .a --name", "obz head -r -n", "obz filter .a --on-error"} {
		if args, err := permuteArgs(strings.Fields(in), app); err == nil {
			t.Errorf("permuteArgs(%s) = %q, want an error", in, args)
		}
	}
	code, stdout, stderr := runObz(t, "{\"a\":1}\n", "filter", ".a", "--name")
	if code != 2 || stdout != poisonEOF("filter") || !strings.Contains(stderr, "obz filter: flag needs an argument: --name") {
		t.Errorf("obz filter .a --name: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestExitCode(t *testing.T) {
	broken := &runner.BrokenInputError{Problems: []string{"input from 'read' ended without EOF after 3 events", "second"}}
	tests := []struct {
		name   string
		err    error
		sig    os.Signal
		code   int
		stderr string
	}{
		{"ok", nil, nil, 0, ""},
		{"usage", &usageError{msg: "bad flag"}, nil, 2, "obz filter: bad flag\nRun 'obz filter --help' for usage.\n"},
		{"stage usage", runner.Usagef("head -n must be 0 or more"), nil, 2, "obz filter: head -n must be 0 or more\n"},
		{"broken", broken, nil, 1, "obz filter: input from 'read' ended without EOF after 3 events\nobz filter: second\n"},
		{"broken wrapped", fmt.Errorf("x: %w", broken), nil, 1, "obz filter: second\n"},
		{"error events", &runner.ErrorEventsError{Count: 2, Where: "stderr"}, nil, 4, "obz filter: 2 event(s) went to the error lane (see stderr)\n"},
		{"event failed", &runner.EventFailedError{Info: wire.ErrorInfo{Kind: "parse", Msg: "invalid JSON", Line: 2}}, nil, 1, "line 2: (parse) invalid JSON (--on-error fail)"},
		{"failure", errors.New("writing output: disk full"), nil, 1, "obz filter: writing output: disk full\n"},
		{"interrupted", nil, syscall.SIGINT, 130, ""},
		{"terminated", nil, syscall.SIGTERM, 143, ""},
		{"interrupted with a broken input", broken, syscall.SIGINT, 130, "ended without EOF"},
		{"interrupted with error events", &runner.ErrorEventsError{Count: 1}, syscall.SIGINT, 4, ""},
		{"interrupted with a failure", errors.New("boom"), syscall.SIGINT, 1, "boom"},
		{"usage beats a signal", &usageError{msg: "bad"}, syscall.SIGINT, 2, ""},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		code := exitCode(tt.err, "filter", tt.sig, &stderr)
		if code != tt.code {
			t.Errorf("%s: exit %d, want %d", tt.name, code, tt.code)
		}
		if !strings.Contains(stderr.String(), tt.stderr) || (tt.err == nil && stderr.Len() > 0) {
			t.Errorf("%s: stderr %q, want %q", tt.name, stderr.String(), tt.stderr)
		}
	}
	var stderr bytes.Buffer
	exitCode(&usageError{msg: "unknown command"}, "", nil, &stderr)
	if stderr.String() != "obz: unknown command\n" {
		t.Errorf("without a command: %q", stderr.String())
	}
}

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
	}{
		{"1048576", 1 << 20}, {"64KiB", 64 << 10}, {"1KiB", 1024}, {"16MiB", 16 << 20}, {"1G", 1 << 30},
		{"1gib", 1 << 30}, {"2k", 2048}, {"10KB", 10240}, {"3MB", 3 << 20}, {"100B", 100}, {" 5 MiB ", 5 << 20},
	} {
		got, err := parseSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "0", "-1", "KiB", "1.5MiB", "12XB", "3GiB", "99999999999"} {
		if n, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", bad, n)
		}
	}
}

// runObz runs obz in-process.
func runObz(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(append([]string{"obz"}, args...), strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestUnknownCommand(t *testing.T) {
	for _, tt := range []struct{ cmd, suggest string }{{"fitler", "filter"}, {"mpa", "map"}, {"haed", "head"}, {"hlep", "help"}} {
		code, _, stderr := runObz(t, "", tt.cmd)
		if code != 2 || !strings.Contains(stderr, fmt.Sprintf("unknown command %q (did you mean %q?)", tt.cmd, tt.suggest)) {
			t.Errorf("obz %s: exit %d, stderr %q", tt.cmd, code, stderr)
		}
	}
	code, _, stderr := runObz(t, "", "zzzzzzzz")
	if code != 2 || strings.Contains(stderr, "did you mean") || !strings.Contains(stderr, "obz help") {
		t.Errorf("obz zzzzzzzz: exit %d, stderr %q", code, stderr)
	}
}

func TestStageHelp(t *testing.T) {
	for _, spec := range stages.All() {
		for _, args := range [][]string{{"help", spec.Name}, {spec.Name, "--help"}, {spec.Name, "-h"}} {
			code, stdout, stderr := runObz(t, "", args...)
			if code != 0 {
				t.Errorf("obz %s: exit %d, stderr %q", strings.Join(args, " "), code, stderr)
			}
			for _, want := range []string{"obz " + spec.Name, "EXAMPLES:", "EXIT STATUS:", "130", "OPTIONS:"} {
				if !strings.Contains(stdout, want) {
					t.Errorf("obz %s: help lacks %q", strings.Join(args, " "), want)
				}
			}
		}
	}
	code, stdout, _ := runObz(t, "", "help")
	if code != 0 || !strings.Contains(stdout, "EXIT STATUS:") || !strings.Contains(stdout, "filter") {
		t.Errorf("obz help: exit %d, %q", code, stdout)
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := runObz(t, "", "version")
	if code != 0 || !strings.HasPrefix(stdout, "obz ") || !strings.Contains(stdout, fmt.Sprintf("protocol %d", wire.Version)) {
		t.Errorf("obz version: exit %d, %q", code, stdout)
	}
}

// TestFlagsAfterArgs: the same command with its flags before or after the
// expression gives the same result.
func TestFlagsAfterArgs(t *testing.T) {
	in := "{\"a\":1}\n{\"a\":2}\n"
	for _, args := range [][]string{
		{"filter", ".a > 1", "-r"},
		{"filter", "-r", ".a > 1"},
		{"filter", "--raw", "--", ".a > 1"},
		{"filter", ".a > 1", "--on-error", "fail", "-r"},
	} {
		code, stdout, stderr := runObz(t, in, args...)
		if code != 0 || stdout != "{\"a\":2}\n" {
			t.Errorf("obz %q: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"filter"}, "filter takes a jq expression (quote it)"},
		{[]string{"filter", ".a", "--bogus"}, "unknown flag --bogus"},
		{[]string{"filter", ".a", "--rwa"}, "unknown flag --rwa (did you mean --raw?)"},
		{[]string{"journal", "recover", "torn.zst", "fixed.zst"}, "written to -o FILE"},
		{[]string{"journal", "bogus"}, "unknown command \"journal bogus\" (journal commands: cat, stat, verify, recover)"},
		{[]string{"journal", "stta", "x.zst"}, "did you mean \"journal stat\"?"},
		{[]string{"--bogus"}, "unknown flag --bogus"},
		{[]string{"parallel", "--replica", "2", "--", "map", "."}, "unknown flag --replica (did you mean --replicas?)"},
		{[]string{"runs", "prune", "--kep", "2"}, "unknown flag --kep (did you mean --keep?)"},
		{[]string{"why", "--jsn", "run", "map", "1"}, "unknown flag --jsn (did you mean --json?)"},
		{[]string{"head", "-n"}, "flag needs an argument: -n"},
		{[]string{"head", "-n", "x"}, "invalid value \"x\" for flag -n"},
		{[]string{"head", "5"}, "did you mean -n 5?"},
		{[]string{"filter", ".a", "--on-error", "maybe"}, "--on-error must be continue or fail"},
		{[]string{"filter", ".a", "--max-line", "lots"}, "--max-line: bad size"},
		{[]string{"filter", ".a", "--color", "pink"}, "--color must be auto, always or never"},
	} {
		// A stage that failed before it ran leaves only its verdict for a
		// consumer, a poison EOF; other commands leave nothing.
		want := ""
		if stages.All().Lookup(tt.args[0]) != nil {
			want = poisonEOF(tt.args[0])
		}
		code, stdout, stderr := runObz(t, "", tt.args...)
		if code != 2 || !strings.Contains(stderr, tt.msg) || stdout != want {
			t.Errorf("obz %q: exit %d, stdout %q (want %q), stderr %q; want exit 2 and %q", tt.args, code, stdout, want, stderr, tt.msg)
		}
	}
}

// poisonEOF is the EOF a failed stage w leaves with no events.
func poisonEOF(w string) string {
	return `{"obz":1,"t":"eof","w":"` + w + `","n":0,"kind":"poison"}` + "\n"
}

// buildObz builds the obz binary for tests that need a real process
// (signals, closed pipes).
func buildObz(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "obz")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// procLines reads a process's output lines, failing if one never comes.
type procLines struct {
	t     *testing.T
	lines chan string
}

func readLines(t *testing.T, r io.Reader) *procLines {
	pl := &procLines{t: t, lines: make(chan string, 1024)}
	go func() {
		defer close(pl.lines)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			pl.lines <- sc.Text()
		}
	}()
	return pl
}

// next returns the next line, or "" with ok false at the end.
func (pl *procLines) next() (string, bool) {
	pl.t.Helper()
	select {
	case l, ok := <-pl.lines:
		return l, ok
	case <-time.After(10 * time.Second):
		pl.t.Fatal("no output line arrived")
	}
	return "", false
}

// rest reads to the end and returns the last line and how many data frames came.
func (pl *procLines) rest() (last string, data int) {
	pl.t.Helper()
	for {
		l, ok := pl.next()
		if !ok {
			return last, data
		}
		if strings.Contains(l, `"t":"data"`) {
			data++
		}
		last = l
	}
}

func exitStatus(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("obz did not exit")
	}
	return -1
}

// TestSignals runs the obz binary: SIGINT/SIGTERM drain gracefully, the
// output ends with a stopped EOF, and obz exits 130 or 143.
func TestSignals(t *testing.T) {
	bin := buildObz(t)

	for _, tt := range []struct {
		sig  os.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run("source "+tt.sig.String(), func(t *testing.T) {
			cmd := exec.Command(bin, "gen")
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			out := readLines(t, stdout)
			out.next()
			cmd.Process.Signal(tt.sig)
			last, data := out.rest()
			if want := fmt.Sprintf(`{"obz":1,"t":"eof","w":"gen","n":%d,"kind":"stopped"}`, data+1); last != want {
				t.Errorf("last line %s, want %s", last, want)
			}
			if code := exitStatus(t, cmd); code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
		})
	}

	t.Run("pipeline", func(t *testing.T) {
		// gen | filter: gen is stopped; filter drains and passes the stopped EOF on.
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		gen := exec.Command(bin, "gen")
		gen.Stdout = pw
		filter := exec.Command(bin, "filter", "true", "--name", "f")
		filter.Stdin = pr
		stdout, _ := filter.StdoutPipe()
		if err := gen.Start(); err != nil {
			t.Fatal(err)
		}
		if err := filter.Start(); err != nil {
			t.Fatal(err)
		}
		pw.Close()
		pr.Close()
		out := readLines(t, stdout)
		out.next()
		gen.Process.Signal(syscall.SIGINT)
		last, data := out.rest()
		if want := fmt.Sprintf(`{"obz":1,"t":"eof","w":"f","n":%d,"kind":"stopped"}`, data+1); last != want {
			t.Errorf("last line %s, want %s", last, want)
		}
		if code := exitStatus(t, gen); code != 130 {
			t.Errorf("gen exit %d, want 130", code)
		}
		if code := exitStatus(t, filter); code != 0 {
			t.Errorf("filter exit %d, want 0 (it drained all it got)", code)
		}
	})

	t.Run("drain timeout", func(t *testing.T) {
		// The input never ends after the signal: after --drain-timeout the
		// stage gives up, says so, and writes a truncated EOF.
		cmd := exec.Command(bin, "filter", "true", "--drain-timeout", "50ms")
		stdin, _ := cmd.StdinPipe()
		defer stdin.Close()
		stdout, _ := cmd.StdoutPipe()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		out := readLines(t, stdout)
		io.WriteString(stdin, "{\"a\":1}\n")
		out.next()
		cmd.Process.Signal(syscall.SIGINT)
		last, _ := out.rest()
		if last != `{"obz":1,"t":"eof","w":"filter","n":1,"kind":"truncated"}` {
			t.Errorf("last line %s, want a truncated EOF", last)
		}
		if code := exitStatus(t, cmd); code != 130 {
			t.Errorf("exit %d, want 130", code)
		}
		if !strings.Contains(stderr.String(), "did not end within the drain timeout") {
			t.Errorf("stderr %q", stderr.String())
		}
	})

	t.Run("second signal", func(t *testing.T) {
		// The drain would wait for an hour: a second SIGINT ends obz at
		// once, 130. Signals are sent until it ends, as a user presses
		// Ctrl-C again.
		cmd := exec.Command(bin, "filter", "true", "--drain-timeout", "1h")
		stdin, _ := cmd.StdinPipe()
		defer stdin.Close()
		stdout, _ := cmd.StdoutPipe()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		out := readLines(t, stdout)
		io.WriteString(stdin, "{\"a\":1}\n")
		out.next()
		done := make(chan struct{})
		go func() {
			for {
				cmd.Process.Signal(syscall.SIGINT)
				select {
				case <-done:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}()
		code := exitStatus(t, cmd)
		close(done)
		if code != 130 {
			t.Errorf("exit %d, want 130", code)
		}
		if !strings.Contains(stderr.String(), "second signal, stopping now") {
			t.Errorf("stderr %q", stderr.String())
		}
	})
}

// TestClosedStdout: `obz ... | head -1` closes obz's stdout; obz ends
// quietly with exit 0 (EPIPE, not a SIGPIPE death or an error message).
func TestClosedStdout(t *testing.T) {
	bin := buildObz(t)
	for _, args := range [][]string{{"gen"}, {"map", "."}, {"gen", "-r"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			cmd := exec.Command(bin, args...)
			if args[0] != "gen" {
				pr, pw, _ := os.Pipe()
				feeder := exec.Command(bin, "gen")
				feeder.Stdout = pw
				if err := feeder.Start(); err != nil {
					t.Fatal(err)
				}
				// gen ends when map is gone and its stdout closes.
				defer func() { exitStatus(t, feeder) }()
				defer pr.Close()
				pw.Close()
				cmd.Stdin = pr
			}
			stdout, _ := cmd.StdoutPipe()
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			bufio.NewReader(stdout).ReadString('\n')
			stdout.Close()
			if code := exitStatus(t, cmd); code != 0 {
				t.Errorf("exit %d, want 0; stderr %q", code, stderr.String())
			}
			if stderr.Len() > 0 {
				t.Errorf("stderr %q, want nothing", stderr.String())
			}
		})
	}
}

func TestBadFDs(t *testing.T) {
	for _, flag := range []string{"--in-fd", "--out-fd", "--status-fd"} {
		code, _, stderr := runObz(t, "", "filter", "true", flag, "97")
		if code != 2 || !strings.Contains(stderr, flag+" 97 is not an open file descriptor") {
			t.Errorf("obz filter true %s 97: exit %d, stderr %q", flag, code, stderr)
		}
	}
}

func TestBuildVersion(t *testing.T) {
	for _, tc := range []struct {
		bi          debug.BuildInfo
		short, long string
	}{
		{debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3", "obz v1.2.3 (go"},
		{debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel", "obz devel (go"},
		{debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "af57e6e0123456789abcdef"}, {Key: "vcs.time", Value: "2026-12-04T14:00:00Z"}, {Key: "vcs.modified", Value: "true"},
		}}, "devel+af57e6e01234-modified", "obz devel (revision af57e6e01234, 2026-12-04T14:00:00Z, modified; go"},
		{debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261204140000-af57e6e01234"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "af57e6e0123456789abcdef"}, {Key: "vcs.modified", Value: "false"},
		}}, "v0.0.0-20261204140000-af57e6e01234", "obz v0.0.0-20261204140000-af57e6e01234 (revision af57e6e01234; go"},
	} {
		v := buildVersionOf(&tc.bi)
		if got := v.short(); got != tc.short {
			t.Errorf("%+v: short %q, want %q", tc.bi, got, tc.short)
		}
		if got := v.long(); !strings.HasPrefix(got, tc.long) || !strings.HasSuffix(got, ", protocol 1)") {
			t.Errorf("%+v: long %q, want %q...", tc.bi, got, tc.long)
		}
	}
}
