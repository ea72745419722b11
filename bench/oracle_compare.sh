#!/usr/bin/env bash
# Segment's TikTok Conversions code and sluice's transform on the same events, same machine, same
# run, one core each (taskset -c 0): prints both rates and the ratio for each of REPS rounds
# (default 3, the two sides alternating so that both see the same load), then the spread.
#   bench/oracle_compare.sh [BUILD_DIR] [N]
# BUILD_DIR holds bench/transform_bench (configure with -DSLUICE_BUILD_BENCH=ON); N events (20000).
# SLUICE_ORACLE_DIR: the segment-oracle folder with its node_modules installed (`npm ci`).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build/release}"
count="${2:-20000}"
reps="${REPS:-3}"
oracle="${SLUICE_ORACLE_DIR:-$here/../../shared/tools/segment-oracle}"
presets="${SLUICE_PRESETS:-$here/../tests/reference/segment-reportWebEvent.json}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$oracle" && node bench.js --write-events "$work/ev.jsonl" "$count" >/dev/null)
echo "events: $count realistic Segment events; $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs"

rate() { grep "$1" <<<"$2" | sed -E 's/.*=> ([0-9,]+) events\/s.*/\1/' | tr -d ,; }
ratios=()
for ((r = 1; r <= reps; r++)); do
  echo "round $r: load average $(cut -d' ' -f1-3 /proc/loadavg)"
  segment_out="$(cd "$oracle" && taskset -c 0 node bench.js --events "$work/ev.jsonl")"
  echo "$segment_out"
  sluice_out="$(taskset -c 0 "$build/bench/transform_bench" --events "$work/ev.jsonl" \
    --presets "$presets" --seconds 3)"
  echo "$sluice_out"
  segment_full="$(rate '^A ' "$segment_out")"
  segment_perform="$(rate '^C ' "$segment_out")"
  ours="$(sed -E 's/.*=> ([0-9]+) events\/s.*/\1/' <<<"$sluice_out")"
  ratio="$(awk -v o="$ours" -v a="$segment_full" 'BEGIN { printf "%.0f", o / a }')"
  ratios+=("$ratio")
  awk -v o="$ours" -v a="$segment_full" -v c="$segment_perform" 'BEGIN {
    printf "ratio: sluice / Segment full onEvent (A) = %.0fx; sluice / Segment perform path (C) = %.0fx\n", o / a, o / c }'
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END {
  printf "ratio vs Segment full onEvent over %d rounds: min %dx, median %dx, max %dx\n", NR, v[1], v[int((NR + 1) / 2)], v[NR] }'
