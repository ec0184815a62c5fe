// Command obz runs stream-processing stages over framed NDJSON.
package main

import "os"

func main() {
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
