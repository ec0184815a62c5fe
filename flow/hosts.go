package flow

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// A flow spread over hosts: each stage names the host that runs it (its
// host key), and obz flow --host NAME runs that host's part (Part). An
// edge between two stages of one host is a pipe, as always; an edge that
// crosses hosts becomes a JetStream subject, published on the producer's
// host and read on the consumer's by two bridge stages that Part adds:
// obz nats pub and obz nats sub, each its own process like any stage, so
// that flow needs no NATS client and the supervisor stays out of the data
// path (docs/topology.md, Hosts; docs/nats.md, Flows over several hosts).

// safeToken is what a run id may be: one token of a NATS subject and a
// part of a stream name.
var safeToken = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// checkHosts checks the placement: when any stage names a host, every
// stage does, and each host is one the hosts key lists (when it is
// given); each host listed runs a stage.
func (v *validator) checkHosts(t *Topology, declared []string) {
	placed := false
	for _, s := range t.Stages {
		placed = placed || s.Host != ""
	}
	if !placed && len(declared) == 0 {
		return
	}
	for i, h := range declared {
		if !safeName.MatchString(h) {
			v.add(v.keyLine("hosts"), "host %q is not a safe name (letters, digits, _ . -)", h)
		}
		if slices.Contains(declared[:i], h) {
			v.add(v.keyLine("hosts"), "host %q is listed twice in hosts", h)
		}
	}
	t.Hosts = slices.Clone(declared)
	for _, s := range t.Stages {
		line := v.stageKeyLine(s, "host")
		switch {
		case s.Host == "":
			v.add(s.Line, "stage %q has no host: when the flow places stages on hosts, every stage names one (host = \"...\")", s.Name)
		case len(declared) > 0 && !slices.Contains(declared, s.Host):
			v.add(line, "stage %q: host %q is not one of hosts = [%s]%s", s.Name, s.Host, quoteList(declared), suggest(s.Host, declared))
		case !safeName.MatchString(s.Host):
			v.add(line, "stage %q: host %q is not a safe name (letters, digits, _ . -)", s.Name, s.Host)
		case !slices.Contains(t.Hosts, s.Host):
			t.Hosts = append(t.Hosts, s.Host)
		}
	}
	for _, h := range declared {
		if !slices.ContainsFunc(t.Stages, func(s *Stage) bool { return s.Host == h }) {
			v.add(v.keyLine("hosts"), "host %q runs no stage: place a stage on it (host = %q) or remove it from hosts", h, h)
		}
	}
}

// stageKeyLine finds the line of key in stage s's table, else the table's.
func (v *validator) stageKeyLine(s *Stage, key string) int {
	re := regexp.MustCompile(`^\s*"?` + regexp.QuoteMeta(key) + `"?\s*=`)
	for i := s.Line; i > 0 && i < len(v.lines); i++ {
		l := strings.TrimSpace(v.lines[i])
		if strings.HasPrefix(l, "[") {
			break
		}
		if re.MatchString(l) {
			return i + 1
		}
	}
	return s.Line
}

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}

// CheckRunID checks a run id given to obz flow --run-id: one token of a
// NATS subject.
func CheckRunID(id string) error {
	if !safeToken.MatchString(id) {
		return fmt.Errorf("run id %q: letters, digits, _ and - only (it is part of the NATS subjects and streams of the run)", id)
	}
	return nil
}

// EdgeSubject is the JetStream subject of the edge from stage from to
// stage to in run runID of flow flow: obz.FLOW.RUN.FROM.TO, a dot in a
// name written as _ (a subject's tokens are separated by dots).
func EdgeSubject(flow, runID, from, to string) string {
	tok := func(s string) string { return strings.ReplaceAll(s, ".", "_") }
	return strings.Join([]string{"obz", tok(flow), tok(runID), tok(from), tok(to)}, ".")
}

