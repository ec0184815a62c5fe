package wire

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// equalFrames compares frames field by field; nil and empty byte slices are
// equal (the encoding cannot tell them apart).
func equalFrames(a, b *Frame) bool {
	if a.Kind != b.Kind || a.Writer != b.Writer || a.Seq != b.Seq || a.Parent != b.Parent ||
		!bytes.Equal(a.Payload, b.Payload) || a.Count != b.Count || a.EOF != b.EOF ||
		a.Time != b.Time || a.Of != b.Of || a.Status != b.Status || a.Bare != b.Bare || a.Line != b.Line {
		return false
	}
	if !slices.Equal(a.Runs, b.Runs) {
		return false
	}
	if (a.Err == nil) != (b.Err == nil) {
		return false
	}
	if a.Err != nil {
		x, y := a.Err, b.Err
		return x.Kind == y.Kind && x.Msg == y.Msg && x.Stage == y.Stage && x.Line == y.Line && bytes.Equal(x.Raw, y.Raw)
	}
	return true
}

func frameString(f *Frame) string {
	s := fmt.Sprintf("%+v", *f)
	if f.Err != nil {
		s += fmt.Sprintf(" err=%+v raw=%q", *f.Err, f.Err.Raw)
	}
	return s + fmt.Sprintf(" payload=%q", f.Payload)
}

// canonical lists every frame kind with its exact canonical encoding.
var canonical = []struct {
	name  string
	line  string
	frame Frame
}{
	{"data", `{"obz":1,"t":"data","w":"read","s":1,"d":{"a":1}}`,
		Frame{Kind: KindData, Writer: "read", Seq: 1, Payload: []byte(`{"a":1}`)}},
	{"data with parent", `{"obz":1,"t":"data","w":"filter","s":2,"p":["read",7],"d":{"a":1}}`,
		Frame{Kind: KindData, Writer: "filter", Seq: 2, Parent: Ref{"read", 7}, Payload: []byte(`{"a":1}`)}},
	{"data scalar payload", `{"obz":1,"t":"data","w":"map","s":18446744073709551615,"p":["-",3],"d":"x"}`,
		Frame{Kind: KindData, Writer: "map", Seq: 1<<64 - 1, Parent: Ref{"-", 3}, Payload: []byte(`"x"`)}},
	{"data escaped writer", `{"obz":1,"t":"data","w":"a\"b\\c\n\u0001é","s":1,"d":null}`,
		Frame{Kind: KindData, Writer: "a\"b\\c\n\x01é", Seq: 1, Payload: []byte(`null`)}},
	{"error with payload", `{"obz":1,"t":"error","w":"map","s":3,"p":["read",9],"err":{"kind":"expr","msg":"division by zero","stage":"map"},"d":{"x":0}}`,
		Frame{Kind: KindError, Writer: "map", Seq: 3, Parent: Ref{"read", 9}, Payload: []byte(`{"x":0}`),
			Err: &ErrorInfo{Kind: "expr", Msg: "division by zero", Stage: "map"}}},
	{"error with raw text", `{"obz":1,"t":"error","w":"filter","s":4,"err":{"kind":"parse","msg":"invalid JSON","stage":"filter","line":12},"raw":"{bad \"json\""}`,
		Frame{Kind: KindError, Writer: "filter", Seq: 4,
			Err: &ErrorInfo{Kind: "parse", Msg: "invalid JSON", Stage: "filter", Line: 12, Raw: []byte(`{bad "json"`)}}},
	{"error with raw and payload", `{"obz":1,"t":"error","w":"f","s":5,"err":{"kind":"x","msg":"","stage":""},"raw":"r","d":1}`,
		Frame{Kind: KindError, Writer: "f", Seq: 5, Payload: []byte(`1`), Err: &ErrorInfo{Kind: "x", Raw: []byte("r")}}},
	{"eof natural", `{"obz":1,"t":"eof","w":"read","n":10,"kind":"natural"}`,
		Frame{Kind: KindEOF, Writer: "read", Count: 10, EOF: Natural}},
	{"eof stopped", `{"obz":1,"t":"eof","w":"read","n":0,"kind":"stopped"}`,
		Frame{Kind: KindEOF, Writer: "read", Count: 0, EOF: Stopped}},
	{"eof truncated", `{"obz":1,"t":"eof","w":"join","n":3,"kind":"truncated"}`,
		Frame{Kind: KindEOF, Writer: "join", Count: 3, EOF: Truncated}},
	{"eof poison", `{"obz":1,"t":"eof","w":"join","n":4,"kind":"poison"}`,
		Frame{Kind: KindEOF, Writer: "join", Count: 4, EOF: Poison}},
	{"watermark", `{"obz":1,"t":"wm","w":"read","at":1767225600.25}`,
		Frame{Kind: KindWatermark, Writer: "read", Time: 1767225600.25}},
	{"watermark big", `{"obz":1,"t":"wm","w":"read","at":100000000000000000000}`,
		Frame{Kind: KindWatermark, Writer: "read", Time: 1e20}},
	{"receipt", `{"obz":1,"t":"receipt","w":"write","of":["map",3],"status":"ok"}`,
		Frame{Kind: KindReceipt, Writer: "write", Of: Ref{"map", 3}, Status: "ok"}},
	{"order", `{"obz":1,"t":"order","w":"merged","runs":[["big",120],["small",3],["big",40]]}`,
		Frame{Kind: KindOrder, Writer: "merged", Runs: []Run{{Writer: "big", N: 120}, {Writer: "small", N: 3}, {Writer: "big", N: 40}}}},
	{"order empty", `{"obz":1,"t":"order","w":"merged","runs":[]}`,
		Frame{Kind: KindOrder, Writer: "merged", Runs: []Run{}}},
}

