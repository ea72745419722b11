#!/usr/bin/env bash
# Delivery's own throughput with 1,000-event bodies (issue 4; manual, not run in CI): starts
# `sluice mock-tiktok` (nothing kept, normal replies) and runs bench/delivery_bench against it,
# which fills a fresh log with EVENTS TikTok items mapped beforehand, then delivers them from the
# log. Prints delivery_bench's figures and the fake's CPU per event during the run.
# Usage: bench/delivery_throughput.sh [BUILD_DIR] [EVENTS]    env: CONCURRENCY (16), MAP_THREADS (2)
set -euo pipefail
BUILD=$(realpath "${1:-build/release}")
EVENTS=${2:-1000000}
WORK=$(mktemp -d)
MOCK_PID=
cleanup() {
  [[ -n $MOCK_PID ]] && kill "$MOCK_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BUILD/sluice" mock-tiktok --listen "127.0.0.1:$port" --keep 0 2> "$WORK/mock.log" &
MOCK_PID=$!
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$port/mock/stats" >/dev/null 2>&1 && break; sleep 0.1; done

mock_cpu() {  # user + system seconds
  awk -v tck="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / tck }' "/proc/$MOCK_PID/stat"
}
before=$(mock_cpu)
"$BUILD/bench/delivery_bench" --dir "$WORK/log" --events "$EVENTS" --concurrency "${CONCURRENCY:-16}" \
  --map-threads "${MAP_THREADS:-2}" \
  --url "http://127.0.0.1:$port/open_api/v1.3/event/track/" 2> "$WORK/bench.log"
after=$(mock_cpu)
echo "the fake TikTok: $(awk -v a="$after" -v b="$before" -v n="$EVENTS" \
  'BEGIN { printf "%.1f s of CPU (%.2f us/event) during fill and delivery", a - b, (a - b) / n * 1e6 }')"
echo "mock: $(curl -fsS "http://127.0.0.1:$port/mock/stats")"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
