package natsedge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

// DefaultPrefetch is how many messages an In asks for ahead of its reader.
const DefaultPrefetch = 32

// InOptions tune an In.
type InOptions struct {
	// Writers is how many writers' EOFs end the edge (1 if 0): the
	// number of stages (or publishers) that write to the subject.
	Writers int
	// AckWait is how long the server waits for an acknowledgement before
	// it delivers a message again (30s if 0).
	AckWait time.Duration
	// Prefetch is how many messages (of up to MaxMessage bytes) the
	// client asks for ahead of the reader (DefaultPrefetch if 0).
	Prefetch int
	// Seen is, per writer, the last seq its owner passed on already (a
	// reader resumed after its journal, obz nats sub --resume-from): the
	// frames up to it, delivered again, are dropped as duplicates.
	Seen map[string]uint64
	// Warn, if set, is told what the reader should know and goes on
	// from: a publisher that stopped to be resumed (Out.Suspend).
	Warn func(string)
	// IdleTimeout: Read fails (IdleError) after waiting this long with
	// neither a message nor a heartbeat (Out's) from the publishing side,
	// counted from the last of them; 0: no limit. Before the first sign
	// (and when the stream never took a message) it waits without limit:
	// the publishing side may start later.
	IdleTimeout time.Duration
	// ResumeTimeout is the same limit once the publisher said it stopped
	// to be resumed (Out.Suspend), until a message or another publisher's
	// heartbeat comes; 0: no limit.
	ResumeTimeout time.Duration
	// StartTimeout: Read fails (IdleError, NotStarted) when the
	// publishing side gave no sign at all (no message ever stored, no
	// heartbeat) within this long of NewIn: its host never came, or was
	// lost before its first frame; 0: no limit (it may start later).
	StartTimeout time.Duration
}

// In is an input edge read from a JetStream subject through a durable
// consumer: a runner.Inbound. It hands the frames over in stream order and
// acknowledges them when told to (Ack), so that its owner decides what
// "safely downstream" is.
type In struct {
	subject string
	durable string
	opts    InOptions
	js      jetstream.JetStream
	st      jetstream.Stream
	name    string // the stream's
	it      jetstream.MessagesContext
	ch      chan inMsg
	stop    chan struct{} // closed when it is replaced (resync)
	done    chan struct{} // closed by Close
	once    sync.Once
	dec     wire.Decoder
	live    liveness
	hbSub   *nats.Subscription // the heartbeats; nil without timeouts

	eofs map[string]bool   // writers whose EOF was read
	seqs map[string]uint64 // per writer: the last seq handed over
	// per writer: the last seq before a gap that made the reader start
	// again at the ack floor (once per gap)
	resynced map[string]uint64
	dups     int64           // frames delivered again and dropped
	read     []jetstream.Msg // messages handed over (or dropped), not yet acknowledged
	cur      jetstream.Msg   // the message being handed over
	rest     []byte          // its frames not handed over yet
	seq      uint64          // its stream sequence, for messages
	line     int             // its lines read
	ended    bool
}

type inMsg struct {
	m   jetstream.Msg
	err error
}

