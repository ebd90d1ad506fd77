#!/usr/bin/env bash
# The test command: installs what the tests need (idempotently), then builds,
# runs the Rust tests, clippy, rustfmt and the end-to-end suite (pytest against
# the real `ignis` binary). Exits non-zero on the first failure.
#
#   IGNIS_VENV        Python venv for the end-to-end suite (default /var/tmp/ignis-venv)
#   IGNIS_QUERY_VENV  a second venv with boto3 1.28.80 / botocore 1.31.80, the last
#                     releases whose SQS speaks the query protocol, for
#                     tests/e2e/test_sqs_query.py (default /var/tmp/ignis-venv-query)
#   CARGO_TARGET_DIR  cargo's target dir (default /var/tmp/ignis-target)
#   PYTEST_ARGS       extra arguments for pytest (e.g. "-k invoke -x")
#   IGNIS_PYTEST_WORKERS  pytest-xdist workers of each end-to-end pass (default 2,
#                     a test file to a worker; 0 runs each pass in one process)
#   IGNIS_NPM         npm prefix for cdk-assets (default /var/tmp/ignis-npm)
#   IGNIS_SANDBOX     the servers' sandbox backend (default auto: namespace as
#                     root, else process); IGNIS_SANDBOX=process runs the
#                     end-to-end suite on the process backend
#
# As root, `cargo test -- --ignored` then runs the root-only tests, among
# them the 10,000-environment leak count (crates/ignis-sandbox/tests/leaks.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/ignis-target}"
VENV="${IGNIS_VENV:-/var/tmp/ignis-venv}"
export IGNIS_QUERY_VENV="${IGNIS_QUERY_VENV:-/var/tmp/ignis-venv-query}"
export IGNIS_NPM="${IGNIS_NPM:-/var/tmp/ignis-npm}"

step() { printf '\n==> %s\n' "$*"; }

