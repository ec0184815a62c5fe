package runner

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestRenderProgress(t *testing.T) {
	for _, c := range []struct {
		v    progressView
		want string
	}{
		{progressView{Stage: "write", Events: 1234, Bytes: 56789, Elapsed: 12 * time.Second, Rate: 102.8},
			"obz write: 1234 events  55.5 KiB  103 ev/s  0:12"},
		{progressView{Stage: "gen", Events: 12_345_678, Bytes: 3 << 30, Elapsed: 3725 * time.Second, Rate: 98_300},
			"obz gen: 12.35M events  3.0 GiB  98.3k ev/s  1:02:05"},
		{progressView{Stage: "read", Events: 50_000, Bytes: 25 << 20, Total: 100 << 20, Elapsed: 5 * time.Second, Rate: 10_000, ByteRate: 5 << 20},
			"obz read: [=====>              ]  25%  50.0k events  25.0 MiB of 100.0 MiB  10.0k ev/s  0:05  ETA 0:15"},
		{progressView{Stage: "read", Events: 200_000, Bytes: 100 << 20, Total: 100 << 20, Elapsed: 20 * time.Second, Rate: 10_000, ByteRate: 5 << 20, Done: true},
			"obz read: [====================] 100%  200.0k events  100.0 MiB of 100.0 MiB  10.0k ev/s  0:20"},
		{progressView{Stage: "x", Bytes: 12}, "obz x: 0 events  12 B  0 ev/s  0:00"},
	} {
		if got := renderProgress(c.v); got != c.want {
			t.Errorf("got\n%q\nwant\n%q", got, c.want)
		}
	}
}

// TestProgressMeterRate: the running rate is over the last samples; the
// final one is the average over the whole run.
func TestProgressMeterRate(t *testing.T) {
	start := time.Unix(1000, 0)
	m := &progressMeter{stage: "s", start: start}
	var v progressView
	for i := 1; i <= 30; i++ {
		n := uint64(i * 100)
		if i > 20 {
			n = 2000 + uint64(i-20)*1000 // faster at the end
		}
		v = m.view(progressSample{at: start.Add(time.Duration(i) * progressEvery), events: n}, false)
	}
	if v.Rate != 5000 {
		t.Errorf("recent rate = %v, want 5000 (1000 events per 200 ms)", v.Rate)
	}
	v = m.view(progressSample{at: start.Add(6 * time.Second), events: 12000}, true)
	if v.Rate != 2000 {
		t.Errorf("final rate = %v, want the average 2000", v.Rate)
	}
}

// TestProgressOutClearsLine: a message from the stage clears the progress
// line first; the final line ends with a newline.
func TestProgressOutClearsLine(t *testing.T) {
	var b bytes.Buffer
	p := &progressOut{w: &b}
	p.show("obz x: 1 events", false)
	p.Write([]byte("obz x: a warning\n"))
	p.Write([]byte("obz x: another\n"))
	p.show("obz x: 2 events", true)
	want := "\robz x: 1 events\x1b[K\r\x1b[Kobz x: a warning\nobz x: another\n\robz x: 2 events\x1b[K\n"
	if b.String() != want {
		t.Errorf("got %q\nwant %q", b.String(), want)
	}
}

type sizedSource struct{ total int64 }

func (s sizedSource) Produce(ctx context.Context, em *Emitter) error {
	em.counters.BytesIn.Store(uint64(s.total))
	return em.Emit([]byte(`{}`))
}
func (s sizedSource) InputProgress() (int64, int64) { return s.total, s.total }

// TestProgressOnlyOnStderr: with Env.Progress the data on stdout is the
// same as without; the progress goes to stderr, ending with the final line.
func TestProgressOnlyOnStderr(t *testing.T) {
	spec := &Spec{Name: "sized", Family: FamilySource}
	var plain bytes.Buffer
	if err := Run(context.Background(), spec, sizedSource{total: 1 << 20}, &Env{Stdout: &plain, Stderr: &bytes.Buffer{}}); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := Run(context.Background(), spec, sizedSource{total: 1 << 20}, &Env{Stdout: &stdout, Stderr: &stderr, Progress: true}); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != plain.String() {
		t.Errorf("stdout with progress %q, without %q", stdout.String(), plain.String())
	}
	if !strings.HasPrefix(stderr.String(), "\r") || !strings.HasSuffix(stderr.String(), "\x1b[K\n") ||
		!strings.Contains(stderr.String(), "obz sized: [====================] 100%  1 events  1.0 MiB of 1.0 MiB") {
		t.Errorf("stderr = %q", stderr.String())
	}
}
