#!/usr/bin/env bash
# Configures and builds stepvideo into build/ (Release). In CI (CI=true)
# warnings are errors and the reference fixtures must be present.
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS=${JOBS:-2}
CMAKE_ARGS=(-G Ninja -DCMAKE_BUILD_TYPE=Release)
if [[ "${CI:-}" == "true" ]]; then
  CMAKE_ARGS+=(-DSTEPVIDEO_WERROR=ON -DSTEPVIDEO_REQUIRE_FIXTURES=ON)
fi
if [[ -n "${STEPVIDEO_FIXTURES:-}" ]]; then
  CMAKE_ARGS+=("-DSTEPVIDEO_FIXTURES=${STEPVIDEO_FIXTURES}")
fi
cmake -S . -B build "${CMAKE_ARGS[@]}" "$@"
cmake --build build -j "${JOBS}"
