package stages

import (
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// readProgress counts how far read is through its files, in bytes on disk
// (compressed bytes for a compressed file), against their total size, for
// the progress line's percentage and ETA (runner.Sizer).
type readProgress struct {
	done      atomic.Int64 // bytes read from the files, summed
	totalOnce sync.Once
	total     int64
}

// counted wraps a file being read so that its bytes count.
func (p *readProgress) counted(f io.Reader) io.Reader { return &countingReader{r: f, n: &p.done} }

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// InputProgress implements runner.Sizer: the total is the size of the
// files when every input is a regular file (not stdin, not --follow).
func (r *readStage) InputProgress() (read, total int64) {
	r.progress.totalOnce.Do(func() {
		if r.follow > 0 {
			return
		}
		var sum int64
		for _, name := range r.files {
			fi, err := os.Stat(name)
			if name == stdinName || err != nil || !fi.Mode().IsRegular() {
				return
			}
			sum += fi.Size()
		}
		r.progress.total = sum
	})
	return r.progress.done.Load(), r.progress.total
}
