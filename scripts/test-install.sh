#!/usr/bin/env bash
# Installs otelc into a temporary prefix and builds tests/install/main.c against it, the ways a user
# would: CMake find_package(otelc) linking otel::configure (shared) and otel::configure_static, and
# plain cc with pkg-config (shared, and static libraries via --static). Each program runs with
# OTEL_TRACES_EXPORTER=console and must print its span "consumer-span".
#
#   scripts/test-install.sh                     configure and build the tree in a temp dir first
#   scripts/test-install.sh --build-dir DIR     install DIR, an already built build directory
#                                               (what the CTest test install_consumer does)
#   --keep                                      keep the temp dir for a look afterwards
# Environment: CC (compiler for the consumer), OTEL_CONSUMER_CFLAGS (e.g. sanitizer flags, added
# to the consumer's compile and link), OTEL_JOBS (parallel jobs, default 2).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=""
keep=0
while [ $# -gt 0 ]; do
    case "$1" in
    --build-dir) build_dir=$(cd "$2" && pwd); shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "test-install: unknown argument $1" >&2; exit 2 ;;
    esac
done

work=$(mktemp -d "${TMPDIR:-/tmp}/otelc-install.XXXXXX")
if [ "$keep" = 1 ]; then
    echo "test-install: keeping $work"
else
    trap 'rm -rf "$work"' EXIT
fi
prefix="$work/prefix"
cc="${CC:-cc}"
read -r -a extra_flags <<<"${OTEL_CONSUMER_CFLAGS:-}"
gen=()
command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)

fail() { echo "test-install: FAIL: $*" >&2; exit 1; }
step() { echo "test-install: $*"; }
# Runs a command quietly; shows its output if it fails.
quiet() {
    local log="$work/last.log"
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        fail "$*"
    fi
}

if [ -z "$build_dir" ]; then
    build_dir="$work/build"
    step "building otelc in $build_dir"
    quiet cmake -S "$root" -B "$build_dir" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DOTEL_BUILD_TESTS=OFF -DOTEL_BUILD_EXAMPLES=OFF -DOTEL_WERROR=ON
    quiet cmake --build "$build_dir" -j "${OTEL_JOBS:-2}"
fi

step "installing $build_dir to $prefix"
quiet cmake --install "$build_dir" --prefix "$prefix"

# What the install must contain.
api_so=$(find "$prefix" -name libotel_api.so -print -quit)
[ -n "$api_so" ] || fail "no libotel_api.so under $prefix"
libdir=$(dirname "$api_so")
for lib in otel_api otel_sdk otel_exporter_memory otel_exporter_console otel_configure; do
    for f in "lib$lib.a" "lib$lib.so" "lib$lib.so.0" "lib$lib.so.0.1.0"; do
        [ -e "$libdir/$f" ] || fail "$libdir/$f is missing"
    done
    pc="otel-${lib#otel_}"
    pc="${pc//_/-}"
    [ -f "$libdir/pkgconfig/$pc.pc" ] || fail "$libdir/pkgconfig/$pc.pc is missing"
done
for f in cmake/otelc/otelcConfig.cmake cmake/otelc/otelcConfigVersion.cmake cmake/otelc/otelcTargets.cmake; do
    [ -f "$libdir/$f" ] || fail "$libdir/$f is missing"
done
[ -f "$prefix/include/otel/version.h" ] || fail "include/otel/version.h is not installed"
[ -f "$prefix/include/otel/configure.h" ] || fail "include/otel/configure.h is not installed"
stray=$(cd "$prefix/include" && find . -name '*.h' ! -path './otel/*')
[ -z "$stray" ] || fail "headers installed outside include/otel/: $stray"

# Runs a consumer program; its stdout must name the span.
run_consumer() {
    local name="$1" bin="$2" out
    if ! out=$(env LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
            OTEL_TRACES_EXPORTER=console "$bin" 2>"$work/$name.err"); then
        printf '%s\n' "$out"
        cat "$work/$name.err" >&2
        fail "$name exited with an error"
    fi
    if ! grep -q "consumer-span" <<<"$out"; then
        printf 'stdout:\n%s\nstderr:\n' "$out"
        cat "$work/$name.err" >&2
        fail "$name did not print consumer-span"
    fi
    step "$name ok"
}
# Fails if |bin| loads (or does not load) a shared otelc library.
check_needed() {
    local bin="$1" want="$2" needed
    needed=$(readelf -d "$bin" | grep -c 'NEEDED.*libotel_' || true)
    if [ "$want" = shared ] && [ "$needed" -eq 0 ]; then
        fail "$bin should load the shared otelc libraries"
    elif [ "$want" = static ] && [ "$needed" -ne 0 ]; then
        fail "$bin should not load a shared otelc library"
    fi
}

step "consumer with find_package(otelc)"
flags="${OTEL_CONSUMER_CFLAGS:-}"
quiet cmake -S "$root/tests/install" -B "$work/consumer" "${gen[@]}" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags"
quiet cmake --build "$work/consumer"
check_needed "$work/consumer/consumer" shared
check_needed "$work/consumer/consumer_static" static
run_consumer "cmake-shared" "$work/consumer/consumer"
run_consumer "cmake-static" "$work/consumer/consumer_static"

step "consumer with pkg-config"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
for pc in "$libdir"/pkgconfig/*.pc; do
    quiet pkg-config --print-errors --exists "$(basename "$pc" .pc)"
done
read -r -a pc_flags <<<"$(pkg-config --cflags --libs otel-configure)"
quiet "$cc" -std=c11 -Wall -Wextra -Werror "${extra_flags[@]}" "$root/tests/install/main.c" \
    "${pc_flags[@]}" -o "$work/consumer_pc"
check_needed "$work/consumer_pc" shared
run_consumer "pkg-config-shared" "$work/consumer_pc"

# --static: every otelc library as its .a, plus what Libs.private / Requires.private add.
static_libs=()
for tok in $(pkg-config --static --libs otel-configure); do
    case "$tok" in
    -lotel_*) static_libs+=("$libdir/lib${tok#-l}.a") ;;
    *) static_libs+=("$tok") ;;
    esac
done
read -r -a pc_cflags <<<"$(pkg-config --cflags otel-configure)"
quiet "$cc" -std=c11 -Wall -Wextra -Werror "${extra_flags[@]}" "$root/tests/install/main.c" \
    "${pc_cflags[@]}" "${static_libs[@]}" -o "$work/consumer_pc_static"
check_needed "$work/consumer_pc_static" static
run_consumer "pkg-config-static" "$work/consumer_pc_static"

echo "test-install: all consumers built and ran"
