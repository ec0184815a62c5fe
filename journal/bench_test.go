package journal

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/obz-dev/obz/wire"
)

// orderFrames makes n data frames with order-like payloads (like obz gen's),
// about 250 bytes each.
func orderFrames(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	countries := []string{"DE", "FR", "US", "GB", "NL", "ES", "IT", "JP"}
	devices := []string{"ios", "android", "web"}
	var b []byte
	for i := 1; i <= n; i++ {
		p := fmt.Sprintf(`{"id":%d,"ts":"2026-01-01T%02d:%02d:%02dZ","user":"u%d","country":%q,"device":%q,"amount":%d.%02d,"tags":["web"],"msg":"order %x placed"}`,
			i, i/3600%24, i/60%60, i%60, rng.IntN(10000), countries[rng.IntN(len(countries))], devices[rng.IntN(3)], rng.IntN(100), rng.IntN(100), rng.Uint64())
		b = wire.AppendFrame(b, &wire.Frame{Kind: wire.KindData, Writer: "orders", Seq: uint64(i), Parent: wire.Ref{Writer: "src", Seq: uint64(i)}, Payload: []byte(p)})
	}
	return wire.AppendFrame(b, &wire.Frame{Kind: wire.KindEOF, Writer: "orders", Count: uint64(n)})
}

// BenchmarkWrite journals 64 KiB writes, as the stage runner does, through
// Close, with each codec: the writer's throughput and the ratio.
func BenchmarkWrite(b *testing.B) {
	for _, codec := range []Codec{CodecZstd, CodecS2} {
		b.Run(codec.String(), func(b *testing.B) { benchWrite(b, codec) })
	}
}

func benchWrite(b *testing.B, codec Codec) {
	data := orderFrames(100000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var size int
	for b.Loop() {
		var out bytes.Buffer
		w, _ := NewWriter(&out, &WriterOptions{Codec: codec})
		for p := data; len(p) > 0; {
			n := min(64<<10, len(p))
			n = bytes.LastIndexByte(p[:n], '\n') + 1
			w.Write(p[:n])
			p = p[n:]
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		size = out.Len()
	}
	b.ReportMetric(float64(len(data))/float64(size), "ratio")
}

// BenchmarkRead decodes every frame of a journal.
func BenchmarkRead(b *testing.B) {
	data := orderFrames(100000)
	file := write(b, data, 64<<10, nil)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r, _ := NewReader(bytes.NewReader(file), int64(len(file)), nil)
		var f wire.Frame
		for {
			err := r.Next(&f)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		r.Close()
	}
}
