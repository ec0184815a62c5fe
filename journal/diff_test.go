package journal

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/obz-dev/obz/wire"
)

func reader(t *testing.T, data []byte) *Reader {
	t.Helper()
	file := write(t, data, 4096, nil)
	r, err := NewReader(bytes.NewReader(file), int64(len(file)), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func stream(w string, payloads ...string) []byte {
	var b []byte
	for i, p := range payloads {
		b = wire.AppendFrame(b, &wire.Frame{Kind: wire.KindData, Writer: w, Seq: uint64(i + 1), Payload: []byte(p)})
	}
	return wire.AppendFrame(b, &wire.Frame{Kind: wire.KindEOF, Writer: w, Count: uint64(len(payloads))})
}

func TestCompare(t *testing.T) {
	a := stream("x", `{"id":1,"v":2}`, `{"id":2,"v":3,"k":"a"}`, `{"id":3}`)
	tests := []struct {
		name   string
		b      []byte
		same   bool
		what   string
		fields []string
	}{
		{"identical", a, true, "", nil},
		{"other writer name, spacing and key order", stream("y", `{"v":2,"id":1}`, `{"id":2, "v":3,"k":"a"}`, `{"id":3}`), true, "", nil},
		{"a changed field", stream("x", `{"id":1,"v":2}`, `{"id":2,"v":4,"k":"a"}`, `{"id":3}`), false, "payload", []string{"v: 3 vs 4"}},
		{"fields added and removed", stream("x", `{"id":1,"v":2}`, `{"id":2,"v":3,"n":null}`, `{"id":3}`), false, "payload", []string{"k: only in A", "n: only in B"}},
		{"shorter", stream("x", `{"id":1,"v":2}`, `{"id":2,"v":3,"k":"a"}`), false, "kind: data vs eof", nil},
		{"not objects", stream("x", `{"id":1,"v":2}`, `[1]`, `{"id":3}`), false, "payload", nil},
	}
	for _, tt := range tests {
		d, err := Compare(reader(t, a), reader(t, tt.b))
		if err != nil {
			t.Fatal(err)
		}
		if d.Same() != tt.same {
			t.Errorf("%s: Same() = %v", tt.name, d.Same())
			continue
		}
		if tt.same {
			continue
		}
		if got := strings.Join(d.First.What, "; "); got != tt.what {
			t.Errorf("%s: what = %q, want %q", tt.name, got, tt.what)
		}
		if d.First.Seq != 2 && d.First.Seq != 3 {
			t.Errorf("%s: first divergence at seq %d", tt.name, d.First.Seq)
		}
		if tt.fields != nil && !slices.Equal(d.First.Fields, tt.fields) {
			t.Errorf("%s: fields %q, want %q", tt.name, d.First.Fields, tt.fields)
		}
		var rep bytes.Buffer
		d.Report(&rep, "A", "B")
		if !strings.HasPrefix(rep.String(), "differ: first at position") {
			t.Errorf("%s: report %q", tt.name, rep.String())
		}
	}
}

func TestCompareUnordered(t *testing.T) {
	a := stream("x", `{"id":1}`, `{"id":2}`, `{"id":2}`)
	u, err := CompareUnordered(reader(t, a), reader(t, stream("x", `{"id":2}`, `{"id":1}`, `{"id":2}`)))
	if err != nil || !u.Same() {
		t.Fatalf("reordered: %+v %v", u, err)
	}
	u, _ = CompareUnordered(reader(t, a), reader(t, stream("x", `{"id":2}`, `{"id":1}`, `{"id":1}`)))
	if u.Same() || u.OnlyA != 1 || u.OnlyB != 1 {
		t.Fatalf("one replaced: %+v", u)
	}
}
