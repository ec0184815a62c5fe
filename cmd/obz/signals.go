package main

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// stopSignals is obz's signal handling while one command runs: the first
// SIGINT or SIGTERM cancels the command's context (a graceful drain), a
// second one is reported on Second (the command ends at once). SIGPIPE is
// caught so that a write to a closed pipe returns EPIPE (a quiet end)
// instead of killing the process. Stop ends it all.
type stopSignals struct {
	c      chan os.Signal
	second chan os.Signal // the second stop signal; buffered
	done   chan struct{}  // closed by Stop
	ended  sync.WaitGroup
	mu     sync.Mutex
	first  os.Signal
}

// watchSignals starts the handling; cancel starts the drain.
func watchSignals(cancel context.CancelFunc) *stopSignals {
	s := &stopSignals{c: make(chan os.Signal, 4), second: make(chan os.Signal, 1), done: make(chan struct{})}
	signal.Notify(s.c, syscall.SIGINT, syscall.SIGTERM, syscall.SIGPIPE)
	s.ended.Add(1)
	go func() {
		defer s.ended.Done()
		for {
			select {
			case <-s.done:
				return
			case sig := <-s.c:
				if sig == syscall.SIGPIPE {
					continue
				}
				s.mu.Lock()
				again := s.first != nil
				if !again {
					s.first = sig
				}
				s.mu.Unlock()
				if again {
					select {
					case s.second <- sig:
					default:
					}
					continue
				}
				cancel()
			}
		}
	}()
	return s
}

// Second delivers the second stop signal.
func (s *stopSignals) Second() <-chan os.Signal { return s.second }

// Signal is the first stop signal, or nil.
func (s *stopSignals) Signal() os.Signal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first
}

// Stop stops the handling and waits for its goroutine to end.
func (s *stopSignals) Stop() {
	signal.Stop(s.c)
	close(s.done)
	s.ended.Wait()
}
