#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs dependencies, then builds and tests
#   1. the plain build (every test),
#   2. AddressSanitizer + UndefinedBehaviorSanitizer (every test),
#   3. ThreadSanitizer (tests labelled "concurrency"),
#   4. libFuzzer targets, each for CMO_FUZZ_SECONDS (default 60) under ASan+UBSan.
# Any failure or sanitizer report fails the run. `--quick` runs only step 1.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# ccache hits across checkouts for every build below, the fuzz build included (build.sh sets
# the same for its own builds).
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp"
# Slow soak/fault runs are labelled "slow" and excluded here; run them with ctest -L slow.
# The timed demo story ("demo") runs in the plain build only: under ASan's slowdown its
# compressed timeline would not fit; its parts have their own tests in every build.
CTEST_ARGS=(--output-on-failure -j "$(nproc)" --timeout 600)

step() { echo; echo "=== $* ==="; }

step "plain build"
scripts/build.sh default
(cd build && ctest "${CTEST_ARGS[@]}" -LE slow)

if [ "${1:-}" = "--quick" ]; then exit 0; fi

step "AddressSanitizer + UndefinedBehaviorSanitizer"
scripts/build.sh asan
(cd build-asan && ctest "${CTEST_ARGS[@]}" -LE "slow|demo")

step "ThreadSanitizer (concurrency tests)"
scripts/build.sh tsan
(cd build-tsan && ctest "${CTEST_ARGS[@]}" -L concurrency -LE slow)

step "libFuzzer (${CMO_FUZZ_SECONDS:-60} s per target)"
cmake --preset fuzz -DCMO_FUZZ_SECONDS="${CMO_FUZZ_SECONDS:-60}" >/dev/null
cmake --build build-fuzz -j "$(nproc)"
(cd build-fuzz && ctest --output-on-failure -j "$(nproc)" -L fuzz)

echo
echo "all test suites passed"
