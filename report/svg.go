package report

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"

	"github.com/obz-dev/obz/flow"
	"github.com/obz-dev/obz/wire"
)

// The graph's geometry, in SVG units.
const (
	nodeW, nodeH = 168, 54
	colGap       = 84
	rowGap       = 26
	pad          = 16
)

// graphSVG draws the flow: a column per depth, a box per stage coloured by
// its state, an arrow per edge labelled with the events that crossed it
// (dashed for a join's reference).
func graphSVG(r *Run) template.HTML {
	cols, rows := 0, 0
	for _, s := range r.Stages {
		cols = max(cols, s.Depth+1)
		rows = max(rows, s.Row+1)
	}
	w := pad*2 + cols*nodeW + max(cols-1, 0)*colGap
	h := pad*2 + rows*nodeH + max(rows-1, 0)*rowGap
	pos := map[string][2]int{}
	for _, s := range r.Stages {
		pos[s.Name] = [2]int{pad + s.Depth*(nodeW+colGap), pad + s.Row*(nodeH+rowGap)}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="graph" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="the flow's graph">`, w, h, w, h)
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#6b7280"/></marker></defs>`)
	for _, e := range r.Edges {
		a, okA := pos[e.From]
		z, okZ := pos[e.To]
		if !okA || !okZ {
			continue
		}
		x1, y1 := a[0]+nodeW, a[1]+nodeH/2
		x2, y2 := z[0]-2, z[1]+nodeH/2
		mid := (x1 + x2) / 2
		dash := ""
		if e.Reference {
			dash = ` stroke-dasharray="5 4"`
		}
		fmt.Fprintf(&b, `<path class="edge" d="M%d,%d C%d,%d %d,%d %d,%d"%s marker-end="url(#arrow)"><title>%s → %s: %s events%s</title></path>`,
			x1, y1, mid, y1, mid, y2, x2, y2, dash, esc(e.From), esc(e.To), count(e.Events), refNote(e.Reference))
		fmt.Fprintf(&b, `<text class="elabel" x="%d" y="%d">%s</text>`, mid, (y1+y2)/2-5, count(e.Events))
	}
	for _, s := range r.Stages {
		p := pos[s.Name]
		fmt.Fprintf(&b, `<g class="node %s" transform="translate(%d,%d)"><title>%s (%s): %s in, %s out, %s errors</title>`,
			stateClass(s), p[0], p[1], esc(s.Name), esc(s.State.String()), count(s.Status.In), count(s.Status.Out), count(s.Status.Errors))
		fmt.Fprintf(&b, `<rect width="%d" height="%d" rx="8"/>`, nodeW, nodeH)
		// The busy share as a bar along the bottom edge.
		if busy := s.Status.Busy(); busy > 0 {
			fmt.Fprintf(&b, `<rect class="busy" x="1" y="%d" width="%.1f" height="4" rx="2"/>`, nodeH-6, busy*float64(nodeW-2))
		}
		fmt.Fprintf(&b, `<text class="name" x="12" y="21">%s</text>`, esc(clip(s.Name, 22)))
		fmt.Fprintf(&b, `<text class="sub" x="12" y="39">%s</text>`, esc(clip(verb(s), 26)))
		b.WriteString(`</g>`)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func refNote(ref bool) string {
	if ref {
		return " (reference, read to its end first)"
	}
	return ""
}

// verb is the stage's command without its flags' values, for a node label.
func verb(s *Stage) string {
	if len(s.Argv) == 0 {
		return ""
	}
	return strings.Join(s.Argv, " ")
}

// chart draws a stage's throughput with axes: events per second against
// seconds since the run started.
func chart(series []float64, peak, seconds float64) template.HTML {
	const w, h, left, bottom = 520, 150, 54, 22
	pw, ph := w-left-8, h-bottom-10
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" width="100%%" role="img" aria-label="events per second over time">`, w, h)
	top := niceCeil(peak)
	for i := 0; i <= 4; i++ {
		y := 10 + ph - ph*i/4
		fmt.Fprintf(&b, `<line class="grid" x1="%d" y1="%d" x2="%d" y2="%d"/>`, left, y, left+pw, y)
		fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d" text-anchor="end">%s</text>`, left-6, y+4, rate(top*float64(i)/4))
	}
	for i := 0; i <= 4; i++ {
		x := left + pw*i/4
		fmt.Fprintf(&b, `<text class="tick" x="%d" y="%d" text-anchor="middle">%s</text>`, x, h-4, secs(seconds*float64(i)/4))
	}
	if top > 0 && len(series) > 0 {
		step := float64(pw) / float64(len(series))
		fmt.Fprintf(&b, `<path class="area" d="M%d,%d`, left, 10+ph)
		for i, v := range series {
			y := 10 + float64(ph) - v/top*float64(ph)
			fmt.Fprintf(&b, " L%.1f,%.1f L%.1f,%.1f", float64(left)+float64(i)*step, y, float64(left)+float64(i+1)*step, y)
		}
		fmt.Fprintf(&b, ` L%d,%d Z"/>`, left+pw, 10+ph)
	}
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, left, 10+ph, left+pw, 10+ph)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 0
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func stateClass(s *Stage) string {
	switch {
	case s.State == flow.StateDone && s.Status.Errors > 0:
		return "st-letters"
	default:
		return "st-" + s.State.String()
	}
}

func esc(s string) string { return html.EscapeString(s) }

// latencyChart draws, for each stage that measured any, its end-to-end
// latency and its batch processing time on one logarithmic axis: a bar
// from p50 to p99, a dot at p50 and a tick at the max. A stage whose
// bar ends far right is where events waited.
func latencyChart(stages []*Stage) template.HTML {
	lo, hi := math.Inf(1), 0.0
	var rows []*Stage
	for _, s := range stages {
		any := false
		for _, h := range []*wire.Hist{s.Status.E2E, s.Status.Proc} {
			if h != nil && h.N > 0 {
				any = true
				lo = min(lo, h.Quantile(0.5))
				hi = max(hi, h.Max)
			}
		}
		if any {
			rows = append(rows, s)
		}
	}
	if len(rows) == 0 {
		return ""
	}
	// Whole decades around the values, at least 1 µs.
	lo = math.Pow(10, math.Floor(math.Log10(max(lo, 1e-6))))
	hi = math.Pow(10, math.Ceil(math.Log10(max(hi, lo*10))))
	const w, left, rowH, top = 720, 120, 34, 14
	pw := w - left - 16
	h := top + len(rows)*rowH + 24
	x := func(v float64) float64 {
		v = min(max(v, lo), hi)
		return float64(left) + float64(pw)*math.Log10(v/lo)/math.Log10(hi/lo)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="latency" viewBox="0 0 %d %d" width="100%%" role="img" aria-label="latency per stage">`, w, h)
	for d := lo; d <= hi*1.001; d *= 10 {
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>`, x(d), top-4, x(d), h-20)
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%d" text-anchor="middle">%s</text>`, x(d), h-6, dur(d))
	}
	for i, s := range rows {
		y := top + i*rowH
		fmt.Fprintf(&b, `<text class="name" x="%d" y="%d" text-anchor="end">%s</text>`, left-8, y+15, esc(s.Name))
		for j, m := range []struct {
			h     *wire.Hist
			class string
			what  string
		}{{s.Status.E2E, "e2e", "end to end"}, {s.Status.Proc, "proc", "batch processing"}} {
			if m.h == nil || m.h.N == 0 {
				continue
			}
			by := y + 4 + j*12
			p50, p99 := m.h.Quantile(0.5), m.h.Quantile(0.99)
			fmt.Fprintf(&b, `<g class="%s"><title>%s, %s: p50 %s, p90 %s, p99 %s, max %s (%s measured)</title>`,
				m.class, esc(s.Name), m.what, dur(p50), dur(m.h.Quantile(0.9)), dur(p99), dur(m.h.Max), count(m.h.N))
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="8" rx="4"/>`, x(p50), by, max(x(p99)-x(p50), 2))
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%d" r="4"/>`, x(p50), by+4)
			fmt.Fprintf(&b, `<line class="max" x1="%.1f" y1="%d" x2="%.1f" y2="%d"/></g>`, x(m.h.Max), by-1, x(m.h.Max), by+9)
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// dur writes a duration in seconds as µs, ms or s.
func dur(s float64) string {
	switch {
	case s < 1e-3:
		return fmt.Sprintf("%.0fµs", s*1e6)
	case s < 1:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", s*1e3), "0"), ".") + "ms"
	}
	return secs(s)
}

// latency writes a histogram's p50 and p99 for a table cell.
func latency(h *wire.Hist) string {
	if h == nil || h.N == 0 {
		return ""
	}
	return dur(h.Quantile(0.5)) + " · " + dur(h.Quantile(0.99))
}
