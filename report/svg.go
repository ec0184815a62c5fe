package report

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"

	"github.com/obz-dev/obz/flow"
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