// NewIn opens the stream s (created with its limits if it does not exist)
// and the durable consumer of s.Subject named durable, created if it does
// not exist, and starts reading.
func NewIn(ctx context.Context, nc *nats.Conn, s Stream, durable string, opts InOptions) (*In, error) {
	if opts.Writers <= 0 {
		opts.Writers = 1
	}
	if opts.AckWait <= 0 {
		opts.AckWait = 30 * time.Second
	}
	if opts.Prefetch <= 0 {
		opts.Prefetch = DefaultPrefetch
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	st, err := s.Open(ctx, js)
	if err != nil {
		return nil, err
	}
	in := &In{subject: s.Subject, durable: durable, opts: opts, js: js, st: st, name: st.CachedInfo().Config.Name,
		done: make(chan struct{}), eofs: map[string]bool{}, seqs: map[string]uint64{}, resynced: map[string]uint64{}}
	maps.Copy(in.seqs, opts.Seen)
	in.live.created = time.Now()
	if opts.IdleTimeout > 0 || opts.ResumeTimeout > 0 || opts.StartTimeout > 0 {
		if st.CachedInfo().State.LastSeq > 0 {
			// A publisher was there: its silence from now on counts.
			in.live.message()
		}
		in.hbSub, err = nc.Subscribe(HeartbeatSubject(s.Subject), func(m *nats.Msg) { in.live.beat(string(m.Data)) })
		if err != nil {
			return nil, fmt.Errorf("subject %s: heartbeats: %w", s.Subject, err)
		}
	}
	if err := in.start(ctx, false); err != nil {
		in.Close()
		return nil, err
	}
	return in, nil
}

// start creates the durable consumer, or takes it as it is, and starts
// reading it. A consumer with messages delivered but not acknowledged (its
// last reader stopped or died holding them, or they were lost on the way
// when the connection broke) would deliver them again only after the ack
// wait, behind newer ones: it is started again at its ack floor instead,
// so the frames come in order. With restart, that is done whatever the
// consumer's state.
func (in *In) start(ctx context.Context, restart bool) error {
	cfg := jetstream.ConsumerConfig{
		Durable: in.durable, FilterSubject: in.subject,
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: in.opts.AckWait,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxAckPending: 4*in.opts.Prefetch + runner.BatchFrames, // a batch of frames is at most BatchFrames messages
	}
	st, durable, name := in.st, in.durable, in.name
	if old, err := st.Consumer(ctx, durable); err == nil {
		info, err := old.Info(ctx)
		if err != nil {
			return fmt.Errorf("consumer %s of stream %s: %w", durable, name, err)
		}
		if !restart {
			if err := in.endedBefore(ctx, info); err != nil {
				return err
			}
		}
		if restart || info.NumAckPending > 0 || info.NumRedelivered > 0 {
			if err := st.DeleteConsumer(ctx, durable); err != nil {
				return fmt.Errorf("consumer %s of stream %s: restarting it at its ack floor: %w", durable, name, err)
			}
			// A work queue holds no acknowledged message: all is from
			// the ack floor on.
			if st.CachedInfo().Config.Retention != jetstream.WorkQueuePolicy {
				cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, info.AckFloor.Stream+1
			}
		}
	} else if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("consumer %s of stream %s: %w", durable, name, err)
	}
	cons, err := st.CreateOrUpdateConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("consumer %s of stream %s: %w", durable, name, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(in.opts.Prefetch))
	if err != nil {
		return fmt.Errorf("consumer %s: %w", durable, err)
	}
	if in.it != nil {
		in.it.Stop()
		close(in.stop)
	}
	in.it, in.ch, in.stop = it, make(chan inMsg, runner.BatchFrames), make(chan struct{})
	go pull(it, in.ch, in.stop, in.done)
	return nil
}

// endedMeta is the consumer's metadata key that MarkEnded sets: the
// stream sequence of the message that held the last EOF it read.
const endedMeta = "obz-eof-seq"

// MarkEnded records on the durable consumer that it has read its subject
// to the EOF (call it once the EOF is acknowledged), so that a reader
// started again with the same durable name is told so instead of waiting
// for frames that will never come (endedBefore).
func (in *In) MarkEnded(ctx context.Context) error {
	if !in.ended || in.seq == 0 {
		return nil
	}
	cons, err := in.st.Consumer(ctx, in.durable)
	if err != nil {
		return fmt.Errorf("consumer %s: %w", in.durable, err)
	}
	cfg := cons.CachedInfo().Config
	cfg.Metadata = map[string]string{endedMeta: strconv.FormatUint(in.seq, 10)}
	if _, err := in.st.UpdateConsumer(ctx, cfg); err != nil {
		return fmt.Errorf("consumer %s: recording that it read the EOF: %w", in.durable, err)
	}
	return nil
}

// endedBefore refuses a consumer that MarkEnded marked, when nothing was
// stored in the stream since: started again, it would wait for frames
// that will never come. (A stream that took messages since, a publisher
// run again for instance, is read as usual.)
func (in *In) endedBefore(ctx context.Context, info *jetstream.ConsumerInfo) error {
	seq, ok := info.Config.Metadata[endedMeta]
	if !ok || info.NumPending > 0 || info.NumAckPending > 0 {
		return nil
	}
	si, err := in.st.Info(ctx)
	if err != nil || strconv.FormatUint(si.State.LastSeq, 10) != seq {
		return nil
	}
	return fmt.Errorf("subject %s: consumer %s has read it to its EOF already: nothing is left to read (a new --durable NAME reads what the stream still holds)", in.subject, in.durable)
}

// pull takes messages off the iterator into ch, so that Read can take
// those ready without waiting.
func pull(it jetstream.MessagesContext, ch chan<- inMsg, stop, done <-chan struct{}) {
	for {
		m, err := it.Next()
		select {
		case ch <- inMsg{m, err}:
		case <-stop:
			return
		case <-done:
			return
		}
		if err != nil {
			return
		}
	}
}

