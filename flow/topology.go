package flow

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Topology is a parsed and validated flow: a DAG of stages.
type Topology struct {
	File string // as given: it names the file in messages
	// Path is File made absolute when it was loaded, for the run's
	// manifest: a resume or replay finds the file, and so the directory
	// its stages ran in, from any working directory.
	Path string
	Name string
	// Dir is the flow's directory, absolute: the topology file's directory,
	// or its dir key resolved against it. Stages run there, and every
	// relative path of the file (a stage's dir, run_dir) starts there.
	Dir         string
	RunDir      string // base directory of run directories
	OnError     string // continue or fail, passed to every stage
	MetricsAddr string
	Stages      []*Stage // in file order
	// Retention, when the topology has a [retention] table, is what obz
	// flow prunes from the run directory base after each run.
	Retention *PruneOptions
	// Hosts are the hosts the stages are placed on (a stage's host key),
	// in the order the hosts key lists them, else of first use; none when
	// no stage names one (docs/topology.md, Hosts).
	Hosts []string
	// NATS holds the [nats] table: the timeouts of the bridges of the
	// edges that cross hosts (natsKeys), passed to obz nats sub and pub
	// as their flags of the same names.
	NATS map[string]time.Duration
	// Host and RunID are set on a host's part of a flow (Part): the host
	// it runs on and the run it belongs to.
	Host, RunID string
}

// natsKeys are the keys of a topology's [nats] table: flags of the sub
// bridges (the first three) and of the pub bridges (heartbeat).
var natsKeys = []string{"idle_timeout", "start_timeout", "resume_timeout", "heartbeat"}

// Stage is one node of the flow.
type Stage struct {
	Name      string
	Argv      []string // the obz command line without "obz": ["filter", ".amount > 50"]
	Inputs    []string // stages it reads, in order
	Reference string   // a join's reference input (read to its EOF first)
	Outputs   []string // stages that read it (derived)
	Env       map[string]string
	Dir       string // the working directory of its process, absolute
	Line      int    // line of its table in the file
	// Restart is a source's restart policy: "never" (the default) or
	// "on-failure": restarted up to MaxRestarts times, after Backoff,
	// doubled each time up to MaxBackoff (docs/topology.md).
	Restart     string
	MaxRestarts int
	Backoff     time.Duration
	restartKeys bool // any of restart, max_restarts, backoff was given
	// Replicas, if above 0, runs the stage as that many replica processes
	// under obz parallel, merged back in input order; PartitionBy deals
	// its events by that field instead of round robin (docs/parallel.md).
	Replicas    int
	PartitionBy string
	// Host is the host that runs the stage (obz flow --host); "" when the
	// flow places no stage.
	Host string
	// bridge is set on the stages Part adds for an edge that crosses
	// hosts: "pub" (publish the producer's output) or "sub" (read it on
	// the consumer's host); "replayed" on a sub bridge that a replay made
	// a source of its journal (ReplaceBridge).
	bridge string
}

// Restart policy defaults.
const (
	DefaultMaxRestarts = 3
	DefaultBackoff     = time.Second
	MaxBackoff         = 30 * time.Second
)

// Restartable reports whether the stage is restarted when it fails.
func (s *Stage) Restartable() bool { return s.Restart == "on-failure" }

// Command is the stage's obz command: "filter", "read", ...
func (s *Stage) Command() string { return s.Argv[0] }

// AllInputs returns Inputs and the reference, if any.
func (s *Stage) AllInputs() []string {
	if s.Reference == "" {
		return s.Inputs
	}
	return append([]string{s.Reference}, s.Inputs...)
}

// Commands describes the stage commands a flow may use: command name to its
// family (source, transform, stateful, join, sink, observer). cmd/obz builds
// it from the stage registry, so flow never imports stages.
type Commands map[string]string

