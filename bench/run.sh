#!/usr/bin/env bash
# Builds the Release tree with benchmarks and runs them; prints markdown tables.
#   bench/run.sh [heartbeat|placement|ops|deploy|router|dokku|all]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
"$ROOT/deploy/deps.sh"
B=$ROOT/build-bench
if [ ! -f "$B/build.ninja" ]; then
  cmake -S "$ROOT" -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDFLOW_BENCH=ON >/dev/null
fi
cmake --build "$B" -j "$(nproc)"
what=${1:-all}
echo "commit $(git -C "$ROOT" rev-parse --short HEAD), build type Release, $(nproc) cores, $(date -u +%F)"
if [ "$what" = all ] || [ "$what" = heartbeat ]; then
  echo; echo "## bench/heartbeat_bench"
  "$B/bench/heartbeat_bench" --seconds 10 --agents 50 --registered 1000 --idle 60
fi
if [ "$what" = all ] || [ "$what" = placement ]; then
  echo; echo "## bench/placement_bench"
  "$B/bench/placement_bench"
fi
if [ "$what" = all ] || [ "$what" = ops ]; then
  echo; echo "## bench/op_commit_bench"
  "$B/bench/op_commit_bench" --steps 2000
fi
if [ "$what" = all ] || [ "$what" = deploy ]; then
  echo  # deploy_bench prints its own heading, commit and command line
  "$B/bench/deploy_bench" --runs 10
fi
if [ "$what" = all ] || [ "$what" = router ]; then
  echo  # router_bench prints its own heading
  "$B/bench/router_bench" --seconds 6 --connections 8
fi
if [ "$what" = all ] || [ "$what" = dokku ]; then
  echo  # dokku_bench prints its own heading
  "$B/bench/dokku_bench" --rounds 300
fi
