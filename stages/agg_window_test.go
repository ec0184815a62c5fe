package stages

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

// windowOracle computes event-time windows by the documented rule, the
// simplest way: the watermark is the latest time seen minus the lateness;
// an event is late when the first window it belongs to ends at or before
// the watermark; otherwise it counts in every window it belongs to.
// It returns "start count sum" per window in start order and the late ids.
func windowOracle(times []int64, size, slide, lateness int64) (windows []string, late []int) {
	type acc struct{ n, sum int64 }
	wins := map[int64]*acc{}
	var maxT int64
	for i, t := range times {
		first := t - ((t%slide)+slide)%slide // the latest start at or before t
		for first-slide > t-size {
			first -= slide
		}
		if i > 0 && first+size <= maxT-lateness {
			late = append(late, i)
			continue
		}
		maxT = max(maxT, t)
		if i == 0 {
			maxT = t
		}
		for s := first; s <= t; s += slide {
			if wins[s] == nil {
				wins[s] = &acc{}
			}
			wins[s].n++
			wins[s].sum += int64(i)
		}
	}
	starts := make([]int64, 0, len(wins))
	for s := range wins {
		starts = append(starts, s)
	}
	slices.Sort(starts)
	for _, s := range starts {
		windows = append(windows, fmt.Sprintf("%d %d %d", s, wins[s].n, wins[s].sum))
	}
	return windows, late
}

// TestAggWindowOracle checks agg's event-time windows against the oracle on
// random streams: mostly in order, some out of order within the lateness,
// some late, some very late; tumbling and hopping windows.
func TestAggWindowOracle(t *testing.T) {
	for trial := range 60 {
		rng := rand.New(rand.NewPCG(uint64(trial), 7))
		size := int64(5 + rng.IntN(20))
		slide := size
		if trial%2 == 1 {
			slide = int64(1 + rng.IntN(int(size)))
		}
		lateness := int64(rng.IntN(8))
		var times []int64
		now := int64(rng.IntN(100)) - 50
		var in strings.Builder
		for i := range 200 {
			now += int64(rng.IntN(4))
			ts := now
			switch r := rng.IntN(10); {
			case r < 2:
				ts -= int64(rng.IntN(int(lateness) + 3)) // out of order, maybe late
			case r == 2:
				ts -= 10 + int64(rng.IntN(60)) // very late
			}
			times = append(times, ts)
			fmt.Fprintf(&in, "{\"ts\":%d,\"id\":%d}\n", ts, i)
		}
		wantWin, wantLate := windowOracle(times, size, slide, lateness)

		out, _, err := stageRun(t, &aggSpec, map[string]any{"count": true, "sum": []string{"id"},
			"window": time.Duration(size) * time.Second, "slide": time.Duration(slide) * time.Second,
			"lateness": time.Duration(lateness) * time.Second, "time-field": "ts"}, in.String(), runner.Framed)
		if err != nil {
			t.Fatal(err)
		}
		var gotWin []string
		var gotLate []int
		for _, l := range out {
			var f wire.Frame
			if err := wire.Decode([]byte(l), &f); err != nil {
				t.Fatal(err)
			}
			switch f.Kind {
			case wire.KindData:
				var start time.Time
				var n, sum int64
				p := string(f.Payload)
				ws := p[strings.Index(p, `"window_start":"`)+16:]
				start, _ = time.Parse(time.RFC3339, ws[:strings.IndexByte(ws, '"')])
				fmt.Sscanf(p[strings.Index(p, `"count":`):], `"count":%d,"sum_id":%d`, &n, &sum)
				gotWin = append(gotWin, fmt.Sprintf("%d %d %d", start.Unix(), n, sum))
			case wire.KindError:
				if f.Err.Kind != "late" {
					t.Fatalf("error event %s: %s", f.Err.Kind, f.Err.Msg)
				}
				var id int
				fmt.Sscanf(string(f.Payload[strings.Index(string(f.Payload), `"id":`):]), `"id":%d`, &id)
				gotLate = append(gotLate, id)
			}
		}
		if !slices.Equal(gotWin, wantWin) || !slices.Equal(gotLate, wantLate) {
			t.Fatalf("trial %d (size %d slide %d lateness %d):\nwindows got  %v\nwindows want %v\nlate got  %v\nlate want %v",
				trial, size, slide, lateness, gotWin, wantWin, gotLate, wantLate)
		}
	}
}

// TestAggWindowWatermarkFrames: a watermark frame on the input says no
// older event is to come, so it closes the windows it passes (before the
// input ends), and an event older than it is late. Without --window, agg
// passes watermarks on.
func TestAggWindowWatermarkFrames(t *testing.T) {
	in := strings.Join([]string{
		`{"obz":1,"t":"data","w":"src","s":1,"d":{"ts":5}}`,
		`{"obz":1,"t":"wm","w":"src","at":20}`,
		`{"obz":1,"t":"data","w":"src","s":2,"d":{"ts":7}}`,
		`{"obz":1,"t":"data","w":"src","s":3,"d":{"ts":25}}`,
		`{"obz":1,"t":"eof","w":"src","n":3,"kind":"natural"}`,
	}, "\n") + "\n"
	out, _, err := stageRun(t, &aggSpec, map[string]any{"count": true, "window": 10 * time.Second, "time-field": "ts"}, in, runner.Framed)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"obz":1,"t":"data","w":"agg","s":1,"d":{"window_start":"1970-01-01T00:00:00Z","window_end":"1970-01-01T00:00:10Z","count":1}}`,
		`{"obz":1,"t":"error","w":"agg","s":2,"p":["src",2],"err":{"kind":"late","msg":"event time 1970-01-01T00:00:07Z falls in window [1970-01-01T00:00:00Z, 1970-01-01T00:00:10Z), already closed by the watermark 1970-01-01T00:00:20Z (the least over the live inputs of their latest event time minus --lateness 0s, or of their watermark frame)","stage":"agg","event":["src",2]},"d":{"ts":7}}`,
		`{"obz":1,"t":"data","w":"agg","s":3,"d":{"window_start":"1970-01-01T00:00:20Z","window_end":"1970-01-01T00:00:30Z","count":1}}`,
		`{"obz":1,"t":"eof","w":"agg","n":3,"kind":"natural"}`,
	}
	if !slices.Equal(out, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(out, "\n"), strings.Join(want, "\n"))
	}

	out, _, err = stageRun(t, &aggSpec, map[string]any{"count": true}, in, runner.Framed)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(out, `{"obz":1,"t":"wm","w":"src","at":20}`) {
		t.Errorf("agg without --window did not pass the watermark on:\n%s", strings.Join(out, "\n"))
	}
}