// Lookup returns the stage named name, or nil.
func (t *Topology) Lookup(name string) *Stage {
	for _, s := range t.Stages {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// DefaultRunDir is where run directories are made when neither the
// topology (run_dir) nor the command line (--run-dir) says: relative to
// the directory obz flow runs in.
const DefaultRunDir = ".obz/runs"

type rawTopology struct {
	Name        string              `toml:"name"`
	Flow        any                 `toml:"flow"`
	Dir         string              `toml:"dir"`
	RunDir      string              `toml:"run_dir"`
	OnError     string              `toml:"on_error"`
	MetricsAddr string              `toml:"metrics_addr"`
	Stages      map[string]rawStage `toml:"stages"`
	Retention   *rawRetention       `toml:"retention"`
	Hosts       []string            `toml:"hosts"`
	NATS        map[string]any      `toml:"nats"`
}

type rawRetention struct {
	Keep      int    `toml:"keep"`
	OlderThan string `toml:"older_than"`
	MaxSize   string `toml:"max_size"`
	Force     bool   `toml:"force"`
}

type rawStage struct {
	Run         any               `toml:"run"`
	Inputs      []string          `toml:"inputs"`
	Reference   string            `toml:"reference"`
	Env         map[string]string `toml:"env"`
	Dir         string            `toml:"dir"`
	Restart     string            `toml:"restart"`
	MaxRestarts *int              `toml:"max_restarts"`
	Backoff     string            `toml:"backoff"`
	Replicas    *int              `toml:"replicas"`
	PartitionBy string            `toml:"partition_by"`
	Host        string            `toml:"host"`
}

var safeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// ValidationError lists everything wrong with a topology file, each problem
// naming the file and line.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string { return strings.Join(e.Problems, "\n") }

// Load reads, parses and validates a topology file.
func Load(path string, cmds Commands) (*Topology, error) {
	return LoadChecked(path, cmds, nil)
}

// LoadChecked is Load, and when check is not nil it also checks every
// stage's command line (Topology.Check): every problem of the file is
// listed at once.
func LoadChecked(path string, cmds Commands, check StageCheck) (*Topology, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parse(path, data, cmds, check)
}

// Parse parses and validates a topology. file names it in messages.
func Parse(file string, data []byte, cmds Commands) (*Topology, error) {
	return parse(file, data, cmds, nil)
}

func parse(file string, data []byte, cmds Commands, check StageCheck) (*Topology, error) {
	var raw rawTopology
	md, err := toml.Decode(string(data), &raw)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &ValidationError{Problems: []string{fmt.Sprintf("%s:%d: %s", file, pe.Position.Line, pe.Message)}}
		}
		return nil, &ValidationError{Problems: []string{fmt.Sprintf("%s: %v", file, err)}}
	}
	v := &validator{file: file, lines: indexLines(data)}
	for _, k := range md.Undecoded() {
		known := []string{"name", "flow", "dir", "run_dir", "on_error", "metrics_addr", "stages", "retention", "hosts", "nats"}
		if len(k) == 2 && k[0] == "retention" {
			known = []string{"keep", "older_than", "max_size", "force"}
		}
		if len(k) == 3 && k[0] == "stages" {
			known = []string{"run", "inputs", "reference", "env", "dir", "restart", "max_restarts", "backoff", "replicas", "partition_by", "host"}
		}
		if len(k) == 4 && k[0] == "stages" && k[2] == "env" {
			continue
		}
		last := k[len(k)-1]
		v.add(v.keyLine(last), "unknown key %q%s", k.String(), suggest(last, known))
	}

	t := &Topology{File: file, Name: raw.Name, RunDir: raw.RunDir, OnError: raw.OnError, MetricsAddr: raw.MetricsAddr}
	if t.Name == "" {
		t.Name = strings.TrimSuffix(baseName(file), ".toml")
	}
	if !safeName.MatchString(t.Name) {
		v.add(v.keyLine("name"), "flow name %q is not safe as a file name (letters, digits, _ . -)", t.Name)
	}
	if t.Path, err = filepath.Abs(file); err != nil {
		return nil, err
	}
	t.Dir = filepath.Join(filepath.Dir(t.Path), raw.Dir)
	if filepath.IsAbs(raw.Dir) {
		t.Dir = filepath.Clean(raw.Dir)
	}
	switch {
	case t.RunDir == "":
		// A run directory is the record of an invocation: by default it is
		// made where obz flow runs, found there by obz replay and --resume.
		t.RunDir = DefaultRunDir
	case !filepath.IsAbs(t.RunDir):
		t.RunDir = filepath.Join(t.Dir, t.RunDir)
	}
	if r := raw.Retention; r != nil {
		t.Retention = &PruneOptions{Keep: r.Keep, Force: r.Force}
		line := 0
		for i, l := range v.lines {
			if strings.TrimSpace(l) == "[retention]" {
				line = i + 1
			}
		}
		if r.Keep < 0 {
			v.add(v.keyLine("keep"), "retention: keep must be at least 1, not %d", r.Keep)
		}
		if r.OlderThan != "" {
			if t.Retention.OlderThan, err = ParseAge(r.OlderThan); err != nil {
				v.add(v.keyLine("older_than"), "retention: older_than: %v", err)
			}
		}
		if r.MaxSize != "" {
			if t.Retention.MaxSize, err = ParseSize(r.MaxSize); err != nil {
				v.add(v.keyLine("max_size"), "retention: max_size: %v", err)
			}
		}
		if t.Retention.Keep == 0 && t.Retention.OlderThan == 0 && t.Retention.MaxSize == 0 {
			v.add(line, "retention: say what to remove: keep, older_than or max_size")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(raw.NATS)) {
		if !slices.Contains(natsKeys, k) {
			v.add(v.keyLine(k), "unknown key \"nats.%s\"%s (the [nats] table has %s)", k, suggest(k, natsKeys), quoteList(natsKeys))
			continue
		}
		str, _ := raw.NATS[k].(string)
		d, err := time.ParseDuration(str)
		if err != nil || d < 0 {
			v.add(v.keyLine(k), "nats: %s must be a duration in quotes, such as \"30s\" or \"5m\" (\"0s\": without limit), not %v", k, tomlValue(raw.NATS[k]))
			continue
		}
		if t.NATS == nil {
			t.NATS = map[string]time.Duration{}
		}
		t.NATS[k] = d
	}
	switch t.OnError {
	case "":
		t.OnError = "continue"
	case "continue", "fail":
	default:
		v.add(v.keyLine("on_error"), "on_error must be continue or fail, not %q", t.OnError)
	}

	names := make([]string, 0, len(raw.Stages))
	for name := range raw.Stages {
		names = append(names, name)
	}
	for _, name := range names {
		rs := raw.Stages[name]
		s := &Stage{Name: name, Inputs: rs.Inputs, Reference: rs.Reference, Env: rs.Env, Dir: t.Dir, Line: v.tableLine(name), Host: rs.Host}
		if rs.Dir != "" {
			s.Dir = filepath.Join(t.Dir, rs.Dir)
			if filepath.IsAbs(rs.Dir) {
				s.Dir = filepath.Clean(rs.Dir)
			}
		}
		t.Stages = append(t.Stages, s)
		if !safeName.MatchString(name) {
			v.add(s.Line, "stage name %q is not safe as a file name (letters, digits, _ . -)", name)
		}
		switch run := rs.Run.(type) {
		case string:
			argv, err := splitCommand(run)
			if err != nil {
				v.add(s.Line, "stage %q: run: %v", name, err)
			}
			s.Argv = argv
		case []any:
			for _, a := range run {
				str, ok := a.(string)
				if !ok {
					v.add(s.Line, "stage %q: run array must hold only strings", name)
					break
				}
				s.Argv = append(s.Argv, str)
			}
		case nil:
		default:
			v.add(s.Line, "stage %q: run must be a string or an array of strings", name)
		}
		if len(s.Argv) > 0 && s.Argv[0] == "obz" {
			s.Argv = s.Argv[1:]
		}
		v.restartPolicy(s, rs)
		v.replicas(s, rs)
	}
	sort.Slice(t.Stages, func(i, j int) bool { return t.Stages[i].Line < t.Stages[j].Line })

	// Chains add edges: "read |> big |> out" means big reads read, out reads big.
	var chains []string
	switch f := raw.Flow.(type) {
	case string:
		chains = []string{f}
	case []any:
		for _, c := range f {
			if s, ok := c.(string); ok {
				chains = append(chains, s)
			} else {
				v.add(v.keyLine("flow"), "flow must be a chain string or an array of chain strings")
			}
		}
	case nil:
	default:
		v.add(v.keyLine("flow"), "flow must be a chain string or an array of chain strings")
	}
	for _, c := range chains {
		parts := strings.Split(c, "|>")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
			if parts[i] == "" {
				v.add(v.keyLine("flow"), "chain %q has an empty step", c)
			}
		}
		for i := 1; i < len(parts); i++ {
			from, to := parts[i-1], parts[i]
			st := t.Lookup(to)
			if st == nil {
				v.add(v.keyLine("flow"), "chain %q: unknown stage %q%s", c, to, suggest(to, stageNames(t)))
				continue
			}
			if t.Lookup(from) == nil {
				v.add(v.keyLine("flow"), "chain %q: unknown stage %q%s", c, from, suggest(from, stageNames(t)))
				continue
			}
			if !slices.Contains(st.Inputs, from) {
				st.Inputs = append(st.Inputs, from)
			}
		}
	}

	v.checkStages(t, cmds)
	v.checkHosts(t, raw.Hosts)
	if check != nil {
		v.checkCommands(t, cmds, check, true)
		v.checkDirs(t, raw.Dir != "")
	}
	if len(v.problems) > 0 {
		return nil, &ValidationError{Problems: v.problems}
	}
	return t, nil
}

