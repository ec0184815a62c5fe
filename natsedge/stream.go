package natsedge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream is the JetStream stream an edge's subject lives in, and the limits
// it is created with when it does not exist yet. An existing stream is used
// as it is: its limits are those it was created with.
type Stream struct {
	Name    string // the stream; StreamName(Subject) when empty
	Subject string // the edge's subject
	// Retention: "work" (the default: a message is removed once its
	// consumer acknowledged it, so the stream holds only the backlog, as a
	// pipe's buffer does), "limits" (kept until a limit removes it: the
	// stream is then also a journal of the edge) or "interest".
	Retention string
	// Discard: "new" (the default: a full stream refuses new messages, and
	// Out waits for room, so a slow consumer slows the publisher down as
	// a full pipe does) or "old" (the oldest messages are dropped to make
	// room: a consumer that had not read them sees a gap, and the reading
	// stage reports the edge broken).
	Discard    string
	MaxBytes   int64         // -1 for no limit
	MaxMsgs    int64         // -1 for no limit
	MaxAge     time.Duration // 0 for no limit
	Duplicates time.Duration // the window in which a Nats-Msg-Id seen is a duplicate; 2m when 0
	Memory     bool          // memory storage instead of files
}

// StreamName is the stream name made from a subject: its tokens joined by
// '_', wildcards spelled out.
func StreamName(subject string) string {
	r := strings.NewReplacer(".", "_", "*", "STAR", ">", "GT", " ", "_")
	return "OBZ_" + r.Replace(subject)
}

func (s Stream) config() (jetstream.StreamConfig, error) {
	cfg := jetstream.StreamConfig{Name: s.Name, Subjects: []string{s.Subject},
		MaxBytes: s.MaxBytes, MaxMsgs: s.MaxMsgs, MaxAge: s.MaxAge, Duplicates: s.Duplicates,
		Storage: jetstream.FileStorage}
	if cfg.Name == "" {
		cfg.Name = StreamName(s.Subject)
	}
	if s.Memory {
		cfg.Storage = jetstream.MemoryStorage
	}
	switch s.Retention {
	case "", "work":
		cfg.Retention = jetstream.WorkQueuePolicy
	case "limits":
		cfg.Retention = jetstream.LimitsPolicy
	case "interest":
		cfg.Retention = jetstream.InterestPolicy
	default:
		return cfg, fmt.Errorf("retention %q: want work, limits or interest", s.Retention)
	}
	switch s.Discard {
	case "", "new":
		cfg.Discard = jetstream.DiscardNew
	case "old":
		cfg.Discard = jetstream.DiscardOld
	default:
		return cfg, fmt.Errorf("discard %q: want new or old", s.Discard)
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = -1
	}
	if cfg.MaxMsgs == 0 {
		cfg.MaxMsgs = -1
	}
	return cfg, nil
}

// Open returns the stream, created with s's limits if it does not exist.
func (s Stream) Open(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	cfg, err := s.config()
	if err != nil {
		return nil, err
	}
	st, err := js.Stream(ctx, cfg.Name)
	if err == nil {
		return st, nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("stream %s: %w", cfg.Name, err)
	}
	st, err = js.CreateStream(ctx, cfg)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		// Created by the other end meanwhile.
		st, err = js.Stream(ctx, cfg.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("creating stream %s for subject %s: %w", cfg.Name, s.Subject, err)
	}
	return st, nil
}
