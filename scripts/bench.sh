#!/usr/bin/env bash
# Builds the release `ignis` binary, the `lambda_runtime` echo function and
# the minimal-client echo (the function's share of an invoke),
# then runs the invoke benchmark, the runtimes benchmark (cold start and warm
# invoke per managed runtime) and the sandbox benchmark (cold start of the
# namespace backend next to process, root only) against them (crates/ignis-bench,
# see its benches/README.md). The tables are printed and appended to
# benches/runs/.
#
#   CARGO_TARGET_DIR      cargo's target dir (default /var/tmp/ignis-target)
#   IGNIS_BENCH_REQUESTS  requests of the 1-client latency run (default 2000)
#   IGNIS_BENCH_SECS      seconds of each throughput run (default 3)
#   IGNIS_BENCH_COLD      cold starts per runtime (default 20; sandbox: per size and backend, default 40)
#   IGNIS_BENCH_WARM      warm invokes per runtime (default 300)
#   IGNIS_BENCH_SAVE=0    print only, do not append to benches/runs/
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/ignis-target}"
export IGNIS_BIN="${IGNIS_BIN:-$CARGO_TARGET_DIR/release/ignis}"
export IGNIS_ECHO_BOOTSTRAP="${IGNIS_ECHO_BOOTSTRAP:-$CARGO_TARGET_DIR/release/bootstrap}"

cargo build --release -p ignis -p ignis-fixture-echo -p ignis-fixture-min-echo
cargo bench -p ignis-bench --bench invoke "$@"
cargo bench -p ignis-bench --bench runtimes "$@"
# namespace vs process cold start (root only; says so and skips otherwise)
exec cargo bench -p ignis-bench --bench sandbox "$@"
