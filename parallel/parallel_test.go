package parallel

import (
	"fmt"
	"hash/fnv"
	"testing"
)

// The key-to-replica rule is part of the output's order for keys of several
// fields, so a replay must deal as the recorded run did: it is pinned here.
func TestPartitionIsFixed(t *testing.T) {
	s := New(Config{Replicas: 4, By: "user"})
	s.reps = make([]*replica, 4)
	part := func(p string) int { return s.partition([]byte(p)) }
	for _, c := range []struct {
		a, b string
	}{
		{`{"user":"DE"}`, `{"user":"D\u0045"}`},              // one key, as jq compares
		{`{"user":1}`, `{"user":1.0}`},                       // one number
		{`{"x":1}`, `{"user":null}`},                         // absent is null
		{`[1,2]`, `{"user":null}`},                           // not an object: null
		{`{"user":{"b":1,"a":2}}`, `{"user":{"a":2,"b":1}}`}, // objects by content
	} {
		if part(c.a) != part(c.b) {
			t.Errorf("%s and %s go to replicas %d and %d, want one", c.a, c.b, part(c.a), part(c.b))
		}
	}
	// FNV-1a 64 of the canonical JSON ("u1" with its quotes), mod 4:
	// computed independently (0xacdf9a83e1f27de3 for "u1") and kept.
	if h := s.keyHash(s.x, []byte(`{"user":"u1"}`)); h != 0xacdf9a83e1f27de3 {
		t.Errorf(`hash of "u1" = %#x, want 0xacdf9a83e1f27de3`, h)
	}
	for i, want := range []int{3, 0, 1, 2, 3} {
		p := fmt.Sprintf(`{"user":"u%d"}`, i+1)
		if got := part(p); got != want {
			t.Errorf("%s: replica %d, want %d", p, got, want)
		}
	}
}

// BenchmarkPartition: the dealer's cost per event of finding its key's
// replica (extract the field, canonical JSON, FNV-1a).
func BenchmarkPartition(b *testing.B) {
	s := New(Config{Replicas: 2, By: "user"})
	s.reps = make([]*replica, 2)
	p := []byte(`{"id":1,"ts":"2026-01-01T00:00:03Z","user":"u7292","country":"AT","device":"android","amount":95.11,"tags":["us","mobile"],"msg":"Zürich low order user is to high served order for low timeout for"}`)
	b.ReportAllocs()
	for b.Loop() {
		s.partition(p)
	}
}

// TestFNV64a: the dealer's FNV-1a is hash/fnv's.
func TestFNV64a(t *testing.T) {
	for _, s := range []string{"", "null", `"u1"`, `{"a":2,"b":1}`, "Zürich"} {
		h := fnv.New64a()
		h.Write([]byte(s))
		if got, want := fnv64a([]byte(s)), h.Sum64(); got != want {
			t.Errorf("fnv64a(%q) = %#x, want %#x", s, got, want)
		}
	}
}
