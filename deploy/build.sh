#!/usr/bin/env bash
# Configures and builds leadhatch into build/ (Release unless BUILD_TYPE is set).
#   deploy/build.sh            everything (the service, tests, benchmarks)
#   deploy/build.sh leadhatch  only the service
set -euo pipefail
cd "$(dirname "$0")/.."
build_type="${BUILD_TYPE:-Release}"
jobs="${JOBS:-$(nproc 2>/dev/null || echo 2)}"
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
targets=()
for t in "$@"; do targets+=(--target "$t"); done
if [ -f build/CMakeCache.txt ] && ! grep -q "CMAKE_BUILD_TYPE:STRING=${build_type}$" build/CMakeCache.txt; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE="${build_type}" >/dev/null
elif [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE="${build_type}"
fi
cmake --build build -j"${jobs}" "${targets[@]}"
