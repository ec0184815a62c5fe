package natsedge

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultRetryFor is how long Out keeps publishing again without storing a
// message before the edge fails (OutOptions.RetryFor).
const DefaultRetryFor = 2 * time.Minute

// errWrongLastMsgID is the server's error code for a message whose
// Nats-Expected-Last-Msg-Id is not the stream's last message: the one
// before it was not stored (or something else was, after it).
const errWrongLastMsgID = 10070

// resends counts what Out published again.
type resends struct {
	rounds int   // times it published again from the first message not stored
	msgs   int64 // messages published again
	dups   int64 // frames of those the stream had stored already
}

// Resends says how often Out published again from the first message not
// stored (the connection broke, the server restarted), how many messages,
// and how many of their frames the stream had stored already (dropped by
// the server).
func (o *Out) Resends() (rounds int, msgs, dups int64) {
	return o.resends.rounds, o.resends.msgs, o.resends.dups
}

// recover is what Out does when a message was not stored (cause): it
// publishes again, in order, every message from the first one without a
// PubAck, once the connection is back. Each message but the first of them
// expects the one before it, so nothing is stored after a hole; what the
// stream stored already is dropped by its Nats-Msg-Id (the duplicate
// window). It keeps trying until a message is stored, for RetryFor, then
// fails the edge (o.err).
func (o *Out) recover(cause error) {
	for o.err == nil {
		first := o.q[o.head].id
		if !retryable(cause) || o.opts.RetryFor < 0 {
			o.err = fmt.Errorf("stream %s did not store frames %s (subject %s): %w", o.name, first, o.subject, cause)
			return
		}
		if o.failed0.IsZero() {
			o.failed0 = time.Now()
			var api *jetstream.APIError
			wrongLast := errors.As(cause, &api) && api.ErrorCode == errWrongLastMsgID
			if wrongLast && !o.opts.Shared && o.others(lastMsgID(api)) {
				// Expecting our own last message would refuse every
				// message after one of the other's.
				o.opts.Shared = true
				if o.opts.Warn != nil {
					o.opts.Warn(fmt.Sprintf("stream %s has messages of another publisher (%s; subject %s): publishing without expecting the previous message from now on (a server restart with messages in flight can then leave a hole; say --shared)",
						o.name, lastMsgID(api), o.subject))
				}
			}
			// A message after duplicates (a publisher run again, after
			// the stream took a mark without id) expects one the
			// stream did not store last: published again quietly.
			quiet := (o.lastDup || o.opts.Shared) && wrongLast
			if !quiet && o.opts.Warn != nil {
				o.opts.Warn(fmt.Sprintf("stream %s did not store frames %s (subject %s: %v): publishing again from them, in order",
					o.name, first, o.subject, cause))
			}
		} else if time.Since(o.failed0) > o.opts.RetryFor {
			o.err = fmt.Errorf("stream %s did not store frames %s (subject %s), published again for %v: %w",
				o.name, first, o.subject, time.Since(o.failed0).Round(time.Second), cause)
			return
		}
		if cause = o.settle(); cause != nil || o.err != nil {
			continue
		}
		o.resends.rounds++
		cause = o.resend()
		if cause == nil {
			return
		}
	}
}

// others says whether id, the Nats-Msg-Id of the stream's last message, is
// another publisher's: none of the writers of the frames Out published.
func (o *Out) others(id string) bool {
	if id == "" {
		return false // a mark, or not known since the server restarted
	}
	for w := range o.writers {
		if strings.HasPrefix(id, w+":") {
			return false
		}
	}
	return true
}

// lastMsgID is the id of the stream's last message that a refusal for
// errWrongLastMsgID names.
func lastMsgID(api *jetstream.APIError) string {
	return strings.TrimPrefix(api.Description, "wrong last msg ID: ")
}

// retryable says whether a message not stored for err may be stored if
// published again: a connection that broke, a PubAck that did not come, a
// server without JetStream yet (restarting), a message refused because the
// one before it is missing. A refusal for anything else (too large, a
// stream that does not take the subject) fails the edge at once.
func retryable(err error) bool {
	var api *jetstream.APIError
	switch {
	case errors.As(err, &api):
		return api.ErrorCode == errWrongLastMsgID || api.Code == 503
	case errors.Is(err, nats.ErrMaxPayload), errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrBadSubject),
		errors.Is(err, jetstream.ErrAsyncPublishReplySubjectSet):
		return false
	}
	return true
}

// settle waits until every message in flight has its PubAck or its error
// (each within AckTimeout), so that no answer of the last round is taken
// for one of the next, then until the connection is back.
func (o *Out) settle() error {
	for i := o.head; i < len(o.q); i++ {
		if f := o.q[i].f; f != nil {
			select {
			case <-f.Ok():
			case <-f.Err():
			case <-o.ctx.Done():
				o.err = fmt.Errorf("publishing to %s: %w", o.subject, o.ctx.Err())
				return nil
			}
			o.q[i].f = nil
		}
	}
	wait := 10 * time.Millisecond
	for !o.nc.IsConnected() {
		if o.nc.IsClosed() {
			return nats.ErrConnectionClosed
		}
		if time.Since(o.failed0) > o.opts.RetryFor {
			return nats.ErrDisconnected
		}
		select {
		case <-time.After(wait):
		case <-o.ctx.Done():
			o.err = fmt.Errorf("publishing to %s: %w", o.subject, o.ctx.Err())
			return nil
		}
		wait = min(2*wait, time.Second)
	}
	return nil
}

// resend publishes the messages from the first without a PubAck again, in
// order: the first expecting nothing (every message before it is stored),
// each other expecting the one before it.
func (o *Out) resend() error {
	for i := o.head; i < len(o.q); i++ {
		p := &o.q[i]
		p.prev, p.again = "", true
		if i > o.head && !o.opts.Shared {
			p.prev = o.q[i-1].id
		}
		o.resends.msgs++
		if err := o.send(p); err != nil {
			return err
		}
	}
	return nil
}
