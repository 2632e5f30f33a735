#!/usr/bin/env bash
# The build stage of the container image (Dockerfile), as a script so that CI can run exactly the
# same steps on a Debian 12 host without a container engine (scripts/check-deploy.sh).
#
# Usage: scripts/container-build.sh [--install-deps] [--source-dir DIR] [--build-dir DIR] --prefix DIR
#
#   --install-deps   apt-get install the build packages first (the Dockerfile does; on a host,
#                    scripts/setup.sh has installed them and this script only checks)
#   --source-dir     checkout to build (default: this script's repository)
#   --build-dir      CMake build directory (default: <source>/build/container)
#   --prefix         staging root; the binary lands in <prefix>/usr/bin/telegate
#
# The packages are those of scripts/setup.sh (the README's quick start) minus the tools that only
# the tests, benchmarks and fuzzers use, so the image is built from the same Debian libraries as a
# developer checkout.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
src="$here"
build=""
prefix=""
install_deps=0
while (($#)); do
  case "$1" in
    --install-deps) install_deps=1 ;;
    --source-dir) src="$(cd "$2" && pwd)"; shift ;;
    --build-dir) build="$2"; shift ;;
    --prefix) prefix="$2"; shift ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "container-build: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[[ -n "$prefix" ]] || { echo "container-build: --prefix is required" >&2; exit 2; }
build="${build:-$src/build/container}"

# Build packages: scripts/setup.sh's list without test, benchmark, fuzzing and end-to-end tools.
build_packages() {
  local PACKAGES=()
  eval "$(sed -n '/^PACKAGES=(/,/^)/p' "$src/scripts/setup.sh")"
  local skip=" libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev python3 curl "
  skip+=" haproxy prometheus prometheus-node-exporter nodejs npm "
  local p
  for p in "${PACKAGES[@]}"; do
    [[ "$skip" == *" $p "* ]] || echo "$p"
  done
}
mapfile -t packages < <(build_packages)
((${#packages[@]})) || { echo "container-build: no package list found in scripts/setup.sh" >&2; exit 1; }

if ((install_deps)); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}"
  rm -rf /var/lib/apt/lists/*
else
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "container-build: missing build packages: ${missing[*]} (run scripts/setup.sh)" >&2
    exit 1
  fi
fi

# Paths relative to the checkout, so the compiler cache is shared with the other build trees.
export CCACHE_BASEDIR="$src" CCACHE_NOHASHDIR=1
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DTELEGATE_BUILD_TESTS=OFF -DTELEGATE_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" --target telegate -j "$(nproc)"

install -d "$prefix/usr/bin"
install -m 0755 -s "$build/src/main/telegate" "$prefix/usr/bin/telegate"
echo "container-build: $prefix/usr/bin/telegate ($("$prefix/usr/bin/telegate" --version))"
