// Command linecopy copies stdin to stdout line by line (bufio.Scanner with a
// 1 MiB buffer): the floor a line-framed Go stage is measured against in
// scripts/bench.sh.
package main

import (
	"bufio"
	"os"
)

func main() {
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	w := bufio.NewWriterSize(os.Stdout, 1<<16)
	for sc.Scan() {
		w.Write(sc.Bytes())
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil || sc.Err() != nil {
		os.Exit(1)
	}
}
