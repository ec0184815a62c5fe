package expr

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// plainStringRef is jqPlainString a byte at a time, as it was.
func plainStringRef(raw []byte) bool {
	high := false
	for _, c := range raw[1 : len(raw)-1] {
		if c < 0x20 || c == '\\' || c == 0x7f {
			return false
		}
		if c >= utf8.RuneSelf {
			high = true
		}
	}
	return !high || utf8.Valid(raw)
}

// Every byte value at every position of strings of 0 to 24 bytes, in a
// run of plain ASCII, and pairs of bytes around word boundaries: the
// word-at-a-time check agrees with the byte-at-a-time one.
func TestJQPlainStringWords(t *testing.T) {
	check := func(s []byte) {
		raw := append(append([]byte{'"'}, s...), '"')
		if got, want := jqPlainString(raw), plainStringRef(raw); got != want {
			t.Fatalf("jqPlainString(%q) = %v, want %v", raw, got, want)
		}
	}
	for n := 0; n <= 24; n++ {
		base := []byte(strings.Repeat("a~ !0Z", 5)[:n])
		check(base)
		for i := 0; i < n; i++ {
			for c := 0; c < 256; c++ {
				s := append([]byte(nil), base...)
				s[i] = byte(c)
				check(s)
			}
		}
	}
	for _, a := range []byte{0x00, 0x1f, 0x20, '\\', 0x7e, 0x7f, 0x80, 0xc3, 0xff} {
		for _, b := range []byte{0x00, 0x1f, 0x20, '\\', 0x7e, 0x7f, 0x80, 0xa9, 0xff} {
			for i := 0; i+1 < 20; i++ {
				s := []byte(strings.Repeat("x", 20))
				s[i], s[i+1] = a, b
				check(s)
			}
		}
	}
}

// sortMembers orders keys as a stable sort by strings.Compare does, on
// keys that share their first eight bytes or differ after them, that
// hold NUL bytes (a short key's prefix is padded with zeros), that are
// repeated (the input order of equal keys is kept), and past 32 members.
func TestSortMembers(t *testing.T) {
	keys := []string{"", "a", "a\x00", "a\x00\x00", "ab", "abcdefgh", "abcdefgh", "abcdefghi", "abcdefgh\x00", "abcdefgz",
		"b", "ba", "\xff", "\x7f", "zzzzzzzzzzzz", "zzzzzzzzzzzy", "id", "ts", "user", "country", "amount", "tags", "msg"}
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 60; n++ {
		for round := 0; round < 50; round++ {
			ms := make([]fastMember, n)
			for i := range ms {
				ms[i] = fastMember{key: keys[rng.IntN(len(keys))], val: []byte(strconv.Itoa(i))}
			}
			want := slices.Clone(ms)
			slices.SortStableFunc(want, func(a, b fastMember) int { return strings.Compare(a.key, b.key) })
			sortMembers(ms)
			for i := range ms {
				if ms[i].key != want[i].key || string(ms[i].val) != string(want[i].val) {
					t.Fatalf("%d members: at %d got %q (input %s), want %q (input %s)", n, i, ms[i].key, ms[i].val, want[i].key, want[i].val)
				}
			}
		}
	}
}
