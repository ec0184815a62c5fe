package stages

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/obz-dev/obz/expr"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/runner/runnertest"
	"github.com/obz-dev/obz/wire"
)

// The conformance suite's join: a left join on an empty reference passes
// every event through unchanged.
func init() {
	if _, ok := conformance["join"]; !ok {
		conformance["join"] = confCase{flags: map[string]any{"ref": "testdata/join_ref_empty.ndjson", "on": "a", "left": true}}
	}
}

func joinRef(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ref.ndjson")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const joinCustomers = `{"customer":"c1","name":"Anna","tier":"gold","country":"DE"}
{"customer":"c2","name":"Jean","tier":"silver","country":"FR"}
{"customer":"c1","name":"Anna M.","tier":"gold","country":"DE"}
{"name":"nobody"}
`

const joinOrders = `{"id":1,"customer":"c1","country":"DE","amount":3}
{"id":2,"customer":"c9","amount":4}
{"id":3,"customer":"c\u0032"}
{"id":4}
`

func TestJoinInner(t *testing.T) {
	ref := joinRef(t, joinCustomers)
	out, stderr, err := stageRun(t, &joinSpec, map[string]any{"ref": ref, "on": "customer"}, joinOrders, runner.Raw)
	if err != nil {
		t.Fatal(err)
	}
	// The last c1 row wins; country collides and gets the prefix.
	wantLines(t, out,
		`{"id":1,"customer":"c1","country":"DE","amount":3,"name":"Anna M.","tier":"gold","ref_country":"DE"}`,
		`{"id":3,"customer":"c\u0032","name":"Jean","tier":"silver","country":"FR"}`)
	for _, s := range []string{"1 reference event(s) had no customer field", "2 stream event(s) had no match"} {
		if !strings.Contains(stderr, s) {
			t.Errorf("stderr %q lacks %q", stderr, s)
		}
	}
}

func TestJoinLeftFieldsPrefix(t *testing.T) {
	ref := joinRef(t, joinCustomers)
	out, _, err := stageRun(t, &joinSpec, map[string]any{"ref": ref, "on": "customer", "left": true,
		"ref-fields": []string{"tier,country"}, "prefix": "c_"}, joinOrders, runner.Raw)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out,
		`{"id":1,"customer":"c1","country":"DE","amount":3,"tier":"gold","c_country":"DE"}`,
		`{"id":2,"customer":"c9","amount":4}`,
		`{"id":3,"customer":"c\u0032","tier":"silver","country":"FR"}`,
		`{"id":4}`)
}

func TestJoinOtherKeyAndEmptyObject(t *testing.T) {
	ref := joinRef(t, `{"id":null,"v":1}`+"\n"+`{"id":2,"v":2,"w":{"x":[1]}}`+"\n")
	out, _, err := stageRun(t, &joinSpec, map[string]any{"ref": ref, "on": "k=id"},
		"{}\n{\"k\":2.0, \"v\":0 }\n", runner.Raw)
	if err != nil {
		t.Fatal(err)
	}
	// {} has no k: null, which matches the reference row whose id is null.
	wantLines(t, out, `{"v":1}`, `{"k":2.0, "v":0 ,"ref_v":2,"w":{"x":[1]}}`)
}

func TestJoinStrictMiss(t *testing.T) {
	ref := joinRef(t, joinCustomers)
	out, _, err := stageRun(t, &joinSpec, map[string]any{"ref": ref, "on": "customer", "strict": true}, joinOrders, runner.Framed)
	if err == nil || !strings.Contains(err.Error(), `no reference row for customer="c9"`) {
		t.Fatalf("err = %v, want a strict miss naming c9", err)
	}
	last := out[len(out)-1]
	if !strings.Contains(last, `"t":"eof"`) || !strings.Contains(last, `"kind":"poison"`) {
		t.Fatalf("last frame %s, want a poison EOF", last)
	}
}

func TestJoinNotObject(t *testing.T) {
	ref := joinRef(t, joinCustomers)
	out, _, err := stageRun(t, &joinSpec, map[string]any{"ref": ref, "on": "customer"}, "[1,2]\n", runner.Framed)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out[0], `"kind":"type"`) {
		t.Fatalf("got %s, want a type error event", out[0])
	}
}

func TestJoinMaxRef(t *testing.T) {
	ref := joinRef(t, joinCustomers)
	_, _, err := stageRun(t, &joinSpec, map[string]any{"ref": ref, "on": "customer", "max-ref": 2}, joinOrders, runner.Raw)
	if err == nil || !strings.Contains(err.Error(), "more than 2 events (--max-ref)") {
		t.Fatalf("err = %v", err)
	}
}

// A framed reference is checked like any edge: without its EOF it is
// broken, and the stage writes a truncated EOF without reading the stream.
func TestJoinBrokenReference(t *testing.T) {
	ref := joinRef(t, framedInput([]string{`{"customer":"c1","n":1}`}, -1))
	out, _, err := stageRun(t, &joinSpec, map[string]any{"ref": ref, "on": "customer"}, joinOrders, runner.Framed)
	var broken *runner.BrokenInputError
	if !errors.As(err, &broken) || !strings.Contains(err.Error(), "ended without EOF after 1 events") {
		t.Fatalf("err = %v, want a broken reference", err)
	}
	wantLines(t, out, `{"obz":1,"t":"eof","w":"join","n":0,"kind":"truncated"}`)
}

// A framed reference with its EOF, a malformed line and an error event:
// both go to the error lane, the rows join.
func TestJoinFramedReferenceErrors(t *testing.T) {
	in := framedInput([]string{`{"customer":"c1","n":1}`}, int(wire.Natural))
	in += string(wire.AppendFrame(nil, &wire.Frame{Kind: wire.KindError, Writer: "up2", Seq: 1, Payload: []byte(`{"x":1}`),
		Err: &wire.ErrorInfo{Kind: "expr", Msg: "boom", Stage: "up2"}}))
	in += string(wire.AppendFrame(nil, &wire.Frame{Kind: wire.KindEOF, Writer: "up2", Count: 1}))
	in += "not json\n"
	ref := joinRef(t, in)
	out, _, err := stageRun(t, &joinSpec, map[string]any{"ref": ref, "on": "customer"}, `{"customer":"c1"}`, runner.Framed)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(out, "\n")
	for _, s := range []string{`"kind":"expr","msg":"boom"`, `"kind":"frame","msg":"reference ` + ref + `: not a frame, in a framed stream`, `"d":{"customer":"c1","n":1}`} {
		if !strings.Contains(all, s) {
			t.Errorf("output lacks %s:\n%s", s, all)
		}
	}
}

