#!/usr/bin/env bash
# Ingestion load figures for BENCHMARKS.md: builds release, starts `sluice serve` on a fresh log,
# and measures with bench/ingest_load (durable acknowledgements: every 200 is fsync'd):
#   1. /v1/batch, 100 events of ~1 KB per request, closed loop      -> events/s
#   2. /v1/track, ~1 KB event, keep-alive, closed loop              -> requests/s
#   3. /v1/track at a constant half of the target (20,000 req/s)     -> p50/p99 latency
# the CPU time sluice used in each run (user + system, and per event), its context switches per
# request, the bytes it wrote to disk per event (/proc/PID/io), and the peak RSS (VmHWM) of
# sluice; for run 3 also the p50 and p99 of
# sluice's own request histogram (what the server measured, without the delays of a generator
# sharing its cores; interpolated in its buckets). With PROFILE=1 (and perf installed) it also
# records a perf profile of run 2 and prints its top entries.
# Usage: bench/ingest_load.sh [seconds per run, default 10]
# Environment: BUILD_DIR (default build/release), SLUICE (default $BUILD_DIR/sluice: another binary
#              to compare), RUNS (default "1 2 3": which of the runs above), CONNECTIONS_BATCH (8),
#              CONNECTIONS_TRACK (128), HALF_RATE (20000), CONNECTIONS_RATE (64: run 3),
#              COMMIT_INTERVAL (storage.commit_interval; unset: not written, so older binaries
#              run too), DEDUP_WINDOW (storage.dedup_window, likewise), PROFILE (0),
#              SKIP_BUILD (0).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=${1:-10}
BUILD_DIR=${BUILD_DIR:-build/release}
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  cmake --preset release >/dev/null
  cmake --build "$BUILD_DIR" --target sluice ingest_load
fi
SLUICE=${SLUICE:-$BUILD_DIR/sluice}
RUNS=${RUNS:-1 2 3}
LOAD=$BUILD_DIR/bench/ingest_load
WORK=$(mktemp -d /tmp/sluice-load-XXXXXX)
PID=
cleanup() {
  if [[ -n $PID ]]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

start_sluice() {  # $1: a name for this run's data directory
  mkdir -p "$WORK/$1"
  cat >"$WORK/$1/sluice.yaml" <<YAML
server:
  listen: 127.0.0.1:0
  threads: 0
storage:
  path: $WORK/$1/data
  min_free_space: 64MiB
${COMMIT_INTERVAL:+  commit_interval: $COMMIT_INTERVAL}
${DEDUP_WINDOW:+  dedup_window: $DEDUP_WINDOW}
logging:
  level: warn
sources:
  - name: bench
    write_key: bench-write-key
YAML
  rm -f "$WORK/port"
  "$SLUICE" serve --config "$WORK/$1/sluice.yaml" --listen 127.0.0.1:0 --port-file "$WORK/port" \
    2>"$WORK/$1/stderr.log" &
  PID=$!
  for _ in $(seq 200); do [[ -s $WORK/port ]] && break; sleep 0.05; done
  PORT=$(cat "$WORK/port")
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }

# The server's own latency histogram for /v1/track from /metrics: "upper-bound count" lines,
# cumulative (Prometheus buckets).
track_buckets() {
  local name=sluice_ingest_request_duration_seconds_bucket
  curl -s "http://127.0.0.1:$PORT/metrics" |
    sed -n "s/^$name{route=\"track\",le=\"\([^\"]*\)\"} \([0-9.e+]*\)\$/\1 \2/p"
}

# p50 and p99 of what the server measured between two track_buckets outputs ($1 before, $2 after):
# the server's side of run 3, without the generator's own delays. Interpolated linearly inside the
# bucket that holds each (as Prometheus' histogram_quantile does), with that bucket's upper bound.
server_percentiles() {
  awk '
    NR == FNR { before[$1] = $2; next }
    { bound[++n] = $1; count[n] = $2 - before[$1] }
    function quantile(q,   i, rank, lo, below) {
      rank = q * count[n]
      for (i = 1; i <= n; i++) {
        if (count[i] >= rank) {
          if (bound[i] == "+Inf") return sprintf("> %s s", bound[i - 1])
          lo = i > 1 ? bound[i - 1] : 0
          below = i > 1 ? count[i - 1] : 0
          return sprintf("%.2f ms (<= %s s)",
                         1000 * (lo + (bound[i] - lo) * (rank - below) / (count[i] - below)),
                         bound[i])
        }
      }
    }
    END {
      if (count[n] <= 0) { print "  server histogram: no requests"; exit }
      printf "  server histogram: p50 %s, p99 %s, %d requests\n", quantile(0.5), quantile(0.99),
             count[n]
    }' <(echo "$1") <(echo "$2")
}

# Bytes sluice has caused to be written to storage (its files: the WAL, the database by the
# checkpoints), from /proc/PID/io.
written_bytes() { awk '/^write_bytes/ {print $2}' "/proc/$PID/io"; }

# The event log's commits and flushes so far, "COMMITS FLUSHES" (from /metrics; empty for a build
# that does not count commits).
store_counters() {
  curl -s "http://127.0.0.1:$PORT/metrics" |
    awk '/^sluice_store_commits_total / {c = $2} /^sluice_store_flushes_total / {f = $2}
         END {if (c != "") printf "%d %d\n", c, f}'
}

# Context switches of all sluice's threads so far (voluntary and not), from /proc/PID/task.
context_switches() { cat /proc/"$PID"/task/*/status | awk '/ctxt_switches/ {n += $2} END {print n}'; }

# Runs ingest_load against sluice and reports the CPU time sluice used meanwhile, its threads'
# context switches per request, what it wrote to disk per event (the write amplification of the
# event log), and how many commits each flush made durable.
# $1: events per request; the rest: ingest_load's flags after --port.
run_load() {
  local per=$1 before after wrote_before wrote_after switches_before switches_after out ok
  local store_before store_after c0 f0 c1 f1
  shift
  before=$(cpu_ticks)
  wrote_before=$(written_bytes)
  switches_before=$(context_switches)
  store_before=$(store_counters)
  out=$("$LOAD" --port "$PORT" "$@")
  after=$(cpu_ticks)
  wrote_after=$(written_bytes)
  switches_after=$(context_switches)
  store_after=$(store_counters)
  echo "$out" | sed 's/^/  /'
  ok=$(echo "$out" | sed -n 's/.* ok=\([0-9]*\) .*/\1/p')
  awk -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" -v ok="${ok:-0}" -v per="$per" \
    -v wrote=$((wrote_after - wrote_before)) -v switches=$((switches_after - switches_before)) \
    'BEGIN { s = ticks / hz; n = ok * per
             printf "  sluice CPU: %.2f s, %.1f us per event, %.2f context switches per request\n",
                    s, (n > 0 ? s * 1e6 / n : 0), (ok > 0 ? switches / ok : 0)
             printf "  sluice wrote %.0f MB to disk, %.1f KB per event\n", wrote / 1e6,
                    (n > 0 ? wrote / 1e3 / n : 0) }'
  if [[ -n $store_before && -n $store_after ]]; then
    read -r c0 f0 <<<"$store_before"
    read -r c1 f1 <<<"$store_after"
    awk -v c=$((c1 - c0)) -v f=$((f1 - f0)) \
      'BEGIN { if (f > 0) printf "  store: %d commits, %d flushes, %.2f commits per flush\n", c, f, c / f }'
  fi
}

