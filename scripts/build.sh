#!/usr/bin/env bash
# Developer helper: configure (once) and build the given targets in ./build, holding a machine-wide
# lock so that two builds never run at once on this 2-core machine.
#   scripts/build.sh [target...]      (no target = everything)
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_BASEDIR=/ CCACHE_NOHASHDIR=1
exec 9>/tmp/tpusim-build.lock
flock 9
[[ -f build/CMakeCache.txt ]] || cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# The RTL core models need the generated packages at configure time (rtl/CMakeLists.txt): build
# them, and configure again when the core is not configured yet.
cmake --build build -j2 --target tpusim_rtl_packages >/dev/null
grep -q "^TPUSIM_RTL_CORE_CONFIGURED:INTERNAL=1" build/CMakeCache.txt || cmake build >/dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build build -j2 "${targets[@]}"
