package stages

// writeDescription is write's --help description: the policies a user of
// a sink must know.
const writeDescription = `Writes each event's payload to FILE, or to stdout with no argument or -.

FILE is written under a temporary name beside it (.FILE.obz-tmp-*), synced,
and renamed to FILE only when the input ended naturally: an existing FILE is
replaced at that moment and never before, and a FILE never looks complete when
it is not. If the input breaks (no EOF, a gap, an upstream failure) or the
stage fails, the temporary file is removed and FILE is left as it was. On
SIGINT/SIGTERM the events drained so far go to FILE.partial instead, and the
stage says how many it holds. A device, FIFO or socket (/dev/null) is written
in place.

Durability: by default every file is synced (fsync), and its directory after
the rename, before write exits 0: what it reports written survives a crash.
Stdout is synced at the end when it is a regular file (obz write > x).
--fsync=false skips syncing (scratch output: faster, not crash-safe).

--append adds the events to the end of FILE (created if missing), written
there directly. If the input breaks or the stage fails, FILE is cut back to
its size before the run (it is left alone, and write says so, if another
writer appended to it meanwhile). A crash of the machine or a kill -9 can
leave a prefix of the run appended: only exit 0 says all of it is there. A
stop signal leaves the events drained so far appended. CSV/TSV: when FILE
has content, its first line is the header (not written again); the events'
keys are matched to it.

--split-every N and --split-size SIZE write numbered parts instead of FILE:
the number (6 digits or more, from 000001) goes before the extensions, so
out.ndjson.zst makes out-000001.ndjson.zst, out-000002.ndjson.zst ... A part
ends after the event that makes it N events or SIZE bytes (counted before
compression; 100MiB, 1GiB: powers of 1024), so the same input always splits
the same way. Each part is written like FILE (temporary name, renamed when
complete); the last one at the end of input. If the input breaks, the parts
completed so far are kept (write names them: they are not the whole output)
and the part in progress is removed; on a stop it goes to PART.partial. Parts
of an earlier run must be removed first, or --append adds new parts
numbered after them. Each CSV/TSV part has the header line. Empty input
makes one empty part.

Compression: FILE ending in .gz is written with gzip, .zst with zstd (each
part compressed on its own); --compress gzip|zstd|none overrides, and
compresses stdout too. The format comes from the extension before it
(out.csv.gz is gzipped CSV). --append adds a new gzip member or zstd frame,
which gzip -d and zstd -d read as one stream. A broken run leaves a
compressed stdout unfinished, so that the reader sees it is cut short.

Formats: ndjson (the default), csv and tsv, chosen by --format or else by
FILE's extension (.csv, .tsv). NDJSON copies the payload bytes as they are.
CSV (RFC 4180, quoted where needed) and TSV (IANA text/tab-separated-values,
never quoted: a tab, newline, carriage return or backslash in a field is
written \t, \n, \r or \\, as mlr writes TSV) take JSON objects:
  - the header is the keys of the first object, in their order there;
  - a later object without one of those keys gets an empty cell;
  - an object with a key that is not in the header is not written: it becomes
    an error event of kind csv-keys naming the extra keys;
  - a payload that is not an object becomes an error event of kind csv-type;
  - cells: strings as they are, numbers as written, true/false, null empty,
    arrays and objects as compact JSON; a repeated key's last value wins.
Payloads are checked with a JSON validator in CSV and TSV (kind parse if bad).

Error events (from upstream, or raised here) are reported on stderr (the
first 20, then counted) or, with --dead-letter FILE, written there, one JSON
object per line:
  {"stage":"read","kind":"parse","msg":"...","line":7,"writer":"read","seq":7,"raw":"..."}
with "payload":<the event> instead of "raw" when the event was valid JSON.
"stage" raised the error; "line" is the line of a bare input line it could
not take (absent when not from a line); "event":[WRITER,SEQ] is the framed
event the stage failed on (an expression error, say), which tells merged
inputs apart: a source's seq is its record number; "via" lists the stages
that passed the error on after "stage". "writer" and "seq" name the frame
that carried the event here; they are absent for input lines this stage could
not read itself.
The dead-letter file is written like
FILE (temporary name, renamed at the end; .partial on a stop) and always
replaced, empty when there were no error events, so a stale one never lingers.

Delivery receipts: write sends one receipt per event it consumed, naming the
event's writer and seq, to the journal (--journal, obz flow) and, with
--receipts, to stdout as frames (then an EOF frame):
  {"obz":1,"t":"receipt","w":"write","of":["read",7],"status":"ok"}
A receipt is sent only once the event is in its final place: "ok" when FILE
is renamed (synced), a part is renamed, the run's appended events are synced,
or the event was written to stdout; "failed" for an error event or an event
write could not write (csv-keys ...), once the dead-letter file is committed
(at the end when they were reported on stderr). A broken or failed run sends
no more receipts (a split output's completed parts have theirs, stdout has
those of what was passed on); a stop sends none for what went to a .partial
file. obz flow --resume reads the receipts to skip what was delivered to
stdout. With --append and a journal, write records where its appending
began beside the journal (JOURNAL.rewind): obz flow --resume cuts FILE back
there and appends everything again. Lines this stage could not read itself
were no writer's event: they have no receipt.`
