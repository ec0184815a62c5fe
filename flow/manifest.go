package flow

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// ManifestVersion is the schema version of the manifest.json this obz
// writes ("manifest_version"). A manifest without one was written before
// manifests had a version, and reads as version 1, which it is.
const ManifestVersion = 1

// ManifestVersionError: a manifest of a schema version this obz does not
// know (written by a newer obz). The caller refuses the run directory: read
// it with the obz that wrote it.
type ManifestVersionError struct {
	Path    string
	Version int
}

func (e *ManifestVersionError) Error() string {
	return fmt.Sprintf("%s has schema version %d, and this obz reads manifest versions 1 to %d: use the obz that wrote it (or a newer one)",
		e.Path, e.Version, ManifestVersion)
}

// ErrNoManifest: the directory has no manifest.json, so it is not a run
// directory of obz flow.
var ErrNoManifest = errors.New("no manifest.json")

// manifest is manifest.json: a Result with the schema version first.
type manifest struct {
	Version int `json:"manifest_version"`
	*Result
}

// WriteManifest writes r to r.RunDir/manifest.json, through a temporary
// file renamed over it, so a reader never sees half a manifest.
func WriteManifest(r *Result) error { return writeManifestWith(r, openFile) }

// writeManifestWith is WriteManifest with the temporary file opened by
// open. When it cannot be written whole (a full disk) it is removed, and
// manifest.json keeps its previous content.
func writeManifestWith(r *Result, open openFunc) error {
	b, err := json.MarshalIndent(manifest{Version: ManifestVersion, Result: r}, "", "  ")
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	tmp := filepath.Join(r.RunDir, ".manifest.json.tmp")
	f, err := open(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("writing manifest.json: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(r.RunDir, "manifest.json"))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing manifest.json: %w", err)
	}
	return nil
}

// ReadManifest reads runDir/manifest.json. It returns an error wrapping
// ErrNoManifest when there is none, and a *ManifestVersionError when its
// schema version is not one this obz knows. The result's RunDir is runDir.
func ReadManifest(runDir string) (*Result, error) {
	path := filepath.Join(runDir, "manifest.json")
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil, fmt.Errorf("%s: %w", runDir, ErrNoManifest)
		}
		return nil, err
	}
	var m manifest
	m.Result = &Result{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if m.Version == 0 {
		m.Version = 1
	}
	if m.Version < 1 || m.Version > ManifestVersion {
		return nil, &ManifestVersionError{Path: path, Version: m.Version}
	}
	if m.RunDir != "" {
		m.RunDir = runDir
	}
	return m.Result, nil
}