stop_sluice() {
  local hwm
  hwm=$(awk '/VmHWM/ {print $2 " " $3}' "/proc/$PID/status")
  kill -TERM "$PID"
  wait "$PID" || true
  PID=
  echo "  sluice peak RSS (VmHWM): $hwm"
}

echo "machine: $(nproc) cores, $(uname -r); sluice: $($SLUICE --version 2>/dev/null || echo '?')"

if [[ " $RUNS " == *" 1 "* ]]; then
  echo "1. /v1/batch, 100 events x ~1 KB, ${CONNECTIONS_BATCH:-8} connections, ${SECONDS_PER_RUN}s"
  start_sluice batch
  run_load 100 --path /v1/batch --events-per-request 100 --event-bytes 1000 \
    --connections "${CONNECTIONS_BATCH:-8}" --duration-s "$SECONDS_PER_RUN"
  stop_sluice
fi
if [[ " $RUNS " != *" 2 "* && " $RUNS " != *" 3 "* ]]; then exit 0; fi

start_sluice track
# Run 2 needs enough requests in flight to find the server's ceiling: each connection waits for an
# fsync'd reply, so a closed loop of C connections cannot pass C / (reply time) requests/s. At 32
# connections and ~1 ms per reply that bound (~30,000/s) is reached with a core left idle.
if [[ " $RUNS " == *" 2 "* ]]; then
  echo "2. /v1/track, ~1 KB, keep-alive, ${CONNECTIONS_TRACK:-128} connections, ${SECONDS_PER_RUN}s"
  if [[ ${PROFILE:-0} == 1 ]] && command -v perf >/dev/null; then
    perf record -F 499 -g -p "$PID" -o "$WORK/perf.data" -- sleep "$SECONDS_PER_RUN" \
      >/dev/null 2>&1 &
    PERF=$!
  fi
  run_load 1 --path /v1/track --event-bytes 1000 \
    --connections "${CONNECTIONS_TRACK:-128}" --duration-s "$SECONDS_PER_RUN"
  if [[ -n ${PERF:-} ]]; then
    wait "$PERF" || true
    echo "  perf: top symbols (self) in sluice during run 2"
    perf report -i "$WORK/perf.data" --stdio --no-children -g none --sort dso,symbol 2>/dev/null \
      >"$WORK/perf.txt" || true
    grep -E "^ +[0-9]" "$WORK/perf.txt" | head -25 | cut -c1-140 | sed "s/ *$//; s/^/    /" || true
  fi
fi

if [[ " $RUNS " == *" 3 "* ]]; then
  echo "3. /v1/track at a constant ${HALF_RATE:-20000} requests/s," \
    "${CONNECTIONS_RATE:-64} connections, ${SECONDS_PER_RUN}s"
  before_buckets=$(track_buckets)
  run_load 1 --path /v1/track --event-bytes 1000 --rate "${HALF_RATE:-20000}" \
    --connections "${CONNECTIONS_RATE:-64}" --duration-s "$SECONDS_PER_RUN"
  server_percentiles "$before_buckets" "$(track_buckets)"
fi
stop_sluice
