#!/usr/bin/env bash
# The main job, end to end on the embedded default: build Ignis, serve it on
# a free port with a fresh SQLite data dir, deploy examples/hello (a custom
# runtime bootstrap), invoke it twice (cold, then warm) and show its output,
# its log tail with the REPORT line, and its logs.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/ignis-target}"

if ! command -v curl >/dev/null 2>&1; then
  apt-get update -q && apt-get install -y -q curl
fi

echo "==> cargo build --release -p ignis"
cargo build --release -q -p ignis
IGNIS="$CARGO_TARGET_DIR/release/ignis"

DATA="$(mktemp -d)"
OUT="$DATA/serve.out"
"$IGNIS" serve --listen 127.0.0.1:0 --data-dir "$DATA" >"$OUT" 2>"$DATA/serve.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 100); do
  grep -q 'listening on' "$OUT" 2>/dev/null && break
  sleep 0.1
done
ENDPOINT=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$OUT")
[ -n "$ENDPOINT" ] || { cat "$DATA/serve.log"; exit 1; }
export IGNIS_ENDPOINT="$ENDPOINT"
echo "==> ignis serve: $ENDPOINT (data in $DATA)"

echo "==> ignis deploy examples/hello --name hello --runtime provided.al2023"
"$IGNIS" deploy examples/hello --name hello --runtime provided.al2023 --handler bootstrap

echo "==> ignis invoke hello '{\"name\":\"x\"}' --tail   (cold start)"
"$IGNIS" invoke hello '{"name":"x"}' --tail
echo
echo "==> ignis invoke hello '{\"name\":\"y\"}' --tail   (warm)"
"$IGNIS" invoke hello '{"name":"y"}' --tail
echo
echo "==> ignis logs hello"
"$IGNIS" logs hello
