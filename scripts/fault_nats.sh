#!/usr/bin/env bash
# fault_nats.sh - faults at scale on a JetStream edge: kill -9 the
# publisher, the reader, and the NATS server itself in the middle of an
# N-event edge, recover as docs/nats.md says, and compare the sink with the
# input, byte for byte.
#
# Usage (from anywhere in the repository):
#   scripts/fault_nats.sh              # 1M events
#   N=200000 scripts/fault_nats.sh     # smaller
#   KEEP=1 scripts/fault_nats.sh       # keep the work directory
#
# The edge: obz gen --count N --seed 1 > frames; obz nats pub SUBJ < frames
# (a sink), obz nats sub SUBJ --durable d > out.K (a source, one file per
# run of it); the sink: cat out.* | obz map . -r, the stage after sub that
# drops the frames written twice by writer:seq (docs/nats.md, Reading).
# One server (obz nats serve, a temporary directory, a loopback port) per
# case.
#
#  pub   obz nats pub killed -9 in the middle, published again, then read.
#  sub   obz nats sub killed -9 in the middle while the publisher is done,
#        started again.
#  serve obz nats serve killed -9 and started again on the same directory
#        while pub and sub run; pub published again if it failed, sub
#        started again if it failed.
#
# Prints a table: events expected, events at the sink, lost (in the input,
# not at the sink), duplicated (at the sink more often than in the input;
# both compared as multisets), frames the sub runs wrote twice (dropped by
# the sink stage), and what obz reported (exit statuses, the lines of
# stderr that matter). Exit status 1 when a sink differs from the input
# without an obz process having failed: a silent loss or duplicate.
set -uo pipefail
export LC_ALL=C
exec </dev/null
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${N:-1000000}
WORK=$(mktemp -d /tmp/obz-fault-nats.XXXXXX)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/bin"
(cd "$ROOT" && go build -o "$WORK/bin/obz" ./cmd/obz) || exit 1
export PATH=$WORK/bin:$PATH

# A free loopback port, kept across a server's restart.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=$((20000 + RANDOM % 30000))
while ! port_free "$PORT"; do PORT=$((20000 + RANDOM % 30000)); done
export NATS_URL=nats://127.0.0.1:$PORT

FRAMES=$WORK/frames.ndjson
obz gen --count "$N" --seed 1 > "$FRAMES"
obz map . -r < "$FRAMES" | sort > "$WORK/want.sorted"
obz map . -r < "$FRAMES" > "$WORK/want.raw"
SIZE=$(wc -c < "$FRAMES")

SPID=
serve() { # dir: start the server, wait until it takes connections
	obz nats serve --dir "$1" --port "$PORT" >> "$1.log" 2>&1 &
	SPID=$!
	for _ in $(seq 300); do
		port_free "$PORT" || return 0
		sleep 0.1
	done
	echo "obz nats serve did not start: $(cat "$1.log")" >&2
	exit 1
}
stop() { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; }
# until FILE has at least K lines (or PID is gone)
lines_at_least() {
	while kill -0 "$3" 2>/dev/null; do
		[ "$(wc -l < "$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
		sleep 0.1
	done
}
# until PID has read at least BYTES of its stdin (a file)
read_at_least() {
	local pos
	while kill -0 "$1" 2>/dev/null; do
		pos=$(awk '/^pos:/ { print $2 }' "/proc/$1/fdinfo/0" 2>/dev/null || echo 0)
		[ "${pos:-0}" -ge "$2" ] && return 0
		sleep 0.05
	done
}
# wait for PID at most SECONDS, then kill it; its exit status
wait_for() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$1" 2>/dev/null && { echo "pid $1 still running after $2s: killed" >> "$W/notes"; kill -9 "$1"; }
	wait "$1"
}
note() { echo "$*" >> "$W/notes"; }
# The stderr lines worth reporting, shortened.
said() { grep -h -E 'gap|broke|already|fail|error|timeout|disconnect|duplicate|killed' "$@" 2>/dev/null | cut -c1-160 | sort | uniq -c | sed 's/^ *//' >> "$W/notes"; }

