package runner

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Sizer is implemented by sources that know the size of their whole input
// (read of regular files). The progress line then shows a bar, a
// percentage and an ETA.
type Sizer interface {
	// InputProgress returns how many bytes of its input the source has
	// consumed and the size of the whole input, counted the same way (on
	// disk, for compressed files); total is 0 if unknown. It is called from
	// another goroutine than Produce's.
	InputProgress() (read, total int64)
}

// progressEvery is how often the progress line is redrawn.
const progressEvery = 200 * time.Millisecond

// progressView is what one progress line shows.
type progressView struct {
	Stage    string
	Events   uint64 // events produced (source) or read (other stages)
	Bytes    uint64 // bytes read, or written by a stage that reads none
	Total    int64  // bytes of the whole input, 0 if unknown
	Elapsed  time.Duration
	Rate     float64 // events per second, recent (the average when Done)
	ByteRate float64 // bytes per second, likewise
	Done     bool
}

const progressBar = 20

// renderProgress formats one progress line (no \r, no newline).
func renderProgress(v progressView) string {
	var b strings.Builder
	fmt.Fprintf(&b, "obz %s: ", v.Stage)
	if v.Total > 0 {
		frac := min(float64(v.Bytes)/float64(v.Total), 1)
		fill := int(frac * progressBar)
		b.WriteByte('[')
		b.WriteString(strings.Repeat("=", fill))
		if fill < progressBar {
			b.WriteByte('>')
			b.WriteString(strings.Repeat(" ", progressBar-fill-1))
		}
		fmt.Fprintf(&b, "] %3d%%  ", int(frac*100))
	}
	fmt.Fprintf(&b, "%s events  %s", humanCount(v.Events), humanBytes(float64(v.Bytes)))
	if v.Total > 0 {
		b.WriteString(" of " + humanBytes(float64(v.Total)))
	}
	fmt.Fprintf(&b, "  %s ev/s  %s", humanCount(uint64(v.Rate+0.5)), clock(v.Elapsed))
	if v.Total > 0 && !v.Done && v.ByteRate > 0 && int64(v.Bytes) < v.Total {
		eta := time.Duration(float64(v.Total-int64(v.Bytes)) / v.ByteRate * float64(time.Second))
		b.WriteString("  ETA " + clock(eta))
	}
	return b.String()
}

// humanCount writes n as 987, 12.3k, 4.56M, 7.89G.
func humanCount(n uint64) string {
	switch {
	case n < 10000:
		return fmt.Sprint(n)
	case n < 1e6:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	case n < 1e9:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	}
	return fmt.Sprintf("%.2fG", float64(n)/1e9)
}

// humanBytes writes n in B, KiB, MiB or GiB.
func humanBytes(n float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	u := 0
	for n >= 1024 && u < len(units)-1 {
		n /= 1024
		u++
	}
	if u == 0 {
		return fmt.Sprintf("%.0f B", n)
	}
	return fmt.Sprintf("%.1f %s", n, units[u])
}

// clock writes d as m:ss or h:mm:ss.
func clock(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// progressSample is the counters at one moment.
type progressSample struct {
	at            time.Time
	events, bytes uint64
}

// progressMeter turns samples of the counters into views: rates over the
// last couple of seconds.
type progressMeter struct {
	stage   string
	source  bool
	total   int64
	start   time.Time
	samples []progressSample // the most recent last
}

const progressWindow = 10 // samples in the rate window (2 s)

func (m *progressMeter) sample(c *Counters, now time.Time) progressSample {
	s := progressSample{at: now, events: c.In.Load(), bytes: c.BytesIn.Load()}
	if m.source {
		s.events = c.Out.Load()
	}
	if s.bytes == 0 {
		s.bytes = c.BytesOut.Load()
	}
	return s
}

// view adds s to the window and returns what to show.
func (m *progressMeter) view(s progressSample, done bool) progressView {
	m.samples = append(m.samples, s)
	if len(m.samples) > progressWindow+1 {
		m.samples = m.samples[1:]
	}
	v := progressView{Stage: m.stage, Events: s.events, Bytes: s.bytes, Total: m.total, Elapsed: s.at.Sub(m.start), Done: done}
	from := m.samples[0]
	if done || len(m.samples) == 1 {
		from = progressSample{at: m.start}
	}
	if dt := s.at.Sub(from.at).Seconds(); dt > 0 {
		v.Rate = float64(s.events-from.events) / dt
		v.ByteRate = float64(s.bytes-from.bytes) / dt
	}
	return v
}

// progressOut is the stage's stderr while the progress line is shown: a
// message from the stage first clears the line, which is redrawn on the
// next tick, so that messages are never mixed with it.
type progressOut struct {
	mu    sync.Mutex
	w     io.Writer
	shown bool
}

func (p *progressOut) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		io.WriteString(p.w, "\r\x1b[K")
		p.shown = false
	}
	return p.w.Write(b)
}

func (p *progressOut) show(line string, final bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	end := "\x1b[K"
	if final {
		end += "\n"
	}
	io.WriteString(p.w, "\r"+line+end)
	p.shown = !final
}

// startProgress shows the progress line on stderr while the stage runs, if
// env.Progress is set (cmd/obz sets it only when stderr is a terminal). It
// returns the stderr for the stage, and a func that draws the final line
// and stops. It reads the counters only: it stays out of the data path.
func startProgress(env *Env, name string, st Stage, start time.Time) (io.Writer, func()) {
	if env.ProgressHold {
		lock := newTermLock(env.Stderr)
		lock.try()
		return env.Stderr, lock.release
	}
	if !env.Progress {
		return env.Stderr, func() {}
	}
	out := &progressOut{w: env.Stderr}
	_, source := st.(Source)
	m := &progressMeter{stage: name, source: source, start: start}
	sizer, _ := st.(Sizer)
	// With ProgressShared the terminal may be shared by the other stages
	// of a pipeline: a stage draws only while it holds the terminal's lock.
	// A source tries from the first tick, the others from the second, so
	// the head of a pipeline, which knows how far its input is read, wins.
	var lock *termLock
	owned := !env.ProgressShared
	ticks := 0
	draw := func(now time.Time, final bool) {
		ticks++
		if !owned && (source || ticks > 1 || final) {
			if lock == nil {
				lock = newTermLock(env.Stderr)
			}
			owned = lock.try()
		}
		smp := m.sample(env.Counters, now)
		if sizer != nil {
			read, total := sizer.InputProgress()
			if total > 0 {
				m.total, smp.bytes = total, uint64(read)
			}
		}
		v := m.view(smp, final)
		if owned {
			out.show(renderProgress(v), final)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case now := <-t.C:
				draw(now, false)
			case <-stop:
				return
			}
		}
	}()
	return out, func() {
		close(stop)
		wg.Wait()
		draw(time.Now(), true)
		lock.release()
	}
}
