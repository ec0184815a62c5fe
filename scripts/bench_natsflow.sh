#!/usr/bin/env bash
# bench_natsflow.sh - one flow run on one host (every edge a pipe) against
# the same flow placed on two hosts (obz flow --host a and --host b on this
# machine, an embedded NATS server between them: the edge from a to b goes
# over JetStream). Checks that both write the same bytes.
#
# Usage (from the repo root):
#   scripts/bench_natsflow.sh             # 1M events, one and two alternated, 3 runs each
#   N=200000 RUNS=2 scripts/bench_natsflow.sh
#   scripts/bench_natsflow.sh one         # one run of one mode (one, two),
#   scripts/bench_natsflow.sh two         #   for an outside timer
#
# The flow: gen --count N (a) |> map .amount (a) |> agg --count --sum
# (b) |> write (b). Journals are on, as in any obz flow run.
# Needs bash, go, GNU time (/usr/bin/time).
set -euo pipefail
export LC_ALL=C
exec </dev/null
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF=$ROOT/scripts/$(basename "${BASH_SOURCE[0]}")
cd "$ROOT"
N=${N:-1000000}
RUNS=${RUNS:-3}
WORK=${WORK:-$ROOT/bench-data}
mkdir -p "$WORK/bin" "$WORK/natsflow"
[ -n "${NO_BUILD:-}" ] || go build -o "$WORK/bin/obz" ./cmd/obz
export PATH=$WORK/bin:$PATH
cd "$WORK/natsflow"
cat > flow.toml <<TOML
name = "bench"
flow = "gen |> amount |> sum |> out"

[stages.gen]
run = "gen --count $N --seed 1"
host = "a"

[stages.amount]
run = "map '{amount}'"
host = "a"

[stages.sum]
run = "agg --count --sum amount"
host = "b"

[stages.out]
run = "write out.ndjson"
host = "b"
TOML

one() { rm -rf runs; obz flow --run-dir runs flow.toml 2> one.err; }
two() {
	rm -rf runs store
	obz nats serve --port -1 --dir store -- bash -c \
		'id=$RANDOM$RANDOM; obz flow --host b --run-id "$id" --run-dir runs flow.toml 2> b.err & obz flow --host a --run-id "$id" --run-dir runs flow.toml 2> a.err; a=$?; wait $!; b=$?; exit $((a + b))'
}

case "${1:-}" in
one) one; exit ;;
two) two; exit ;;
esac

NO_BUILD=1 "$SELF" one
cp out.ndjson want.ndjson
run() {
	local t
	t=$( { /usr/bin/time -f '%e %U %S' "$SELF" "$1" ; } 2>&1 | tail -n 1)
	cmp -s out.ndjson want.ndjson || { echo "$1: not the bytes of the one-host run: $(cat out.ndjson)" >&2; exit 1; }
	awk -v name="$1" -v n="$N" -v t="$t" 'BEGIN { split(t, a, " ");
		printf "%-4s wall %6.2fs  cpu %6.2fs  %8.0f events/s\n", name, a[1], a[2]+a[3], n/a[1] }'
}
export NO_BUILD=1
for i in $(seq "$RUNS"); do
	run one
	run two
done
