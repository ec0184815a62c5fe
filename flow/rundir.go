package flow

import (
	"errors"
	"fmt"
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
