package flow

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// RunInfo is one run directory under a base directory, as `obz runs`
// lists it.
type RunInfo struct {
	Dir     string    `json:"dir"`
	Flow    string    `json:"flow"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"`
	// Status: done, failed, stopped (interrupted), running (a stage's
	// process is alive), killed (no end recorded, no stage alive).
	Status      string `json:"status"`
	Size        int64  `json:"size"` // bytes of its files, replays included
	ResumedFrom string `json:"resumed_from,omitempty"`
	// NeededBy names the runs that resumed this one (their manifests'
	// resumed_from): prune keeps it unless forced.
	NeededBy []string `json:"needed_by,omitempty"`
}

// Run statuses.
const (
	RunDone    = "done"
	RunFailed  = "failed"
	RunStopped = "stopped"
	RunRunning = "running"
	RunKilled  = "killed"
)

// ListRuns reads the run directories directly under base (those with a
// manifest.json; other entries are ignored), oldest first.
func ListRuns(base string) ([]*RunInfo, error) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return nil, err
	}
	var runs []*RunInfo
	byDir := map[string]*RunInfo{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(base, e.Name())
		m, err := ReadManifest(dir)
		if errors.Is(err, ErrNoManifest) {
			continue
		}
		if err != nil {
			return nil, err
		}
		size, err := dirSize(dir)
		if err != nil {
			return nil, err
		}
		ri := &RunInfo{Dir: dir, Flow: m.Flow, Started: m.Started, Ended: m.Ended, Status: runStatus(m), Size: size, ResumedFrom: m.ResumedFrom}
		runs = append(runs, ri)
		byDir[canonical(dir)] = ri
	}
	for _, ri := range runs {
		if ri.ResumedFrom == "" {
			continue
		}
		if from := byDir[canonical(ri.ResumedFrom)]; from != nil {
			from.NeededBy = append(from.NeededBy, ri.Dir)
		}
	}
	sort.SliceStable(runs, func(i, j int) bool {
		if !runs[i].Started.Equal(runs[j].Started) {
			return runs[i].Started.Before(runs[j].Started)
		}
		return runs[i].Dir < runs[j].Dir
	})
	return runs, nil
}

// canonical is dir as an absolute, clean path, so that a resumed_from
// written relative to another working directory still matches.
func canonical(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	return dir
}

func runStatus(m *Result) string {
	switch {
	case !m.Ended.IsZero() && m.Failed != "":
		return RunFailed
	case !m.Ended.IsZero() && m.Interrupted:
		return RunStopped
	case !m.Ended.IsZero():
		for _, s := range m.Stages {
			if s.State != StateDone {
				return RunFailed
			}
		}
		return RunDone
	}
	for _, s := range m.Stages {
		if s.State == StateRunning && ProcessAlive(s.PID) {
			return RunRunning
		}
	}
	return RunKilled
}

// ProcessAlive reports whether pid is a live process (not a zombie): the
// stage of a run that still runs.
func ProcessAlive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) { // removed while we walk
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n, err
}

// PruneOptions select the runs to remove. A run is removed when any set
// criterion selects it.
type PruneOptions struct {
	Keep      int           // keep the newest Keep runs of each flow (0: no limit)
	OlderThan time.Duration // remove runs started longer ago than this (0: no limit)
	MaxSize   int64         // remove the oldest runs until all take at most this many bytes (0: no limit)
	// Force removes runs that a later run resumed (NeededBy) as well.
	// Running runs are never removed.
	Force bool
	// Current is a run directory never removed: the run that just ended,
	// when obz flow applies a topology's retention.
	Current string
	Now     time.Time // for OlderThan; time.Now() if zero
}

// PruneDecision is what Prune decided about one run.
type PruneDecision struct {
	Run    *RunInfo
	Remove bool
	Why    string // why it is removed, or why it is kept although selected
}

