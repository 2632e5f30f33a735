#!/usr/bin/env bash
# Quick start: installs what is missing, builds, and runs telegate on its embedded default
# configuration (OTLP on 127.0.0.1:4317/4318, admin on 127.0.0.1:12345, data under
# ./data-telegate). Extra arguments are passed to `telegate run`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh release
exec build/release/src/main/telegate run --storage.path=data-telegate "$@"
