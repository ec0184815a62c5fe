package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/obz-dev/obz/stages"
)

// helpExamples returns the EXAMPLES lines of every command's --help, as a
// user reads them: stages in registry order, then the other commands, each
// command's lines in order (a line may use what an earlier one made).
func helpExamples(t *testing.T) (cmds [][]string, examples [][]string) {
	var name string
	var runErr error
	app := newApp(stages.All(), strings.NewReader(""), io.Discard, io.Discard, &name, &runErr)
	for _, c := range app.Commands {
		if len(c.Subcommands) == 0 {
			cmds = append(cmds, []string{c.Name})
		}
		for _, sub := range c.Subcommands {
			cmds = append(cmds, []string{c.Name, sub.Name})
		}
	}
	cmds = append(cmds, []string{"help"})
	for _, c := range cmds {
		args := append(append([]string{}, c...), "--help")
		if c[0] == "help" {
			args = c
		}
		code, out, errOut := runObz(t, "", args...)
		if code != 0 {
			t.Fatalf("obz %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		examples = append(examples, examplesSection(out))
	}
	return cmds, examples
}

// examplesSection returns the lines under EXAMPLES: up to the next heading.
func examplesSection(help string) []string {
	var lines []string
	in := false
	for _, l := range strings.Split(help, "\n") {
		switch {
		case l == "EXAMPLES:":
			in = true
		case in && l != "" && !strings.HasPrefix(l, " "):
			return lines
		case in && strings.TrimSpace(l) != "":
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	return lines
}

var (
	exampleExit = regexp.MustCompile(`#.*\bexit (\d+)`)
	// Programs some examples use that a machine may lack.
	optionalTools = []string{"python3", "jq", "dot"}
)

// TestHelpExamples runs every example of every command's --help, as pasted
// at the repository root (in a git checkout of a copy of it), and checks
// that each exits 0, or as its comment says (# exit 4), or runs until
// interrupted when it says so (# until Ctrl-C) and then stops cleanly; and
// that afterwards git status is clean: every file an example writes is
// one .gitignore covers.
func TestHelpExamples(t *testing.T) {
	bin := buildObz(t)
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, c := range [][]string{
		{"cp", "-r", filepath.Join(repo, "testdata"), filepath.Join(repo, "README.md"), filepath.Join(repo, ".gitignore"), root},
		{"git", "init", "-q", root},
		{"git", "-C", root, "add", "-A"},
		{"git", "-C", root, "-c", "user.name=obz", "-c", "user.email=obz@example.com", "commit", "-q", "-m", "copy"},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%q: %v\n%s", c, err, out)
		}
	}
	env := append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"), "NO_COLOR=1")

	cmds, examples := helpExamples(t)
	n := 0
	for i, lines := range examples {
		for j, line := range lines {
			n++
			name := strings.Join(cmds[i], "_") + "/" + strconv.Itoa(j+1)
			t.Run(name, func(t *testing.T) {
				for _, tool := range optionalTools {
					if regexp.MustCompile(`(^|[|;&(]\s*|-- )` + tool + `\b`).MatchString(line) {
						if _, err := exec.LookPath(tool); err != nil {
							t.Skipf("%s is not installed: %s", tool, line)
						}
					}
				}
				runExample(t, root, env, line)
			})
		}
	}
	if n < 50 {
		t.Errorf("found %d examples in the commands' help, want many more: is the EXAMPLES section still parsed?", n)
	}
	out, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=all").CombinedOutput()
	if err != nil {
		t.Fatalf("git status: %v\n%s", err, out)
	}
	if len(out) > 0 {
		t.Errorf("the examples left files that .gitignore does not cover (git status):\n%s", out)
	}
}

func runExample(t *testing.T, dir string, env []string, line string) {
	want := 0
	if m := exampleExit.FindStringSubmatch(line); m != nil {
		want, _ = strconv.Atoi(m[1])
	}
	endless := strings.Contains(line, "until Ctrl-C")
	cmd := exec.Command("bash", "-o", "pipefail", "-c", line)
	cmd.Dir, cmd.Env = dir, env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = nil, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	limit := 3 * time.Minute
	if endless {
		select {
		case err := <-done:
			t.Fatalf("%s\nended by itself (%v) although it says it runs until Ctrl-C; stderr:\n%s", line, err, stderr.String())
		case <-time.After(2 * time.Second):
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		limit = 30 * time.Second
	}
	var err error
	select {
	case err = <-done:
	case <-time.After(limit):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Fatalf("%s\ndid not end within %s; stderr:\n%s", line, limit, stderr.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	} else if err != nil {
		t.Fatal(err)
	}
	switch {
	case endless && (code == 0 || code == 130):
	case code == want:
	case want == 0 && code == 141:
		// pipefail: a tool before | head ended by SIGPIPE (obz stages end
		// quietly with status 0 when their reader goes away).
	default:
		t.Errorf("%s\nexit %d, want %d; stderr:\n%s", line, code, want, stderr.String())
	}
}
