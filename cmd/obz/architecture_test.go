package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/obz-dev/obz/"

// importRules are the layering rules of docs/architecture.md: for each
// package (by path inside the module), the packages of the module it may
// depend on, directly or not. A package missing here fails the test until
// it is placed in the architecture.
var importRules = map[string][]string{
	"wire":              {},
	"exitstatus":        {},
	"journal":           {"wire"},
	"expr":              {"wire"},
	"format":            {"wire"},
	"runner":            {"wire", "journal", "exitstatus"},
	"runner/runnertest": {"wire", "journal", "runner", "exitstatus"},
	"stages":            {"wire", "journal", "runner", "expr", "format", "exitstatus"},
	"flow":              {"wire", "journal", "exitstatus"},
	"replay":            {"wire", "journal", "flow", "runner", "exitstatus"},
	"parallel":          {"wire", "runner", "expr", "journal", "exitstatus"},
	"report":            {"wire", "journal", "flow", "exitstatus"},
	"natsedge":          {"wire", "journal", "runner", "exitstatus"},
	"cmd/obz":           {"*"},
	"scripts/linecopy":  {},
}

// TestImportRules checks the layering from `go list -deps`: wire is a leaf;
// journal, expr and format import no stage, flow or command code; flow never
// imports the stages, and the stages never import flow or cmd. Every package
// of the module must be drawn in docs/architecture.md.
func TestImportRules(t *testing.T) {
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "../../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	doc, err := os.ReadFile("../../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, ok := strings.CutPrefix(fields[0], module)
		if !ok {
			continue
		}
		seen++
		allowed, known := importRules[pkg]
		if !known {
			t.Errorf("package %s has no place in the import rules (architecture_test.go, docs/architecture.md)", pkg)
			continue
		}
		if !strings.Contains(string(doc), "`"+pkg+"`") {
			t.Errorf("docs/architecture.md does not mention package `%s`", pkg)
		}
		if slices.Contains(allowed, "*") {
			continue
		}
		for _, dep := range fields[1:] {
			d, ok := strings.CutPrefix(dep, module)
			if ok && !slices.Contains(allowed, d) {
				t.Errorf("%s depends on %s: the architecture allows only %v", pkg, d, allowed)
			}
		}
	}
	if seen < 5 {
		t.Fatalf("go list found %d packages of the module; is the module path %q?", seen, module)
	}
}