// EdgeDurable is the durable consumer that reads an edge on the
// consumer's host: obz_TO (one per stream, and a stream per edge).
func EdgeDurable(to string) string { return "obz_" + strings.ReplaceAll(to, ".", "_") }

// BridgeName is the name of the bridge stage of the edge from stage from
// to stage to, on both hosts: nats.FROM.TO.
func BridgeName(from, to string) string { return "nats." + from + "." + to }

// HostOf returns the stages host runs, in file order.
func (t *Topology) HostOf(host string) []*Stage {
	var ss []*Stage
	for _, s := range t.Stages {
		if s.Host == host {
			ss = append(ss, s)
		}
	}
	return ss
}

// Part returns host's part of the flow of run runID: host's stages, and
// for each edge that crosses to or from another host a bridge stage, obz
// nats pub SUBJECT on the producer's side, obz nats sub SUBJECT --durable
// on the consumer's (EdgeSubject, EdgeDurable, BridgeName). conn is the
// environment of every bridge: the NATS connection ($NATS_URL, ...), kept
// out of the command lines the manifest records. The stages of the part
// are copies; t is not changed.
func (t *Topology) Part(host, runID string, conn map[string]string) (*Topology, error) {
	if len(t.Hosts) == 0 {
		return nil, fmt.Errorf("%s places no stage on a host (host = \"...\" in a stage's table): run it without --host", t.File)
	}
	if !slices.Contains(t.Hosts, host) {
		return nil, fmt.Errorf("%s has no host %q%s: its hosts are %s", t.File, host, suggest(host, t.Hosts), quoteList(t.Hosts))
	}
	if err := CheckRunID(runID); err != nil {
		return nil, err
	}
	p := *t
	p.Host, p.RunID, p.Stages = host, runID, nil
	copies := map[string]*Stage{}
	for _, s := range t.HostOf(host) {
		c := *s
		c.Inputs, c.Outputs = slices.Clone(s.Inputs), nil
		copies[s.Name] = &c
		p.Stages = append(p.Stages, &c)
	}
	subjects := map[string]string{}
	bridge := func(e CrossEdge, kind string) (*Stage, error) {
		name, subject := e.Bridge(), e.Subject(t.Name, runID)
		if t.Lookup(name) != nil {
			return nil, fmt.Errorf("%s: stage %q has the name of the bridge of the edge %s -> %s: rename it", t.File, name, e.From, e.To)
		}
		if prev, ok := subjects[subject]; ok {
			return nil, fmt.Errorf("%s: the edges %s and %s -> %s have the same subject %s (a dot in a name is written _): rename a stage", t.File, prev, e.From, e.To, subject)
		}
		subjects[subject] = e.From + " -> " + e.To
		argv := []string{"nats", kind, subject}
		if kind == bridgeSub {
			// A run's subject is used once: its stream goes once read.
			argv = append(argv, "--durable", e.Durable(), "--delete-stream")
		}
		// The [nats] table's timeouts, as the bridges' flags.
		for _, k := range natsKeys {
			if d, ok := t.NATS[k]; ok && (k == "heartbeat") == (kind == bridgePub) {
				argv = append(argv, "--"+strings.ReplaceAll(k, "_", "-"), d.String())
			}
		}
		b := &Stage{Name: name, Argv: argv, Env: conn, Dir: t.Dir, Host: host, Restart: "never", bridge: kind}
		p.Stages = append(p.Stages, b)
		return b, nil
	}
	for _, e := range t.CrossEdges() {
		switch {
		case t.Lookup(e.From).Host == host:
			b, err := bridge(e, bridgePub)
			if err != nil {
				return nil, err
			}
			b.Inputs = []string{e.From}
		case t.Lookup(e.To).Host == host:
			b, err := bridge(e, bridgeSub)
			if err != nil {
				return nil, err
			}
			c := copies[e.To]
			if e.Ref {
				c.Reference = b.Name
				continue
			}
			for i := range c.Inputs {
				if c.Inputs[i] == e.From {
					c.Inputs[i] = b.Name
				}
			}
		}
	}
	// The outputs, as checkStages derives them, in the part.
	for _, s := range p.Stages {
		for _, in := range s.AllInputs() {
			src := p.Lookup(in)
			src.Outputs = append(src.Outputs, s.Name)
		}
	}
	return &p, nil
}

