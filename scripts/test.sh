#!/usr/bin/env bash
# Runs the whole test suite: installs what is missing, builds (release preset, with tests),
# runs every unit, integration and end-to-end test through CTest, then a bounded fuzz smoke run
# of every fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh release
ctest --preset release -j "$(nproc)" --timeout 600
scripts/fuzz.sh "${TELEGATE_FUZZ_SECONDS:-20}"
