package natsedge

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/obz-dev/obz/wire"
)

// DefaultWindow is how many messages Out publishes before it waits for the
// first of their PubAcks.
const DefaultWindow = 64

// ackTimeout bounds the wait for one PubAck.
const ackTimeout = 30 * time.Second

// OutOptions tune an Out.
type OutOptions struct {
	// Window is how many messages may wait for their PubAck at once
	// (DefaultWindow if 0): publishing runs ahead of the acks by that much.
	Window int
	// Warn receives notes on what the edge waits for (a full stream); nil
	// for none.
	Warn func(msg string)
	// AckTimeout bounds the wait for one PubAck (30s if 0): a message not
	// acknowledged by then is published again (below).
	AckTimeout time.Duration
	// Shared says that other publishers write to the stream at the same
	// time (several writers on one subject, or a stream several subjects
	// share). Out then publishes without expecting the previous message
	// (Nats-Expected-Last-Msg-Id): a message lost on the way while later
	// ones are stored leaves a hole, which the reading stage reports.
	Shared bool
	// RetryFor bounds how long Out keeps publishing again, after a
	// message was not stored (the connection broke, the server restarted),
	// without storing any (DefaultRetryFor if 0; -1: it fails at once).
	RetryFor time.Duration
	// Heartbeat is how often Out says on the edge's heartbeat subject
	// that its publisher is alive, data or not (DefaultHeartbeat if 0; -1:
	// never), until Close or a mark: a reader fails after its idle
	// timeout without a message or a heartbeat.
	Heartbeat time.Duration
}

// Out is an output edge published to a JetStream subject: a runner.Outbound.
// A frame is safely downstream once the stream has stored it (its PubAck).
type Out struct {
	ctx     context.Context
	nc      *nats.Conn
	js      jetstream.JetStream
	stream  jetstream.Stream
	name    string // the stream's name, for messages
	subject string
	opts    OutOptions
	dec     wire.Decoder

	q     []pending // published, PubAck not yet taken, from q[head]
	head  int
	acked int64 // bytes of the frames stored
	dups  int64 // frames the stream had already (a publisher that published again)
	err   error

	id      string     // the publisher's, in its heartbeats and marks
	hb      *heartbeat // nil without heartbeats
	prevID  string     // the Nats-Msg-Id of the last message published
	lastDup bool       // the last message acknowledged was a duplicate
	failed0 time.Time  // when the first message not stored since the last stored one failed
	resends resends

	writers map[string]bool   // the writers of the frames published
	after   map[string]uint64 // per writer: the seq of its last data frame published
	lastID  string            // the id of the last frame
	ctrl    map[string]int    // per writer: control frames published since

	// Room in a stream that refuses new messages when full (discard new):
	// its size as last asked, plus what was published since.
	limited            bool
	maxBytes, maxMsgs  int64
	estBytes, estMsgs  int64
	waiting            bool
	retention, discard string
}

type pending struct {
	f      jetstream.PubAckFuture
	data   []byte // the message
	size   int64  // bytes on the edge: the frames and their newlines
	id     string
	prev   string // the id of the message before it, which the stream must have last ("" for none)
	frames int
	again  bool // published again: a duplicate is one of this publisher's
}

// NewOut opens the stream s (created with its limits if it does not exist)
// and returns the edge that publishes to s.Subject over nc.
func NewOut(ctx context.Context, nc *nats.Conn, s Stream, opts OutOptions) (*Out, error) {
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	if opts.AckTimeout <= 0 {
		opts.AckTimeout = ackTimeout
	}
	if opts.RetryFor == 0 {
		opts.RetryFor = DefaultRetryFor
	}
	if opts.Heartbeat == 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(opts.Window), jetstream.WithPublishAsyncTimeout(opts.AckTimeout))
	if err != nil {
		return nil, err
	}
	st, err := s.Open(ctx, js)
	if err != nil {
		return nil, err
	}
	info := st.CachedInfo()
	o := &Out{ctx: ctx, nc: nc, js: js, stream: st, name: info.Config.Name, subject: s.Subject, opts: opts,
		after: map[string]uint64{}, ctrl: map[string]int{}, writers: map[string]bool{},
		maxBytes: info.Config.MaxBytes, maxMsgs: info.Config.MaxMsgs,
		estBytes: int64(info.State.Bytes), estMsgs: int64(info.State.Msgs)}
	o.limited = info.Config.Discard == jetstream.DiscardNew && (o.maxBytes > 0 || o.maxMsgs > 0)
	o.retention, o.discard = info.Config.Retention.String(), info.Config.Discard.String()
	o.id = publisherID()
	if opts.Heartbeat > 0 {
		o.hb = startHeartbeat(nc, s.Subject, o.id, opts.Heartbeat)
	}
	return o, nil
}

// Close stops the heartbeats: the publisher is done (or gone, as far as
// the reader knows). Call it once the frames are acknowledged.
func (o *Out) Close() { o.hb.Stop() }

