package main

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/obz-dev/obz/journal"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/stages"
)

// specOptions gives a stage its flags' defaults, some overridden, and args.
type specOptions struct {
	spec *runner.Spec
	set  map[string]any
	args []string
}

func (o specOptions) get(n string) any {
	if v, ok := o.set[n]; ok {
		return v
	}
	for _, f := range o.spec.Flags {
		if f.Name == n {
			return f.Default
		}
	}
	return nil
}

func (o specOptions) String(n string) string          { s, _ := o.get(n).(string); return s }
func (o specOptions) Bool(n string) bool              { b, _ := o.get(n).(bool); return b }
func (o specOptions) Int(n string) int                { i, _ := o.get(n).(int); return i }
func (o specOptions) Float(n string) float64          { f, _ := o.get(n).(float64); return f }
func (o specOptions) Duration(n string) time.Duration { d, _ := o.get(n).(time.Duration); return d }
func (o specOptions) Strings(n string) []string       { s, _ := o.get(n).([]string); return s }
func (o specOptions) IsSet(n string) bool             { _, ok := o.set[n]; return ok }
func (o specOptions) Args() []string                  { return o.args }

func runSpec(tb testing.TB, name string, set map[string]any, args []string, env *runner.Env) {
	tb.Helper()
	spec := stages.All().Lookup(name)
	st, err := spec.New(specOptions{spec: spec, set: set, args: args})
	if err != nil {
		tb.Fatal(err)
	}
	if err := runner.Run(context.Background(), spec, st, env); err != nil {
		tb.Fatal(err)
	}
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// BenchmarkTee is the journal's cost on a passthrough stage: obz filter true
// over 200k events of obz gen, without and with --journal (compressed to
// a counter, so the disk is not measured).
func BenchmarkTee(b *testing.B) {
	var gen bytes.Buffer
	runSpec(b, "gen", map[string]any{"count": 200000}, nil, &runner.Env{Stdout: &gen, Stderr: io.Discard})
	data := gen.Bytes()
	for _, withJournal := range []bool{false, true} {
		name := "plain"
		if withJournal {
			name = "journal"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var size int64
			for b.Loop() {
				env := &runner.Env{Stdin: bytes.NewReader(data), Stdout: io.Discard, Stderr: io.Discard}
				var cw countWriter
				var jw *journal.Writer
				if withJournal {
					jw, _ = journal.NewWriter(&cw, nil)
					env.Journal = jw
				}
				runSpec(b, "filter", nil, []string{"true"}, env)
				if jw != nil {
					if err := jw.Close(); err != nil {
						b.Fatal(err)
					}
					size = cw.n
				}
			}
			if withJournal {
				b.ReportMetric(float64(len(data))/float64(size), "ratio")
			}
		})
	}
}
