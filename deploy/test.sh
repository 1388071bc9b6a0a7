#!/usr/bin/env bash
# Installs what is missing, builds the Debug (ASan+UBSan) tree and runs every
# test with ctest. Usage: deploy/test.sh [extra ctest args…]
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/deps.sh

BUILD_DIR=${DFLOW_TEST_BUILD_DIR:-build}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Debug
fi
cmake --build "$BUILD_DIR" -j "$(nproc)"

# gRPC's and protobuf's own allocations at exit are not ours to chase.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$BUILD_DIR"
ctest --output-on-failure -j "$(nproc)" --timeout 300 "$@"