// Stream is the name of the stream the edge publishes to.
func (o *Out) Stream() string { return o.name }

// Duplicates is how many frames the stream had stored already, from an
// earlier publish of the same writer and seq: dropped by the server.
func (o *Out) Duplicates() int64 { return o.dups }

// msgID is a frame's id, of which a message's Nats-Msg-Id is made:
// writer:seq for a data or error frame, writer:eof for an EOF,
// writer:seq+n for the n-th control frame after the writer's data frame
// seq. The same frames published again get the same ids.
func (o *Out) msgID(f *wire.Frame) string {
	w := f.Writer
	o.writers[w] = true
	switch f.Kind {
	case wire.KindData, wire.KindError:
		o.after[w], o.ctrl[w] = f.Seq, 0
		return w + ":" + strconv.FormatUint(f.Seq, 10)
	case wire.KindEOF:
		return w + ":eof"
	default:
		o.ctrl[w]++
		return w + ":" + strconv.FormatUint(o.after[w], 10) + "+" + strconv.Itoa(o.ctrl[w])
	}
}

// MaxMessage is the most frame bytes Out puts in one message (a longer
// frame goes alone): frames travel in batches, so that the server stores,
// and the reader acknowledges, one message per batch rather than per frame.
const MaxMessage = 128 << 10

// Send publishes the frames of p, in messages of up to MaxMessage bytes of
// whole frames. It waits only when the window of messages waiting for their
// PubAck is full, or the stream is.
func (o *Out) Send(p []byte) error {
	if o.err != nil {
		return o.err
	}
	p = bytes.Clone(p) // the messages point into it until they are acked
	var first string
	msg, n, frames := 0, 0, 0 // the message: p[msg:end], its frames
	for end := 0; end < len(p); {
		line := p[end:]
		next := len(p)
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line, next = line[:i], end+i+1
		}
		n++
		var f wire.Frame
		if err := o.dec.Decode(line, &f); err != nil || f.Kind == 0 {
			if err == nil {
				err = fmt.Errorf("a bare line, not a frame")
			}
			o.err = fmt.Errorf("subject %s: line %d of the batch: %w (only frames cross a NATS edge)", o.subject, n, err)
			return o.err
		}
		if frames > 0 && next-msg > MaxMessage {
			if err := o.publish(p[msg:end], first, o.lastID, frames); err != nil {
				return err
			}
			msg, frames = end, 0
		}
		id := o.msgID(&f)
		if frames == 0 {
			first = id
		}
		o.lastID = id
		frames++
		end = next
	}
	if frames > 0 {
		if err := o.publish(p[msg:], first, o.lastID, frames); err != nil {
			return err
		}
	}
	o.reap(false)
	return o.err
}

// publish sends one message of frames (whole lines) with the id of its
// first and last frames: the same frames batched the same way get the same
// id, and the server stores them once.
func (o *Out) publish(data []byte, first, last string, frames int) error {
	id := first
	if frames > 1 {
		id = first + "-" + last
	}
	data = bytes.TrimSuffix(data, []byte("\n"))
	if err := o.room(int64(len(data)+len(o.subject)+len(id)) + 64); err != nil {
		return err
	}
	p := pending{data: data, size: int64(len(data) + 1), id: id, prev: o.prevID, frames: frames}
	if o.opts.Shared {
		p.prev = ""
	}
	o.prevID = id
	o.q = append(o.q, p)
	if err := o.send(&o.q[len(o.q)-1]); err != nil {
		// Not sent: published again with those after it, or the edge
		// fails.
		o.recover(err)
	}
	return o.err
}

// send publishes p's message, expecting the stream's last message to be
// p.prev: a message that follows one lost on the way is refused, not
// stored after a hole.
func (o *Out) send(p *pending) error {
	opts := []jetstream.PublishOpt{jetstream.WithMsgID(p.id), jetstream.WithStallWait(o.opts.AckTimeout)}
	if p.prev != "" {
		opts = append(opts, jetstream.WithExpectLastMsgID(p.prev))
	}
	fut, err := o.js.PublishAsync(o.subject, p.data, opts...)
	if err != nil {
		return fmt.Errorf("publishing frames %s to %s: %w", p.id, o.subject, err)
	}
	p.f = fut
	return nil
}

// reap takes the PubAcks that came, in order; with wait, all of them.
func (o *Out) reap(wait bool) {
	for o.head < len(o.q) && o.err == nil {
		p := &o.q[o.head]
		a, err := o.result(p, wait)
		switch {
		case err != nil:
			// Not stored: published again from it, in order, or the
			// edge fails.
			p.f = nil
			o.recover(err)
			continue
		case a == nil:
			return // not yet, or o.err
		}
		o.stored(p, a)
		*p = pending{}
		o.head++
		if o.head == len(o.q) || o.head > 4096 {
			o.q = append(o.q[:0], o.q[o.head:]...)
			o.head = 0
		}
	}
}

