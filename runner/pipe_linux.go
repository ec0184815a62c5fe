package runner

import "syscall"

// pipeSize is what an input pipe is enlarged to: Linux's default of 64 KiB
// makes the writer and the reader take turns every 64 KiB (a context switch
// each); 1 MiB is the unprivileged maximum (/proc/sys/fs/pipe-max-size).
const pipeSize = 1 << 20

// fSetPipeSz is F_SETPIPE_SZ (fcntl.h), absent from package syscall.
const fSetPipeSz = 1031

// growPipe enlarges the pipe r is, if it is one. Either end may resize a
// pipe, so each stage doing it on its inputs covers every edge between
// stages, whoever made the pipe (a shell or obz flow). Failure (not a pipe,
// a per-user limit) changes nothing.
func growPipe(r any) {
	c, ok := r.(syscall.Conn) // not Fd(), which would make the file blocking
	if !ok {
		return
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		var st syscall.Stat_t
		if syscall.Fstat(int(fd), &st) == nil && st.Mode&syscall.S_IFMT == syscall.S_IFIFO {
			syscall.Syscall(syscall.SYS_FCNTL, fd, fSetPipeSz, pipeSize)
		}
	})
}

// GrowPipe enlarges a pipe that obz reads or writes other than a stage's
// input edge: a replica's input and output (obz parallel), an exec
// program's stdin and stdout. Failure changes nothing.
func GrowPipe(f any) { growPipe(f) }
