package stages

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
)

// atomicFile is one output file of a sink. By default it is written under a
// temporary name beside its target and renamed when complete, so that the
// target is never seen half-written. Two other ways of writing keep the
// target in place: a device, FIFO or socket (direct), and a file opened for
// appending (appended).
type atomicFile struct {
	target    string // the file to replace
	name      string // as the user named it, for messages
	f         *os.File
	committed bool
	// direct: target is a device, FIFO or socket (/dev/null, /dev/stdout,
	// a named pipe), written in place. Renaming over it would replace the
	// device node with a regular file.
	direct bool
	// appended: target is a regular file opened with O_APPEND; size0 is its
	// size before this run, created says this run created it.
	appended bool
	size0    int64
	created  bool
	// nosync skips fsync at commit (write --fsync=false).
	nosync bool
}

// createAtomic creates the temporary file for target. It is created with
// mode 0666 less the umask, as the shell's > does, or with target's mode
// when target exists.
func createAtomic(target, name string) (*atomicFile, error) {
	if fi, err := os.Stat(target); err == nil && !fi.Mode().IsRegular() && !fi.IsDir() {
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return nil, fmt.Errorf("cannot write %s: %w", name, err)
		}
		return &atomicFile{target: target, name: name, f: f, direct: true}, nil
	}
	dir, base := filepath.Split(target)
	for range 100 {
		tmp := filepath.Join(dir, "."+base+".obz-tmp-"+strconv.FormatUint(uint64(rand.Uint32()), 36))
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cannot write %s: %w", name, err)
		}
		if fi, err := os.Stat(target); err == nil && fi.Mode().IsRegular() {
			f.Chmod(fi.Mode().Perm())
		}
		return &atomicFile{target: target, name: name, f: f}, nil
	}
	return nil, fmt.Errorf("cannot write %s: no free temporary name beside it", name)
}

// openAppend opens target for appending, creating it (0666 less the umask)
// if it does not exist. A device, FIFO or socket is written directly.
func openAppend(target, name string) (*atomicFile, error) {
	_, statErr := os.Stat(target)
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o666)
	if err != nil {
		return nil, fmt.Errorf("cannot append to %s: %w", name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot append to %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return &atomicFile{target: target, name: name, f: f, direct: true}, nil
	}
	return &atomicFile{target: target, name: name, f: f, appended: true, size0: fi.Size(),
		created: errors.Is(statErr, os.ErrNotExist)}, nil
}

// inPlace reports whether what is written goes to the target at once
// (appended, or a device), rather than to a temporary file.
func (a *atomicFile) inPlace() bool { return a.direct || a.appended }

// commit syncs and closes the file (its writes flushed) and renames it to
// target+suffix. A file written in place is synced and closed; suffix does
// not apply to it.
func (a *atomicFile) commit(suffix string) error {
	if a.direct {
		a.committed = true
		if err := a.f.Close(); err != nil {
			return fmt.Errorf("writing %s: %w", a.name, err)
		}
		return nil
	}
	if a.appended {
		a.committed = true
		var err error
		if !a.nosync {
			err = a.f.Sync()
		}
		if cerr := a.f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("appending to %s: %w", a.name, err)
		}
		if a.created && !a.nosync {
			syncDir(filepath.Dir(a.target))
		}
		return nil
	}
	name := a.target + suffix
	var err error
	if !a.nosync {
		err = a.f.Sync()
	}
	if cerr := a.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(a.f.Name(), name)
	}
	if err != nil {
		os.Remove(a.f.Name())
		a.committed = true // nothing left to clean up
		return fmt.Errorf("writing %s: %w", a.name+suffix, err)
	}
	a.committed = true
	if !a.nosync {
		syncDir(filepath.Dir(name)) // make the rename durable
	}
	return nil
}

// syncDir syncs a directory, so that a rename or a new file in it survives
// a crash. Not all systems can sync a directory: errors are ignored.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// discard closes and removes the temporary file.
func (a *atomicFile) discard() {
	a.f.Close()
	if !a.direct && !a.appended {
		os.Remove(a.f.Name())
	}
}

// rollback undoes an append that did not complete: the file is cut back to
// its size before this run (removed if this run created it), provided that
// it holds exactly what was there plus the wrote bytes of this run. If
// someone else appended meanwhile it is left alone: ok is false.
func (a *atomicFile) rollback(wrote int64) (ok bool) {
	defer a.f.Close()
	fi, err := a.f.Stat()
	if err != nil || fi.Size() != a.size0+wrote {
		return false
	}
	if a.created && a.size0 == 0 {
		return os.Remove(a.target) == nil
	}
	if a.f.Truncate(a.size0) != nil {
		return false
	}
	a.f.Sync()
	return true
}

// resolveTarget follows symlinks, so that writing through a link replaces
// the file it points to, as the shell's > does, not the link.
func resolveTarget(path string) string {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		if t, err := filepath.EvalSymlinks(path); err == nil {
			return t
		}
	}
	return path
}

func samePath(a, b string) bool {
	a, errA := filepath.Abs(a)
	b, errB := filepath.Abs(b)
	return errA == nil && errB == nil && a == b
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n atomic.Uint64 // atomic: a compressor may write from its own goroutine
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(uint64(n))
	return n, err
}