// resync starts reading again at the consumer's ack floor, after a gap in
// a writer's seqs: messages lost on the way when the connection broke,
// which the server would deliver again only after the ack wait. The frames
// handed over since the last Ack come again, and are dropped as
// duplicates. A gap that is still there after that (frames the stream
// dropped, discard old) is handed over: the reading stage reports it.
func (in *In) resync() error {
	in.cur, in.rest = nil, nil
	clear(in.read)
	in.read = in.read[:0]
	// The gap may come from a server that restarts: it may take a while
	// to answer again.
	deadline := time.Now().Add(resyncFor)
	wait := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := in.start(ctx, true)
		cancel()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-time.After(wait):
		case <-in.done:
			return fmt.Errorf("subject %s: the reading was stopped before the EOF", in.subject)
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// checkEvery is how often a waiting reader looks at its timeouts.
func checkEvery(ds ...time.Duration) time.Duration {
	every := time.Second
	for _, d := range ds {
		if d > 0 {
			every = min(every, d/4)
		}
	}
	return max(every, 5*time.Millisecond)
}

// resyncFor bounds how long a reader tries to start its consumer again
// after a gap (the server may be restarting).
const resyncFor = 2 * time.Minute

// Read hands over the next frames: at least one, waiting for it, then
// those ready, up to runner.BatchFrames. The edge ends (io.EOF) once the
// EOFs of Writers writers are read. A frame delivered again (after a
// restart, past the ack wait, or published again in another batch) with a
// writer and seq already handed over is dropped here and counted
// (Duplicates); the reading stage's edge check drops any that come after a
// restart of this process.
func (in *In) Read(b *runner.InBatch) error {
	if in.ended {
		return io.EOF
	}
	for len(b.Frames) < runner.BatchFrames {
		if len(in.rest) == 0 {
			if in.cur != nil {
				// Every frame of the message is handed over: it may be
				// acknowledged.
				in.read = append(in.read, in.cur)
				in.cur = nil
			}
			if err := in.next(len(b.Frames) == 0); err != nil {
				return err
			}
			if in.cur == nil {
				return nil // none ready
			}
		}
		line := in.rest
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line, in.rest = line[:i], line[i+1:]
		} else {
			in.rest = nil
		}
		in.line++
		var f wire.Frame
		if err := in.dec.Decode(line, &f); err != nil || f.Kind == 0 {
			if err == nil {
				err = fmt.Errorf("a bare line, not a frame")
			}
			return fmt.Errorf("subject %s: message %d of the stream, line %d: %w", in.subject, in.seq, in.line, err)
		}
		b.Bytes += int64(len(line) + 1)
		// Whoever may publish to the subject wrote it, and the edges
		// downstream trust their payloads (docs/wire.md, Payload trust).
		if wasData := f.Kind == wire.KindData; !wire.CheckPayload(&f, "", 0) && wasData {
			f.Err.Msg += fmt.Sprintf(" (subject %s, message %d of the stream)", in.subject, in.seq)
		}
		switch f.Kind {
		case wire.KindData, wire.KindError:
			s, seen := in.seqs[f.Writer]
			if seen && f.Seq <= s {
				in.dups++
				continue
			}
			if seen && f.Seq > s+1 {
				if r, ok := in.resynced[f.Writer]; !ok || r != s {
					in.resynced[f.Writer] = s
					if err := in.resync(); err != nil {
						return err
					}
					if len(b.Frames) > 0 {
						return nil
					}
					continue
				}
			}
			in.seqs[f.Writer] = f.Seq
		case wire.KindEOF:
			if in.eofs[f.Writer] {
				in.dups++
				continue
			}
			in.eofs[f.Writer] = true
		}
		b.Frames = append(b.Frames, f)
		if f.Kind == wire.KindEOF && len(in.eofs) >= in.opts.Writers {
			in.ended = true
			if len(in.rest) == 0 {
				in.read = append(in.read, in.cur)
				in.cur = nil
			}
			in.Close()
			return io.EOF
		}
	}
	return nil
}

