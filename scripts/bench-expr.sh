#!/usr/bin/env bash
# bench-expr.sh - the jq constructs of the fast path, one per row: obz
# filter/map against jq on the same generated events, side by side, one
# run each. Prints a Markdown table (wall seconds, speed × jq; CPU seconds,
# user + system, and speed × jq by them, which a shared machine disturbs
# less; output lines of both, which must agree).
#
# Usage (from the repo root):
#   scripts/bench-expr.sh                 # 1M events
#   N=100000 scripts/bench-expr.sh        # smaller
#   ONLY='split|index' scripts/bench-expr.sh   # rows whose construct matches
#   BASE=/path/to/old/obz scripts/bench-expr.sh   # also time another obz binary
#
# Needs bash, go, jq (apt-get install -y jq), GNU time (/usr/bin/time).
set -euo pipefail
export LC_ALL=C
exec </dev/null

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
N=${N:-1000000}
ONLY=${ONLY:-}
BASE=${BASE:-}
WORK=${WORK:-$ROOT/bench-data}
mkdir -p "$WORK/bin"
go build -trimpath -o "$WORK/bin/obz" ./cmd/obz
OBZ=$WORK/bin/obz
F=$WORK/events-$N.ndjson
if [ ! -s "$F" ]; then
  echo "bench-expr: generating $N events" >&2
  "$OBZ" gen --count "$N" --seed 1 -r > "$F.tmp" && mv "$F.tmp" "$F"
fi
cat "$F" > /dev/null

# construct :: stage :: expression (filter rows run jq as select(EXPR))
ROWS=$(cat <<'EOF2'
comparison (already fast) :: filter :: .amount > 50
projection (already fast) :: map :: {id, user, amount}
if/then/else :: map :: if .amount > 50 then "high" else "low" end
if/elif :: map :: if .amount > 90 then "xl" elif .amount > 50 then "l" else "s" end
.[N] :: map :: .tags[0]
slice :: map :: .ts[:10]
? and try :: map :: try (.amount * 2)
startswith :: filter :: .user | startswith("u1")
endswith :: filter :: .ts | endswith("5Z")
ascii_downcase :: map :: .country | ascii_downcase
ascii_upcase :: map :: .device | ascii_upcase
split :: map :: .ts | split("T") | .[0]
ltrimstr :: map :: .user | ltrimstr("u")
rtrimstr :: map :: .ts | rtrimstr("Z")
tostring :: map :: .amount | tostring
tonumber :: map :: .user | ltrimstr("u") | tonumber
type :: map :: .amount | type
length (string) :: map :: .msg | length
length (array) :: filter :: .tags | length > 1
keys :: map :: keys
to_entries :: map :: to_entries | length
map(f) :: map :: .tags | map(ascii_upcase)
select in arrays :: map :: [.tags[] | select(. != "trial")]
any :: filter :: .tags | any(. == "vip")
all :: filter :: all(.tags[]; . != "trial")
.[] :: map :: .tags[]
interpolation :: map :: "\(.user) from \(.country)"
// computed :: map :: .coupon // (.country | ascii_downcase)
array literal :: map :: [.id, .user]
index :: filter :: .tags | index("vip")
floor :: map :: .amount | floor
round :: map :: .amount * 10 | round
.a = v :: map :: .amount_eur = .amount * 0.92
.a |= f :: map :: .country |= ascii_downcase
variables :: map :: .amount as $a | {id, double: ($a * 2)}
sort :: map :: .tags | sort
unique :: map :: .tags | unique
max :: map :: .tags | max
reverse :: map :: .tags | reverse
contains (string) :: filter :: .msg | contains("timeout")
contains (array) :: filter :: .tags | contains(["vip"])
IN :: filter :: .country | IN("DE", "FR")
@json :: map :: .tags | @json
with_entries :: map :: with_entries(select(.value != null))
limit :: map :: limit(1; .tags[])
EOF2
)

LINES=$(mktemp)
CPU=$(mktemp)
trap 'rm -f "$LINES" "$CPU"' EXIT
secs() { # wall seconds of a shell command; its stdout's line count goes to $LINES, its CPU seconds to $CPU
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f '%U %S' -o "$CPU" sh -c "$1" | wc -l > "$LINES"
  end=$(date +%s.%N)
  awk '{ printf "%.2f", $1 + $2 }' "$CPU" > "$CPU.s" && mv "$CPU.s" "$CPU"
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }'
}

echo "Run: $(date -u +%Y-%m-%dT%H:%MZ), $N events ($(wc -c < "$F") bytes), one run each; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "Command: \`${BASE:+BASE=obz-before }N=$N scripts/bench-expr.sh\`; jq: $(jq --version)."
echo
if [ -n "$BASE" ]; then
  echo "| construct | expression | obz s | obz before s | jq s | × jq | obz CPU s | before CPU s | jq CPU s | × jq CPU | out lines obz / jq |"
  echo "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
else
  echo "| construct | expression | obz s | jq s | × jq | obz CPU s | jq CPU s | × jq CPU | out lines obz / jq |"
  echo "|---|---|--:|--:|--:|--:|--:|--:|--:|"
fi
while IFS= read -r row; do
  [ -n "$row" ] || continue
  name=${row%% :: *}; rest=${row#* :: }
  stage=${rest%% :: *}; e=${rest#* :: }
  if [ -n "$ONLY" ] && ! [[ $name =~ $ONLY ]]; then continue; fi
  q=$(printf '%s' "$e" | sed "s/'/'\\\\''/g")
  jqe=$e
  [ "$stage" = filter ] && jqe="select($e)"
  jqq=$(printf '%s' "$jqe" | sed "s/'/'\\\\''/g")
  t_obz=$(secs "'$OBZ' $stage '$q' -r < '$F'"); l_obz=$(cat "$LINES"); c_obz=$(cat "$CPU")
  t_base= c_base=
  if [ -n "$BASE" ]; then t_base=$(secs "'$BASE' $stage '$q' -r < '$F'"); c_base=$(cat "$CPU"); fi
  t_jq=$(secs "jq -c '$jqq' < '$F'"); l_jq=$(cat "$LINES"); c_jq=$(cat "$CPU")
  x=$(awk -v a="$t_obz" -v b="$t_jq" 'BEGIN { printf "%.1f", (a > 0) ? b / a : 0 }')
  xc=$(awk -v a="$c_obz" -v b="$c_jq" 'BEGIN { printf "%.1f", (a > 0) ? b / a : 0 }')
  ecell=$(printf '%s' "$e" | sed 's/|/\\|/g')
  name=$(printf "%s" "$name" | sed "s/|/\\\\|/g")
  if [ -n "$BASE" ]; then
    echo "| $name | \`$stage '$ecell'\` | $t_obz | $t_base | $t_jq | $x | $c_obz | $c_base | $c_jq | $xc | $l_obz / $l_jq |"
  else
    echo "| $name | \`$stage '$ecell'\` | $t_obz | $t_jq | $x | $c_obz | $c_jq | $xc | $l_obz / $l_jq |"
  fi
done <<< "$ROWS"
