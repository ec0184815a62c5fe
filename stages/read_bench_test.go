package stages

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obz-dev/obz/journal"
	"github.com/obz-dev/obz/runner"
)

// benchRead runs read over a file of 10,000 copies of line, named name,
// with flags, writing framed output to io.Discard.
func benchRead(b *testing.B, name, head, line string, flags ...string) {
	in := head + strings.Repeat(line, 10000)
	p := filepath.Join(b.TempDir(), name)
	if err := os.WriteFile(p, []byte(in), 0o644); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		st, err := readSpec.New(readOpts([]string{p}, flags...))
		if err != nil {
			b.Fatal(err)
		}
		if err := runner.Run(context.Background(), &readSpec, st, &runner.Env{Stdout: io.Discard, Stderr: io.Discard}); err != nil {
			b.Fatal(err)
		}
	}
}

const benchReadLine = `{"id":12345,"ts":"2026-03-02T08:12:25Z","customer":"c006","country":"ES","device":"ios","amount":16.75}` + "\n"

func BenchmarkReadNDJSON(b *testing.B) { benchRead(b, "bench.ndjson", "", benchReadLine) }

// BenchmarkReadNDJSONJournaled is BenchmarkReadNDJSON with a journal that
// refers to the file (its lines' offsets and CRC-32C, the file's XXH64).
func BenchmarkReadNDJSONJournaled(b *testing.B) {
	in := strings.Repeat(benchReadLine, 10000)
	p := filepath.Join(b.TempDir(), "bench.ndjson")
	if err := os.WriteFile(p, []byte(in), 0o644); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		st, err := readSpec.New(readOpts([]string{p}))
		if err != nil {
			b.Fatal(err)
		}
		jw, err := journal.NewWriter(io.Discard, nil)
		if err != nil {
			b.Fatal(err)
		}
		env := &runner.Env{Stdout: io.Discard, Stderr: io.Discard, Journal: jw, JournalSources: true}
		if err := runner.Run(context.Background(), &readSpec, st, env); err != nil {
			b.Fatal(err)
		}
		if err := jw.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadJSON(b *testing.B) { benchRead(b, "bench.json", "", benchReadLine) }
func BenchmarkReadText(b *testing.B) {
	benchRead(b, "bench.log", "", "2026-03-02T08:12:25Z INFO served /orders in 12ms\n")
}

// BenchmarkReadCSV and BenchmarkReadTSV compare the default number rule
// (numbers), --strings (no inference) and --infer (numbers, booleans, null).
const (
	benchCSVHead = "id,ts,customer,country,device,amount,ok,ref\n"
	benchCSVLine = "12345,2026-03-02T08:12:25Z,c006,ES,ios,16.75,true,9007199254740993\n"
)

func BenchmarkReadCSV(b *testing.B) { benchValues(b, "bench.csv", benchCSVHead, benchCSVLine) }
func BenchmarkReadTSV(b *testing.B) {
	benchValues(b, "bench.tsv", strings.ReplaceAll(benchCSVHead, ",", "\t"), strings.ReplaceAll(benchCSVLine, ",", "\t"))
}

func benchValues(b *testing.B, name, head, line string) {
	for _, mode := range []string{"numbers", "strings", "infer"} {
		var flags []string
		if mode != "numbers" {
			flags = []string{mode}
		}
		b.Run(mode, func(b *testing.B) { benchRead(b, name, head, line, flags...) })
	}
}
