# shellcheck shell=bash
# Builds example programs in build/demo (Release), the build directory scripts/demo uses, for
# scripts/demo, scripts/example-server and scripts/w3c-suite. Sourced; then:
#     otel_build_examples TARGET...     builds them (quietly; the log is shown on failure)
# and the programs are in $OTEL_EXAMPLES_DIR. Installs missing Debian packages first
# (scripts/lib/deps.sh). Concurrent callers (two servers started at once) take turns on a lock.

OTEL_ROOT=${OTEL_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
OTEL_BUILD_DIR=${OTEL_BUILD_DIR:-$OTEL_ROOT/build/demo}
OTEL_EXAMPLES_DIR="$OTEL_BUILD_DIR/examples"

otel_build_examples()
{
    # shellcheck source=scripts/lib/deps.sh
    source "$OTEL_ROOT/scripts/lib/deps.sh"
    otel_ensure_deps build || return 1
    mkdir -p "$OTEL_BUILD_DIR"
    local log="$OTEL_BUILD_DIR/examples-build.log"
    local build=(
        cmake -S "$OTEL_ROOT" -B "$OTEL_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
        -DOTEL_BUILD_TESTS=OFF -DOTEL_BUILD_EXAMPLES=ON
    )
    if ! (
        if command -v flock >/dev/null 2>&1; then
            exec 9>"$OTEL_BUILD_DIR/.build-lock"
            flock 9
        fi
        # Configured once; later builds re-run CMake by themselves when a CMakeLists changed.
        { { [ -f "$OTEL_BUILD_DIR/build.ninja" ] || "${build[@]}"; } &&
            cmake --build "$OTEL_BUILD_DIR" -j "${OTEL_JOBS:-2}" --target "$@"; } >"$log" 2>&1
    ); then
        tail -n 40 "$log" >&2
        echo "build of $* failed (full log: $log)" >&2
        return 1
    fi
    local t
    for t in "$@"; do
        if [ ! -x "$OTEL_EXAMPLES_DIR/$t" ]; then
            echo "$t was not built: is its library (libmicrohttpd, libcurl) installed? See $log" >&2
            return 1
        fi
    done
}

# otel_wait_listening PID OUTFILE: waits (at most 10 s) until the server PID has written its
# "listening on ADDRESS:PORT" line to OUTFILE, then prints PORT. Returns 1 when the server
# exited or did not get there in time.
otel_wait_listening()
{
    local pid=$1 out=$2 port
    for _ in $(seq 200); do
        port=$(sed -n 's/.*listening on [0-9.]*:\([0-9][0-9]*\).*/\1/p' "$out" 2>/dev/null)
        if [ -n "$port" ]; then
            echo "$port"
            return 0
        fi
        otel_pid_running "$pid" || return 1
        sleep 0.05
    done
    return 1
}

# otel_pid_running PID: true while PID runs (an exited child that was not reaped yet is a
# zombie, which kill -0 still finds; /proc tells them apart).
otel_pid_running()
{
    local state
    state=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# otel_stop_pids PID...: sends SIGTERM to each (children of this shell), waits at most 20 s for
# each to exit, then SIGKILLs what is left. Returns 0 when every one exited with status 0.
otel_stop_pids()
{
    local pid rc=0 status
    for pid in "$@"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "$@"; do
        for _ in $(seq 400); do
            otel_pid_running "$pid" || break
            sleep 0.05
        done
        if otel_pid_running "$pid"; then
            echo "process $pid did not stop within 20 s of SIGTERM: killed" >&2
            kill -KILL "$pid" 2>/dev/null || true
            rc=1
        fi
        status=0
        wait "$pid" 2>/dev/null || status=$?
        [ "$status" -eq 0 ] || rc=1
    done
    return "$rc"
}
