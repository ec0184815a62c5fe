package natsedge

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go"
)

// Conn is how to reach a NATS server, as the nats CLI takes it: a server
// URL (or several, comma separated), a credentials file, a TLS CA, or a
// context of the nats CLI that holds them.
type Conn struct {
	Server  string // nats://host:4222; $NATS_URL, then the context's, then nats.DefaultURL when empty
	Creds   string // a .creds file (JWT and NKey seed)
	TLSCA   string // a CA certificate file to verify the server with
	Context string // a nats CLI context name (~/.config/nats/context/NAME.json)
	Name    string // the connection's name, shown by the server's monitoring
	// Warn receives the connection's asynchronous errors (a slow
	// consumer, a write to a server that went away); nil drops them.
	// What they cost comes back as an error where it matters: a PubAck
	// that does not come, a gap the reader sees.
	Warn func(msg string)
}

// natsContext is the part of a nats CLI context file that Connect uses.
type natsContext struct {
	URL   string `json:"url"`
	Creds string `json:"creds"`
	CA    string `json:"ca"`
}

// contextDir is where the nats CLI keeps its contexts.
func contextDir() (string, error) {
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "nats", "context"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".config", "nats", "context"), nil
}

// resolve fills what c leaves empty from its context; flags win over the
// context, as with the nats CLI.
func (c Conn) resolve() (Conn, error) {
	if c.Context == "" {
		return c, nil
	}
	dir, err := contextDir()
	if err != nil {
		return c, err
	}
	path := filepath.Join(dir, c.Context+".json")
	data, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("nats context %q: %w", c.Context, err)
	}
	var nc natsContext
	if err := json.Unmarshal(data, &nc); err != nil {
		return c, fmt.Errorf("nats context %s: %w", path, err)
	}
	if c.Server == "" {
		c.Server = nc.URL
	}
	if c.Creds == "" {
		c.Creds = nc.Creds
	}
	if c.TLSCA == "" {
		c.TLSCA = nc.CA
	}
	return c, nil
}

// Connect connects to the server c names.
func Connect(c Conn) (*nats.Conn, error) {
	c, err := c.resolve()
	if err != nil {
		return nil, err
	}
	url := c.Server
	if url == "" {
		url = nats.DefaultURL
	}
	warn := c.Warn
	opts := []nats.Option{nats.Name(c.Name), nats.MaxReconnects(-1),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if warn != nil {
				warn(err.Error())
			}
		})}
	if c.Creds != "" {
		opts = append(opts, nats.UserCredentials(c.Creds))
	}
	if c.TLSCA != "" {
		opts = append(opts, nats.RootCAs(c.TLSCA))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		if errors.Is(err, nats.ErrNoServers) {
			return nil, fmt.Errorf("no NATS server at %s (start one with obz nats serve, or name it: --server, obz flow --nats-url, or $NATS_URL): %w", ShowURL(url), err)
		}
		return nil, fmt.Errorf("connecting to %s: %w", ShowURL(url), err)
	}
	return nc, nil
}

// ShowURL is a server URL as messages show it: without a password.
func ShowURL(url string) string {
	if i := strings.Index(url, "@"); i >= 0 {
		if j := strings.Index(url, "://"); j >= 0 && j < i {
			return url[:j+3] + "***" + url[i:]
		}
	}
	return url
}
