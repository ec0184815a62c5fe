#!/usr/bin/env bash
# bench_nats.sh - one edge as a local pipe against the same edge over NATS
# JetStream (obz nats pub | server | obz nats sub), on the same data, runs
# alternated. Prints one line per run: wall seconds, CPU seconds (user+sys
# of every process, the server included), events/s and MB/s of the edge.
#
# Usage (from the repo root):
#   scripts/bench_nats.sh                 # 1M events, 3 runs each
#   N=200000 RUNS=2 scripts/bench_nats.sh
#
# The edge: obz map . (raw NDJSON in, frames out) | EDGE | obz agg --count.
# Needs bash, go, GNU time (/usr/bin/time).
set -euo pipefail
export LC_ALL=C
exec </dev/null
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
N=${N:-1000000}
RUNS=${RUNS:-3}
WORK=${WORK:-$ROOT/bench-data}
mkdir -p "$WORK/bin"
go build -o "$WORK/bin/obz" ./cmd/obz
export PATH=$WORK/bin:$PATH
DATA=$WORK/nats-gen-$N.ndjson
[ -s "$DATA" ] || obz gen --count "$N" --seed 1 -r > "$DATA"
# The bytes on the edge: the frames obz map writes.
EDGE_BYTES=$(obz map . < "$DATA" | wc -c)

run() { # name, command
	local t
	t=$( { /usr/bin/time -f '%e %U %S' bash -c "$2" > "$WORK/nats-out" ; } 2>&1 | tail -n 1)
	grep -q "\"count\":$N" "$WORK/nats-out" || { echo "$1: wrong result: $(cat "$WORK/nats-out")" >&2; exit 1; }
	awk -v name="$1" -v n="$N" -v b="$EDGE_BYTES" -v t="$t" 'BEGIN { split(t, a, " ");
		printf "%-10s wall %6.2fs  cpu %6.2fs  %8.0f events/s  %6.1f MB/s\n", name, a[1], a[2]+a[3], n/a[1], b/a[1]/1e6 }'
}

pipe="obz map . < '$DATA' | obz agg --count -r"
# Server, publisher and reader at once, as across two machines; a fresh
# store each run.
nats="rm -rf '$WORK/nats-store'; obz nats serve --port -1 --dir '$WORK/nats-store' -- bash -c \"obz nats sub e --durable d | obz agg --count -r & obz map . < '$DATA' | obz nats pub e; wait\""
for i in $(seq "$RUNS"); do
	run pipe "$pipe"
	run jetstream "$nats"
done
rm -rf "$WORK/nats-store" "$WORK/nats-out"
