#!/usr/bin/env bash
# bench_parallel.sh - obz parallel against one process of the same stage, on
# the same generated events, side by side in one run. Prints a Markdown
# table: wall time (median of RUNS), CPU time (user+sys, median) and the
# speed-up of each row over the stage's one-process row.
#
# filter, map and agg replicas are goroutines of one process, exec
# --one-to-one replicas N programs under one obz exec, unless --processes
# (the rows say which).
#
# Usage (from the repo root):
#   scripts/bench_parallel.sh                 # 1M events, 3 runs each
#   N=200000 RUNS=1 scripts/bench_parallel.sh
#   ONLY=map scripts/bench_parallel.sh        # workloads whose id matches
#
# Needs bash, go, GNU time (/usr/bin/time); python3 for the exec rows.
set -euo pipefail
export LC_ALL=C
# Python buffers its stdout on a pipe unless told not to: with
# PYTHONUNBUFFERED set it writes every line with two write calls, and obz
# exec wakes up for each (the "python3 -u" row shows what that costs).
unset PYTHONUNBUFFERED
exec </dev/null

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
N=${N:-1000000}
NEXEC=${NEXEC:-$((N / 5))}
RUNS=${RUNS:-3}
ONLY=${ONLY:-}
WORK=${WORK:-$ROOT/bench-data}
mkdir -p "$WORK/bin"
go build -trimpath -o "$WORK/bin/obz" ./cmd/obz
OBZ=$WORK/bin/obz

FR=$WORK/events-$N.frames
FX=$WORK/events-$NEXEC.frames
[ -s "$FR" ] || "$OBZ" gen --count "$N" --seed 1 > "$FR"
[ -s "$FX" ] || "$OBZ" gen --count "$NEXEC" --seed 1 > "$FX"
# join's reference: 20k users (about 8.6k distinct), 2 fields each.
REF=$WORK/users-ref.frames
[ -s "$REF" ] || "$OBZ" gen --count 20000 --seed 5 | "$OBZ" map '{user, vip: (.amount > 50), segment: .country}' > "$REF"
cat "$FR" "$FX" "$REF" > /dev/null

# The interpreter itself, not a version manager's shim in front of it (a
# pyenv shim is a bash script: about 0.35 s of CPU each time a program
# starts, once per replica).
PYTHON=${PYTHON:-$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || echo python3)}
PY='import sys, json, hashlib; [print(json.dumps(dict(o, h=hashlib.sha256(o["msg"].encode()).hexdigest()[:8]))) for o in map(json.loads, sys.stdin)]'
# A CPU-bound map on gojq's general path (indices/1 is not in the fast
# path's subset: obz map --explain says so), about 15 µs an event.
MAP='{id, u: (.user | ascii_downcase), c: (.msg | indices("o") | length)}'

# id :: label :: base (1 = the row the others of its id are compared with) :: command
WORKLOADS=$(cat <<EOW
map :: obz map (one process) :: 1 :: obz map '$MAP' < "\$FR"
map :: obz parallel -j 1 -- map (goroutines) :: 0 :: obz parallel -j 1 -- map '$MAP' < "\$FR"
map :: obz parallel -j 2 -- map (goroutines) :: 0 :: obz parallel -j 2 -- map '$MAP' < "\$FR"
map :: obz parallel -j 4 -- map (goroutines) :: 0 :: obz parallel -j 4 -- map '$MAP' < "\$FR"
map :: obz parallel -j 8 -- map (goroutines) :: 0 :: obz parallel -j 8 -- map '$MAP' < "\$FR"
map :: obz parallel -j 2 --processes -- map :: 0 :: obz parallel -j 2 --processes -- map '$MAP' < "\$FR"
pass :: obz filter true (one process) :: 1 :: obz filter true < "\$FR"
pass :: obz parallel -j 2 -- filter true (goroutines) :: 0 :: obz parallel -j 2 -- filter true < "\$FR"
pass :: obz parallel -j 2 --processes -- filter true :: 0 :: obz parallel -j 2 --processes -- filter true < "\$FR"
agg :: obz agg --by user (one process) :: 1 :: obz agg --by user --sum amount --count < "\$FR"
agg :: obz parallel -j 2 --by user -- agg --by user (goroutines) :: 0 :: obz parallel -j 2 --by user -- agg --by user --sum amount --count < "\$FR"
agg :: obz parallel -j 2 --by user --processes -- agg --by user :: 0 :: obz parallel -j 2 --by user --processes -- agg --by user --sum amount --count < "\$FR"
join :: obz join --ref (one process) :: 1 :: obz join --ref "\$REF" --on user --left < "\$FR"
join :: obz parallel -j 2 -- join (goroutines) :: 0 :: obz parallel -j 2 -- join --ref "\$REF" --on user --left < "\$FR"
exec :: obz exec --one-to-one python3 (one process, NEXEC events) :: 1 :: obz exec --one-to-one -- $PYTHON -c '$PY' < "\$FX"
exec :: obz parallel -j 2 -- exec --one-to-one python3 (2 programs, one obz) :: 0 :: obz parallel -j 2 -- exec --one-to-one -- $PYTHON -c '$PY' < "\$FX"
exec :: obz parallel -j 4 -- exec --one-to-one python3 (4 programs, one obz) :: 0 :: obz parallel -j 4 -- exec --one-to-one -- $PYTHON -c '$PY' < "\$FX"
exec :: obz parallel -j 2 --processes -- exec --one-to-one python3 :: 0 :: obz parallel -j 2 --processes -- exec --one-to-one -- $PYTHON -c '$PY' < "\$FX"
exec :: obz exec --one-to-one python3 -u (unbuffered output) :: 0 :: obz exec --one-to-one -- $PYTHON -u -c '$PY' < "\$FX"
EOW
)

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "obz parallel on $N events ($NEXEC for exec), $(nproc) cores, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| workload | wall s | CPU s | speed-up (wall) |"
echo "|---|---:|---:|---:|"
declare -A basewall
while IFS= read -r line; do
  [ -z "$line" ] && continue
  id=${line%% ::*}; rest=${line#* :: }
  label=${rest%% ::*}; rest=${rest#* :: }
  base=${rest%% ::*}; cmd=${rest#* :: }
  [ -n "$ONLY" ] && ! [[ $id =~ $ONLY ]] && continue
  [[ $cmd == *python3* ]] && ! command -v python3 >/dev/null && continue
  walls=(); cpus=()
  for _ in $(seq "$RUNS"); do
    t=$( { /usr/bin/time -f '%e %U %S' env PATH="$WORK/bin:$PATH" FR="$FR" FX="$FX" REF="$REF" bash -c "$cmd > /dev/null" ; } 2>&1 | tail -1)
    walls+=("$(echo "$t" | awk '{print $1}')")
    cpus+=("$(echo "$t" | awk '{print $2 + $3}')")
  done
  w=$(printf '%s\n' "${walls[@]}" | median)
  c=$(printf '%s\n' "${cpus[@]}" | median)
  [ "$base" = 1 ] && basewall[$id]=$w
  sp=$(awk -v b="${basewall[$id]}" -v w="$w" 'BEGIN {printf "%.2f×", b / w}')
  echo "| $label | $w | $c | $sp |"
done <<< "$WORKLOADS"
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