install_system_packages() {
  local missing=()
  for tool in zip unzip curl; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  command -v strip >/dev/null 2>&1 || missing+=(binutils)
  # tests/e2e/test_network.py: the namespace sandbox's bridge mode adds its
  # NAT rule with nft (Ignis runs without it, with no NAT).
  command -v nft >/dev/null 2>&1 || missing+=(nftables)
  # test_network.py puts a stand-in metadata address on lo with ip.
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  # The namespace sandbox's /tmp disks are formatted with mkfs.ext4.
  [[ -x /usr/sbin/mkfs.ext4 || -x /sbin/mkfs.ext4 ]] || missing+=(e2fsprogs)
  command -v python3 >/dev/null 2>&1 || missing+=(python3)
  # tests/e2e/test_rabbitmq.py starts private brokers (tests/e2e/rabbitmq.py).
  [[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]] || missing+=(rabbitmq-server)
  # tests/e2e/test_sns.py reads the SNS signing certificate with openssl.
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  command -v ruby >/dev/null 2>&1 || missing+=(ruby)
  command -v javac >/dev/null 2>&1 || missing+=(default-jdk-headless)
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  # tests/e2e/test_official_clients.py: awslambdaric runs on the python3 of a
  # function's PATH; npm's aws-lambda-ric builds natively.
  [[ -x /usr/bin/python3 || -x /usr/local/bin/python3 ]] || missing+=(python3)
  for pair in npm:npm cmake:cmake autoconf:autoconf automake:automake libtoolize:libtool g++:g++ make:make; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    missing+=(python3-venv)
  fi
  if ((${#missing[@]})); then
    step "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q "${missing[@]}"
  fi
}

install_python_packages() {
  if [[ ! -x "$VENV/bin/python" ]]; then
    step "create venv $VENV"
    python3 -m venv "$VENV"
  fi
  if ! "$VENV/bin/python" -c 'import pytest, xdist, boto3, requests, awscli, pika' >/dev/null 2>&1 \
    || [[ ! -x "$VENV/bin/aws" ]]; then
    step "pip install pytest pytest-xdist boto3 awscli requests pika"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q pytest pytest-xdist boto3 awscli requests pika
  fi
}

# SQS's older query protocol needs an older client: botocore 1.31.81 moved
# SQS's model to JSON, so 1.31.80 is the last that sends `Action=…` forms.
install_query_client() {
  if [[ ! -x "$IGNIS_QUERY_VENV/bin/python" ]]; then
    step "create venv $IGNIS_QUERY_VENV"
    python3 -m venv "$IGNIS_QUERY_VENV"
  fi
  if ! "$IGNIS_QUERY_VENV/bin/python" -c 'import botocore, sys; sys.exit(botocore.__version__ != "1.31.80")' >/dev/null 2>&1; then
    step "pip install boto3==1.28.80 botocore==1.31.80 (query-protocol SQS client)"
    "$IGNIS_QUERY_VENV/bin/python" -m pip install -q boto3==1.28.80 botocore==1.31.80
  fi
}

# CDK's asset publisher (tests/e2e/test_cdk_assets.py): the npm package is
# self-contained (the AWS SDK for JavaScript v3 bundled in).
install_cdk_assets() {
  if [[ ! -x "$IGNIS_NPM/node_modules/.bin/cdk-assets" ]]; then
    step "npm install cdk-assets@4.7.3 into $IGNIS_NPM"
    mkdir -p "$IGNIS_NPM"
    npm install --prefix "$IGNIS_NPM" --no-audit --no-fund --silent cdk-assets@4.7.3
  fi
}

install_system_packages
install_python_packages
install_query_client
install_cdk_assets

step "cargo build --workspace --all-targets"
cargo build --workspace --all-targets

step "cargo test --workspace"
cargo test --workspace

# The root-only tests (namespaces, cgroups, loop devices: the sandbox's, among
# them the 10,000-environment leak count, and the Java archive's recording)
# are #[ignore]d with their reason, so that elsewhere they show as ignored;
# as root they run here, and fail if what they need cannot start.
if [ "$(id -u)" = 0 ]; then
  step "cargo test --workspace -- --ignored (root-only tests)"
  cargo test --workspace -- --ignored
else
  step "not root: the root-only tests stay ignored (cargo test lists them)"
fi

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo fmt --all -- --check"
cargo fmt --all -- --check

# The end-to-end suite runs twice, whole: with the defaults (managed runtimes
# held and sandboxes prepared ahead of cold starts), then with every
# environment started from scratch (IGNIS_PREWARM=off, which every server the
# tests start inherits; tests/e2e/support.py fails a server that still says it
# starts runtimes ahead, unless its test gave it a --prewarm of its own): the
# fast path and the plain one both pass (docs/sandbox.md). Most of a pass is
# waiting (cold starts, servers, brokers, the AWS CLI): each is spread over
# IGNIS_PYTEST_WORKERS pytest-xdist workers (2 by default), a test file to one
# worker (--dist loadfile: a module's own servers stay in one process), each
# worker with its own session server.
export IGNIS_BIN="${IGNIS_BIN:-$CARGO_TARGET_DIR/debug/ignis}"
export PATH="$VENV/bin:$PATH"
WORKERS="${IGNIS_PYTEST_WORKERS:-2}"
PARALLEL=()
if [[ "$WORKERS" != 0 ]]; then
  PARALLEL=(-n "$WORKERS" --dist loadfile)
fi

step "pytest tests/e2e tests/runtimes (environments started ahead: the defaults)"
# shellcheck disable=SC2086
"$VENV/bin/python" -m pytest tests/e2e tests/runtimes ${PARALLEL[@]+"${PARALLEL[@]}"} \
  -q -p no:cacheprovider -rfEs --tb=short ${PYTEST_ARGS:-}

step "pytest tests/e2e, environments started fresh (IGNIS_PREWARM=off)"
# shellcheck disable=SC2086
IGNIS_PREWARM=off "$VENV/bin/python" -m pytest tests/e2e ${PARALLEL[@]+"${PARALLEL[@]}"} \
  -q -p no:cacheprovider -rfEs --tb=short ${PYTEST_ARGS:-}
