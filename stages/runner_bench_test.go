package stages

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"testing"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/runner/runnertest"
	"github.com/obz-dev/obz/wire"
)

// Whole-stage benchmarks: Run over 20k events of obz gen's shape, read from
// memory and written to io.Discard, so that a -cpuprofile shows the reader,
// the hand-off, the stage and the output together (the per-process cost
// scripts/bench.sh measures, without the pipes).

const runBenchEvents = 20000

// runBenchInput returns runBenchEvents lines of obz gen's shape, bare or as
// the frames of a "read" stage.
func runBenchInput(framed bool) []byte {
	var buf []byte
	f := wire.Frame{Kind: wire.KindData, Writer: "read"}
	var p []byte
	for i := 1; i <= runBenchEvents; i++ {
		p = append(p[:0], `{"id":`...)
		p = strconv.AppendInt(p, int64(i), 10)
		p = append(p, `,"ts":"2026-01-01T00:00:02Z","user":"u4821","country":"DE","device":"ios","amount":`...)
		p = strconv.AppendFloat(p, float64(i%10000)/100, 'f', 2, 64)
		p = append(p, `,"tags":["web","vip"],"msg":"user session started from cache after timeout"}`...)
		if framed {
			f.Seq, f.Payload = uint64(i), p
			buf = wire.AppendFrame(buf, &f)
		} else {
			buf = append(append(buf, p...), '\n')
		}
	}
	if framed {
		f = wire.Frame{Kind: wire.KindEOF, Writer: "read", Count: runBenchEvents}
		buf = wire.AppendFrame(buf, &f)
	}
	return buf
}

func benchRun(b *testing.B, spec *runner.Spec, args []string, flags map[string]any, framed bool, mode runner.OutputMode) {
	in := runBenchInput(framed)
	src := bytes.NewReader(in)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		src.Reset(in)
		st := runnertest.New(b, spec, args, flags)
		env := &runner.Env{Stdin: src, Stdout: io.Discard, Stderr: io.Discard, Output: mode}
		if err := runner.Run(context.Background(), spec, st, env); err != nil {
			b.Fatal(err)
		}
	}
}

var headAll = map[string]any{"lines": 1 << 30}

func BenchmarkRunHeadFramed(b *testing.B) { benchRun(b, &headSpec, nil, headAll, true, runner.Framed) }
func BenchmarkRunHeadBare(b *testing.B)   { benchRun(b, &headSpec, nil, headAll, false, runner.Framed) }
func BenchmarkRunFilterFramed(b *testing.B) {
	benchRun(b, &filterSpec, []string{".amount > 50"}, nil, true, runner.Framed)
}
func BenchmarkRunFilterBareRaw(b *testing.B) {
	benchRun(b, &filterSpec, []string{".amount > 50"}, nil, false, runner.Raw)
}
func BenchmarkRunMapFramed(b *testing.B) {
	benchRun(b, &mapSpec, []string{"{id, user, amount}"}, nil, true, runner.Framed)
}
func BenchmarkRunMapBareRaw(b *testing.B) {
	benchRun(b, &mapSpec, []string{"{id, user, amount}"}, nil, false, runner.Raw)
}
