package wire

import (
	"bytes"
	"errors"
	"testing"
)

type countingWriter struct {
	bytes.Buffer
	writes int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes++
	return c.Buffer.Write(p)
}

func TestWriterBatches(t *testing.T) {
	var out countingWriter
	w := NewWriter(&out)
	f := Frame{Kind: KindData, Writer: "w", Payload: []byte(`{"a":1}`)}
	var want []byte
	for i := 1; i <= 3; i++ {
		f.Seq = uint64(i)
		want = AppendFrame(want, &f)
		if err := w.Write(&f); err != nil {
			t.Fatal(err)
		}
	}
	if out.writes != 0 {
		t.Fatalf("%d writes before Flush", out.writes)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil || out.writes != 1 {
		t.Fatalf("Flush: %v, %d writes", err, out.writes)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("got %s\nwant %s", out.Bytes(), want)
	}
	// A full batch goes out without Flush.
	f.Payload = bytes.Repeat([]byte("1"), 70<<10)
	if err := w.Write(&f); err != nil || out.writes != 2 {
		t.Errorf("Write of a big frame: %v, %d writes", err, out.writes)
	}
}

func TestWriterError(t *testing.T) {
	boom := errors.New("boom")
	w := NewWriter(failWriter{boom})
	if err := w.Write(&Frame{Kind: KindEOF, Writer: "w"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != boom {
		t.Errorf("Flush = %v, want boom", err)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }
