package expr

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports: expr is a library under the stages. It imports the standard
// library, wire and third-party libraries, and no other package of obz.
func TestImports(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/obz-dev/obz"
	for _, p := range strings.Fields(string(out)) {
		if p != mod+"/expr" && p != mod+"/wire" && (p == mod || strings.HasPrefix(p, mod+"/")) {
			t.Errorf("expr imports %s", p)
		}
	}
}
