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
      min_concurrency: ${MIN_CONCURRENCY:-1}
      initial_concurrency: ${MIN_CONCURRENCY:-4}
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
# One watcher process for the whole drain (a curl and a python per poll would take CPU from the
# two processes measured): ends the outage, polls the fake and /metrics every 0.2 s, reports.
python3 - "$MOCK_PORT" "$SERVE_PORT" "$SERVE_PID" "$MOCK_PID" "$EVENTS" "$max_rss" <<'PY'
import json, os, statistics, sys, time, urllib.request
mock_port, serve_port, serve_pid, mock_pid, events, max_rss = sys.argv[1:7]
events, max_rss = int(events), int(max_rss)
tck = os.sysconf("SC_CLK_TCK")
def get(port, path, data=None):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", data=data, timeout=10) as r:
        return r.read().decode()
def cpu(pid):  # user + system, in seconds
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tck
def status_kb(pid, key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key):
            return int(line.split()[1])
    return 0
def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
get(mock_port, "/mock/scenario", b"[]")
start = time.time()
serve_cpu0, mock_cpu0 = cpu(serve_pid), cpu(mock_pid)
first = None
limits, held = [], []
while True:
    n = json.loads(get(mock_port, "/mock/stats"))["events_accepted"]
    max_rss = max(max_rss, status_kb(serve_pid, "VmRSS"))
    if first is None and n > 0:
        first = time.time()
    text = get(serve_port, "/metrics")
    limits.append(metric(text, "sluice_delivery_concurrency_limit"))
    held.append(metric(text, "sluice_delivery_outstanding_items"))
    if n >= events:
        break
    if time.time() - start > 600:
        sys.exit(f"not drained after 600 s: {n} of {events}")
    time.sleep(0.2)
end = time.time()
serve_cpu, mock_cpu = cpu(serve_pid) - serve_cpu0, cpu(mock_pid) - mock_cpu0
text = get(serve_port, "/metrics")
count = metric(text, "sluice_delivery_request_duration_seconds_count")
total = metric(text, "sluice_delivery_request_duration_seconds_sum")
print(f"CPU during the drain: sluice serve {serve_cpu:.1f} s ({serve_cpu/events*1e6:.1f} us/event), "
      f"the fake TikTok {mock_cpu:.1f} s ({mock_cpu/events*1e6:.1f} us/event)")
print(f"drained {events} events {end-start:.1f} s after recovery "
      f"(first delivery after {first-start:.1f} s; {events/(end-first):,.0f} events/s from then)")
print(f"serve RSS: max sampled {max_rss/1024:.0f} MB, VmHWM {status_kb(serve_pid, 'VmHWM')/1024:.0f} MB")
if count:
    print(f"request duration (send to reply, sluice's view): {1000*total/count:.1f} ms mean over {count:.0f} requests")
print(f"during the drain ({len(limits)} samples): concurrency limit min {min(limits):.0f}, "
      f"median {statistics.median(limits):.0f}, max {max(limits):.0f}; items held median "
      f"{statistics.median(held):.0f}, max {max(held):.0f}")
PY
echo "mock: $(curl -fsS "http://127.0.0.1:$MOCK_PORT/mock/stats")"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
grep -ci "error" "$WORK/serve.log" | sed 's/^/error lines in serve log: /' || true
