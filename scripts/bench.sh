#!/usr/bin/env bash
# bench.sh - obz side by side with cat, a Go line copy, jq, mlr and mawk on
# the same generated data, in one run. Prints a Markdown table and, with
# WRITE=1, puts it into docs/performance.md between the BENCH markers.
#
# Usage (from the repo root):
#   scripts/bench.sh                  # 1M events, 3 runs each
#   N=100000 RUNS=5 scripts/bench.sh  # smaller
#   ONLY='filter' scripts/bench.sh    # workloads whose id matches a regex
#   WRITE=1 scripts/bench.sh          # also update docs/performance.md
#   PIPE=1 scripts/bench.sh           # only the N-stage pipeline table
#                                     # (PIPE=1 WRITE=1 updates its part of the doc)
#
# Needs bash, go, awk. Peers are optional (rows are skipped when absent):
#   apt-get install -y jq miller mawk time
# Peak RSS needs GNU time (/usr/bin/time).
set -euo pipefail
export LC_ALL=C
exec </dev/null

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
N=${N:-1000000}
RUNS=${RUNS:-3}
ONLY=${ONLY:-}
WORK=${WORK:-$ROOT/bench-data}
mkdir -p "$WORK/bin"
# obz flow makes a run directory per run: none is kept.
RUNDIR=$WORK/runs
rm -rf "$RUNDIR"
trap 'rm -rf "$RUNDIR" "$WORK/filter.zst" "$WORK/head.zst" "$WORK/tee.zst"' EXIT

go build -trimpath -o "$WORK/bin/obz" ./cmd/obz
go build -trimpath -o "$WORK/bin/linecopy" ./scripts/linecopy
OBZ=$WORK/bin/obz
export PATH=$WORK/bin:$PATH

F=$WORK/events-$N.ndjson       # bare NDJSON, what users have
FR=$WORK/events-$N.frames      # the same events as obz frames (mid-pipeline input)
if [ ! -s "$F" ]; then
  echo "bench: generating $N events" >&2
  "$OBZ" gen --count "$N" --seed 1 -r > "$F.tmp" && mv "$F.tmp" "$F"
fi
# gen.zst is the journal of the events in $FR (writer gen): the journals of
# the h-journal rows refer to it (--journal-refs).
if [ ! -s "$FR" ] || [ "$F" -nt "$FR" ] || [ ! -s "$WORK/gen.zst" ]; then
  "$OBZ" gen --count "$N" --seed 1 --journal "$WORK/gen.zst" > "$FR.tmp" && mv "$FR.tmp" "$FR"
fi
cat "$F" "$FR" > /dev/null
BYTES=$(wc -c < "$F")
export F FR WORK

have() { command -v "$1" >/dev/null 2>&1; }
MLR='mlr --ijsonl --ojsonl'
JQ_REDUCE='reduce inputs as $r ({}; .[$r.country].count += 1 | .[$r.country].sum += $r.amount) | to_entries[] | {country: .key, count: .value.count, sum: .value.sum}'
AWK_GROUP='{c[$2]++; s[$2] += $3} END {for (k in c) printf "{\"country\":\"%s\",\"count\":%d,\"sum\":%.2f}\n", k, c[k], s[k]}'

