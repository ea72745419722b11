#!/usr/bin/env bash
# Delivery benchmarks of issue 4 (manual, not run in CI), with the real binaries:
#   1. fills an event log with EVENTS enriched "Order Completed" calls (the backlog of an outage);
#   2. starts `sluice mock-tiktok` answering HTTP 500 (the outage) and `sluice serve` on that log
#      with one TikTok destination (1,000-event bodies, rate limits set high for the run);
#   3. samples the server's RSS during the outage for OUTAGE_S seconds (memory with that backlog);
#   4. ends the outage (POST /mock/scenario) and times until the fake has accepted every event:
#      the drain time, and delivery throughput with 1,000-event bodies.
# Usage: bench/delivery_backlog.sh [BUILD_DIR] [EVENTS]
#   env: DIR, OUTAGE_S, PROBE, KEEP_DIR=1 (keep the log), DRAIN=0 (stop after the outage: memory only),
#        MAP_THREADS (batch.map_threads, default 0: one per core)
set -euo pipefail
BUILD=$(realpath "${1:-build/release}")
EVENTS=${2:-1200000}
DIR=${DIR:-/tmp/sluice-backlog-$EVENTS}
OUTAGE_S=${OUTAGE_S:-20}
MAP_THREADS=${MAP_THREADS:-0}
PROBE=${PROBE:-5s}  # breaker probe interval: how soon after recovery the first probe goes
SLUICE="$BUILD/sluice"
WORK=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
  [[ ${KEEP_DIR:-0} == 1 ]] || rm -rf "$DIR"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # user + system, in clock ticks
accepted() { curl -fsS "http://127.0.0.1:$MOCK_PORT/mock/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["events_accepted"])'; }

rm -rf "$DIR"
echo "== filling $DIR with $EVENTS events"
"$BUILD/bench/store_append_bench" build --dir "$DIR" --events "$EVENTS" --shape order \
  --dedup-window-ms 0
du -sh "$DIR"

MOCK_PORT=$(free_port)
SERVE_PORT=$(free_port)
cat > "$WORK/outage.yaml" <<YAML
- {mode: http500}
YAML
"$SLUICE" mock-tiktok --listen "127.0.0.1:$MOCK_PORT" --scenario "$WORK/outage.yaml" --keep 0 \
  2> "$WORK/mock.log" &
MOCK_PID=$!
pids+=($MOCK_PID)
cat > "$WORK/sluice.yaml" <<YAML
server:
  listen: 127.0.0.1:$SERVE_PORT
storage:
  path: $DIR
  retention: 30d
  min_free_space: 1MiB
sources:
  - name: web
    write_key: bench-write-key
destinations:
  - name: tiktok
    type: tiktok-conversions
    settings:
      access_token: bench-token
      pixel_code: CBENCH0000000000000
      api_url: http://127.0.0.1:$MOCK_PORT/open_api/v1.3/event/track/
    presets: all
    batch:
      max_events: 1000
      linger: 200ms
      map_threads: $MAP_THREADS
    flow:
      max_requests_per_second: 1000
      max_events_per_second: 2000000
      max_concurrency: 16
      breaker_probe_interval: $PROBE
logging:
  level: warn
YAML
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$MOCK_PORT/mock/stats" >/dev/null 2>&1 && break; sleep 0.1; done

"$SLUICE" serve --config "$WORK/sluice.yaml" 2> "$WORK/serve.log" &
SERVE_PID=$!
pids+=($SERVE_PID)
for _ in $(seq 600); do curl -fsS "http://127.0.0.1:$SERVE_PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

echo "== outage: HTTP 500 for ${OUTAGE_S}s"
max_rss=0
for _ in $(seq "$OUTAGE_S"); do
  sleep 1
  r=$(rss_kb "$SERVE_PID"); (( r > max_rss )) && max_rss=$r
done
echo "requests during the outage: $(curl -fsS "http://127.0.0.1:$MOCK_PORT/mock/stats")"
if [[ ${DRAIN:-1} == 0 ]]; then
  echo "serve RSS during the outage with $EVENTS events waiting: max sampled $((max_rss / 1024)) MB," \
    "VmHWM $(( $(hwm_kb "$SERVE_PID") / 1024 )) MB"
  exit 0
fi

echo "== recovery"
echo '[]' | curl -fsS -X POST --data-binary @- "http://127.0.0.1:$MOCK_PORT/mock/scenario" >/dev/null
start=$(date +%s.%N)
serve_cpu0=$(cpu_ticks "$SERVE_PID"); mock_cpu0=$(cpu_ticks "$MOCK_PID")
first=""
deadline=$(( $(date +%s) + 600 ))
while :; do
  n=$(accepted)
  r=$(rss_kb "$SERVE_PID"); (( r > max_rss )) && max_rss=$r
  if [[ -z $first && $n -gt 0 ]]; then first=$(date +%s.%N); fi
  (( n >= EVENTS )) && break
  (( $(date +%s) > deadline )) && { echo "not drained after 600 s: $n of $EVENTS"; exit 1; }
  sleep 0.2
done
end=$(date +%s.%N)
serve_cpu=$(( $(cpu_ticks "$SERVE_PID") - serve_cpu0 )); mock_cpu=$(( $(cpu_ticks "$MOCK_PID") - mock_cpu0 ))
python3 - "$start" "$first" "$end" "$EVENTS" "$max_rss" "$(hwm_kb "$SERVE_PID")" \
  "$serve_cpu" "$mock_cpu" "$(getconf CLK_TCK)" <<'PY'
import sys
start, first, end, events, rss, hwm = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
serve_cpu, mock_cpu, tck = int(sys.argv[7]), int(sys.argv[8]), int(sys.argv[9])
print(f"CPU during the drain: sluice serve {serve_cpu/tck:.1f} s ({serve_cpu/tck/events*1e6:.1f} us/event), "
      f"the fake TikTok {mock_cpu/tck:.1f} s ({mock_cpu/tck/events*1e6:.1f} us/event)")
print(f"drained {events} events {end-start:.1f} s after recovery "
      f"(first delivery after {first-start:.1f} s; {events/(end-first):,.0f} events/s from then)")
print(f"serve RSS: max sampled {rss/1024:.0f} MB, VmHWM {hwm/1024:.0f} MB")
PY
echo "mock: $(curl -fsS "http://127.0.0.1:$MOCK_PORT/mock/stats")"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
grep -ci "error" "$WORK/serve.log" | sed 's/^/error lines in serve log: /' || true
