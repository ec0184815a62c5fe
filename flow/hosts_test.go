package flow

import (
	"slices"
	"strings"
	"testing"
)

const twoHosts = `name = "orders"
flow = ["src |> big |> out", "src |> all", "j |> j_out"]

[stages.src]
run = "gen"
host = "a"

[stages.big]
run = "filter true"
host = "a"

[stages.out]
run = "write out.ndjson"
host = "b"

[stages.all]
run = "write all.ndjson"
host = "b"

[stages.ref]
run = "read ref.ndjson"
host = "b"

[stages.j]
run = "join --on id"
reference = "ref"
inputs = ["src"]
host = "a"

[stages.j_out]
run = "write j.ndjson"
host = "a"
`

// TestPart: a host's part holds its stages and a bridge per edge that
// crosses hosts, wired where the edge was; a stage that reads a bridge
// journals bytes, not references to a journal the host does not have.
func TestPart(t *testing.T) {
	topo, err := Parse("t.toml", []byte(twoHosts), testCommands)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(topo.Hosts, []string{"a", "b"}) {
		t.Errorf("hosts: %v", topo.Hosts)
	}
	a, err := topo.Part("a", "r1", map[string]string{"NATS_URL": "nats://x:1"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range a.Stages {
		names = append(names, s.Name)
	}
	want := []string{"src", "big", "j", "j_out", "nats.big.out", "nats.src.all", "nats.ref.j"}
	if !slices.Equal(names, want) {
		t.Fatalf("host a's stages: %v, want %v", names, want)
	}
	pub, sub := a.Lookup("nats.big.out"), a.Lookup("nats.ref.j")
	if got := strings.Join(pub.Argv, " "); got != "nats pub obz.orders.r1.big.out" || pub.Bridge() != "pub" || !slices.Equal(pub.Inputs, []string{"big"}) {
		t.Errorf("publishing bridge: %q %s inputs %v", got, pub.Bridge(), pub.Inputs)
	}
	if got := strings.Join(sub.Argv, " "); got != "nats sub obz.orders.r1.ref.j --durable obz_j --delete-stream" || pub.Env["NATS_URL"] != "nats://x:1" {
		t.Errorf("reading bridge: %q, env %v", got, sub.Env)
	}
	j := a.Lookup("j")
	if j.Reference != "nats.ref.j" || !slices.Equal(j.Inputs, []string{"src"}) || !slices.Equal(sub.Outputs, []string{"j"}) {
		t.Errorf("j reads reference %q, inputs %v; the bridge feeds %v", j.Reference, j.Inputs, sub.Outputs)
	}
	if got := slices.Sorted(slices.Values(a.Lookup("src").Outputs)); !slices.Equal(got, []string{"big", "j", "nats.src.all"}) {
		t.Errorf("src feeds %v", got)
	}
	if topo.Lookup("j").Reference != "ref" || len(topo.Lookup("src").Outputs) != 3 {
		t.Error("Part changed the topology")
	}
	edges := edgeArgs(a.Order())
	if argv := a.commandLine(j, edges["j"], "journals/j.zst", false); slices.Contains(argv, flagJournalRefs) {
		t.Errorf("j reads a bridge but journals references: %v", argv)
	}
	if argv := a.commandLine(a.Lookup("j_out"), edges["j_out"], "journals/j_out.zst", false); !slices.Contains(argv, flagJournalRefs) {
		t.Errorf("j_out reads j, on its host: %v", argv)
	}
	if argv := a.commandLine(pub, edges[pub.Name], "", false); !slices.Equal(argv, []string{"nats", "pub", "obz.orders.r1.big.out", flagInFD, "3", flagStatusFD, "4"}) {
		t.Errorf("the publishing bridge runs %v", argv)
	}

	if _, err := topo.Part("c", "r1", nil); err == nil || !strings.Contains(err.Error(), `has no host "c"`) {
		t.Errorf("a host the flow does not have: %v", err)
	}
	if _, err := topo.Part("a", "r.1", nil); err == nil || !strings.Contains(err.Error(), `run id "r.1"`) {
		t.Errorf("a run id with a dot: %v", err)
	}
}

// TestNoHosts: a flow that places no stage has no hosts, and no part.
func TestNoHosts(t *testing.T) {
	topo, err := Parse("t.toml", []byte("flow = \"a |> b\"\n[stages.a]\nrun = \"gen\"\n[stages.b]\nrun = \"write x\"\n"), testCommands)
	if err != nil {
		t.Fatal(err)
	}
	if len(topo.Hosts) != 0 {
		t.Errorf("hosts: %v", topo.Hosts)
	}
	if _, err := topo.Part("a", "r1", nil); err == nil || !strings.Contains(err.Error(), "places no stage on a host") {
		t.Errorf("Part of a flow without hosts: %v", err)
	}
}

// TestPartReferenceAndInput: a stage whose reference and input come from
// the same producer on another host reads them over two subjects, through
// two bridges, each wired where its edge was.
func TestPartReferenceAndInput(t *testing.T) {
	topo, err := Parse("t.toml", []byte(`name = "self"
flow = "src |> j |> out"

[stages.src]
run = "gen"
host = "a"

[stages.j]
run = "join --on id"
reference = "src"
host = "b"

[stages.out]
run = "write out.ndjson"
host = "b"
`), testCommands)
	if err != nil {
		t.Fatal(err)
	}
	a, err := topo.Part("a", "r1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(slices.Values(a.Lookup("src").Outputs)); !slices.Equal(got, []string{"nats.src.j", "nats.src.j.ref"}) {
		t.Errorf("src feeds %v", got)
	}
	if got := strings.Join(a.Lookup("nats.src.j.ref").Argv, " "); got != "nats pub obz.self.r1.src.j.ref" {
		t.Errorf("the reference's publishing bridge runs %q", got)
	}
	b, err := topo.Part("b", "r1", nil)
	if err != nil {
		t.Fatal(err)
	}
	j := b.Lookup("j")
	if j.Reference != "nats.src.j.ref" || !slices.Equal(j.Inputs, []string{"nats.src.j"}) {
		t.Errorf("j reads reference %q, inputs %v", j.Reference, j.Inputs)
	}
	in, ref := b.Lookup("nats.src.j"), b.Lookup("nats.src.j.ref")
	if got := strings.Join(in.Argv, " "); got != "nats sub obz.self.r1.src.j --durable obz_j --delete-stream" {
		t.Errorf("the input's reading bridge runs %q", got)
	}
	if got := strings.Join(ref.Argv, " "); got != "nats sub obz.self.r1.src.j.ref --durable obz_j_ref --delete-stream" {
		t.Errorf("the reference's reading bridge runs %q", got)
	}
}

// TestPartNATSTable: the [nats] table's timeouts become the bridges'
// flags (heartbeat the publishers', the others the readers'); bad values
// and unknown keys are refused, naming them.
func TestPartNATSTable(t *testing.T) {
	topo, err := Parse("t.toml", []byte(twoHosts+"\n[nats]\nidle_timeout = \"1m\"\nstart_timeout = \"10m\"\nheartbeat = \"500ms\"\n"), testCommands)
	if err != nil {
		t.Fatal(err)
	}
	a, err := topo.Part("a", "r1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(a.Lookup("nats.big.out").Argv, " "); got != "nats pub obz.orders.r1.big.out --heartbeat 500ms" {
		t.Errorf("publishing bridge: %q", got)
	}
	if got := strings.Join(a.Lookup("nats.ref.j").Argv, " "); got != "nats sub obz.orders.r1.ref.j --durable obz_j --delete-stream --idle-timeout 1m0s --start-timeout 10m0s" {
		t.Errorf("reading bridge: %q", got)
	}
	for _, tc := range []struct{ table, want string }{
		{"idle_timeout = 30", `nats: idle_timeout must be a duration in quotes, such as "30s" or "5m" ("0s": without limit), not 30`},
		{`resume_timeout = "-1s"`, `not "-1s"`},
		{`idle_timout = "1s"`, `unknown key "nats.idle_timout" (did you mean "idle_timeout"?)`},
	} {
		_, err := Parse("t.toml", []byte(twoHosts+"\n[nats]\n"+tc.table+"\n"), testCommands)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("[nats] %s: %v, want an error with %q", tc.table, err, tc.want)
		}
	}
}
