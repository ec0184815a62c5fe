// Package replay re-runs, compares and resumes recorded runs of obz flow,
// and streams a journal's frames again:
//
//   - Stream writes a journal's frames (or a slice of them) to a writer,
//     as obz replay FILE.zst does.
//   - Prepare and Replay.Run re-run a recorded flow from its sources'
//     journals (obz replay RUN_DIR); Replayed.Verify compares each
//     stage's new journal with its recorded one (--verify).
//   - PlanResume rewrites a killed run's topology so that its sources
//     check what they produce against their journals and its sinks skip
//     what they delivered (obz flow --resume RUN_DIR).
//   - OpenRecorded and OpenMergeOrder read a journal for the stage runner
//     (runner.Recorded, runner.MergeOrder).
//
// The package knows no stage by name: what it needs to know about a stage
// (does it deliver in place, which flag skips delivered events, what it
// writes outside the run directory and how a replay silences it) comes
// from the stage's runner.Effects, through a Lookup that cmd/obz builds
// over the stage registry. Refusals are *RefusedError (obz exits 3); an
// invalid topology is a *TopologyError (exit 2).
package replay
