#!/usr/bin/env bash
# chaos.sh - a fault campaign against obz flow --resume. Runs each flow
# once uninterrupted for the reference, then TRIALS times: starts a flow,
# kills a random stage process or obz flow itself at a random moment
# (SIGKILL mostly, sometimes SIGTERM or SIGINT), resumes the run until it
# is done, and compares the sink's file with the reference.
#
# Usage (from anywhere in the repository):
#   scripts/chaos.sh                 # 20 trials of 1M events, seed 1
#   scripts/chaos.sh -n 5 -m 200000  # smaller
#   scripts/chaos.sh -s 7 -k         # another seed; keep the work directory
#
#   -n TRIALS  trials (default 20)
#   -m EVENTS  events the source generates (default 1000000)
#   -s SEED    seed of the campaign and of gen (default 1)
#   -w DIR     work directory (default: a new one under /tmp)
#   -k         keep the work directory
#
# The flows (trial i uses flow i mod 6): gen |> filter |> map |> write, and
# gen |> filter |> agg --by country |> write, each with a sink that replaces
# FILE and one that appends to a FILE holding a line of its own, the first
# again with filter and map as 2 replicas each (replicas = 2), and gen |>
# filter |> join |> write with 2 replicas each, the join's reference from
# a second gen.
# Journals are on (the default).
#
# Each trial prints one line; the end, the totals. A trial is identical
# (the file equals the reference byte for byte), refused (a resume exited
# 3 with the run unfinished), or wrong: it then counts lines lost (in the
# reference, not in the file) and duplicated (in the file, not in the
# reference), compared as multisets. Exit status 1 when a trial was not
# identical.
set -uo pipefail
export LC_ALL=C
exec </dev/null

TRIALS=20 EVENTS=1000000 SEED=1 WORK= KEEP=
while getopts n:m:s:w:k o; do
	case $o in
	n) TRIALS=$OPTARG ;;
	m) EVENTS=$OPTARG ;;
	s) SEED=$OPTARG ;;
	w) WORK=$OPTARG ;;
	k) KEEP=1 ;;
	*) sed -n '2,/^set /p' "$0" | sed '$d'; exit 2 ;;
	esac
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -z "$WORK" ]; then
	WORK=$(mktemp -d /tmp/obz-chaos.XXXXXX)
fi
mkdir -p "$WORK/bin"
[ -n "$KEEP" ] || trap 'rm -rf "$WORK"' EXIT
(cd "$ROOT" && go build -o "$WORK/bin/obz" ./cmd/obz) || exit 1
OBZ=$WORK/bin/obz
cd "$WORK"
RANDOM=$SEED

# flow NAME MIDDLE SINK [REPLICAS [REFERENCE]]: writes NAME.toml; with
# REFERENCE, MIDDLE (a join) reads it from a stage of its own.
flow() {
	local r=${4:-1}
	cat >"$1.toml" <<EOF
name = "$1"
flow = "src |> keep |> mid |> out"

[stages.src]
run = "gen --count $EVENTS --seed $SEED"

[stages.keep]
run = "filter '.amount > 20'"
replicas = $r

[stages.mid]
run = "$2"
replicas = $r

[stages.out]
run = "$3"
EOF
	if [ -n "${5:-}" ]; then
		printf '\n[stages.mid_ref]\nrun = "%s"\n' "$5" >>"$1.toml"
		sed -i 's/^\[stages.mid\]$/[stages.mid]\nreference = "mid_ref"/' "$1.toml"
	fi
}
flow pass-whole "map '{id, amount, country}'" "write pass-whole.ndjson"
flow pass-append "map '{id, amount, country}'" "write pass-append.ndjson --append"
flow agg-whole "agg --by country --count --sum amount" "write agg-whole.ndjson"
flow agg-append "agg --by country --count --sum amount" "write agg-append.ndjson --append"
flow pass-replicas "map '{id, amount, country}'" "write pass-replicas.ndjson" 2
flow join-replicas "join --on user --left --ref-fields country --prefix r_" "write join-replicas.ndjson" 2 "gen --count 3000 --seed 5"
FLOWS=(pass-whole pass-append agg-whole agg-append pass-replicas join-replicas)
HEAD='{"already":"there"}'

# prepare FLOW: the sink's file as a trial starts.
prepare() {
	rm -rf "runs-$1" "$1.ndjson" "$1.ndjson.partial" ."$1".ndjson.obz-tmp-*
	case $1 in *-append) echo "$HEAD" >"$1.ndjson" ;; esac
}

now_ms() { date +%s%3N; }

# The references, and how long a run takes.
declare -A DUR
for f in "${FLOWS[@]}"; do
	prepare "$f"
	t0=$(now_ms)
	if ! "$OBZ" flow --run-dir "runs-$f" "$f.toml" 2>"ref-$f.log"; then
		echo "chaos: the reference run of $f failed:" >&2
		tail "ref-$f.log" >&2
		exit 1
	fi
	DUR[$f]=$(($(now_ms) - t0))
	mv "$f.ndjson" "ref-$f.ndjson"
	sort "ref-$f.ndjson" >"ref-$f.sorted"
	echo "reference $f: $(wc -l <"ref-$f.ndjson") lines, ${DUR[$f]} ms"