// The kinds of bridge (Stage.bridge).
const (
	bridgePub      = "pub"
	bridgeSub      = "sub"
	bridgeReplayed = "replayed"
)

// CrossEdge is an edge between stages on two hosts: a subject, a bridge
// on each host (Part).
type CrossEdge struct {
	From, To string
	// Ref: the edge is To's reference. When From also feeds one of To's
	// inputs, the reference's edge has a subject and bridges of its own
	// (Own: SUBJECT.ref, nats.FROM.TO.ref).
	Ref, Own bool
}

// Bridge is the name of the edge's bridge stages (BridgeName).
func (e CrossEdge) Bridge() string {
	if e.Own {
		return BridgeName(e.From, e.To) + ".ref"
	}
	return BridgeName(e.From, e.To)
}

// Subject is the edge's subject in run runID of flow flow (EdgeSubject).
func (e CrossEdge) Subject(flow, runID string) string {
	if e.Own {
		return EdgeSubject(flow, runID, e.From, e.To) + ".ref"
	}
	return EdgeSubject(flow, runID, e.From, e.To)
}

// Durable is the durable consumer that reads the edge (EdgeDurable).
func (e CrossEdge) Durable() string {
	if e.Own {
		return EdgeDurable(e.To) + "_ref"
	}
	return EdgeDurable(e.To)
}

// CrossEdges returns the edges of t between stages on two hosts, in the
// order of t.Order() and of each consumer's inputs (the reference first).
func (t *Topology) CrossEdges() []CrossEdge {
	var es []CrossEdge
	for _, s := range t.Order() {
		for i, in := range s.AllInputs() {
			if src := t.Lookup(in); src == nil || src.Host == s.Host {
				continue
			}
			ref := i == 0 && s.Reference != "" // AllInputs: the reference first
			// The reference gets its own subject only where it must.
			es = append(es, CrossEdge{From: in, To: s.Name, Ref: ref, Own: ref && slices.Contains(s.Inputs, in)})
		}
	}
	return es
}

// Bridge reports whether s is a bridge stage Part added, and which:
// "pub" or "sub" ("" for a stage, or a bridge ReplaceBridge replaced).
func (s *Stage) Bridge() string {
	if s.isBridge() {
		return s.bridge
	}
	return ""
}

// isBridge reports whether s runs as obz nats pub or sub.
func (s *Stage) isBridge() bool { return s.bridge == bridgePub || s.bridge == bridgeSub }

// ReplaceBridge makes s, a bridge of a host's part, the stage argv: a
// stage as any other (journaled, checked, stopped on a drain). A replay
// of the part gives a reading bridge argv = obz replay JOURNAL, its
// journal of the frames it passed on, and a publishing bridge a sink that
// publishes nothing. The stages reading a replaced reading bridge still
// journal what they pass on as bytes: the frames' writer is on another
// host, its journal not beside theirs.
func (s *Stage) ReplaceBridge(argv []string) {
	s.Argv = argv
	if s.bridge == bridgeSub {
		s.bridge = bridgeReplayed
	} else {
		s.bridge = ""
	}
}

// readsBridge reports whether s reads an edge from another host: the
// frames of that edge are journaled on their producer's host, so s
// journals what it passes on as bytes, not as references to them.
func (t *Topology) readsBridge(s *Stage) bool {
	for _, in := range s.AllInputs() {
		if src := t.Lookup(in); src != nil && (src.bridge == bridgeSub || src.bridge == bridgeReplayed) {
			return true
		}
	}
	return false
}
