package wire

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/wire/*.want.ndjson from the current code")

// goldenMaxLine is the line limit for the golden inputs, small enough for
// bad.in.ndjson to hold a too-long line.
const goldenMaxLine = 256

// TestGolden reads each testdata/wire/NAME.in.ndjson with a Reader and
// compares the canonical encoding of what it yields, byte for byte, with
// NAME.want.ndjson. A line the Reader refuses is shown as the error frame a
// stage would make of it (writer "reader", stage "golden").
func TestGolden(t *testing.T) {
	ins, err := filepath.Glob("../testdata/wire/*.in.ndjson")
	if err != nil || len(ins) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".in.ndjson")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got := canonicalize(t, src, goldenMaxLine)
			want := strings.TrimSuffix(in, ".in.ndjson") + ".want.ndjson"
			if *update {
				if err := os.WriteFile(want, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			exp, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run go test ./wire -run TestGolden -update)", err)
			}
			if !bytes.Equal(got, exp) {
				t.Errorf("%s differs from %s:\n got:\n%s\nwant:\n%s", in, want, got, exp)
			}
			// The canonical encoding is a fixed point.
			if again := canonicalize(t, exp, 0); !bytes.Equal(again, exp) {
				t.Errorf("re-encoding %s changes it:\n%s", want, again)
			}
		})
	}
}

func canonicalize(t *testing.T, src []byte, maxLine int) []byte {
	r := NewReader(bytes.NewReader(src), maxLine)
	var out []byte
	var f Frame
	errSeq := uint64(0)
	for {
		err := r.Next(&f)
		var le *LineError
		switch {
		case err == nil:
			out = AppendFrame(out, &f)
		case errors.As(err, &le):
			errSeq++
			ef := Frame{Kind: KindError, Writer: "reader", Seq: errSeq,
				Err: &ErrorInfo{Kind: le.Kind, Msg: le.Msg, Stage: "golden", Line: le.Line, Raw: le.Raw}}
			out = AppendFrame(out, &ef)
		case err == io.EOF:
			return out
		default:
			t.Fatal(err)
		}
	}
}