// restartPolicy checks and sets a stage's restart keys; checkStages checks
// that only sources have them.
func (v *validator) restartPolicy(s *Stage, rs rawStage) {
	s.restartKeys = rs.Restart != "" || rs.MaxRestarts != nil || rs.Backoff != ""
	s.Restart, s.MaxRestarts, s.Backoff = cmp.Or(rs.Restart, "never"), DefaultMaxRestarts, DefaultBackoff
	switch s.Restart {
	case "never", "on-failure":
	default:
		v.add(s.Line, "stage %q: restart must be never or on-failure, not %q", s.Name, s.Restart)
	}
	if rs.MaxRestarts != nil {
		s.MaxRestarts = *rs.MaxRestarts
		if s.MaxRestarts < 0 {
			v.add(s.Line, "stage %q: max_restarts must be 0 or more, not %d", s.Name, s.MaxRestarts)
		}
	}
	if rs.Backoff != "" {
		d, err := time.ParseDuration(rs.Backoff)
		if err != nil || d <= 0 {
			v.add(s.Line, "stage %q: backoff must be a positive duration such as \"1s\" or \"250ms\", not %q", s.Name, rs.Backoff)
		} else {
			s.Backoff = d
		}
	}
}

// replicas reads replicas and partition_by.
func (v *validator) replicas(s *Stage, rs rawStage) {
	if rs.Replicas != nil {
		s.Replicas = *rs.Replicas
		if s.Replicas < 1 {
			v.add(s.Line, "stage %q: replicas must be 1 or more, not %d", s.Name, s.Replicas)
		}
	}
	s.PartitionBy = rs.PartitionBy
	if s.PartitionBy != "" && rs.Replicas == nil {
		v.add(s.Line, "stage %q: partition_by needs replicas = N", s.Name)
	}
	// replicas = 1 is the stage as one process: what a topology that
	// takes N from a template or a variable means by it, and what agg
	// (which cannot be dealt round robin) can then do.
	if s.Replicas == 1 && s.PartitionBy == "" {
		s.Replicas = 0
	}
}

