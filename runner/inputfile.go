package runner

import (
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/obz-dev/obz/journal"
)

// stdinFile returns stdin as a file a journal may refer to (journal.
// AppendInputRef): a regular file whose path the system tells
// (/proc/self/fd) and a reference can hold. It returns nil otherwise: a
// pipe, a terminal, a file that was removed or replaced since it was
// opened, a system without /proc.
func stdinFile(r io.Reader, journalDir string) *journal.FileID {
	f, ok := r.(*os.File)
	if !ok || f == nil {
		return nil
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil
	}
	path, err := os.Readlink("/proc/self/fd/" + strconv.FormatUint(uint64(f.Fd()), 10))
	if err != nil || !filepath.IsAbs(path) || !journal.FilePath(path) {
		return nil
	}
	if now, err := os.Stat(path); err != nil || !os.SameFile(st, now) {
		return nil
	}
	return &journal.FileID{Path: path, Size: st.Size(), MTime: st.ModTime().UnixNano(), Rel: journal.RelPath(journalDir, path)}
}
