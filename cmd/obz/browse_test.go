package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/rogpeppe/go-internal/testscript"
)

// chromium is the browser browse drives: Debian's package, which .ci/run
// installs when it is missing.
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browse (testscript: browse PAGE.html SHOT.png) opens a page in headless
// Chromium as a user would, fails on any JavaScript error or console error
// and on any request that leaves the file (the report must load nothing),
// saves a screenshot (into the script's directory, and when
// OBZ_TEST_ARTIFACTS is set, there too) and prints what it sees for the
// script to check: the graph's nodes and edges, the rows of each table,
// the charts, the latencies, the verdict.
func browse(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: browse PAGE.html SHOT.png")
	}
	exe := chromium()
	if exe == "" {
		ts.Fatalf("no Chromium on PATH (the script should skip: [!exec:chromium] skip)")
	}
	page, err := filepath.Abs(ts.MkAbs(args[0]))
	ts.Check(err)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(ts.MkAbs("chromium-profile")),
		chromedp.WindowSize(1366, 900),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 4*time.Minute) // a guard against a hung browser, not a timing
	defer cancel()

	// Open the tab first, so that the listener misses nothing of the load.
	ts.Check(chromedp.Do(ctx))
	var mu sync.Mutex
	var problems []string
	ts.Check(chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			problems = append(problems, "JavaScript exception: "+e.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				problems = append(problems, fmt.Sprintf("console %s", e.Type))
			}
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError || e.Entry.Level == cdplog.EntryLevelWarning {
				problems = append(problems, fmt.Sprintf("console %s: %s", e.Entry.Level, e.Entry.Text))
			}
		case *network.EventRequestWillBeSent:
			if !strings.HasPrefix(e.Request.URL, "file://") && !strings.HasPrefix(e.Request.URL, "data:") {
				problems = append(problems, "request to "+e.Request.URL)
			}
		}
	}))
	ts.Check(chromedp.Do(ctx,
		chromedp.Navigate("file://"+page),
		chromedp.WaitVisible(`#graph svg`),
	))
	title, err := chromedp.Run(ctx, chromedp.Title())
	ts.Check(err)
	type seen struct {
		Nodes, Edges, StageRows, Charts, ChartPaths, ErrorRows, ReplayRows, EventRows int
		LatencyRows, LatencyE2E, LatencyProc, LatencyCells                            int
		Verdict                                                                       string
		GraphWidth                                                                    float64
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[seen](`(() => {
		const n = (sel) => document.querySelectorAll(sel).length;
		return {
			Nodes: n("#graph svg .node"), Edges: n("#graph svg path.edge"),
			StageRows: n("#stages tbody tr"), Charts: n("#throughput svg.chart"),
			ChartPaths: n("#throughput svg.chart path.area"),
			ErrorRows: n("#errors tbody tr"), ReplayRows: n("#replays tbody tr"),
			EventRows: n("#events tbody tr"),
			LatencyRows: n("#latency svg .name"), LatencyE2E: n("#latency svg g.e2e rect"),
			LatencyProc: n("#latency svg g.proc rect"),
			LatencyCells: [...document.querySelectorAll("#stages tbody td.lat")].filter((td) => /\d/.test(td.textContent)).length,
			Verdict: document.querySelector("#verdict").textContent,
			GraphWidth: document.querySelector("#graph svg").getBoundingClientRect().width,
		};
	})()`))
	ts.Check(err)
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), shot, 0o644))
	if dir := os.Getenv("OBZ_TEST_ARTIFACTS"); dir != "" {
		ts.Check(os.MkdirAll(dir, 0o755))
		ts.Check(os.WriteFile(filepath.Join(dir, filepath.Base(args[1])), shot, 0o644))
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		ts.Logf("%s", p)
	}
	if len(problems) > 0 {
		ts.Fatalf("the page had %d problem(s) in the browser", len(problems))
	}
	if got.GraphWidth < 100 {
		ts.Fatalf("the graph is drawn %.0f px wide", got.GraphWidth)
	}
	fmt.Fprintf(ts.Stdout(), "title: %s\nverdict: %s\nnodes: %d\nedges: %d\nstage rows: %d\ncharts: %d (%d drawn)\nerror rows: %d\nreplay rows: %d\nevent rows: %d\nlatency rows: %d (%d end to end, %d batch)\nlatency cells: %d\n",
		title, got.Verdict, got.Nodes, got.Edges, got.StageRows, got.Charts, got.ChartPaths, got.ErrorRows, got.ReplayRows, got.EventRows,
		got.LatencyRows, got.LatencyE2E, got.LatencyProc, got.LatencyCells)
	ts.Logf("screenshot: %s (%d bytes)", ts.MkAbs(args[1]), len(shot))
}
