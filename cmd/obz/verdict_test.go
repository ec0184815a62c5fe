package main

import (
	"strings"
	"testing"
)

// TestVerdict: a stage that fails before its runner ran leaves exactly one
// poison EOF on a framed stdout, named as its frames would be; a stage that
// ran leaves only the EOF its runner wrote; -r output, sinks and obz's
// other commands get none.
func TestVerdict(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"filter", "(("}, poisonEOF("filter")},
		{[]string{"filter", "((", "--name", "f1"}, poisonEOF("f1")},
		{[]string{"--name=f2", "filter", "(("}, ""}, // not a command: obz's own usage error
		{[]string{"map", "--name=f3", "(("}, poisonEOF("f3")},
		{[]string{"read", "/nonexistent/x.csv"}, poisonEOF("read")},
		{[]string{"read", "/nonexistent/x.csv", "--raw=false"}, poisonEOF("read")},
		{[]string{"fliter", ".a"}, poisonEOF("fliter")},
		// An option's value is not taken for -r.
		{[]string{"filter", "((", "--name", "-r"}, poisonEOF("-r")},
		// Bare payloads for other programs: a frame would be taken for data.
		{[]string{"read", "/nonexistent/x.csv", "-r"}, ""},
		{[]string{"filter", "((", "--raw"}, ""},
		// Sinks write no frame stream; obz's other commands neither.
		{[]string{"write", "--bogus"}, ""},
		{[]string{"journal", "cat", "/nonexistent/j.zst"}, ""},
		{[]string{"flow", "/nonexistent/t.toml"}, ""},
		// The runner ran and wrote its EOF: nothing is added.
		{[]string{"filter", "true", "--on-error", "fail"}, poisonEOF("filter")},
	} {
		code, stdout, stderr := runObz(t, "not json\n", tt.args...)
		if code == 0 || stdout != tt.want {
			t.Errorf("obz %s: exit %d, stdout %q (want %q), stderr %q", strings.Join(tt.args, " "), code, stdout, tt.want, stderr)
		}
	}
}
