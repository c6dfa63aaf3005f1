# shellcheck shell=bash
# Helpers for the HTTP example tests (tests/examples/http_*.sh, registered by
# examples/CMakeLists.txt): start example servers through scripts/example-server on free loopback
# ports, send requests with the example client, read the spans back with trace_view --spans.
# CTest passes the programs in OTEL_HTTP_SERVER_BIN, OTEL_HTTP_CLIENT_BIN, OTEL_TRACE_VIEW_BIN and
# the source tree in OTEL_SOURCE_DIR. Every wait is bounded; every process started here is
# stopped on exit. The script ends with "N passed, N failed" and fails when a check failed.
set -euo pipefail

: "${OTEL_SOURCE_DIR:?}" "${OTEL_HTTP_SERVER_BIN:?}" "${OTEL_HTTP_CLIENT_BIN:?}" "${OTEL_TRACE_VIEW_BIN:?}"
# shellcheck source=scripts/lib/examples.sh
source "$OTEL_SOURCE_DIR/scripts/lib/examples.sh"

# The caller's OTEL_* settings must not leak into what a test expects.
for v in $(compgen -v OTEL_); do
    case $v in
    OTEL_SOURCE_DIR | OTEL_HTTP_SERVER_BIN | OTEL_HTTP_CLIENT_BIN | OTEL_TRACE_VIEW_BIN | OTEL_ROOT | \
        OTEL_BUILD_DIR | OTEL_EXAMPLES_DIR) ;;
    *) unset "$v" ;;
    esac
done

work=$(mktemp -d "${TMPDIR:-/tmp}/otelc-http-test.XXXXXX")
declare -A server_pid=() server_port=()
passed=0
failed=0

cleanup()
{
    local pids=("${server_pid[@]}")
    [ "${#pids[@]}" -eq 0 ] || otel_stop_pids "${pids[@]}" 2>/dev/null || true
    if [ "$failed" -ne 0 ] || [ -n "${OTEL_TEST_KEEP:-}" ]; then
        echo "# files kept in $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

# start_server NAME [VAR=VALUE...]: an example server, service NAME, exporting JSON lines to
# $work/NAME.jsonl; its port in ${server_port[NAME]}.
start_server()
{
    local name=$1
    shift
    env OTEL_TRACES_EXPORTER=console OTEL_C_CONSOLE_FORMAT=json \
        OTEL_C_CONSOLE_PATH="$work/$name.jsonl" OTEL_SERVICE_NAME="$name" "$@" \
        "$OTEL_SOURCE_DIR/scripts/example-server" 0 >"$work/$name.out" 2>"$work/$name.log" &
    local pid=$!
    server_pid[$name]=$pid
    local port
    if ! port=$(otel_wait_listening "$pid" "$work/$name.out"); then
        echo "server $name did not start:" >&2
        cat "$work/$name.log" >&2
        exit 1
    fi
    server_port[$name]=$port
}

# stop_servers: SIGTERM to every server; checks that each exits 0 (spans flushed by then).
stop_servers()
{
    local name ok=0
    for name in "${!server_pid[@]}"; do
        otel_stop_pids "${server_pid[$name]}" || ok=1
        unset "server_pid[$name]"
    done
    check "every server stops on SIGTERM with exit status 0" [ "$ok" -eq 0 ]
}

url() { echo "http://127.0.0.1:${server_port[$1]}$2"; }

# client ARGS...: the example client without tracing of its own (headers as given).
client() { OTEL_TRACES_EXPORTER=none "$OTEL_HTTP_CLIENT_BIN" --no-span "$@"; }

# status ARGS...: the HTTP status code of a request (000 when none arrived).
status() { client --status "$@" 2>/dev/null || echo 000; }

# spans NAME...: trace_view --spans over the servers' files, into $work/spans.tsv:
#   trace span parent kind service name http_status status
spans()
{
    local files=() n
    for n in "$@"; do
        files+=("$work/$n.jsonl")
    done
    "$OTEL_TRACE_VIEW_BIN" --spans "${files[@]}" >"$work/spans.tsv"
}

# field COLUMN SERVICE KIND NAME [TRACE]: the column (1-based) of the matching spans, one a line,
# in start-time order.
field()
{
    awk -F'\t' -v c="$1" -v s="$2" -v k="$3" -v n="$4" -v t="${5:-}" \
        '$5 == s && $4 == k && $6 == n && (t == "" || $1 == t) { print $c }' "$work/spans.tsv"
}

check()
{
    local what=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
        echo "ok - $what"
    else
        failed=$((failed + 1))
        echo "not ok - $what"
    fi
}

# eq A B: string equality that shows both sides when they differ.
eq()
{
    [ "$1" = "$2" ] && return 0
    echo "#   got '$1', expected '$2'"
    return 1
}

finish()
{
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
