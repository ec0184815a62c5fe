package flow

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestManifest(t *testing.T) {
	dir := t.TempDir()
	r := &Result{Flow: "f", RunDir: dir, Stages: []*StageResult{{Name: "a", State: StateDone}}}
	if err := WriteManifest(r); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if !strings.HasPrefix(string(b), "{\n  \"manifest_version\": 1,\n  \"flow\": \"f\"") {
		t.Errorf("the version comes first:\n%s", b)
	}
	got, err := ReadManifest(dir)
	if err != nil || got.Flow != "f" || len(got.Stages) != 1 || got.Stages[0].State != StateDone {
		t.Fatalf("read back: %+v, %v", got, err)
	}

	// Written before manifests had a version: version 1.
	os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(`{"flow": "old", "run_dir": "elsewhere"}`), 0o644)
	if got, err := ReadManifest(dir); err != nil || got.Flow != "old" || got.RunDir != dir {
		t.Errorf("an old manifest: %+v, %v", got, err)
	}

	for _, v := range []string{"2", "-1"} {
		os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(`{"manifest_version": `+v+`, "flow": "new"}`), 0o644)
		_, err = ReadManifest(dir)
		var ve *ManifestVersionError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), "schema version "+v) {
			t.Errorf("version %s: %v", v, err)
		}
	}

	if _, err := ReadManifest(filepath.Join(dir, "nosuch")); !errors.Is(err, ErrNoManifest) {
		t.Errorf("no manifest: %v", err)
	}

	// A manifest that cannot be written is an error.
	r = &Result{RunDir: filepath.Join(dir, "gone")}
	if err := WriteManifest(r); err == nil {
		t.Error("a manifest that could not be written was not reported")
	}
}
