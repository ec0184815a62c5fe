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
		p.run(jqBenchPayload, func(v any) error { keep = truthy(v); return nil })
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
		p.run(jqBenchPayload, func(v any) error {
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
