package wire

import (
	"encoding/json"
	"strings"
	"testing"
)

var validCases = []string{
	`1`, `-0`, `-`, `01`, `1.`, `1.5e`, `1e+5`, `1E-05`, `.5`, `+1`, `0.0e0`,
	`"a"`, `"\u00e9\n\"\\\/\b\f\r\t"`, `"\x"`, `"\u12G4"`, `"` + "\x01" + `"`, `"` + "\xff" + `"`, `"abc`,
	`true`, `false`, `null`, `tru`, `nul`, `truex`, ` true `, "\t\r\n1\n",
	`[]`, `[ ]`, `[1,]`, `[,1]`, `[1 2]`, `[[[]]]`, `[`, `]`,
	`{}`, `{ }`, `{"a":1}`, `{"a" : [1, {"b": null}] }`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{1:2}`, `{"a":1 "b":2}`,
	`{"a":1}}`, `{"a":1]`, `[1}`, `1 2`, ``, ` `, `{"id":1,"ts":"2026-01-01T00:00:02Z","user":"u4821","amount":12.34,"tags":["web"]}`,
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000),
	strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001),
}

func TestValidMatchesEncodingJSON(t *testing.T) {
	for _, s := range validCases {
		if got, want := Valid([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("Valid(%.60q) = %v, json.Valid says %v", s, got, want)
		}
	}
}

// FuzzValid: Valid gives encoding/json's verdict on any input.
func FuzzValid(f *testing.F) {
	for _, s := range validCases {
		if len(s) < 1000 {
			f.Add([]byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, json.Valid says %v", b, got, want)
		}
	})
}

func BenchmarkValid(b *testing.B) {
	line := []byte(`{"id":123456,"ts":"2026-01-01T00:00:02Z","user":"u4821","country":"DE","device":"ios","amount":12.34,"tags":["web","vip"],"msg":"user session started from cache after timeout"}`)
	for _, bc := range []struct {
		name  string
		valid func([]byte) bool
	}{{"wire", Valid}, {"encoding_json", json.Valid}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(line)))
			for b.Loop() {
				if !bc.valid(line) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
