package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/obz-dev/obz/wire"
)

// buildVersion is what the build info says about this binary: the module
// version (set by go install MODULE@VERSION, or derived from the VCS by go
// build in a checkout), and the VCS revision, commit time and whether the
// tree had uncommitted changes (go build -buildvcs, the default in a
// checkout).
type buildVersion struct {
	Module   string // "" when the build info has none, or "(devel)"
	Revision string
	Time     string
	Modified bool
}

func readBuildVersion() buildVersion {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return buildVersion{}
	}
	return buildVersionOf(bi)
}

func buildVersionOf(bi *debug.BuildInfo) buildVersion {
	var v buildVersion
	if bi.Main.Version != "(devel)" {
		v.Module = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// short is the version recorded in run manifests: the module version, else
// devel with the revision when it is known.
func (v buildVersion) short() string {
	switch {
	case v.Module != "":
		return v.Module
	case v.Revision != "":
		s := "devel+" + abbrev(v.Revision)
		if v.Modified {
			s += "-modified"
		}
		return s
	}
	return "devel"
}

// long is obz --version: the version, the revision, its time and state,
// the Go release and the wire protocol version.
func (v buildVersion) long() string {
	var details []string
	if v.Revision != "" {
		details = append(details, "revision "+abbrev(v.Revision))
	}
	if v.Time != "" {
		details = append(details, v.Time)
	}
	if v.Modified {
		details = append(details, "modified")
	}
	mod := v.Module
	if mod == "" {
		mod = "devel"
	}
	tail := fmt.Sprintf("%s, protocol %d", runtime.Version(), wire.Version)
	if len(details) > 0 {
		tail = strings.Join(details, ", ") + "; " + tail
	}
	return fmt.Sprintf("obz %s (%s)", mod, tail)
}

func abbrev(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

// version is the short version of this binary (see buildVersion.short).
func version() string { return readBuildVersion().short() }
