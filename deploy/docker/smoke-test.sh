#!/usr/bin/env bash
# Manual check of the container image (needs a Docker daemon, so scripts/test does not run it):
# builds the image from the tracked files, starts the fake TikTok and sluice from it on loopback
# (host network), sends one purchase through the Segment API, waits until the fake has accepted
# the mapped event, then checks a configuration reload (SIGHUP), a graceful stop (exit 0) and that
# no secret appears in the container's log.
#   deploy/docker/smoke-test.sh            (SKIP_BUILD=1 to reuse $IMAGE; PORT, MOCK_PORT to move)
set -euo pipefail
cd "$(dirname "$0")/../.."
IMAGE=${IMAGE:-sluice:smoke}
PORT=${PORT:-18080}
MOCK_PORT=${MOCK_PORT:-19090}
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  git archive HEAD | docker build -q -f deploy/docker/Dockerfile -t "$IMAGE" -
fi
work=$(mktemp -d)
chmod 755 "$work"
names=(sluice-smoke sluice-smoke-mock)
cleanup() {
  docker rm -f "${names[@]}" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
docker rm -f "${names[@]}" >/dev/null 2>&1 || true

cat >"$work/sluice.yaml" <<YAML
server:
  listen: 127.0.0.1:$PORT
  admin_token: \${SLUICE_ADMIN_TOKEN}
storage:
  path: /var/lib/sluice
  retention: 7d
logging:
  level: info
  format: json
sources:
  - name: website
    write_key: \${SLUICE_WRITE_KEY}
destinations:
  - name: tiktok
    type: tiktok-conversions
    settings:
      access_token: \${TIKTOK_ACCESS_TOKEN}
      pixel_code: SMOKEPIXEL
      api_url: http://127.0.0.1:$MOCK_PORT/open_api/v1.3/event/track/
    presets: all
YAML
chmod 644 "$work/sluice.yaml"

write_key=smoke-write-key-7f3a
admin_token=smoke-admin-token-91c2
access_token=smoke-access-token-5d0e
docker run -d --name sluice-smoke-mock --network host "$IMAGE" \
  mock-tiktok --listen "127.0.0.1:$MOCK_PORT" >/dev/null
docker run -d --name sluice-smoke --network host \
  -v "$work/sluice.yaml:/etc/sluice/sluice.yaml:ro" \
  -e SLUICE_WRITE_KEY=$write_key -e SLUICE_ADMIN_TOKEN=$admin_token \
  -e TIKTOK_ACCESS_TOKEN=$access_token "$IMAGE" >/dev/null

fail() {
  echo "FAIL: $*" >&2
  docker logs sluice-smoke 2>&1 | tail -20 >&2
  exit 1
}
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null || fail "sluice did not become ready"
echo "ok: the container serves /healthz and /readyz"

reply=$(curl -sS -u "$write_key:" -H 'Content-Type: application/json' \
  -d '{"type":"track","event":"Order Completed","userId":"smoke-user","messageId":"smoke-1",
       "properties":{"order_id":"o-1","total":42.5,"currency":"EUR",
                     "products":[{"product_id":"sku-1","price":42.5,"quantity":1}]},
       "context":{"traits":{"email":"Smoke@Example.com"}}}' \
  "http://127.0.0.1:$PORT/v1/track")
[[ $reply == *'"success":true'* ]] || fail "track was not acknowledged: $reply"
accepted=0
for _ in $(seq 100); do
  accepted=$(curl -fsS "http://127.0.0.1:$MOCK_PORT/mock/stats" |
    sed -nE 's/.*"events_accepted":([0-9]+).*/\1/p')
  [[ ${accepted:-0} -ge 1 ]] && break
  sleep 0.2
done
[[ ${accepted:-0} -ge 1 ]] || fail "the fake TikTok accepted no event"
echo "ok: the event was stored, mapped and accepted by the fake TikTok ($accepted)"

curl -fsS -H "Authorization: Bearer $admin_token" "http://127.0.0.1:$PORT/metrics" |
  grep -q '^sluice_events_delivered_total' || fail "no delivery metric"
echo "ok: /metrics answers with the admin token"

docker kill -s HUP sluice-smoke >/dev/null
sleep 1
[[ $(docker inspect -f '{{.State.Running}}' sluice-smoke) == true ]] || fail "SIGHUP stopped it"
docker stop -t 60 sluice-smoke >/dev/null
code=$(docker inspect -f '{{.State.ExitCode}}' sluice-smoke)
[[ $code == 0 ]] || fail "exit code $code after SIGTERM"
echo "ok: reloaded on SIGHUP, stopped gracefully (exit 0)"

if docker logs sluice-smoke 2>&1 | grep -qE "$write_key|$admin_token|$access_token"; then
  fail "a secret appears in the log"
fi
echo "ok: no secret in the container's log"
echo "smoke test passed"
