package main

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/obz-dev/obz/journal"
	"github.com/obz-dev/obz/natsedge"

	"github.com/rogpeppe/go-internal/testscript"
)

var update = flag.Bool("u", false, "update testscript files with actual output (cmp stdout want)")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"obz": func() { os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScript runs the CLI scripts in testdata/script: how a user drives obz.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "../../testdata/script",
		UpdateScripts: *update,
		Setup: func(env *testscript.Env) error {
			env.Setenv("NO_COLOR", "1")
			// REPO lets scripts run the bundled examples (README, demo flow).
			repo, err := filepath.Abs("../..")
			if err != nil {
				return err
			}
			env.Setenv("REPO", repo)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"cutblock": cutBlock,
			"browse":   browse,
			// natsserver starts a NATS server with JetStream for the
			// script (nats.txtar): in this process, on a free loopback
			// port, its streams in the script's directory; $NATS_URL is
			// its URL.
			"natsserver": natsServer,
		},
	})
}

func natsServer(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: natsserver")
	}
	s, err := natsedge.StartServer(natsedge.ServerOptions{Port: -1, Dir: ts.MkAbs(".nats")})
	ts.Check(err)
	ts.Defer(s.Shutdown)
	ts.Setenv("NATS_URL", s.ClientURL())
}

// cutBlock (testscript: cutblock FILE N) removes block N (from 0) of a
// journal and its index trailer: a journal damaged by a lost block, as a
// faulty disk or a careless copy leaves it.
func cutBlock(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: cutblock FILE N")
	}
	path := ts.MkAbs(args[0])
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	r, err := journal.Open(path, nil)
	ts.Check(err)
	blocks := r.Blocks()
	r.Close()
	if n >= len(blocks) {
		ts.Fatalf("%s has %d blocks", path, len(blocks))
	}
	data, err := os.ReadFile(path)
	ts.Check(err)
	b, last := blocks[n], blocks[len(blocks)-1]
	out := append(data[:b.Offset:b.Offset], data[b.Offset+b.Size:last.Offset+last.Size]...)
	ts.Check(os.WriteFile(path, out, 0o644))
}