// PlanPrune decides, for runs as ListRuns returns them (oldest first),
// which to remove. It removes nothing.
func PlanPrune(runs []*RunInfo, o PruneOptions) []PruneDecision {
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	ds := make([]PruneDecision, len(runs))
	for i, r := range runs {
		ds[i].Run = r
	}
	why := make([]string, len(runs))
	if o.Keep > 0 {
		seen := map[string]int{}
		for i := len(runs) - 1; i >= 0; i-- {
			seen[runs[i].Flow]++
			if seen[runs[i].Flow] > o.Keep {
				why[i] = fmt.Sprintf("beyond the newest %d runs of flow %s", o.Keep, runs[i].Flow)
			}
		}
	}
	if o.OlderThan > 0 {
		for i, r := range runs {
			if why[i] == "" && now.Sub(r.Started) > o.OlderThan {
				why[i] = fmt.Sprintf("started %s ago", now.Sub(r.Started).Round(time.Minute))
			}
		}
	}
	kept := func(i int) (bool, string) {
		switch {
		case runs[i].Status == RunRunning:
			return true, "running"
		case o.Current != "" && canonical(runs[i].Dir) == canonical(o.Current):
			return true, "the run that just ended"
		case len(runs[i].NeededBy) > 0 && !o.Force:
			return true, "resumed by " + strings.Join(runs[i].NeededBy, ", ") + " (--force removes it)"
		}
		return false, ""
	}
	for i := range runs {
		if why[i] == "" {
			continue
		}
		if keep, reason := kept(i); keep {
			ds[i].Why = "kept, " + reason + "; selected: " + why[i]
			continue
		}
		ds[i].Remove, ds[i].Why = true, why[i]
	}
	if o.MaxSize > 0 {
		var total int64
		for i := range ds {
			if !ds[i].Remove {
				total += runs[i].Size
			}
		}
		// Oldest first, never the newest run.
		for i := 0; i < len(ds)-1 && total > o.MaxSize; i++ {
			if ds[i].Remove {
				continue
			}
			if keep, reason := kept(i); keep {
				if ds[i].Why == "" {
					ds[i].Why = "kept, " + reason + "; selected: over --max-size"
				}
				continue
			}
			ds[i].Remove, ds[i].Why = true, fmt.Sprintf("runs take more than %d bytes", o.MaxSize)
			total -= runs[i].Size
		}
	}
	return ds
}

// RemoveRun deletes a run directory. It refuses a directory without a
// manifest.json: only run directories are removed.
func RemoveRun(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err != nil {
		return fmt.Errorf("%s: not a run directory: %w", dir, ErrNoManifest)
	}
	return os.RemoveAll(dir)
}

// ParseAge reads an age such as 7d, 2w, 36h or 90m: Go durations plus d
// (days) and w (weeks).
func ParseAge(s string) (time.Duration, error) {
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if num, ok := strings.CutSuffix(s, suffix); ok {
			f, err := strconv.ParseFloat(num, 64)
			if err != nil || f < 0 {
				return 0, fmt.Errorf("invalid age %q: want a number of d, w, h, m or s, e.g. 7d", s)
			}
			return time.Duration(f * float64(unit)), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid age %q: want a number of d, w, h, m or s, e.g. 7d", s)
	}
	return d, nil
}

// ParseSize reads a size such as 1GiB, 500MB, 200M or 4096: B, K/KB (1000),
// KiB (1024), and likewise M, G, T; a bare K, M, G or T is binary.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return !(r >= '0' && r <= '9' || r == '.') })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("invalid size %q: want e.g. 1GiB, 500MB or 4096", s)
	}
	mult := map[string]float64{"": 1, "B": 1,
		"K": 1 << 10, "KB": 1e3, "KIB": 1 << 10,
		"M": 1 << 20, "MB": 1e6, "MIB": 1 << 20,
		"G": 1 << 30, "GB": 1e9, "GIB": 1 << 30,
		"T": 1 << 40, "TB": 1e12, "TIB": 1 << 40}
	m, ok := mult[strings.ToUpper(unit)]
	if !ok {
		return 0, fmt.Errorf("invalid size %q: want e.g. 1GiB, 500MB or 4096", s)
	}
	return int64(f * m), nil
}
