// Package journal writes and reads obz journals: a stage's output frames,
// compressed with zstd, in a form that survives a crash of the writer.
//
// A journal is a sequence of blocks. Each block is a small zstd skippable
// frame holding the block's metadata (line count, seq range, time range)
// followed by an ordinary zstd frame holding whole frame lines. Blocks are
// closed at a bounded interval (4096 lines, 256 KiB or 200 ms by default), so
// after a kill -9 every complete block is readable and an incomplete last
// block is reported as a torn tail, never returned as data. Close appends an
// index of the blocks in a skippable frame at the end of the file; a reader
// that does not find it rebuilds it by scanning the frame headers.
//
// The byte format is specified in docs/journal.md.
//
//	stage ──Write(lines)──▶ Writer ──chan of buffers──▶ compressor goroutine ──▶ file
//	                         (copy, return)               (cut blocks, zstd, index)
package journal
