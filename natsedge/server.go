package natsedge

import (
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// MaxPayload is the largest message the embedded server takes: a frame of
// wire.DefaultMaxLine and its headers.
const MaxPayload = 17 << 20

// ServerOptions say where an embedded server listens and keeps its streams.
type ServerOptions struct {
	Host string // 127.0.0.1 if empty
	Port int    // 4222 if 0; -1 for a free port
	Dir  string // JetStream's store directory
	// MaxStore bounds the disk JetStream may use in all (bytes); 0 lets the
	// server choose (a share of the free disk).
	MaxStore int64
}

// StartServer starts an embedded NATS server with JetStream, and returns it
// once it takes connections (ClientURL is its URL). Shutdown stops it.
func StartServer(o ServerOptions) (*server.Server, error) {
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Port == 0 {
		o.Port = 4222
	}
	s, err := server.NewServer(&server.Options{
		ServerName: "obz", Host: o.Host, Port: o.Port,
		JetStream: true, StoreDir: o.Dir, JetStreamMaxStore: o.MaxStore,
		MaxPayload: MaxPayload, NoSigs: true, NoLog: true,
	})
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("nats server on %s:%d with JetStream in %s did not start within 10s (is the port taken?)", o.Host, o.Port, o.Dir)
	}
	return s, nil
}
