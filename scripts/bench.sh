#!/usr/bin/env bash
# Builds the release `ignis` binary, the `lambda_runtime` echo function and
# the minimal-client echo (the function's share of an invoke),
# then runs the invoke benchmark, the runtimes benchmark (cold start and warm
# invoke per managed runtime), the performance report (every figure of
# docs/performance.md beside its floor, with the targets; a few minutes) and
# the sandbox benchmark (cold start of the namespace backend next to process,
# root only) against them (crates/ignis-bench, see its benches/README.md).
# The tables are printed and appended to benches/runs/ (the report's JSON
# beside them).
#
#   scripts/bench.sh report   builds, then runs the performance report only
#
#   CARGO_TARGET_DIR      cargo's target dir (default /var/tmp/ignis-target)
#   IGNIS_BENCH_REQUESTS  requests of the 1-client latency run (default 2000)
#   IGNIS_BENCH_SECS      seconds of each throughput run (default 3)
#   IGNIS_BENCH_COLD      cold starts per runtime (default 20; sandbox: per size and backend, default 40)
#   IGNIS_BENCH_WARM      warm invokes per runtime (default 300)
#   IGNIS_BENCH_SAVE=0    print only, do not append to benches/runs/
#   IGNIS_BENCH_ONLY      report: sections to run (floors,warm,cold,burst,memory)
#   IGNIS_BENCH_AB=prewarm  report: cold, burst and memory with IGNIS_PREWARM=off and default
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/ignis-target}"
export IGNIS_BIN="${IGNIS_BIN:-$CARGO_TARGET_DIR/release/ignis}"
export IGNIS_ECHO_BOOTSTRAP="${IGNIS_ECHO_BOOTSTRAP:-$CARGO_TARGET_DIR/release/bootstrap}"

cargo build --release -p ignis -p ignis-fixture-echo -p ignis-fixture-min-echo
if [ "${1:-}" = report ]; then
  shift
  exec cargo bench -p ignis-bench --bench report "$@"
fi
cargo bench -p ignis-bench --bench invoke "$@"
cargo bench -p ignis-bench --bench runtimes "$@"
cargo bench -p ignis-bench --bench report "$@"
# namespace vs process cold start (root only; says so and skips otherwise)
exec cargo bench -p ignis-bench --bench sandbox "$@"
