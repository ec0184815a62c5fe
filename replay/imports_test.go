package replay

import (
	"os/exec"
	"strings"
	"testing"
)

// Package replay knows no stage: it imports neither the stages nor the CLI.
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "github.com/obz-dev/obz/stages" || strings.HasPrefix(p, "github.com/obz-dev/obz/cmd/") || strings.HasPrefix(p, "github.com/urfave/cli") {
			t.Errorf("replay imports %s", p)
		}
	}
}