// Order returns the stages so that every stage comes after its inputs.
func (t *Topology) Order() []*Stage {
	done := map[string]bool{}
	var out []*Stage
	var visit func(s *Stage)
	visit = func(s *Stage) {
		if done[s.Name] {
			return
		}
		done[s.Name] = true
		for _, in := range s.AllInputs() {
			if src := t.Lookup(in); src != nil {
				visit(src)
			}
		}
		out = append(out, s)
	}
	for _, s := range t.Stages {
		visit(s)
	}
	return out
}

// splitCommand splits a command line as a POSIX shell would for words:
// single quotes, double quotes (with \" \\ \$ escapes) and backslashes.
// No expansion of any kind happens.
func splitCommand(s string) ([]string, error) {
	var args []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated ' in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated \" in %q", s)
			}
			inWord = true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		args = append(args, cur.String())
	}
	return args, nil
}

// checkDirs reports a working directory that is not there: the flow's
// (its dir key) and each stage's. A stage cannot start in it, and the
// error of a failed start would not say why.
func (v *validator) checkDirs(t *Topology, flowKey bool) {
	isDir := func(d string) bool {
		fi, err := os.Stat(d)
		return err == nil && fi.IsDir()
	}
	if !isDir(t.Dir) {
		line := 0
		if flowKey {
			line = v.keyLine("dir")
		}
		v.add(line, "dir %s is not a directory (stages run there; relative paths start at the topology's directory)", t.Dir)
		return
	}
	for _, s := range t.Stages {
		if s.Dir != t.Dir && !isDir(s.Dir) {
			v.add(s.Line, "stage %q: dir %s is not a directory", s.Name, s.Dir)
		}
	}
}

// tomlValue shows a value of the file as it was written, near enough for a
// message: a string in quotes, anything else as Go prints it.
func tomlValue(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}
