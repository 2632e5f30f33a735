#!/usr/bin/env bash
# Installs what telegate needs on Debian 12 (only packages that are missing) and builds it.
# Usage: scripts/setup.sh [preset]   (default preset: release)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libboost1.74-dev libboost-system1.74-dev libssl-dev zlib1g-dev libsnappy-dev libzstd-dev
  libsimdjson-dev libcli11-dev libre2-dev libabsl-dev libcurl4-openssl-dev libyaml-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  python3 curl haproxy prometheus prometheus-node-exporter
)
# Node.js and npm run the end-to-end OpenTelemetry JS client (test/e2e/otel-js). A nodesource
# nodejs already bundles npm and conflicts with Debian's npm package: ask only when npm is missing.
command -v npm >/dev/null 2>&1 || PACKAGES+=(nodejs npm)
# kubectl, with its built-in kustomize, renders the deployment bundle (scripts/check-deploy.sh).
# Debian 12 itself has no kubectl package: install it when a configured repository offers one.
if ! command -v kubectl >/dev/null 2>&1 && [[ "$(apt-cache policy kubectl 2>/dev/null)" == *"Candidate: "[0-9]* ]]; then
  PACKAGES+=(kubectl)
fi
if [[ -n "${TELEGATE_EXTRA_PACKAGES:-}" ]]; then
  # shellcheck disable=SC2206
  PACKAGES+=(${TELEGATE_EXTRA_PACKAGES})
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

preset="${1:-release}"
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
# Paths relative to the checkout, so every clone on this machine shares the compiler cache.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
