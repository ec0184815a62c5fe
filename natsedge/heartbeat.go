package natsedge

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// DefaultHeartbeat is how often Out says that its publisher is alive
// (OutOptions.Heartbeat).
const DefaultHeartbeat = 2 * time.Second

// DefaultIdleTimeout is how long obz nats sub waits with neither a message
// nor a heartbeat from the publishing side before the edge fails.
const DefaultIdleTimeout = 30 * time.Second

// PublisherHeader names, on a mark (Out.Suspend, Out.Abort), the publisher
// that published it: its heartbeats, if any still come after it, do not
// count as the publishing side resumed.
const PublisherHeader = "Obz-Publisher"

// HeartbeatSubject is the subject Out's heartbeats go to for an edge's
// subject: a plain NATS subject outside every stream, so that heartbeats
// are never stored, journaled or read as frames. Its payload is the
// publisher's id.
func HeartbeatSubject(subject string) string { return "_OBZ_HB." + subject }

// heartbeat publishes the publisher's id to the edge's heartbeat subject
// every interval until stopped.
type heartbeat struct {
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func startHeartbeat(nc *nats.Conn, subject, id string, every time.Duration) *heartbeat {
	h := &heartbeat{stop: make(chan struct{}), done: make(chan struct{})}
	hb := HeartbeatSubject(subject)
	go func() {
		defer close(h.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			// A failed publish (the server away) is a missed heartbeat:
			// the reader tolerates a few.
			nc.Publish(hb, []byte(id))
			select {
			case <-t.C:
			case <-h.stop:
				return
			}
		}
	}()
	return h
}

// Stop stops the heartbeats and returns once the last one is sent: a mark
// published after it is the publisher's last word.
func (h *heartbeat) Stop() {
	if h == nil {
		return
	}
	h.once.Do(func() { close(h.stop) })
	<-h.done
}

// publisherID is a random id of one Out, for its heartbeats.
func publisherID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// liveness is what a reader knows of the publishing side's life: when it
// last gave a sign (a message, a heartbeat), and whether it said it
// stopped to be resumed (a suspend mark) and who said so.
type liveness struct {
	mu          sync.Mutex
	last        time.Time // the last sign; zero: none yet
	suspended   bool
	suspendedBy string    // the publisher of the suspend mark: its heartbeats do not resume the edge
	created     time.Time // when the reader started: the start timeout counts from it
}

// beat is a heartbeat of publisher id.
func (l *liveness) beat(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.suspended && id == l.suspendedBy {
		return
	}
	l.last, l.suspended = time.Now(), false
}

// message is a message read from the stream.
func (l *liveness) message() {
	l.mu.Lock()
	l.last, l.suspended = time.Now(), false
	l.mu.Unlock()
}

// suspend is a suspend mark of publisher by.
func (l *liveness) suspend(by string) {
	l.mu.Lock()
	l.last, l.suspended, l.suspendedBy = time.Now(), true, by
	l.mu.Unlock()
}

// expired says whether the wait that began at since has lasted longer than
// allowed, counted from the later of since and the last sign: idle for a
// live edge, resume for a suspended one (0: no limit). Before any sign,
// the publishing side may not have started yet: start, counted from the
// reader's start (0: no limit).
func (l *liveness) expired(since time.Time, idle, resume, start time.Duration) *IdleError {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last.IsZero() {
		if waited := time.Since(l.created); start > 0 && waited > start {
			return &IdleError{Waited: waited.Round(time.Millisecond), Limit: start, NotStarted: true}
		}
		return nil
	}
	limit := idle
	if l.suspended {
		limit = resume
	}
	if limit <= 0 {
		return nil
	}
	from := l.last
	if since.After(from) {
		from = since
	}
	if waited := time.Since(from); waited > limit {
		return &IdleError{Waited: waited.Round(time.Millisecond), Limit: limit, Suspended: l.suspended}
	}
	return nil
}

// IdleError is the end of an edge whose publishing side gave no sign, no
// message and no heartbeat, for longer than InOptions.IdleTimeout (its
// host was lost, or cut off from the server), or, once it said it stopped
// to be resumed, was not resumed within InOptions.ResumeTimeout. The
// reader fails, as on an edge that broke: publish again, and read again
// with the same durable name, to go on.
type IdleError struct {
	Subject   string
	Waited    time.Duration
	Limit     time.Duration
	Suspended bool
	// NotStarted: the publishing side never gave a sign
	// (InOptions.StartTimeout).
	NotStarted bool
}

func (e *IdleError) Error() string {
	if e.NotStarted {
		return fmt.Sprintf("subject %s: the publishing side never started: no frame nor heartbeat in %v (--start-timeout %v; its host not running, or not reaching this server?): the edge is broken",
			e.Subject, e.Waited, e.Limit)
	}
	if e.Suspended {
		return fmt.Sprintf("subject %s: the publishing side stopped to be resumed and was not resumed: waited %v for it (--resume-timeout %v): the edge is broken",
			e.Subject, e.Waited, e.Limit)
	}
	return fmt.Sprintf("subject %s: no frame nor heartbeat from the publishing side for %v (--idle-timeout %v; its host lost or cut off from the server?): the edge is broken",
		e.Subject, e.Waited, e.Limit)
}