// --ref-fd reads the reference from an inherited descriptor (obz flow).
func TestJoinRefFD(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		io.WriteString(w, framedInput([]string{`{"customer":"c1","n":1}`}, int(wire.Natural)))
		w.Close()
	}()
	defer r.Close()
	// The stage owns (and closes) the descriptor it is given: pass a dup.
	fd, err := syscall.Dup(int(r.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := stageRun(t, &joinSpec, map[string]any{"ref-fd": fd, "on": "customer"}, `{"customer":"c1"}`, runner.Raw)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, out, `{"customer":"c1","n":1}`)
}

func TestJoinUsage(t *testing.T) {
	for _, flags := range []map[string]any{
		{"on": "a"},
		{"ref": "x", "ref-fd": 3, "on": "a"},
		{"ref": "x"},
		{"ref": "x", "on": "a", "left": true, "strict": true},
		{"ref": "-", "on": "a"},
	} {
		if _, err := joinSpec.New(runnertest.Options{Spec: &joinSpec, Flags: flags}); err == nil {
			t.Errorf("flags %v: no usage error", flags)
		}
	}
}

// BenchmarkJoin joins generated events against a 10k-row reference.
func BenchmarkJoin(b *testing.B) {
	var ref strings.Builder
	for i := range 10000 {
		ref.WriteString(`{"user":"u` + itoa(i) + `","name":"User ` + itoa(i) + `","tier":"gold","since":2019}` + "\n")
	}
	p := filepath.Join(b.TempDir(), "ref.ndjson")
	os.WriteFile(p, []byte(ref.String()), 0o644)
	st, err := joinSpec.New(runnertest.Options{Spec: &joinSpec, Flags: map[string]any{"ref": p, "on": "user"}})
	if err != nil {
		b.Fatal(err)
	}
	j := st.(*join)
	em := runnertest.Emitter(io.Discard)
	if err := j.Prepare(b.Context(), em); err != nil {
		b.Fatal(err)
	}
	payload := []byte(`{"id":1,"ts":"2026-01-01T00:00:02Z","user":"u4821","country":"DE","device":"ios","amount":12.34,"tags":["web","vip"],"msg":"order shipped to warehouse \"Zürich\" after timeout queue depth is high"}`)
	ev := wire.Frame{Kind: wire.KindData, Payload: payload}
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if err := j.Event(&ev, em); err != nil {
			b.Fatal(err)
		}
	}
}

func itoa(i int) string { return string(expr.AppendNumber(nil, float64(i))) }

// TestJoinWorkersSameBytes: join with its stream events looked up by
// workers on goroutines (obz parallel -j N -- join), sharing one table,
// writes byte for byte what one join writes, in every mode, and --strict
// and --on-error fail stop at the same event.
func TestJoinWorkersSameBytes(t *testing.T) {
	var ref strings.Builder
	for i, k := range aggWorkersKeys {
		if k == "" {
			continue
		}
		// Every other key has a row; "country" collides with the stream's.
		if i%2 == 0 {
			fmt.Fprintf(&ref, `{"user":%s,"country":"R%d","seg":%d}`+"\n", k, i, i)
		}
	}
	refPath := joinRef(t, ref.String())
	in := aggWorkersInput(20000)
	for _, flags := range []map[string]any{
		{"on": "user"},
		{"on": "user", "left": true, "prefix": "r_"},
		{"on": "user", "left": true, "ref-fields": []string{"seg"}},
		{"on": "user", "strict": true},
	} {
		flags["ref"] = refPath
		for _, fail := range []bool{false, true} {
			name := fmt.Sprintf("%v fail=%v", flags, fail)
			build := func() runner.Stage { return runnertest.New(t, &joinSpec, nil, flags) }
			want := workersSameBytes(t, name, &joinSpec, build, in, fail, 1, 2, 3, 8)
			if len(want.Out) == 0 {
				t.Fatalf("%s: one stage wrote nothing (err %v)", name, want.Err)
			}
		}
	}
}
