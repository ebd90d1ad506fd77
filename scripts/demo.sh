#!/usr/bin/env bash
# The main job, end to end on the embedded default: build Ignis, serve it on
# a free port with a fresh SQLite data dir, deploy examples/hello-python (a
# Python function with handler `handler.main`, as it would be deployed to
# Lambda), invoke it cold once and warm five times, and show each REPORT
# line's durations, then the function's logs.
#
#   DEMO_RUNTIME  the Python runtime to deploy (default: the python3 on PATH,
#                 e.g. python3.11)
#   IGNIS_BIN     an ignis binary to run instead of building one
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/ignis-target}"

step() { printf '\n==> %s\n' "$*"; }

missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if ((${#missing[@]})); then
  step "apt-get install ${missing[*]}"
  apt-get update -q && apt-get install -y -q "${missing[@]}"
fi

if [[ -n "${IGNIS_BIN:-}" ]]; then
  IGNIS="$IGNIS_BIN"
else
  step "cargo build --release -p ignis (a first build takes a few minutes; cargo's progress follows)"
  cargo build --release -p ignis
  IGNIS="$CARGO_TARGET_DIR/release/ignis"
fi

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
step "ignis serve: $ENDPOINT (data in $DATA)"
cat "$OUT"

RUNTIME="${DEMO_RUNTIME:-$(python3 -c 'import sys; print("python%d.%d" % sys.version_info[:2])')}"
step "ignis deploy examples/hello-python --name hello --runtime $RUNTIME --handler handler.main"
"$IGNIS" deploy examples/hello-python --name hello --runtime "$RUNTIME" --handler handler.main

# One invocation with its log tail; prints the answer, the function's own
# line and the REPORT line.
invoke() {
  local tail
  tail="$("$IGNIS" invoke hello "$1" --tail 2>&1 >"$DATA/answer.json")"
  printf '  answer: %s\n' "$(cat "$DATA/answer.json")"
  grep -v -e '^START' -e '^END' -e '^REPORT' -e '^INIT' <<<"$tail" | sed 's/^/  log:    /'
  grep '^REPORT' <<<"$tail" | sed 's/^REPORT RequestId: [^\t]*\t/  REPORT  /'
}

step "ignis invoke hello '{\"name\":\"cold\"}' --tail   (cold start: a new execution environment)"
invoke '{"name":"cold"}'
step "ignis invoke hello … --tail   (warm: the same environment, five times)"
for i in 1 2 3 4 5; do
  invoke "{\"name\":\"warm $i\"}"
done

step "ignis logs hello"
"$IGNIS" logs hello
