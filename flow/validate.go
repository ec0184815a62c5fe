package flow

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// checkStages checks the graph: commands, inputs, families, unread
// outputs, cycles. Every problem is collected, none stops the check.
func (v *validator) checkStages(t *Topology, cmds Commands) {
	if len(t.Stages) == 0 {
		v.add(0, "no stages: add [stages.NAME] tables with run = \"...\"")
		return
	}
	for _, s := range t.Stages {
		if len(s.Argv) == 0 {
			v.add(s.Line, "stage %q has no run command (e.g. run = \"filter '.amount > 50'\")", s.Name)
			continue
		}
		family, ok := cmds[s.Command()]
		if !ok {
			v.add(s.Line, "stage %q: unknown command %q%s", s.Name, s.Command(), suggest(s.Command(), mapKeys(cmds)))
			continue
		}
		v.checkManaged(s)
		for _, in := range s.AllInputs() {
			src := t.Lookup(in)
			if src == nil {
				v.add(s.Line, "stage %q reads unknown stage %q%s", s.Name, in, suggest(in, stageNames(t)))
				continue
			}
			if in == s.Name {
				v.add(s.Line, "stage %q reads itself", s.Name)
				continue
			}
			src.Outputs = append(src.Outputs, s.Name)
		}
		if s.Reference != "" && family != "join" {
			v.add(s.Line, "stage %q: reference is only for join stages, and %q is a %s", s.Name, s.Command(), family)
		}
		switch {
		case family == "source" && len(s.AllInputs()) > 0:
			v.add(s.Line, "stage %q is a source (%s) and cannot have inputs", s.Name, s.Command())
		case family != "source" && len(s.AllInputs()) == 0:
			v.add(s.Line, "stage %q reads nothing: give it inputs = [\"...\"] or put it in a flow chain", s.Name)
		}
		if s.Replicas > 0 && !replicable(family) {
			v.add(s.Line, "stage %q: replicas are for transform, stateful and join stages, and %q is a %s", s.Name, s.Command(), family)
		}
		if s.restartKeys && family != "source" {
			v.add(s.Line, "stage %q: restart, max_restarts and backoff are only for sources, and %q is a %s", s.Name, s.Command(), family)
		}
	}
	for _, s := range t.Stages {
		if len(s.Argv) == 0 {
			continue
		}
		if family := cmds[s.Command()]; family != "sink" && family != "" && len(s.Outputs) == 0 {
			v.add(s.Line, "stage %q: no stage reads its output (end the flow with a sink such as write)", s.Name)
		}
	}
	if cycle := findCycle(t); cycle != nil {
		v.add(t.Lookup(cycle[0]).Line, "cycle: %s (cycles are not supported)", strings.Join(cycle, " -> "))
	}
}

// findCycle returns a cycle as a path whose last element repeats the first.
func findCycle(t *Topology) []string {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var found []string
	var visit func(n string) bool
	visit = func(n string) bool {
		color[n] = grey
		stack = append(stack, n)
		s := t.Lookup(n)
		if s != nil {
			for _, out := range s.Outputs {
				switch color[out] {
				case grey:
					i := slices.Index(stack, out)
					found = append(append([]string{}, stack[i:]...), out)
					return true
				case white:
					if visit(out) {
						return true
					}
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
		return false
	}
	for _, s := range t.Stages {
		if color[s.Name] == white && visit(s.Name) {
			return found
		}
	}
	return nil
}

type validator struct {
	file     string
	lines    []string
	problems []string
}

func (v *validator) add(line int, format string, args ...any) {
	where := v.file
	if line > 0 {
		where = fmt.Sprintf("%s:%d", v.file, line)
	}
	msg := where + ": " + fmt.Sprintf(format, args...)
	if !slices.Contains(v.problems, msg) {
		v.problems = append(v.problems, msg)
	}
}

func indexLines(data []byte) []string {
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// tableLine finds the line of [stages.NAME] (or a stages.NAME key).
func (v *validator) tableLine(name string) int {
	re := regexp.MustCompile(`^\s*\[\s*stages\s*\.\s*"?` + regexp.QuoteMeta(name) + `"?\s*\]`)
	re2 := regexp.MustCompile(`^\s*"?` + regexp.QuoteMeta(name) + `"?\s*=`)
	inStages := false
	for i, l := range v.lines {
		if re.MatchString(l) {
			return i + 1
		}
		if strings.HasPrefix(strings.TrimSpace(l), "[stages]") {
			inStages = true
		} else if strings.HasPrefix(strings.TrimSpace(l), "[") {
			inStages = false
		}
		if inStages && re2.MatchString(l) {
			return i + 1
		}
	}
	return 0
}

// keyLine finds the first line that sets key.
func (v *validator) keyLine(key string) int {
	re := regexp.MustCompile(`^\s*"?` + regexp.QuoteMeta(key) + `"?\s*=`)
	for i, l := range v.lines {
		if re.MatchString(l) {
			return i + 1
		}
	}
	return 0
}

func stageNames(t *Topology) []string {
	var names []string
	for _, s := range t.Stages {
		names = append(names, s.Name)
	}
	return names
}

func mapKeys(m Commands) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// suggest returns ` (did you mean "x"?)` for the closest candidate.
func suggest(s string, candidates []string) string {
	if best := Closest(s, candidates); best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

// Closest returns the candidate nearest to s by edit distance when it is
// near enough to be a typo (at most 2 edits, or 3 in a long name), else "".
func Closest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD || (d == bestD && best == "" && d <= len(s)/2) {
			best, bestD = c, d
		}
	}
	if best == s {
		return ""
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// replicable says whether stages of the family can have replicas: those
// that answer each event on their own (transform; join, once its reference
// is read) or keep their state by key (stateful).
func replicable(family string) bool {
	return family == "transform" || family == "stateful" || family == "join"
}
