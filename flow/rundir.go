package flow

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// maxRunDirTries bounds the names makeRunDir tries for one start time.
const maxRunDirTries = 1000

// makeRunDir creates the run directory base/NAME-TIMESTAMP of a run started
// at start, and returns its path. It is created exclusively (os.Mkdir, not
// MkdirAll): two flows started in the same millisecond would otherwise share
// one directory and write over each other's journals. When the name is
// taken the next one is tried: NAME-TIMESTAMP-2, -3, and so on.
func makeRunDir(base, name string, start time.Time) (string, error) {
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", fmt.Errorf("creating run directory: %w", err)
	}
	id := name + "-" + start.Format("20060102T150405.000Z")
	for n := 1; n <= maxRunDirTries; n++ {
		dir := filepath.Join(base, id)
		if n > 1 {
			dir += "-" + strconv.Itoa(n)
		}
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("creating run directory: %w", err)
		}
	}
	return "", fmt.Errorf("creating run directory: %s and %d more names after it exist already", filepath.Join(base, id), maxRunDirTries-1)
}

// openFunc opens a file of the run directory for writing (os.OpenFile): the
// manifest and the stages' logs. Tests replace it with one whose writes
// fail, as on a full disk.
type openFunc func(name string, flag int, perm os.FileMode) (io.WriteCloser, error)

func openFile(name string, flag int, perm os.FileMode) (io.WriteCloser, error) {
	return os.OpenFile(name, flag, perm)
}

// runDirError records the first error writing the run directory in
// s.res.RunDirErr, and says at once, once per file, that the file could not
// be written: the run goes on (its stages run already), but its record is
// incomplete, and obz flow will fail when it ends.
func (s *supervisor) runDirError(file string, err error) {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if s.res.RunDirErr == nil {
		s.res.RunDirErr = err
	}
	if s.badFiles == nil {
		s.badFiles = map[string]bool{}
	}
	if s.badFiles[file] {
		return
	}
	s.badFiles[file] = true
	s.say("obz flow: the run directory is incomplete: %v", err)
}
