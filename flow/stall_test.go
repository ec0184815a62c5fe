package flow

import (
	"testing"
	"time"

	"github.com/obz-dev/obz/wire"
)

func TestStallWatch(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	type obs struct {
		at      float64
		st      wire.Status
		pending bool
		want    Liveness
		changed bool
	}
	for _, tc := range []struct {
		name string
		obs  []obs
	}{
		{"progress keeps it live", []obs{
			{0, wire.Status{In: 1, Elapsed: 0}, true, Live, false},
			{5, wire.Status{In: 2, Elapsed: 5}, true, Live, false},
			{20, wire.Status{In: 3, Elapsed: 20}, true, Live, false},
		}},
		{"input pending, no progress: stalled, then live again", []obs{
			{0, wire.Status{In: 1, Elapsed: 0}, true, Live, false},
			{5, wire.Status{In: 1, Elapsed: 5}, true, Live, false},
			{11, wire.Status{In: 1, Elapsed: 11}, true, Stalled, true},
			{12, wire.Status{In: 1, Elapsed: 12}, true, Stalled, false},
			{13, wire.Status{In: 2, Elapsed: 13}, true, Live, true},
		}},
		{"nothing to read: idle, not stalled", []obs{
			{0, wire.Status{In: 1, Elapsed: 0}, false, Live, false},
			{30, wire.Status{In: 1, Elapsed: 30}, false, Live, false},
		}},
		{"waiting for input is progress", []obs{
			{0, wire.Status{In: 1, Elapsed: 0}, true, Live, false},
			{30, wire.Status{In: 1, Elapsed: 30, WaitIn: 29}, true, Live, false},
		}},
		{"blocked writing: backpressured", []obs{
			{0, wire.Status{Out: 1, Elapsed: 0}, false, Live, false},
			{11, wire.Status{Out: 1, Elapsed: 11, WaitOut: 10}, false, Backpressured, true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := stallWatch{after: 10 * time.Second}
			for i, o := range tc.obs {
				got, changed := w.observe(o.st, at(o.at), o.pending)
				if got != o.want || changed != o.changed {
					t.Fatalf("observation %d: got %s (changed %v), want %s (changed %v)", i, got, changed, o.want, o.changed)
				}
			}
		})
	}
}
