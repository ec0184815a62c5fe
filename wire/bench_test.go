package wire

import (
	"bytes"
	"io"
	"strconv"
	"testing"
)

// benchPayload is a typical event, about 120 bytes.
const benchPayload = `{"id":123,"ts":"2026-01-01T00:00:00Z","user":"u123","country":"DE","device":"ios","amount":51.25,"tags":["a","b"]}`

var benchLine = []byte(`{"obz":1,"t":"data","w":"filter","s":123456,"p":["read",123456],"d":` + benchPayload + `}`)

// BenchmarkDecode decodes a typical data frame with a Decoder, as a Reader
// or a journal reader does.
func BenchmarkDecode(b *testing.B) {
	var f Frame
	var d Decoder
	b.ReportAllocs()
	b.SetBytes(int64(len(benchLine) + 1))
	for b.Loop() {
		if err := d.Decode(benchLine, &f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeFunc is the package function: it allocates the names.
func BenchmarkDecodeFunc(b *testing.B) {
	var f Frame
	b.ReportAllocs()
	b.SetBytes(int64(len(benchLine) + 1))
	for b.Loop() {
		if err := Decode(benchLine, &f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendFrame(b *testing.B) {
	f := Frame{Kind: KindData, Writer: "filter", Seq: 123456, Parent: Ref{"read", 123456}, Payload: []byte(benchPayload)}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(AppendFrame(nil, &f))))
	for b.Loop() {
		buf = AppendFrame(buf[:0], &f)
	}
}

// benchStream returns n lines: frames of a filter stage, or bare payloads.
func benchStream(n int, framed bool) []byte {
	var buf []byte
	f := Frame{Kind: KindData, Writer: "filter", Payload: []byte(benchPayload)}
	for i := 1; i <= n; i++ {
		if framed {
			f.Seq, f.Parent = uint64(i), Ref{"read", uint64(2 * i)}
			buf = AppendFrame(buf, &f)
		} else {
			buf = append(buf, `{"id":`...)
			buf = strconv.AppendInt(buf, int64(i), 10)
			buf = append(buf, benchPayload[len(`{"id":123`):]...)
			buf = append(buf, '\n')
		}
	}
	return buf
}

func benchReader(b *testing.B, framed bool) {
	const lines = 10000
	data := benchStream(lines, framed)
	src := bytes.NewReader(data)
	r := NewReader(src, 0)
	var f Frame
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		src.Reset(data)
		r.Reset(src)
		n := 0
		for {
			err := r.Next(&f)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != lines {
			b.Fatalf("read %d lines", n)
		}
	}
}

// BenchmarkReaderFramed reads 10k frames per op.
func BenchmarkReaderFramed(b *testing.B) { benchReader(b, true) }

// BenchmarkReaderBare reads 10k bare lines per op; each is checked to be
// valid UTF-8 and valid JSON.
func BenchmarkReaderBare(b *testing.B) { benchReader(b, false) }

func BenchmarkWriter(b *testing.B) {
	f := Frame{Kind: KindData, Writer: "filter", Seq: 1, Parent: Ref{"read", 1}, Payload: []byte(benchPayload)}
	w := NewWriter(io.Discard)
	b.ReportAllocs()
	b.SetBytes(int64(len(AppendFrame(nil, &f))))
	for b.Loop() {
		if err := w.Write(&f); err != nil {
			b.Fatal(err)
		}
	}
}