// next takes the next message: waiting for it with wait, else only if one
// is ready (in.cur stays nil if none is).
func (in *In) next(wait bool) error {
	var im inMsg
	var ok bool
	if wait {
		var tick <-chan time.Time
		if in.hbSub != nil {
			t := time.NewTicker(checkEvery(in.opts.IdleTimeout, in.opts.ResumeTimeout, in.opts.StartTimeout))
			defer t.Stop()
			tick = t.C
		}
		since := time.Now()
	waiting:
		for {
			select {
			case im, ok = <-in.ch:
				break waiting
			case <-in.done:
				break waiting
			case <-tick:
				if err := in.live.expired(since, in.opts.IdleTimeout, in.opts.ResumeTimeout, in.opts.StartTimeout); err != nil {
					select {
					case im, ok = <-in.ch: // came at the last moment
						break waiting
					default:
					}
					err.Subject = in.subject
					return err
				}
			}
		}
	} else {
		select {
		case im, ok = <-in.ch:
		default:
			return nil
		}
	}
	if !ok {
		return fmt.Errorf("subject %s: the reading was stopped before the EOF", in.subject)
	}
	if im.err != nil {
		if errors.Is(im.err, jetstream.ErrMsgIteratorClosed) {
			return fmt.Errorf("subject %s: the consumer was closed before the EOF", in.subject)
		}
		return fmt.Errorf("subject %s, consumer %s: %w", in.subject, in.durable, im.err)
	}
	in.live.message()
	in.cur, in.rest, in.line, in.seq = im.m, im.m.Data(), 0, 0
	if meta, err := im.m.Metadata(); err == nil {
		in.seq = meta.Sequence.Stream
	}
	if h := im.m.Headers(); h != nil && h.Get(SuspendHeader) != "" {
		// Read and acknowledged; the frames come when the publisher is
		// resumed.
		in.read = append(in.read, in.cur)
		in.cur, in.rest = nil, nil
		in.live.suspend(h.Get(PublisherHeader))
		if in.opts.Warn != nil {
			limit := "without limit"
			if in.opts.ResumeTimeout > 0 {
				limit = "for up to " + in.opts.ResumeTimeout.String()
			}
			in.opts.Warn(fmt.Sprintf("subject %s: the publishing side stopped before its EOF, to be resumed: %s; waiting for its frames (%s)", in.subject, h.Get(SuspendHeader), limit))
		}
		return nil
	}
	if h := im.m.Headers(); h != nil && h.Get(AbortHeader) != "" {
		// Acknowledged like a message read: a reader started again
		// continues after it, with what the publisher publishes again.
		in.read = append(in.read, in.cur)
		in.cur, in.rest = nil, nil
		return &BrokenError{Subject: in.subject, Why: h.Get(AbortHeader)}
	}
	return nil
}

// Ack acknowledges every message whose frames were all handed over. The
// acks go out without waiting; with sync, Ack waits for the server to
// confirm the last one (the acks go in order on one connection, so those
// before it were applied too). A consumer started again with the same
// durable name begins after the last ack applied. (A work-queue stream
// takes explicit acks only, one per message.)
func (in *In) Ack(ctx context.Context, sync bool) error {
	if len(in.read) == 0 {
		return nil
	}
	last := len(in.read) - 1
	for i, m := range in.read {
		var err error
		if i == last && sync {
			err = m.DoubleAck(ctx)
		} else {
			err = m.Ack()
		}
		if err != nil {
			return fmt.Errorf("subject %s, consumer %s: acknowledging: %w", in.subject, in.durable, err)
		}
	}
	clear(in.read)
	in.read = in.read[:0]
	return nil
}

// Duplicates is how many frames were delivered again and dropped.
func (in *In) Duplicates() int64 { return in.dups }

// Close stops reading. Frames handed over but not acknowledged are
// delivered again to the next reader of the durable consumer.
func (in *In) Close() {
	in.once.Do(func() {
		close(in.done)
		if in.it != nil {
			in.it.Stop()
		}
		if in.hbSub != nil {
			in.hbSub.Unsubscribe()
		}
	})
}

// BrokenError is the end of an edge whose publisher said that its input
// broke before the EOF (Out.Abort): the writer upstream died. The reader
// fails, as a stage reading a pipe whose writer died does.
type BrokenError struct {
	Subject string
	Why     string // the publisher's words
}

func (e *BrokenError) Error() string {
	return fmt.Sprintf("subject %s: the edge broke on the publishing side before its EOF: %s", e.Subject, e.Why)
}

// DeleteStream deletes the edge's stream, its consumers with it, once the
// edge ended (io.EOF) and every message read was acknowledged: for a
// subject used once, as a flow's cross-host edge is, so that the runs of
// a flow do not pile up empty streams on the server. Its publisher had
// every PubAck by then (the server sends it when it stores a message,
// before any reader can get it).
func (in *In) DeleteStream(ctx context.Context) error {
	if !in.ended || len(in.read) > 0 || in.cur != nil {
		return fmt.Errorf("stream %s: not deleted before the edge ended and all it read was acknowledged", in.name)
	}
	if err := in.js.DeleteStream(ctx, in.name); err != nil {
		return fmt.Errorf("deleting stream %s after its EOF: %w", in.name, err)
	}
	return nil
}