# id :: tool :: needs :: command (reads $F or $FR, output discarded)
WORKLOADS=$(cat <<EOW
a-copy :: cat | cat :: cat :: cat "\$F" | cat
a-copy :: Go line copy :: linecopy :: cat "\$F" | linecopy
b-passthrough :: obz head (framed in, framed out) :: obz :: cat "\$FR" | obz head -n 2000000000
b-passthrough :: obz head (bare in, validated) :: obz :: cat "\$F" | obz head -n 2000000000
b-passthrough :: jq -c . :: jq :: cat "\$F" | jq -c .
c-filter :: obz filter (bare in, -r) :: obz :: cat "\$F" | obz filter '.amount > 50' -r
c-filter :: obz filter (framed) :: obz :: cat "\$FR" | obz filter '.amount > 50'
c-filter :: jq -c select :: jq :: cat "\$F" | jq -c 'select(.amount > 50)'
c-filter :: mlr filter :: mlr :: cat "\$F" | $MLR filter '\$amount > 50'
c-filter :: mawk :: mawk :: cat "\$F" | mawk -F'"amount":' '\$2 + 0 > 50'
d-map :: obz map (bare in, -r) :: obz :: cat "\$F" | obz map '{id, user, amount}' -r
d-map :: jq -c :: jq :: cat "\$F" | jq -c '{id, user, amount}'
d-map :: mlr cut :: mlr :: cat "\$F" | $MLR cut -o -f id,user,amount
e-pipeline :: obz filter | map | head -r :: obz :: cat "\$F" | obz filter '.amount > 50' | obz map '{id, country, amount}' | obz head -n 2000000000 -r
e-pipeline :: jq | jq :: jq :: cat "\$F" | jq -c 'select(.amount > 50)' | jq -c '{id, country, amount}'
f-group :: obz agg (bare in, -r) :: obz :: cat "\$F" | obz agg --by country --count --sum amount -r
f-group :: jq reduce :: jq :: cat "\$F" | jq -n -c '$JQ_REDUCE'
f-group :: mlr stats1 :: mlr :: cat "\$F" | $MLR stats1 -a count,sum -f amount -g country
f-group :: mawk :: mawk :: cat "\$F" | mawk -F'"country":"|","device":"[a-z]*","amount":|,"tags"' '$AWK_GROUP'
g-4stage :: obz flow read→filter→map→agg→write (journaled, default) :: obz :: obz flow --run-dir "\$WORK/runs" "\$WORK/flow.toml"
g-4stage :: obz flow read→filter→map→agg→write --journal-codec zstd :: obz :: obz flow --run-dir "\$WORK/runs" --journal-codec zstd "\$WORK/flow.toml"
g-4stage :: obz flow read→filter→map→agg→write --no-journal :: obz :: obz flow --run-dir "\$WORK/runs" --no-journal "\$WORK/flow.toml"
g-4stage :: obz shell pipeline, same stages :: obz :: obz read "\$F" | obz filter '.amount > 50' | obz map '{id, country, amount}' | obz agg --by country --count --sum amount | obz write /dev/null
g-4stage :: jq | jq | jq :: jq :: cat "\$F" | jq -c 'select(.amount > 50)' | jq -c '{id, country, amount}' | jq -n -c '$JQ_REDUCE'
h-journal :: obz filter (framed, stdin a file), no journal :: obz :: obz filter '.amount > 50' < "\$FR"
h-journal :: obz filter --journal (stdin a file: references to it) :: obz :: obz filter '.amount > 50' --journal "\$WORK/filter.zst" < "\$FR"
h-journal :: obz filter (stdin a pipe), no journal :: obz :: cat "\$FR" | obz filter '.amount > 50'
h-journal :: obz filter --journal (stdin a pipe: bytes) :: obz :: cat "\$FR" | obz filter '.amount > 50' --journal "\$WORK/filter.zst"
h-journal :: obz filter --journal --journal-refs :: obz :: obz filter '.amount > 50' --journal-refs --journal "\$WORK/filter.zst" < "\$FR"
h-journal :: obz head (framed, stdin a file), no journal :: obz :: obz head -n 2000000000 < "\$FR"
h-journal :: obz head --journal (stdin a file: references to it) :: obz :: obz head -n 2000000000 --journal "\$WORK/head.zst" < "\$FR"
h-journal :: obz head (stdin a pipe), no journal :: obz :: cat "\$FR" | obz head -n 2000000000
h-journal :: obz head --journal (stdin a pipe: bytes) :: obz :: cat "\$FR" | obz head -n 2000000000 --journal "\$WORK/head.zst"
h-journal :: obz head --journal --journal-codec zstd (stdin a pipe: bytes) :: obz :: cat "\$FR" | obz head -n 2000000000 --journal-codec zstd --journal "\$WORK/head.zst"
h-journal :: obz head --journal --journal-refs :: obz :: obz head -n 2000000000 --journal-refs --journal "\$WORK/head.zst" < "\$FR"
h-journal :: obz tee (framed, stdin a file), no journal :: obz :: obz tee /dev/null < "\$FR"
h-journal :: obz tee --journal (stdin a file: references to it) :: obz :: obz tee /dev/null --journal "\$WORK/tee.zst" < "\$FR"
h-journal :: obz tee (stdin a pipe), no journal :: obz :: cat "\$FR" | obz tee /dev/null
h-journal :: obz tee --journal (stdin a pipe: bytes) :: obz :: cat "\$FR" | obz tee /dev/null --journal "\$WORK/tee.zst"
h-journal :: obz tee --journal --journal-refs :: obz :: obz tee /dev/null --journal-refs --journal "\$WORK/tee.zst" < "\$FR"
EOW
)
# The 4-stage flow of workload g (read, filter, map, agg, write).
cat > "$WORK/flow.toml" <<EOT
name = "bench"
flow = "src |> big |> slim |> by_country |> out"
[stages.src]
run = ["read", "$F"]
[stages.big]
run = "filter '.amount > 50'"
[stages.slim]
run = "map '{id, country, amount}'"
[stages.by_country]
run = "agg --by country --count --sum amount"
[stages.out]
run = "write /dev/null"
EOT

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# timed CMD: the median wall time of RUNS runs of CMD (output discarded).
timed() {
  local times=() t0 t1
  for _ in $(seq "$RUNS"); do
    t0=$(now); bash -c "$1 > /dev/null"; t1=$(now)
    rm -rf "$RUNDIR"
    times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f", b-a}')")
  done
  printf '%s\n' "${times[@]}" | median
}
# journal_sizes: "stage bytes" per journal of the one run in $RUNDIR, then the total.
journal_sizes() {
  local total=0 f n
  for f in "$RUNDIR"/*/journals/*.zst; do
    [ -e "$f" ] || continue
    n=$(stat -c %s "$f")
    total=$((total + n))
    printf '%s %s\n' "$(basename "$f" .zst)" "$n"
  done
  printf 'total %s\n' "$total"
}

# PIPE=1: how throughput falls as a pipeline of framed passthrough stages
# (obz head -n 2000000000) grows, fed by obz gen or by cat of the frames, as a
# shell pipeline and as obz flow (which needs a sink: write /dev/null).
if [ "${PIPE:-}" = 1 ]; then
  HEAD='obz head -n 2000000000'
  ptable=$(
    echo "| stages N | gen \| N × head (s) | MB/s | cat frames \| N × head (s) | MB/s | obz flow gen → N × head → write (s) | MB/s |"
    echo "|--:|--:|--:|--:|--:|--:|--:|"
    for n in 1 2 4 8; do
      chain=""; topo="src"; stages=""
      for i in $(seq "$n"); do
        chain="$chain | $HEAD"; topo="$topo |> h$i"
        stages="$stages"$'\n'"[stages.h$i]"$'\n'"run = \"head -n 2000000000\""
      done
      cat > "$WORK/pipe-$n.toml" <<EOT
name = "pipe$n"
flow = "$topo |> out"
[stages.src]
run = "gen --count $N --seed 1"
$stages
[stages.out]
run = "write /dev/null"
EOT
      tg=$(timed "obz gen --count $N --seed 1$chain")
      tc=$(timed "cat \"$FR\"$chain")
      tf=$(timed "obz flow --run-dir \"$WORK/runs\" --no-journal \"$WORK/pipe-$n.toml\" 2>/dev/null")
      mb() { awk -v b="$BYTES" -v t="$1" 'BEGIN {printf "%.0f", b/1e6/t}'; }
      printf 'bench: pipe N=%s gen %ss cat %ss flow %ss\n' "$n" "$tg" "$tc" "$tf" >&2
      printf '| %s | %.3f | %s | %.3f | %s | %.3f | %s |\n' "$n" "$tg" "$(mb "$tg")" "$tc" "$(mb "$tc")" "$tf" "$(mb "$tf")"
    done
  )
  preport=$(cat <<EOR
Run: $(date -u +%Y-%m-%dT%H:%MZ), $N events ($BYTES bytes as bare NDJSON), median of $RUNS runs, $(nproc) cores.
Command: \`PIPE=1 N=$N RUNS=$RUNS scripts/bench.sh\`. MB/s is bare NDJSON bytes per second (the frames are larger).

$ptable
EOR
)
  echo "$preport"
  if [ "${WRITE:-}" = 1 ]; then
    doc=docs/performance.md
    awk -v r="$preport" 'BEGIN {skip=0} /<!-- PIPE:BEGIN -->/ {print; print r; skip=1; next} /<!-- PIPE:END -->/ {skip=0} !skip {print}' "$doc" > "$doc.tmp" && mv "$doc.tmp" "$doc"
    echo "bench: updated $doc" >&2
  fi
  exit 0
fi

rows=()
jrows=()
printf 'bench: %s events, %s bytes, %s runs each\n' "$N" "$BYTES" "$RUNS" >&2
while IFS= read -r line; do
  [ -z "$line" ] && continue
  id=$(echo "$line" | awk -F' :: ' '{print $1}')
  tool=$(echo "$line" | awk -F' :: ' '{print $2}')
  need=$(echo "$line" | awk -F' :: ' '{print $3}')
  cmd=$(echo "$line" | awk -F' :: ' '{for (i=4;i<=NF;i++) printf "%s%s", (i>4?" :: ":""), $i}')
  if [ -n "$ONLY" ] && ! [[ "$id $tool" =~ $ONLY ]]; then continue; fi
  if ! have "$need"; then echo "bench: skip $id/$tool ($need not installed)" >&2; continue; fi
  rm -rf "$RUNDIR"
  out=$(bash -c "$cmd" | wc -l)
  if [[ "$cmd" == *"obz flow"* && "$cmd" != *--no-journal* ]]; then
    while read -r stage n; do
      jrows+=("$tool"$'\t'"$stage"$'\t'"$n")
    done < <(journal_sizes)
  fi
  rm -rf "$RUNDIR"
  times=()
  for _ in $(seq "$RUNS"); do
    t0=$(now); bash -c "$cmd > /dev/null"; t1=$(now)
    rm -rf "$RUNDIR"
    times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f", b-a}')")
  done
  med=$(printf '%s\n' "${times[@]}" | median)
  rss=-
  if [ -x /usr/bin/time ]; then
    # Peak RSS of the largest process in the pipeline.
    rss=$(bash -c "$(echo "$cmd" | sed 's#\(^\|| \)\(obz\|jq\|mlr\|mawk\|linecopy\|cat\)\b#\1/usr/bin/time -f %M -a -o $WORK/rss \2#g')" > /dev/null 2>&1; sort -n "$WORK/rss" | tail -1; rm -f "$WORK/rss")
    rss=$(awk -v k="$rss" 'BEGIN {printf "%.1f", k/1024}')
    rm -rf "$RUNDIR"
  fi
  mbs=$(awk -v b="$BYTES" -v t="$med" 'BEGIN {printf "%.0f", b/1e6/t}')
  printf 'bench: %-14s %-40s %7.3fs %6s MB/s  %s MiB\n' "$id" "$tool" "$med" "$mbs" "$rss" >&2
  rows+=("$id"$'\t'"$tool"$'\t'"$med"$'\t'"$mbs"$'\t'"$rss"$'\t'"$out")
done <<< "$WORKLOADS"

# Ratios against the reference row of each workload family.
table=$(
  echo "| workload | tool | median s | MB/s (input) | peak RSS MiB | out lines | speed × jq |"
  echo "|---|---|--:|--:|--:|--:|--:|"
  for r in "${rows[@]}"; do
    IFS=$'\t' read -r id tool med mbs rss out <<< "$r"
    ref=$(printf '%s\n' "${rows[@]}" | awk -F'\t' -v id="$id" '$1==id && $2 ~ /^jq/ {print $3; exit}')
    ratio=-
    [ -n "$ref" ] && ratio=$(awk -v a="$ref" -v b="$med" 'BEGIN {printf "%.1f", a/b}')
    printf '| %s | %s | %.3f | %s | %s | %s | %s |\n' "$id" "${tool//|/\\|}" "$med" "$mbs" "$rss" "$out" "$ratio"
  done
)
jtable=""
if [ "${#jrows[@]}" -gt 0 ]; then
  jtable=$(
    echo
    echo "Journal bytes on disk (compressed) per stage of the journaled flow:"
    echo
    echo "| flow | stage | journal bytes | MB |"
    echo "|---|---|--:|--:|"
    for r in "${jrows[@]}"; do
      IFS=$'\t' read -r tool stage n <<< "$r"
      printf '| %s | %s | %s | %.1f |\n' "${tool//|/\\|}" "$stage" "$n" "$(awk -v n="$n" 'BEGIN {print n/1e6}')"
    done
  )
fi
machine="$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), $(go version | awk '{print $3}')"
peers="jq: $(jq --version 2>/dev/null || echo absent); mlr: $(mlr --version 2>/dev/null || echo absent); mawk: $(mawk -W version 2>&1 | head -1 || echo absent)"
report=$(cat <<EOR
Run: $(date -u +%Y-%m-%dT%H:%MZ), $N events ($BYTES bytes of bare NDJSON, ~$((BYTES / N)) bytes each), median of $RUNS runs.
Machine: $machine. Peers: $peers.
Command: \`N=$N RUNS=$RUNS scripts/bench.sh\`. MB/s is bare NDJSON input bytes per second (framed rows read more bytes).

$table
$jtable
EOR
)
echo "$report"
if [ "${WRITE:-}" = 1 ]; then
  doc=docs/performance.md
  awk -v r="$report" 'BEGIN {skip=0} /<!-- BENCH:BEGIN -->/ {print; print r; skip=1; next} /<!-- BENCH:END -->/ {skip=0} !skip {print}' "$doc" > "$doc.tmp" && mv "$doc.tmp" "$doc"
  echo "bench: updated $doc" >&2
fi
