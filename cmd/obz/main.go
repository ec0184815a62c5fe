// Command obz runs stream-processing stages over framed NDJSON.
package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

func main() {
	stop := startProfile(os.Getenv("OBZ_CPUPROFILE"))
	code := run(os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// startProfile writes a CPU profile of this process to PREFIX.PID.pprof
// when OBZ_CPUPROFILE=PREFIX is set: every obz process of a pipeline or a
// flow (which passes its environment on) writes its own, for
// `go tool pprof`. A development aid, documented in docs/performance.md.
func startProfile(prefix string) func() {
	if prefix == "" {
		return func() {}
	}
	f, err := os.Create(fmt.Sprintf("%s.%d.pprof", prefix, os.Getpid()))
	if err != nil {
		fmt.Fprintf(os.Stderr, "obz: OBZ_CPUPROFILE: %v\n", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "obz: OBZ_CPUPROFILE: %v\n", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