RESULTS=()
SILENT=0
result() { # case
	local c=$1 sink=$W/sink.raw at lost dup twice ok
	cat "$W"/out.* | obz map . -r --stats > "$sink" 2> "$W/sink.err"
	note "sink stage exit $?: $(tr '\n' ' ' < "$W/sink.err" | cut -c1-200)"
	at=$(wc -l < "$sink")
	sort "$sink" > "$W/sink.sorted"
	lost=$(comm -23 "$WORK/want.sorted" "$W/sink.sorted" | wc -l)
	dup=$(comm -13 "$WORK/want.sorted" "$W/sink.sorted" | wc -l)
	# data frames the sub runs wrote more than once (by writer:seq)
	twice=$(cat "$W"/out.* | grep -o '"t":"data","w":"[^"]*","s":[0-9]*' | sort | uniq -d | wc -l)
	if cmp -s "$sink" "$WORK/want.raw"; then ok=identical; else ok=DIFFERENT; fi
	if [ "$ok" = DIFFERENT ] && ! grep -q -E 'exit [1-9]' "$W/notes"; then
		ok="$ok SILENT"
		SILENT=1
	fi
	RESULTS+=("$(printf '%-6s %9s %9s %7s %7s %7s  %s' "$c" "$N" "$at" "$lost" "$dup" "$twice" "$ok")")
	echo "== $c: $ok"
	sed 's/^/   /' "$W/notes"
}

# 1. The publisher killed -9 in the middle, published again (the server
# drops what it stored by Nats-Msg-Id), then read to the end.
W=$WORK/pub
mkdir -p "$W"
: > "$W/notes"
serve "$W/store"
obz nats pub f1 < "$FRAMES" 2> "$W/pub1.err" &
pid=$!
read_at_least "$pid" $((SIZE / 2))
kill -9 "$pid" 2>/dev/null
wait "$pid"
note "pub killed: exit $?"
obz nats pub f1 < "$FRAMES" 2> "$W/pub2.err"
note "pub again: exit $?"
said "$W/pub2.err"
obz nats sub f1 --durable d > "$W/out.1" 2> "$W/sub1.err" &
wait_for $! 900
note "sub: exit $?"
said "$W/sub1.err"
stop
result pub

# 2. The reader killed -9 in the middle (the publisher done), started again
# with the same durable name.
W=$WORK/sub
mkdir -p "$W"
: > "$W/notes"
serve "$W/store"
obz nats pub f2 < "$FRAMES" 2> "$W/pub1.err"
note "pub: exit $?"
obz nats sub f2 --durable d > "$W/out.1" 2> "$W/sub1.err" &
pid=$!
lines_at_least "$W/out.1" $((N / 2)) "$pid"
kill -9 "$pid" 2>/dev/null
wait "$pid"
rc=$?
note "sub killed: exit $rc after $(wc -l < "$W/out.1") frames"
if [ "$rc" != 0 ]; then # (it may have finished first: N too small)
	obz nats sub f2 --durable d > "$W/out.2" 2> "$W/sub2.err" &
	wait_for $! 900
	note "sub again: exit $?"
fi
said "$W/sub1.err" "$W/sub2.err"
stop
result sub

# 3. The server killed -9 and started again on its directory while pub and
# sub run. As documented: a pub that failed is run again; a sub that
# failed is started again.
W=$WORK/serve
mkdir -p "$W"
: > "$W/notes"
serve "$W/store"
obz nats sub f3 --durable d > "$W/out.1" 2> "$W/sub1.err" &
sub=$!
obz nats pub f3 < "$FRAMES" 2> "$W/pub1.err" &
pub=$!
lines_at_least "$W/out.1" $((N / 3)) "$sub"
kill -9 "$SPID"
wait "$SPID" 2>/dev/null
note "server killed after the sub wrote $(wc -l < "$W/out.1") frames"
sleep 1
serve "$W/store"
wait_for "$pub" 900
rc=$?
note "pub: exit $rc"
said "$W/pub1.err"
for k in 2 3; do
	[ "$rc" = 0 ] && break
	obz nats pub f3 < "$FRAMES" 2> "$W/pub$k.err"
	rc=$?
	note "pub again: exit $rc"
	said "$W/pub$k.err"
done
wait_for "$sub" 900
rc=$?
note "sub: exit $rc"
said "$W/sub1.err"
if [ "$rc" != 0 ]; then
	obz nats sub f3 --durable d > "$W/out.2" 2> "$W/sub2.err" &
	wait_for $! 900
	note "sub again: exit $?"
	said "$W/sub2.err"
fi
stop
result serve

echo
printf '%-6s %9s %9s %7s %7s %7s  %s\n' case expected at-sink lost dup twice sink
printf '%s\n' "${RESULTS[@]}"
[ -z "${KEEP:-}" ] || echo "work directory: $WORK"
exit "$SILENT"