done

# pidof_stage RUNS STAGE: the stage's pid from the manifest.
pidof_stage() {
	local m
	m=$(ls "$1"/*/manifest.json 2>/dev/null | head -n 1) || return 1
	[ -n "$m" ] || return 1
	awk -v s="\"$2\"" '$1 == "\"name\":" && $2 ~ s {f=1} f && $1 == "\"pid\":" {gsub(/[^0-9]/, "", $2); print $2; exit}' "$m"
}

# latest RUNS: the newest run directory (names sort by start time).
latest() { ls -d "$1"/*/ 2>/dev/null | sort | tail -n 1 | sed 's,/$,,'; }

total=0 identical=0 refused=0 lost=0 duplicated=0 wrong=0 early=0
printf '%-5s %-12s %-22s %-8s %-7s %-9s %s\n' trial flow kill at_ms resumes verdict detail
for ((i = 1; i <= TRIALS; i++)); do
	f=${FLOWS[$(((i - 1) % ${#FLOWS[@]}))]}
	prepare "$f"
	runs=runs-$f
	stages=(src keep mid out flow)
	victim=${stages[$((RANDOM % ${#stages[@]}))]}
	r=$((RANDOM % 10))
	sig=KILL
	[ $r -ge 7 ] && sig=TERM
	[ $r -ge 9 ] && sig=INT
	at=$((RANDOM * 32768 + RANDOM))
	at=$((at % (DUR[$f] * 9 / 10 + 1)))

	"$OBZ" flow --run-dir "$runs" "$f.toml" >"trial-$i.out" 2>"trial-$i.log" &
	sup=$!
	sleep "$(awk -v ms="$at" 'BEGIN {printf "%.3f", ms / 1000}')"
	pid=$sup
	if [ "$victim" != flow ]; then
		pid=$(pidof_stage "$runs" "$victim") || pid=
		[ -n "$pid" ] || { victim=flow pid=$sup; }
	fi
	kill -s "$sig" "$pid" 2>/dev/null
	{ wait "$sup"; } 2>/dev/null
	rc=$?
	sleep 0.3 # stages of a killed obz flow die with it; let them go

	resumes=0 verdict= detail="first run exit $rc"
	while [ $rc -ne 0 ] && [ $resumes -lt 5 ]; do
		run=$(latest "$runs")
		resumes=$((resumes + 1))
		if [ -z "$run" ]; then
			# obz flow died before it made the run directory: nothing
			# ran, and what a user does is run the flow again.
			"$OBZ" flow --run-dir "$runs" "$f.toml" >>"trial-$i.out" 2>>"trial-$i.log"
			rc=$?
			detail="$detail, no run directory: run again, exit $rc"
			continue
		fi
		"$OBZ" flow --resume "$run" >>"trial-$i.out" 2>>"trial-$i.log"
		rc=$?
		if [ $rc -eq 3 ]; then
			if grep -q 'nothing to resume' "trial-$i.log"; then
				rc=0
			else
				verdict=refused
				detail=$(grep -m1 '^obz flow: ' "trial-$i.log" | tail -n 1 | cut -c1-160)
			fi
			break
		fi
		detail="$detail, resume $resumes exit $rc"
	done
	total=$((total + 1))
	[ $resumes -eq 0 ] && [ $rc -eq 0 ] && early=$((early + 1))
	if [ -z "$verdict" ]; then
		if cmp -s "$f.ndjson" "ref-$f.ndjson"; then
			verdict=identical
		else
			verdict=wrong
			[ -f "$f.ndjson" ] || : >"$f.ndjson"
			sort "$f.ndjson" >"trial-$i.sorted"
			l=$(comm -23 "ref-$f.sorted" "trial-$i.sorted" | wc -l)
			d=$(comm -13 "ref-$f.sorted" "trial-$i.sorted" | wc -l)
			detail="$detail; lost $l, duplicated $d lines"
			[ "$l" -gt 0 ] && lost=$((lost + 1))
			[ "$d" -gt 0 ] && duplicated=$((duplicated + 1))
			rm -f "trial-$i.sorted"
		fi
	fi
	case $verdict in
	identical) identical=$((identical + 1)) ;;
	refused) refused=$((refused + 1)) ;;
	wrong) wrong=$((wrong + 1)) ;;
	esac
	printf '%-5s %-12s %-22s %-8s %-7s %-9s %s\n' "$i" "$f" "$sig $victim" "$at" "$resumes" "$verdict" "$detail"
	if [ "$verdict" = identical ]; then
		rm -f "trial-$i.out" "trial-$i.log"
	else
		grep -v '^  ' "trial-$i.log" | tail -n 6 | sed 's/^/      | /'
	fi
	rm -rf "$runs"
done

echo
echo "trials $total, identical $identical, refused $refused, lost $lost, duplicated $duplicated (events $EVENTS, seed $SEED; $early finished before the kill came)"
[ -n "$KEEP" ] && echo "work directory: $WORK"
[ $identical -eq $total ]
