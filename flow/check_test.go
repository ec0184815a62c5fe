package flow

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestManagedFlags(t *testing.T) {
	for _, tc := range []struct {
		run  string
		want string // "" for none
	}{
		{"write x --journal j.zst", "--journal"},
		{"write x --journal=j.zst", "--journal"},
		{"write x -journal j.zst", "--journal"},
		{"write x --name=w", "--name"},
		{"write x --on-error fail", "--on-error"},
		{"write x --resume-from j.zst", "--resume-from"},
		{"write x --status-fd 9", "--status-fd"},
		{"write x --in-fd 3", "--in-fd"},
		{"write x - --format csv", ""},
		{"write x --journalist", ""},
		{"exec -- prog --name n --journal j", ""},
	} {
		t.Run(tc.run, func(t *testing.T) {
			_, err := Parse("t.toml", []byte("flow = \"a |> b\"\n[stages.a]\nrun = \"gen\"\n[stages.b]\nrun = \""+tc.run+"\"\n"), Commands{"gen": "source", "write": "sink", "exec": "sink"})
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), `t.toml:4: stage "b": `+tc.want+" is set by obz flow")):
				t.Errorf("error = %v, want %s refused", err, tc.want)
			}
		})
	}
	if !slices.Contains(ManagedFlags(), "--journal") {
		t.Errorf("ManagedFlags() = %q", ManagedFlags())
	}
}

// The stage check lists every stage it refuses with its line; Run makes
// no run directory when it refuses.
func TestCheck(t *testing.T) {
	topo, err := Parse("t.toml", []byte("flow = \"a |> b |> c\"\n[stages.a]\nrun = \"gen --sed 4\"\n[stages.b]\nrun = \"filter true\"\n[stages.c]\nrun = \"write --formt csv x\"\n"), testCommands)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	check := func(command string, args []string) error {
		seen = append(seen, command+" "+strings.Join(args, " "))
		for _, a := range args {
			if a == "--sed" || a == "--formt" {
				return errors.New("flag provided but not defined: " + a)
			}
		}
		return nil
	}
	dir := t.TempDir()
	_, err = Run(context.Background(), topo, Options{Exe: "/nonexistent", RunDir: dir, Check: check})
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Run = %v, want a *ValidationError", err)
	}
	want := []string{`t.toml:2: stage "a" (gen): flag provided but not defined: --sed`, `t.toml:6: stage "c" (write): flag provided but not defined: --formt`}
	if !slices.Equal(ve.Problems, want) {
		t.Errorf("problems %q, want %q", ve.Problems, want)
	}
	// Each stage is checked with the flags obz flow gives it.
	if len(seen) != 3 || !strings.HasPrefix(seen[2], "write --name c --on-error continue --status-fd 4 --in-fd 3 --in-name b --journal journals/c.zst --journal-refs --formt") {
		t.Errorf("checked %q, want every stage as Run starts it", seen)
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("Run made %s/%s although the check failed", dir, entries[0].Name())
	}

	// Parse with the check lists these with the graph's problems.
	_, err = LoadChecked(writeFile(t, "flow = \"a |> b\"\n[stages.a]\nrun = \"gen --sed 4\"\n[stages.b]\nrun = \"write x\"\n[stages.c]\nrun = \"nope\"\n"), testCommands, check)
	if err == nil || !strings.Contains(err.Error(), `stage "a" (gen): flag provided but not defined: --sed`) || !strings.Contains(err.Error(), `unknown command "nope"`) {
		t.Errorf("LoadChecked = %v", err)
	}
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "t.toml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
