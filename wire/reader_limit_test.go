package wire

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
)

// TestReaderLimitIsOnPayloads: --max-line limits payloads. A frame whose
// payload fits passes whatever its envelope adds; a frame whose payload does
// not, or whose line is over the limit plus FrameSlack, becomes an error
// frame of its own writer and seq, so that the edge's contract holds; a bare
// line over the limit is a too-long line as before.
func TestReaderLimitIsOnPayloads(t *testing.T) {
	const max = 100
	payload := func(n int) string { return `"` + strings.Repeat("x", n-2) + `"` } // a JSON string of n bytes
	frame := func(seq uint64, d string) string {
		return string(AppendFrame(nil, &Frame{Kind: KindData, Writer: "read", Seq: seq, Parent: Ref{Writer: "src", Seq: seq}, Payload: []byte(d)}))
	}
	in := frame(1, payload(max)) + // fits: its line is over max
		frame(2, payload(max+1)) + // payload over the limit
		frame(3, payload(max+FrameSlack)) + // line over the limit for a frame
		payload(max+1) + "\n" + // a bare line over the limit
		frame(4, `{"a":1}`)
	for _, ch := range chunkings {
		t.Run(ch.name, func(t *testing.T) {
			r := NewReader(ch.wrap(strings.NewReader(in)), max)
			r.Stage = "filter"
			var f Frame
			next := func() {
				t.Helper()
				if err := r.Next(&f); err != nil {
					t.Fatalf("Next: %v", err)
				}
			}
			next()
			if f.Kind != KindData || f.Seq != 1 || string(f.Payload) != payload(max) {
				t.Fatalf("a payload of the limit: %v seq %d %.20s", f.Kind, f.Seq, f.Payload)
			}
			next()
			if f.Kind != KindError || f.Writer != "read" || f.Seq != 2 || f.Err.Kind != "too-long" || f.Payload != nil ||
				f.Err.Msg != "a payload of 101 bytes from read (seq 2) exceeds the limit of 100 bytes (raise it with --max-line)" ||
				string(f.Err.Raw) != payload(max+1) || f.Err.Stage != "filter" || f.Err.Line != 2 {
				t.Fatalf("a payload over the limit: %v %s seq %d: %+v", f.Kind, f.Writer, f.Seq, *f.Err)
			}
			next()
			want := "frame of " + strconv.Itoa(len(frame(3, payload(max+FrameSlack)))-1) + " bytes from read (seq 3) exceeds the limit of 65636 bytes for a frame (--max-line 100 for its payload plus 65536 for the rest; raise it with --max-line)"
			if f.Kind != KindError || f.Writer != "read" || f.Seq != 3 || f.Parent != (Ref{Writer: "src", Seq: 3}) || f.Err.Kind != "too-long" ||
				f.Err.Msg != want || f.Err.Line != 3 || len(f.Err.Raw) > rawPrefixLimit || !strings.HasPrefix(frame(3, payload(max+FrameSlack)), string(f.Err.Raw)) {
				t.Fatalf("a frame over the limit: %v %s seq %d parent %v: %s (raw %d bytes)", f.Kind, f.Writer, f.Seq, f.Parent, f.Err.Msg, len(f.Err.Raw))
			}
			var le *LineError
			if err := r.Next(&f); !errors.As(err, &le) || le.Kind != "too-long" || le.Size != max+1 || le.Line != 4 {
				t.Fatalf("a bare line over the limit: %v", err)
			}
			next()
			if f.Kind != KindData || f.Seq != 4 || string(f.Payload) != `{"a":1}` {
				t.Fatalf("after them: %v seq %d %s", f.Kind, f.Seq, f.Payload)
			}
			if err := r.Next(&f); err != io.EOF {
				t.Fatalf("end: %v", err)
			}
		})
	}
}

// TestDecodeHead: the head of a frame, from a line cut anywhere after it.
func TestDecodeHead(t *testing.T) {
	line := AppendFrame(nil, &Frame{Kind: KindError, Writer: "m\"ap", Seq: 7, Parent: Ref{Writer: "read", Seq: 9},
		Err: &ErrorInfo{Kind: "expr", Msg: "boom"}, Payload: []byte(`{"a":1}`)})
	var f Frame
	for n := len(line); n > 0; n-- {
		ok := decodeHead(line[:n], &f)
		full := strings.Contains(string(line[:n]), `,"s":7,`)
		if full && (!ok || f.Kind != KindError || f.Writer != "m\"ap" || f.Seq != 7) {
			t.Fatalf("cut at %d: %v %+v", n, ok, f)
		}
		if !strings.Contains(string(line[:n]), `,"s":7`) && ok {
			t.Fatalf("cut at %d, before the seq: head %+v", n, f)
		}
	}
	for _, s := range []string{`{"obz":1,"t":"eof","w":"a","n":1,"kind":"natural"}`, `{"a":1}`, `{"obz":1,"t":"data","s":1,"d":1}`} {
		if decodeHead([]byte(s), &f) {
			t.Errorf("%s: a head of a data or error frame: %+v", s, f)
		}
	}
}
