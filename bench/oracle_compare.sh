#!/usr/bin/env bash
# Segment's TikTok Conversions code and sluice's transform on the same events, same machine, same
# run, one core each (taskset -c 0): prints both rates and the ratio.
#   bench/oracle_compare.sh [BUILD_DIR] [N]
# BUILD_DIR holds bench/transform_bench (configure with -DSLUICE_BUILD_BENCH=ON); N events (20000).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build/release}"
count="${2:-20000}"
oracle="${SLUICE_ORACLE_DIR:-$here/../../shared/tools/segment-oracle}"
presets="${SLUICE_PRESETS:-$here/../../shared/reference/segment-reportWebEvent.json}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$oracle" && node bench.js --write-events "$work/ev.jsonl" "$count" >/dev/null)
echo "events: $count realistic Segment events ($work/ev.jsonl)"

segment_out="$(cd "$oracle" && taskset -c 0 node bench.js --events "$work/ev.jsonl")"
echo "$segment_out"
sluice_out="$(taskset -c 0 "$build/bench/transform_bench" --events "$work/ev.jsonl" --presets "$presets" --seconds 3)"
echo "$sluice_out"

rate() { grep "$1" <<<"$2" | sed -E 's/.*=> ([0-9,]+) events\/s.*/\1/' | tr -d ,; }
segment_full="$(rate '^A ' "$segment_out")"
segment_perform="$(rate '^C ' "$segment_out")"
ours="$(sed -E 's/.*=> ([0-9]+) events\/s.*/\1/' <<<"$sluice_out")"
awk -v o="$ours" -v a="$segment_full" -v c="$segment_perform" 'BEGIN {
  printf "ratio: sluice / Segment full onEvent (A) = %.0fx; sluice / Segment perform path (C) = %.0fx\n", o / a, o / c }'
