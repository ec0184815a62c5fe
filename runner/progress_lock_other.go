//go:build !linux

package runner

import "io"

// termLock is a no-op where the terminal cannot be locked: every stage
// that is asked to may draw.
type termLock struct{}

func newTermLock(io.Writer) *termLock { return &termLock{} }
func (l *termLock) try() bool         { return true }
func (l *termLock) release()          {}
