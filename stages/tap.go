package stages

import (
	"fmt"
	"strconv"
	"time"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

var tapSpec = runner.Spec{
	Name:           "tap",
	Family:         runner.FamilyObserver,
	PassesPayloads: true,
	Summary:        "pass events through; print samples and a running rate on stderr",
	Description: `Passes every event through unchanged (error events too) and shows on stderr
what goes by, never on stdout:

  --first N   the first N data events
  --every N   every Nth data event (the Nth, the 2Nth, ...)
  --rate      a rate line about once a second, and a summary at the end
  --errors    every error event that passes (kind, message, text)

With none of them, every data event is shown (like tee /dev/stderr).

A sample line is the stage name, the event's number in this stage, its
upstream writer and sequence number, and the payload (cut at --width bytes):
  [tap #100000 gen/100000] {"id":100000,...}
The rate line counts data events and payload bytes:
  [tap] 1200000 events, 412000/s now, 398000/s average, 80.1 MB/s, 3.0s
The clock is read while events flow (no timer thread writes anything), so an
idle stream prints no rate lines until events come again.`,
	Examples: `obz read testdata/orders.ndjson | obz tap --first 2 -r > /dev/null
obz gen --count 1000000 | obz tap --every 100000 --rate > /dev/null
obz read testdata/orders.ndjson | obz tap --errors | obz write orders-copy.ndjson`,
	Flags: []runner.Flag{
		{Name: "first", Usage: "show the first `N` data events", Default: 0},
		{Name: "every", Usage: "show every `N`th data event", Default: 0},
		{Name: "rate", Usage: "print a running rate line every second and a summary at the end", Default: false},
		{Name: "errors", Usage: "show the error events that pass", Default: false},
		{Name: "width", Usage: "cut shown payloads at `BYTES` (0: whole)", Default: 500},
	},
	New: newTap,
}

type tap struct {
	first, every uint64
	all          bool // no selection given: show every event
	rate, errs   bool
	width        int

	n, bytes, nErr uint64
	clock          tick
	start          time.Time
	lastN          uint64
	lastBytes      uint64
	lastAt         time.Time
	line           []byte
}

func newTap(o runner.Options) (runner.Stage, error) {
	if len(o.Args()) > 0 {
		return nil, runner.Usagef("tap takes no arguments, got %q", o.Args()[0])
	}
	t := &tap{rate: o.Bool("rate"), errs: o.Bool("errors"), width: o.Int("width")}
	for _, f := range []struct {
		name string
		dst  *uint64
	}{{"first", &t.first}, {"every", &t.every}} {
		n := o.Int(f.name)
		if n < 0 {
			return nil, runner.Usagef("--%s must be 0 or more, got %d", f.name, n)
		}
		*f.dst = uint64(n)
	}
	if t.width < 0 {
		return nil, runner.Usagef("--width must be 0 or more, got %d", t.width)
	}
	t.all = t.first == 0 && t.every == 0 && !t.rate && !t.errs
	t.clock.every = time.Second
	return t, nil
}

func (t *tap) Event(ev *wire.Frame, em *runner.Emitter) error {
	t.n++
	t.bytes += uint64(len(ev.Payload))
	if t.all || t.n <= t.first || t.every > 0 && t.n%t.every == 0 {
		t.show(em, ev, "", ev.Payload)
	}
	if t.rate {
		if t.n == 1 {
			t.start = time.Now()
			t.lastAt = t.start
			t.clock.reset(t.start)
		} else if now, due := t.clock.due(); due {
			t.rateLine(em, now)
		}
	}
	return em.Emit(ev.Payload)
}

// ErrorEvent passes an error event on, as the runner would, and shows it
// with --errors.
func (t *tap) ErrorEvent(ev *wire.Frame, em *runner.Emitter) error {
	t.nErr++
	if t.errs && ev.Err != nil {
		text := ev.Payload
		if text == nil {
			text = ev.Err.Raw
		}
		t.show(em, ev, fmt.Sprintf("error from %s (%s): %s: ", ev.Err.Stage, ev.Err.Kind, ev.Err.Msg), text)
	}
	return em.EmitError(ev.Err, ev.Payload)
}

// show prints one sample line on stderr.
func (t *tap) show(em *runner.Emitter, ev *wire.Frame, note string, text []byte) {
	b := append(t.line[:0], '[')
	b = append(b, em.Name()...)
	b = append(b, " #"...)
	n := t.n
	if ev.Kind == wire.KindError {
		b = append(b, "err"...)
		n = t.nErr
	}
	b = strconv.AppendUint(b, n, 10)
	if ev.Writer != "" && ev.Writer != runner.LocalErrorWriter {
		b = append(b, ' ')
		b = append(b, ev.Writer...)
		b = append(b, '/')
		b = strconv.AppendUint(b, ev.Seq, 10)
	}
	b = append(b, "] "...)
	b = append(b, note...)
	if t.width > 0 && len(text) > t.width {
		b = append(b, text[:t.width]...)
		b = append(b, "... ("...)
		b = strconv.AppendInt(b, int64(len(text)), 10)
		b = append(b, " bytes)"...)
	} else {
		b = append(b, text...)
	}
	b = append(b, '\n')
	em.Stderr().Write(b)
	t.line = b
}

func (t *tap) rateLine(em *runner.Emitter, now time.Time) {
	total := now.Sub(t.start).Seconds()
	since := now.Sub(t.lastAt).Seconds()
	fmt.Fprintf(em.Stderr(), "[%s] %d events, %.0f/s now, %.0f/s average, %.1f MB/s, %.1fs\n", em.Name(),
		t.n, float64(t.n-t.lastN)/since, float64(t.n)/total, float64(t.bytes-t.lastBytes)/since/1e6, total)
	t.lastN, t.lastBytes, t.lastAt = t.n, t.bytes, now
}

func (t *tap) Finish(em *runner.Emitter, end wire.EOFKind) error {
	if !t.rate {
		return nil
	}
	how := "input ended"
	if end == wire.Stopped {
		how = "stopped"
	}
	elapsed := 0.0
	if t.n > 0 {
		elapsed = time.Since(t.start).Seconds()
	}
	avg := 0.0
	if elapsed > 0 {
		avg = float64(t.n) / elapsed
	}
	fmt.Fprintf(em.Stderr(), "[%s] %s: %d events (%d bytes), %d error events, %.0f/s average over %.1fs\n",
		em.Name(), how, t.n, t.bytes, t.nErr, avg, elapsed)
	return nil
}

// tick tells an Event handler, cheaply, when a period has passed: it reads
// the clock only every stride events, and adapts the stride so that the
// clock is read about once a millisecond however fast events come. Observers
// use it instead of a timer goroutine, since only the stage's own goroutine
// may emit.
type tick struct {
	every      time.Duration
	next, last time.Time
	stride     int
	left       int
}

func (k *tick) reset(now time.Time) {
	k.next, k.last, k.stride, k.left = now.Add(k.every), now, 1, 1
}

// due reports whether the period has passed since it last said so, with the
// time it read (zero when it did not read the clock).
func (k *tick) due() (time.Time, bool) {
	if k.left--; k.left > 0 {
		return time.Time{}, false
	}
	now := time.Now()
	if k.stride == 0 {
		k.reset(now)
		return now, false
	}
	switch d := now.Sub(k.last); {
	case d < time.Millisecond && k.stride < 256:
		k.stride *= 2
	case d > 10*time.Millisecond && k.stride > 1:
		k.stride /= 2
	}
	k.last, k.left = now, k.stride
	if now.Before(k.next) {
		return now, false
	}
	k.next = now.Add(k.every)
	return now, true
}