func TestCanonical(t *testing.T) {
	for _, tc := range canonical {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendFrame(nil, &tc.frame)
			if string(got) != tc.line+"\n" {
				t.Errorf("AppendFrame:\n got %s\nwant %s", got, tc.line)
			}
			var f Frame
			if err := Decode([]byte(tc.line), &f); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !equalFrames(&f, &tc.frame) {
				t.Errorf("Decode:\n got %s\nwant %s", frameString(&f), frameString(&tc.frame))
			}
		})
	}
}

// TestDecodeVariants decodes non-canonical spellings: keys in any order,
// whitespace, unknown keys, fields of other frame types.
func TestDecodeVariants(t *testing.T) {
	data := Frame{Kind: KindData, Writer: "w", Seq: 2, Parent: Ref{"up", 1}, Payload: []byte(`{"a":[1,2]}`)}
	tests := []struct {
		name string
		line string
		want Frame
	}{
		{"keys reordered", `{"obz":1,"p":["up",1],"s":2,"w":"w","t":"data","d":{"a":[1,2]}}`, data},
		{"whitespace", "{\"obz\": 1 ,\t\"t\" : \"data\" , \"w\":\"w\",\"s\": 2,\"p\":[ \"up\" , 1 ] ,\"d\" : {\"a\":[1,2]} \t}  \r", data},
		{"unknown keys skipped", `{"obz":1,"x":{"y":[1,{"z":"}"}]},"t":"data","q":null,"w":"w","r":-1.5e3,"s":2,"u":"\"","p":["up",1],"v":[],"d":{"a":[1,2]}}`, data},
		{"escaped key", `{"obz":1,"\u0074":"data","w":"w","s":2,"p":["up",1],"d":{"a":[1,2]}}`, data},
		{"foreign fields ignored", `{"obz":1,"t":"data","w":"w","s":2,"n":5,"kind":"poison","at":3,"of":["x",1],"status":"ok","p":["up",1],"d":{"a":[1,2]}}`, data},
		{"err on data frame ignored", `{"obz":1,"t":"data","w":"w","s":2,"p":["up",1],"err":{"kind":"x"},"raw":"y","d":{"a":[1,2]}}`, data},
		{"seq on eof ignored", `{"obz":1,"t":"eof","s":9,"w":"r","n":1,"kind":"natural","d":{}}`, Frame{Kind: KindEOF, Writer: "r", Count: 1}},
		{"raw before err", `{"obz":1,"raw":"bad","t":"error","w":"w","s":1,"err":{"kind":"parse","msg":"m","stage":"s","line":3,"extra":true}}`,
			Frame{Kind: KindError, Writer: "w", Seq: 1, Err: &ErrorInfo{Kind: "parse", Msg: "m", Stage: "s", Line: 3, Raw: []byte("bad")}}},
		{"error without raw", `{"obz":1,"t":"error","w":"w","s":1,"err":{}}`,
			Frame{Kind: KindError, Writer: "w", Seq: 1, Err: &ErrorInfo{}}},
		{"payload keeps inner spacing", `{"obz":1,"t":"data","w":"w","s":1,"d": [ 1 , 2 ] }`,
			Frame{Kind: KindData, Writer: "w", Seq: 1, Payload: []byte(`[ 1 , 2 ]`)}},
		{"negative zero seq", `{"obz":1,"t":"eof","w":"w","n":-0,"kind":"natural"}`, Frame{Kind: KindEOF, Writer: "w"}},
		{"wm exponent", `{"obz":1,"t":"wm","w":"w","at":-1.5E+2}`, Frame{Kind: KindWatermark, Writer: "w", Time: -150}},
		{"receipt without status", `{"obz":1,"t":"receipt","w":"w","of":["a",1]}`, Frame{Kind: KindReceipt, Writer: "w", Of: Ref{"a", 1}}},
		{"order spaced", `{"obz":1,"runs":[ [ "a" , 2 ] ,["b",1] ] ,"t":"order","w":"m"}`, Frame{Kind: KindOrder, Writer: "m", Runs: []Run{{Writer: "a", N: 2}, {Writer: "b", N: 1}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var f Frame
			if err := Decode([]byte(tc.line), &f); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !equalFrames(&f, &tc.want) {
				t.Errorf("Decode:\n got %s\nwant %s", frameString(&f), frameString(&tc.want))
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, line, want string
	}{
		{"not a frame", `{"a":1}`, "not a frame"},
		{"leading space", ` {"obz":1,"t":"eof","w":"w","n":0,"kind":"natural"}`, "not a frame"},
		{"version 0", `{"obz":0,"t":"eof","w":"w","n":0,"kind":"natural"}`, "bad protocol version"},
		{"version string", `{"obz":"1","t":"eof","w":"w","n":0,"kind":"natural"}`, "bad protocol version"},
		{"version float", `{"obz":1.0,"t":"eof","w":"w","n":0,"kind":"natural"}`, "bad protocol version"},
		{"version negative", `{"obz":-1,"t":"eof","w":"w","n":0,"kind":"natural"}`, "bad protocol version"},
		{"no type", `{"obz":1,"w":"w","s":1,"d":1}`, `without type "t"`},
		{"unknown type", `{"obz":1,"t":"barrier","w":"w"}`, `unknown frame type "barrier"`},
		{"no writer", `{"obz":1,"t":"data","s":1,"d":1}`, `without writer`},
		{"empty writer", `{"obz":1,"t":"data","w":"","s":1,"d":1}`, `without writer`},
		{"no seq", `{"obz":1,"t":"data","w":"w","d":1}`, `positive seq`},
		{"zero seq", `{"obz":1,"t":"error","w":"w","s":0,"err":{},"d":1}`, `positive seq`},
		{"negative seq", `{"obz":1,"t":"data","w":"w","s":-1,"d":1}`, `non-negative integer`},
		{"plus seq", `{"obz":1,"t":"data","w":"w","s":+1,"d":1}`, `expected a number`},
		{"leading zero seq", `{"obz":1,"t":"data","w":"w","s":01,"d":1}`, `expected , or }`},
		{"float seq", `{"obz":1,"t":"data","w":"w","s":1.5,"d":1}`, `non-negative integer`},
		{"exponent seq", `{"obz":1,"t":"data","w":"w","s":1e3,"d":1}`, `non-negative integer`},
		{"overflow seq", `{"obz":1,"t":"data","w":"w","s":18446744073709551616,"d":1}`, `non-negative integer`},
		{"data without payload", `{"obz":1,"t":"data","w":"w","s":1}`, `without payload`},
		{"empty payload", `{"obz":1,"t":"data","w":"w","s":1,"d": }`, `empty payload`},
		{"error without err", `{"obz":1,"t":"error","w":"w","s":1,"raw":"x"}`, `without "err"`},
		{"bad err", `{"obz":1,"t":"error","w":"w","s":1,"err":{"kind":1}}`, `bad err object`},
		{"eof without count", `{"obz":1,"t":"eof","w":"w","kind":"natural"}`, `without count`},
		{"eof without kind", `{"obz":1,"t":"eof","w":"w","n":1}`, `without count`},
		{"eof unknown kind", `{"obz":1,"t":"eof","w":"w","n":1,"kind":"weird"}`, `unknown EOF kind`},
		{"wm without at", `{"obz":1,"t":"wm","w":"w"}`, `without time`},
		{"wm out of range", `{"obz":1,"t":"wm","w":"w","at":1e999}`, `out of range`},
		{"receipt without of", `{"obz":1,"t":"receipt","w":"w","status":"ok"}`, `without "of"`},
		{"order without runs", `{"obz":1,"t":"order","w":"m"}`, `without "runs"`},
		{"order run of 0", `{"obz":1,"t":"order","w":"m","runs":[["a",0]]}`, `a run of 0 frames`},
		{"order runs not a list", `{"obz":1,"t":"order","w":"m","runs":{"a":1}}`, `expected [[writer, n]`},
		{"order trailing comma", `{"obz":1,"t":"order","w":"m","runs":[["a",1],]}`, `expected [writer, seq]`},
		{"bad ref", `{"obz":1,"t":"data","w":"w","s":1,"p":["a"],"d":1}`, `expected ,`},
		{"trailing bytes", `{"obz":1,"t":"eof","w":"w","n":0,"kind":"natural"}x`, `trailing bytes`},
		{"unterminated", `{"obz":1,"t":"eof","w":"w","n":0,"kind":"natural"`, `expected , or }`},
		{"bad unknown value", `{"obz":1,"x":[1,}`, `bad value`},
		{"invalid UTF-8 in writer", "{\"obz\":1,\"t\":\"eof\",\"w\":\"\xff\",\"n\":0,\"kind\":\"natural\"}", `expected a string`},
		{"control char in string", "{\"obz\":1,\"t\":\"eof\",\"w\":\"a\tb\",\"n\":0,\"kind\":\"natural\"}", `expected a string`},
		{"payload not last", `{"obz":1,"t":"data","d":{},"w":"w","s":1}`, `without writer`},
		{"payload without closing brace", `{"obz":1,"t":"data","w":"w","s":1,"d":[1]`, `does not end with }`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var f Frame
			err := Decode([]byte(tc.line), &f)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode(%s) = %v, want an error containing %q", tc.line, err, tc.want)
			}
			if errors.Is(err, ErrVersion) {
				t.Errorf("error %v wraps ErrVersion", err)
			}
		})
	}
}

// TestDecodeVersion checks that a newer protocol is refused whole, whatever
// the rest of the frame looks like, and is told apart from a broken frame.
func TestDecodeVersion(t *testing.T) {
	for _, line := range []string{
		`{"obz":2,"t":"data","w":"w","s":1,"d":1}`,
		`{"obz":2,"t":"checkpoint","s":"changed syntax"}`,
		`{"obz": 99999999999999999999999, garbage`,
		`{"obz":18446744073709551616}`,
	} {
		var f Frame
		err := Decode([]byte(line), &f)
		if !errors.Is(err, ErrVersion) {
			t.Errorf("Decode(%s) = %v, want ErrVersion", line, err)
		}
	}
}

// TestDataPayloadLast shows what "d must be last" means: everything after
// "d" up to the closing brace is payload, never keys.
func TestDataPayloadLast(t *testing.T) {
	var f Frame
	line := `{"obz":1,"t":"data","w":"w","s":1,"d":{"a":1},"s":2}`
	if err := Decode([]byte(line), &f); err != nil {
		t.Fatal(err)
	}
	if f.Seq != 1 || string(f.Payload) != `{"a":1},"s":2` {
		t.Errorf("got seq %d payload %s", f.Seq, f.Payload)
	}
}

func TestEncodeEdgeCases(t *testing.T) {
	tests := []struct {
		name  string
		frame Frame
		want  string
	}{
		{"error without info", Frame{Kind: KindError, Writer: "w", Seq: 1},
			`{"obz":1,"t":"error","w":"w","s":1,"err":{"kind":"","msg":"","stage":""},"raw":""}`},
		{"negative line kept", Frame{Kind: KindError, Writer: "w", Seq: 1, Err: &ErrorInfo{Line: -2}, Payload: []byte("1")},
			`{"obz":1,"t":"error","w":"w","s":1,"err":{"kind":"","msg":"","stage":"","line":-2},"d":1}`},
		{"invalid UTF-8 replaced", Frame{Kind: KindError, Writer: "w\xff", Seq: 1, Err: &ErrorInfo{Msg: "\xfe<&>", Raw: []byte("a\x80b")}},
			`{"obz":1,"t":"error","w":"w` + "\ufffd" + `","s":1,"err":{"kind":"","msg":"` + "\ufffd" + `<&>","stage":""},"raw":"a` + "\ufffd" + `b"}`},
		{"only kind's fields", Frame{Kind: KindEOF, Writer: "w", Seq: 9, Payload: []byte("1"), Count: 2, EOF: Truncated, Time: 3},
			`{"obz":1,"t":"eof","w":"w","n":2,"kind":"truncated"}`},
		{"parent with seq 0", Frame{Kind: KindData, Writer: "w", Seq: 1, Parent: Ref{Writer: "x"}, Payload: []byte("1")},
			`{"obz":1,"t":"data","w":"w","s":1,"p":["x",0],"d":1}`},
		{"negative zero time", Frame{Kind: KindWatermark, Writer: "w", Time: 1e-7},
			`{"obz":1,"t":"wm","w":"w","at":0.0000001}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(AppendFrame(nil, &tc.frame))
			if got != tc.want+"\n" {
				t.Errorf("AppendFrame:\n got %s\nwant %s", got, tc.want)
			}
			var f Frame
			if err := Decode([]byte(got), &f); err != nil {
				t.Errorf("Decode of the encoding: %v", err)
			}
		})
	}
}

func TestAppendString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"plain", `"plain"`},
		{"q\"b\\", `"q\"b\\"`},
		{"\n\r\t\x00\x1f\x7f", `"\n\r\t\u0000\u001f` + "\x7f" + `"`},
		{"<&>", `"<&>"`},
		{"é世\U0001F600", `"é世` + "\U0001F600" + `"`},
		{"a\xffb\xe2\x82", `"a` + "\ufffd" + `b` + "\ufffd\ufffd" + `"`},
		{"\u2028", "\"\u2028\""},
	}
	for _, tc := range tests {
		if got := string(AppendString(nil, tc.in)); got != tc.want {
			t.Errorf("AppendString(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestKindNames(t *testing.T) {
	for k := Natural; k <= Poison; k++ {
		got, ok := ParseEOFKind(k.String())
		if !ok || got != k {
			t.Errorf("ParseEOFKind(%q) = %v, %v", k.String(), got, ok)
		}
	}
	if _, ok := ParseEOFKind("kind(9)"); ok {
		t.Error("ParseEOFKind accepted an unknown kind")
	}
	if !(Natural < Stopped && Stopped < Truncated && Truncated < Poison) {
		t.Error("EOF kinds are not ordered best to worst")
	}
	if Kind(0).String() != "kind(0)" || KindReceipt.String() != "receipt" || EOFKind(7).String() != "eofkind(7)" {
		t.Error("bad kind names")
	}
}

func TestDecoderAllocs(t *testing.T) {
	var d Decoder
	var f Frame
	lines := [][]byte{
		[]byte(`{"obz":1,"t":"data","w":"map","s":1,"p":["read",1],"d":{}}`),
		[]byte(`{"obz":1,"t":"data","w":"map2","s":1,"p":["read2",1],"d":{}}`),
		[]byte(`{"obz":1,"t":"eof","w":"map","n":1,"kind":"natural"}`),
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, l := range lines {
			if err := d.Decode(l, &f); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("Decoder.Decode allocates %v times", allocs)
	}
	// More writers than the cache holds still decode correctly.
	for i := range 10 {
		w := fmt.Sprintf("w%d", i)
		if err := d.Decode([]byte(`{"obz":1,"t":"data","w":"`+w+`","s":1,"d":1}`), &f); err != nil || f.Writer != w {
			t.Fatalf("got %q, %v", f.Writer, err)
		}
	}
}
