package expr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/obz-dev/obz/wire"
)

// lookupPath walks a decoded object the way the extractor does.
func lookupPath(v any, path Path) (any, bool) {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// unmarshalNumbers decodes keeping numbers as their text (1E1000 is valid
// JSON that does not fit a float64).
func unmarshalNumbers(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// checkExtract compares the extractor with encoding/json on one payload.
func checkExtract(t testing.TB, payload []byte, paths []Path) {
	var whole any
	if err := unmarshalNumbers(payload, &whole); err != nil {
		t.Fatalf("bad test payload %s: %v", payload, err)
	}
	_, isObj := whole.(map[string]any)
	x := NewExtractor(paths)
	vals := make([][]byte, len(paths))
	if ok := x.Extract(payload, vals); ok != isObj {
		t.Fatalf("extract(%s) ok = %v, want %v", payload, ok, isObj)
	}
	for i, p := range paths {
		want, found := lookupPath(whole, p)
		if !isObj {
			found = false
		}
		if (vals[i] != nil) != found {
			t.Fatalf("extract(%s) path %v: got %q, want found=%v", payload, p, vals[i], found)
		}
		if !found {
			continue
		}
		var got any
		if err := unmarshalNumbers(vals[i], &got); err != nil {
			t.Fatalf("extract(%s) path %v: raw %q does not decode: %v", payload, p, vals[i], err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("extract(%s) path %v: got %#v, want %#v", payload, p, got, want)
		}
	}
	// From the reader's index of the payload's members (a payload the
	// reader checked, trimmed as a frame's is): the same raw values.
	trimmed := bytes.TrimSpace(payload)
	idx, _, _ := wire.ValidIndex(trimmed, nil)
	ivals := make([][]byte, len(paths))
	if ok := x.ExtractMembers(trimmed, idx, ivals); ok != isObj {
		t.Fatalf("extract from the index (%s) ok = %v, want %v", payload, ok, isObj)
	}
	vals2 := make([][]byte, len(paths))
	x.Extract(trimmed, vals2)
	for i := range paths {
		if !bytes.Equal(ivals[i], vals2[i]) || (ivals[i] == nil) != (vals2[i] == nil) {
			t.Fatalf("extract from the index (%s) path %v: got %q, want %q", payload, paths[i], ivals[i], vals2[i])
		}
	}
}

func TestFieldExtract(t *testing.T) {
	paths := []Path{{"a"}, {"b"}, {"a", "x"}, {"c", "d", "e"}, {"é"}, {"q\"k"}, {""}}
	for _, p := range []string{
		`{}`, ` { } `, `{"a":1}`, `{"a" : "x" , "b":[1,{"a":2}]}`,
		`{"a":{"x":"y\"}"},"b":null}`, `{"c":{"d":{"e":[true]}}}`, `{"c":{"d":5}}`,
		`{"a":1,"a":2}`, `{"a":{"x":1},"a":{"y":2}}`, `{"\u00e9":"acute","q\"k":1,"":0}`,
		`{"b":"\\\\","a":"\\"}`, `[1,2]`, `"str"`, `12`, `{"a":-1.5e3,"b":false}`,
		"{\"a\":\n\t[ ]\r\n}",
	} {
		checkExtract(t, []byte(p), paths)
	}
}

// randJSON makes a random JSON value with strings that need escapes and
// nested containers, the cases a byte scanner gets wrong.
func randJSON(r *rand.Rand, depth int) string {
	strs := []string{`"a"`, `"b"`, `"x\"y"`, `"\\"`, `"\\\""`, `"}{]["`, `"é"`, `"\u00e9"`, `""`, `"a.b"`}
	switch k := r.IntN(8); {
	case k == 0 && depth < 3:
		n := r.IntN(4)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = randJSON(r, depth+1)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case k <= 2 && depth < 3:
		n := r.IntN(5)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = strs[r.IntN(len(strs))] + ":" + randJSON(r, depth+1)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case k == 3:
		return strs[r.IntN(len(strs))]
	case k == 4:
		return fmt.Sprint(r.IntN(2000) - 1000)
	case k == 5:
		return fmt.Sprintf("%g", r.NormFloat64()*1e3)
	}
	return []string{"true", "false", "null"}[r.IntN(3)]
}

func TestFieldExtractRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	paths := []Path{{"a"}, {"b"}, {"a", "b"}, {"x\"y"}, {"\\"}, {"é"}, {"a.b"}, {"b", "a", "b"}}
	for range 20000 {
		n := r.IntN(6)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = randJSON(r, 2) // keys drawn below
			keys := []string{`"a"`, `"b"`, `"x\"y"`, `"\\"`, `"\u00e9"`, `"a.b"`, `"c"`}
			parts[i] = keys[r.IntN(len(keys))] + ":" + randJSON(r, 0)
		}
		checkExtract(t, []byte("{"+strings.Join(parts, ",")+"}"), paths)
	}
}

// FuzzFieldExtract: for any JSON object (valid UTF-8), the raw value extracted for a
// field decodes to what json.Unmarshal gives for that field; on any input
// the extractor never panics.
func FuzzFieldExtract(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":{"c":"x"}}`), "b.c")
	f.Add([]byte(`{"a":"\\\"","a":[{"a":1}]}`), "a")
	f.Add([]byte(`{"k\u0041":true}`), "kA")
	f.Add([]byte(`{"a" : { "b" : [ "]" ] } }`), "a.b")
	f.Fuzz(func(t *testing.T, data []byte, path string) {
		paths := []Path{ParsePath(path), {"a"}}
		// Payloads reaching a stage are valid JSON and valid UTF-8 (the
		// reader sends anything else to the error lane).
		if !json.Valid(data) || !utf8.Valid(data) || !utf8.ValidString(path) {
			x := NewExtractor(paths)
			x.Extract(data, make([][]byte, len(paths)))
			MemberSpan(data, path)
			return
		}
		checkExtract(t, data, paths)
		var canon []byte
		canon = AppendCanonical(canon, data)
		if !json.Valid(canon) {
			t.Fatalf("AppendCanonical(%s) = %s, not JSON", data, canon)
		}
	})
}

func TestMemberSpan(t *testing.T) {
	p := []byte(`{"id":1, "rank" : 3,"x":"rank"}`)
	s, e, ok := MemberSpan(p, "rank")
	if !ok || string(p[s:e]) != `"rank" : 3` {
		t.Fatalf("MemberSpan = %q %v", p[s:e], ok)
	}
	if _, _, ok := MemberSpan(p, "nope"); ok {
		t.Fatal("found an absent key")
	}
}

func TestAppendCanonical(t *testing.T) {
	for in, want := range map[string]string{
		`"DE"`: `"DE"`, `"D\u0045"`: `"DE"`, `1`: `1`, `1.0`: `1`, `1e2`: `100`, `-0.50`: `-0.5`,
		`[1, 2]`: `[1,2]`, `{"a" : 1}`: `{"a":1}`, `null`: `null`, ``: `null`, `true`: `true`,
	} {
		if got := string(AppendCanonical(nil, []byte(in))); got != want {
			t.Errorf("AppendCanonical(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestAppendNumber(t *testing.T) {
	for f, want := range map[float64]string{0: "0", 12.5: "12.5", 3: "3", 1e21: "1e+21", 1e-7: "1e-7", -2.25: "-2.25"} {
		if got := string(AppendNumber(nil, f)); got != want {
			t.Errorf("AppendNumber(%v) = %s, want %s", f, got, want)
		}
	}
}

var benchPayload = []byte(`{"id":1,"ts":"2026-01-01T00:00:02Z","user":"u4821","country":"DE","device":"ios","amount":12.34,"tags":["web","vip"],"msg":"order shipped to warehouse \"Zürich\" after timeout queue depth is high"}`)

func BenchmarkFieldExtract(b *testing.B) {
	x := NewExtractor([]Path{{"country"}, {"amount"}})
	vals := make([][]byte, 2)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchPayload)))
	for b.Loop() {
		x.Extract(benchPayload, vals)
		if _, ok := NumberValue(vals[1]); !ok {
			b.Fatal("no amount")
		}
	}
}

func BenchmarkFieldExtractUnmarshal(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchPayload)))
	for b.Loop() {
		var m map[string]any
		json.Unmarshal(benchPayload, &m)
		_ = m["country"]
	}
}
