package main

import (
	"os"
	"strings"
	"testing"
)

const manFile = "../../docs/obz.1"

// TestManPage: docs/obz.1 is what obz man prints, so the committed page
// never lags the commands' help. go test ./cmd/obz -run TestManPage -u
// rewrites it.
func TestManPage(t *testing.T) {
	code, page, stderr := runObz(t, "", "man")
	if code != 0 {
		t.Fatalf("obz man: exit %d: %s", code, stderr)
	}
	for _, want := range []string{".TH obz 1", ".SH NAME", "obz \\- stream-processing stages", ".SH COMMANDS", ".SH filter", "EXIT STATUS:", "\\fB--version, -V\\fP"} {
		if !strings.Contains(page, want) {
			t.Errorf("obz man lacks %q", want)
		}
	}
	if strings.Contains(page, "{{") {
		t.Errorf("obz man holds an unrendered template: %q", page[strings.Index(page, "{{"):][:40])
	}
	if *update {
		if err := os.WriteFile(manFile, []byte(page), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	old, err := os.ReadFile(manFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(old) != page {
		t.Errorf("docs/obz.1 is not what obz man prints: a command's help changed; run go test ./cmd/obz -run TestManPage -u")
	}
}
