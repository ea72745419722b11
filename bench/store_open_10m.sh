#!/usr/bin/env bash
# Manual benchmark (not run in CI): time to open an event log holding 10 million events.
# Builds the log once under $DIR (default /tmp/sluice-open-10m; several GB), then opens it a few
# times. Usage: bench/store_open_10m.sh [BUILD_DIR] [EVENT_BYTES]
set -euo pipefail
BUILD=${1:-build/release}
SIZE=${2:-1024}
DIR=${DIR:-/tmp/sluice-open-10m}
EVENTS=${EVENTS:-10000000}
BIN="$BUILD/bench/store_append_bench"
if [[ ! -f "$DIR/events.db" ]]; then
  # De-duplication on while building: every event is in the window, the worst case for the
  # first append after opening (it waits for the window to load from dedup_keys).
  "$BIN" build --dir "$DIR" --events "$EVENTS" --size "$SIZE"
fi
ls -l "$DIR"
for run in 1 2 3; do "$BIN" open --dir "$DIR"; done
# Cold cache (COLD=1, needs root; slows everything else on the machine): the figure after a reboot.
if [[ ${COLD:-0} == 1 && $(id -u) == 0 ]]; then
  sync && echo 3 > /proc/sys/vm/drop_caches && "$BIN" open --dir "$DIR" && echo "(cold cache)"
fi
