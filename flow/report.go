package flow

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/obz-dev/obz/exitstatus"
)

// What obz flow shows: its own messages (above the live block), the live
// block of one line per stage while it runs on a terminal, and the summary
// table at the end.

// say prints a line on stderr, keeping the live block below it.
func (s *supervisor) say(format string, args ...any) {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	s.clearLiveLocked()
	fmt.Fprintf(s.opts.Stderr, format+"\n", args...)
}

func (s *supervisor) clearLive() {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	s.clearLiveLocked()
}

func (s *supervisor) clearLiveLocked() {
	if s.live > 0 {
		fmt.Fprintf(s.opts.Stderr, "\x1b[%dA\x1b[J", s.live)
		s.live = 0
	}
}

// redraw shows one line per stage: state, counts, rates.
func (s *supervisor) redraw() {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	s.clearLiveLocked()
	var b strings.Builder
	width := 16
	for _, st := range s.order {
		width = max(width, len(st.Name))
	}
	for _, st := range s.order {
		p := s.procs[st.Name]
		p.mu.Lock()
		cur, prev := p.res.Status, p.prev
		p.prev = cur
		state := p.res.State
		restarts := p.res.Restarts
		stall := p.stall.note(time.Now())
		p.mu.Unlock()
		rate, note := 0.0, ""
		if dt := cur.Elapsed - prev.Elapsed; dt > 0 {
			rate = float64(cur.Out-prev.Out) / dt
			// Mostly blocked writing: the consumers are the bottleneck.
			if (cur.WaitOut-prev.WaitOut)/dt > 0.5 && len(st.Outputs) > 0 {
				note = "  backpressured by " + strings.Join(st.Outputs, ", ")
			}
		}
		if restarts > 0 {
			note += fmt.Sprintf("  restarts %d", restarts)
		}
		if stall != "" {
			note += "  " + strings.ToUpper(stall[:1]) + stall[1:]
		}
		fmt.Fprintf(&b, "  %-*s %-8s in %10d  out %10d  %9.0f/s  errors %d%s\n", width, st.Name, state, cur.In, cur.Out, rate, cur.Errors, note)
	}
	fmt.Fprint(s.opts.Stderr, b.String())
	s.live = len(s.order)
}

// Summary writes the end-of-run table.
func (r *Result) Summary(w io.Writer) {
	fmt.Fprintf(w, "obz flow %s: %s in %.2fs (run directory %s)\n", r.Flow, r.Outcome(), r.Ended.Sub(r.Started).Seconds(), r.RunDir)
	// The name column fits the longest name (a host's bridges are
	// nats.PRODUCER.CONSUMER), so the columns stay aligned.
	width := 16
	for _, s := range r.Stages {
		width = max(width, len(s.Name))
	}
	fmt.Fprintf(w, "  %-*s %-8s %4s %10s %10s %7s %9s %10s %5s\n", width, "stage", "state", "exit", "in", "out", "errors", "time", "out/s", "busy")
	for _, s := range r.Stages {
		d := s.Ended.Sub(s.Started).Seconds()
		rate := 0.0
		if d > 0 {
			rate = float64(s.Status.Out) / d
		}
		restarts := ""
		if s.Restarts > 0 {
			restarts = fmt.Sprintf("  restarts %d", s.Restarts)
		}
		fmt.Fprintf(w, "  %-*s %-8s %4d %10d %10d %7d %8.2fs %10.0f %4.0f%%%s\n", width, s.Name, s.State, s.ExitCode, s.Status.In, s.Status.Out, s.Status.Errors, d, rate, 100*s.Status.Busy(), restarts)
	}
}

// Outcome is one word for how the flow ended.
func (r *Result) Outcome() string {
	switch {
	case r.Failed != "":
		return "failed (stage " + r.Failed + ")"
	case r.RunDirErr != nil:
		return "failed (its run directory could not be written)"
	case r.Interrupted:
		return "stopped"
	case r.ErrorEvents():
		return "done, with error events"
	}
	return "done"
}

// ErrorEvents reports whether a stage ended with error events (exit 4).
func (r *Result) ErrorEvents() bool {
	for _, s := range r.Stages {
		if s.ExitCode == exitstatus.ErrorEvents {
			return true
		}
	}
	return false
}