// result is p's PubAck, or why the stream did not store it; with wait it
// waits for one, else it returns neither when none came yet.
func (o *Out) result(p *pending, wait bool) (*jetstream.PubAck, error) {
	if !wait {
		select {
		case a := <-p.f.Ok():
			return a, nil
		case err := <-p.f.Err():
			return nil, err
		default:
			return nil, nil
		}
	}
	select {
	case a := <-p.f.Ok():
		return a, nil
	case err := <-p.f.Err():
		return nil, err
	case <-o.ctx.Done():
		o.err = fmt.Errorf("publishing to %s: %w", o.subject, o.ctx.Err())
		return nil, nil
	}
}

func (o *Out) stored(p *pending, a *jetstream.PubAck) {
	o.acked += p.size
	o.lastDup = a.Duplicate
	o.failed0 = time.Time{}
	switch {
	case a.Duplicate && p.again:
		o.resends.dups += int64(p.frames)
	case a.Duplicate:
		o.dups += int64(p.frames)
	}
}

// Ack waits for the PubAck of every frame sent, and returns the bytes the
// stream stored in all, or why it did not store one.
func (o *Out) Ack() (int64, error) {
	o.reap(true)
	return o.acked, o.err
}

// room waits, in a stream that refuses new messages when full, until a
// message of about size bytes fits: backpressure, as from a full pipe.
// Away from the limits it asks the server nothing.
func (o *Out) room(size int64) error {
	if !o.limited {
		return nil
	}
	fits := func() bool {
		return (o.maxBytes <= 0 || o.estBytes+size <= o.maxBytes) && (o.maxMsgs <= 0 || o.estMsgs+1 <= o.maxMsgs)
	}
	for !fits() {
		// What was published is stored first; then the stream's state is
		// exact.
		if _, err := o.Ack(); err != nil {
			return err
		}
		info, err := o.stream.Info(o.ctx)
		if err != nil {
			o.err = fmt.Errorf("stream %s: %w", o.name, err)
			return o.err
		}
		o.estBytes, o.estMsgs = int64(info.State.Bytes), int64(info.State.Msgs)
		if fits() {
			break
		}
		if o.estMsgs == 0 {
			o.err = fmt.Errorf("stream %s: a frame of %d bytes does not fit in its max-bytes %d", o.name, size, o.maxBytes)
			return o.err
		}
		if !o.waiting && o.opts.Warn != nil {
			why := "its consumer is behind"
			if o.retention != "WorkQueue" {
				why = "retention " + o.retention + ": acknowledged messages stay until max-age removes them"
			}
			o.opts.Warn(fmt.Sprintf("stream %s is full (%d messages, %d bytes; max-msgs %d, max-bytes %d, discard new): waiting for room (%s)",
				o.name, o.estMsgs, o.estBytes, o.maxMsgs, o.maxBytes, why))
		}
		o.waiting = true
		select {
		case <-time.After(20 * time.Millisecond):
		case <-o.ctx.Done():
			o.err = fmt.Errorf("waiting for room in stream %s: %w", o.name, o.ctx.Err())
			return o.err
		}
	}
	o.waiting = false
	o.estBytes += size
	o.estMsgs++
	return nil
}

// AbortHeader marks a message that carries no frames but says that the
// publisher's input broke before its EOF (its writer died): the reader of
// the subject fails, naming the edge, instead of waiting for an EOF that
// will not come. Its value is why.
const AbortHeader = "Obz-Abort"

// Abort publishes, after the frames sent, that the edge broke before its
// EOF, and why, and waits for the stream to store it: the reader fails
// instead of waiting. (A writer that dies with its publisher cannot say
// so: its reader waits; docs/nats.md.)
func (o *Out) Abort(why string) error { return o.mark(AbortHeader, why) }

// SuspendHeader marks a message that carries no frames but says that the
// publisher stopped before its EOF and is to be started again where it
// left off (the host's obz flow died and is resumed with obz flow
// --resume): the reader says so, and waits for the frames that follow.
// Its value is why.
const SuspendHeader = "Obz-Suspend"

// Suspend publishes, after the frames sent, that the publisher stopped
// before the EOF and is to be resumed, and why.
func (o *Out) Suspend(why string) error { return o.mark(SuspendHeader, why) }

// mark publishes a message without frames whose header says why the
// frames stopped before the EOF, and waits for the stream to store it.
func (o *Out) mark(header, why string) error {
	o.reap(true)
	o.hb.Stop() // the mark is the publisher's last word
	m := nats.NewMsg(o.subject)
	m.Header.Set(header, why)
	m.Header.Set(PublisherHeader, o.id)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(o.ctx), o.opts.AckTimeout)
	defer cancel()
	if _, err := o.js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("stream %s: telling the reader of %s that the edge broke: %w", o.name, o.subject, err)
	}
	return nil
}
