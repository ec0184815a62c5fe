package expr

import (
	"testing"

	"github.com/itchyny/gojq"
)

// A payload of obz gen's shape (~200 bytes).
var jqBenchPayload = []byte(`{"id":123456,"ts":"2026-01-01T00:00:02Z","user":"u4821","country":"DE","device":"ios","amount":72.34,"tags":["web","vip"],"msg":"user session started from cache after timeout"}`)

func benchProgram(b *testing.B, expr string) *Program {
	p, err := Compile(expr)
	if err != nil || p.fast == nil {
		b.Fatalf("%s: %v, fast %v", expr, err, p != nil && p.fast != nil)
	}
	return p
}

func BenchmarkFilterFast(b *testing.B) {
	p := benchProgram(b, ".amount > 50")
	b.ReportAllocs()
	b.SetBytes(int64(len(jqBenchPayload)))
	for b.Loop() {
		if keep, ok := p.fast.keep(jqBenchPayload); !keep || !ok {
			b.Fatal("not kept")
		}
	}
}

func BenchmarkFilterGojq(b *testing.B) {
	p := benchProgram(b, ".amount > 50")
	b.ReportAllocs()
	b.SetBytes(int64(len(jqBenchPayload)))
	for b.Loop() {
		keep := false
		p.run(jqBenchPayload, true, nil, func(v any) error { keep = truthy(v); return nil })
		if !keep {
			b.Fatal("not kept")
		}
	}
}

func BenchmarkMapFast(b *testing.B) {
	p := benchProgram(b, "{id, user, amount}")
	b.ReportAllocs()
	b.SetBytes(int64(len(jqBenchPayload)))
	var out []byte
	for b.Loop() {
		var n int
		var ok bool
		if out, n, ok = p.fast.appendOutput(out[:0], jqBenchPayload); n != 1 || !ok {
			b.Fatal("no output")
		}
	}
}

func BenchmarkMapGojq(b *testing.B) {
	p := benchProgram(b, "{id, user, amount}")
	b.ReportAllocs()
	b.SetBytes(int64(len(jqBenchPayload)))
	for b.Loop() {
		p.run(jqBenchPayload, true, nil, func(v any) error {
			_, err := marshalForBench(v)
			return err
		})
	}
}

func marshalForBench(v any) ([]byte, error) { return gojq.Marshal(v) }

// BenchmarkFastTest is BenchmarkFilterFast through the API filter calls.
func BenchmarkFastTest(b *testing.B) {
	p := benchProgram(b, ".amount > 50")
	b.ReportAllocs()
	b.SetBytes(int64(len(jqBenchPayload)))
	for b.Loop() {
		if keep, err := p.Test(jqBenchPayload, true); !keep || err != nil {
			b.Fatal("not kept", err)
		}
	}
}

// BenchmarkFastOutputs is BenchmarkMapFast through the API map calls.
func BenchmarkFastOutputs(b *testing.B) {
	p := benchProgram(b, "{id, user, amount}")
	n := 0
	emit := func(out []byte) error { n += len(out); return nil }
	b.ReportAllocs()
	b.SetBytes(int64(len(jqBenchPayload)))
	for b.Loop() {
		if err := p.Outputs(jqBenchPayload, true, emit); err != nil {
			b.Fatal(err)
		}
	}
	if n == 0 {
		b.Fatal("no output")
	}
}

// benchConstructs are the constructs of the extended subset, each on
// obz gen's event shape (scripts/bench-expr.sh times the same ones as
// whole stages against jq).
var benchConstructs = []struct{ name, expr string }{
	{"if", `if .amount > 50 then "high" else "low" end`},
	{"index-n", `.tags[0]`},
	{"slice", `.ts[:10]`},
	{"try", `try (.amount * 2)`},
	{"startswith", `.user | startswith("u1")`},
	{"ascii_downcase", `.country | ascii_downcase`},
	{"split", `.ts | split("T") | .[0]`},
	{"ltrimstr", `.user | ltrimstr("u")`},
	{"rtrimstr", `.ts | rtrimstr("Z")`},
	{"tostring", `.amount | tostring`},
	{"tonumber", `.user | ltrimstr("u") | tonumber`},
	{"type", `.amount | type`},
	{"length", `.msg | length`},
	{"keys", `keys`},
	{"to_entries", `to_entries | length`},
	{"map", `.tags | map(ascii_upcase)`},
	{"select-in-array", `[.tags[] | select(. != "trial")]`},
	{"any", `.tags | any(. == "vip")`},
	{"iterate", `.tags[]`},
	{"interpolation", `"\(.user) from \(.country)"`},
	{"alt-computed", `.coupon // (.country | ascii_downcase)`},
	{"array", `[.id, .user]`},
	{"index", `.tags | index("vip")`},
	{"floor", `.amount | floor`},
	{"assign", `.amount_eur = .amount * 0.92`},
	{"update", `.country |= ascii_downcase`},
	{"variable", `.amount as $a | {id, double: ($a * 2)}`},
	{"sort", `.tags | sort`},
	{"unique", `.tags | unique`},
	{"max", `.tags | max`},
	{"reverse", `.tags | reverse`},
	{"contains-string", `.msg | contains("timeout")`},
	{"contains-array", `.tags | contains(["vip"])`},
	{"IN", `.country | IN("DE", "FR")`},
	{"tojson", `.tags | @json`},
	{"with_entries", `with_entries(select(.value != null))`},
	{"limit", `limit(1; .tags[])`},
}

// BenchmarkConstruct runs each construct through map's API on the fast
// path and on gojq's, side by side.
func BenchmarkConstruct(b *testing.B) {
	for _, tc := range benchConstructs {
		p := benchProgram(b, tc.expr)
		emit := func([]byte) error { return nil }
		b.Run(tc.name+"/fast", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(jqBenchPayload)))
			for b.Loop() {
				if err := p.Outputs(jqBenchPayload, true, emit); err != nil {
					b.Fatal(err)
				}
			}
			if p.Stats().Gojq > 0 {
				b.Fatalf("%s: gojq ran %d events", tc.expr, p.Stats().Gojq)
			}
		})
		b.Run(tc.name+"/gojq", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(jqBenchPayload)))
			for b.Loop() {
				if err := p.run(jqBenchPayload, true, nil, func(v any) error { _, err := gojq.Marshal(v); return err }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLengthUnicode is map '.msg | length' on a message beyond ASCII
// (obz gen writes "Zürich" and "São Paulo" into some), past the 32 bytes
// a string conversion holds without allocating.
func BenchmarkLengthUnicode(b *testing.B) {
	p := benchProgram(b, `.msg | length`)
	payload := []byte(`{"id":1,"ts":"2026-01-01T00:00:03Z","user":"u7292","country":"AT","device":"android","amount":95.11,"tags":["us","mobile"],"msg":"Zürich low order user is to high served order for low timeout for"}`)
	emit := func([]byte) error { return nil }
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if err := p.Outputs(payload, true, emit); err != nil {
			b.Fatal(err)
		}
	}
	if p.Stats().Gojq > 0 {
		b.Fatal("gojq ran")
	}
}
