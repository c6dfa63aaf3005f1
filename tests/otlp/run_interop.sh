#!/usr/bin/env bash
# Interop test of the OTLP exporter against real peers: a receiver on node (@grpc/grpc-js for
# gRPC, node's http for OTLP/HTTP) that decodes with the protobuf code shipped by
# @opentelemetry/otlp-transformer (tests/otlp/receiver). otlp_send exports a fixed batch through
# each protocol (gRPC plaintext and TLS, HTTP protobuf and JSON, with and without gzip) and the
# decoded batch must equal tests/otlp/receiver/expected.json; then fault cases (503 then success,
# 429 with Retry-After, UNAVAILABLE, a reset connection, a receiver that starts late, a receiver
# slower than the timeout). Exits 77 (CTest's skip code) when node, npm or the packages are not
# available: installing needs the npm registry or a warm npm cache (OTEL_NPM_OFFLINE=1 forces
# --offline).
#   run_interop.sh --sender PATH --receiver-dir DIR --work-dir DIR
set -u

SKIP=77
sender="" receiver_src="" work=""
while [ $# -gt 0 ]; do
    case "$1" in
    --sender) sender="$2"; shift 2 ;;
    --receiver-dir) receiver_src="$2"; shift 2 ;;
    --work-dir) work="$2"; shift 2 ;;
    *) echo "usage: $0 --sender PATH --receiver-dir DIR --work-dir DIR" >&2; exit 2 ;;
    esac
done
[ -x "$sender" ] && [ -d "$receiver_src" ] && [ -n "$work" ] || { echo "bad arguments" >&2; exit 2; }

command -v node >/dev/null 2>&1 || { echo "SKIP: node is not installed"; exit $SKIP; }
command -v npm >/dev/null 2>&1 || { echo "SKIP: npm is not installed"; exit $SKIP; }

# The receiver and its packages live in the build tree, installed once and reused.
dir="$work/receiver"
mkdir -p "$dir"
for f in package.json package-lock.json receiver.js check.js expected.json; do
    [ -f "$receiver_src/$f" ] && cp "$receiver_src/$f" "$dir/$f"
done
if ! cmp -s "$receiver_src/package.json" "$dir/.installed-package.json" ||
    [ ! -d "$dir/node_modules/@grpc/grpc-js" ] || [ ! -d "$dir/node_modules/@opentelemetry/otlp-transformer" ]; then
    npm_args=(--no-audit --no-fund --loglevel=error)
    [ "${OTEL_NPM_OFFLINE:-0}" = 1 ] && npm_args+=(--offline) || npm_args+=(--prefer-offline)
    if [ -f "$dir/package-lock.json" ]; then cmd=ci; else cmd=install; fi
    echo "interop: npm $cmd in $dir"
    if ! (cd "$dir" && timeout 240 npm "$cmd" "${npm_args[@]}" >npm.log 2>&1); then
        echo "SKIP: cannot install the receiver's npm packages (no registry access or cache?); see $dir/npm.log"
        tail -5 "$dir/npm.log"
        exit $SKIP
    fi
    cp "$receiver_src/package.json" "$dir/.installed-package.json"
fi

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
}
trap cleanup EXIT

# A self-signed certificate for localhost and 127.0.0.1, made now.
tls=0
if command -v openssl >/dev/null 2>&1 &&
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
        -keyout "$work/key.pem" -out "$work/cert.pem" -subj /CN=localhost \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1; then
    tls=1
else
    echo "interop: no openssl command, the TLS case is skipped"
fi

# Starts a receiver; sets http_port, grpc_port, grpc_tls_port.
start_receiver() {
    local out="$work/ports.$RANDOM"
    local extra=()
    [ $tls = 1 ] && extra=(--tls-cert "$work/cert.pem" --tls-key "$work/key.pem")
    node "$dir/receiver.js" "${extra[@]}" "$@" >"$out" 2>>"$work/receiver.log" &
    pids+=($!)
    for _ in $(seq 100); do
        [ -s "$out" ] && break
        sleep 0.1
    done
    [ -s "$out" ] || { echo "FAIL: the receiver did not start"; cat "$work/receiver.log"; exit 1; }
    http_port=$(node -e 'const p=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(p.http)' "$out")
    grpc_port=$(node -e 'const p=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(p.grpc)' "$out")
    grpc_tls_port=$(node -e 'const p=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(p.grpcTls||0)' "$out")
}

control() { # control PORT PATH [BODY] > response
    node -e '
        const [port, path, body] = process.argv.slice(1);
        fetch(`http://127.0.0.1:${port}${path}`, body ? { method: "POST", body } : {})
            .then((r) => r.text()).then((t) => process.stdout.write(t))
            .catch((e) => { console.error(e); process.exit(1); });' "$@"
}

failures=0
# run_case NAME 'CHECK-JSON' EXPECTED-EXIT MAX-SECONDS SENDER-ARGS...
run_case() {
    local name="$1" want="$2" want_rc="$3" max_s="$4"
    shift 4
    local t0=$SECONDS
    timeout 60 "$sender" --header x-api-key=interop-key "$@" >"$work/send.out" 2>"$work/send.err"
    local rc=$? took=$((SECONDS - t0))
    control "$http_port" /_records >"$work/records.json"
    if [ $rc -ne "$want_rc" ]; then
        echo "FAIL $name: otlp_send exited $rc, expected $want_rc"; cat "$work/send.out" "$work/send.err"
        failures=$((failures + 1)); return
    fi
    if [ "$took" -gt "$max_s" ]; then
        echo "FAIL $name: took ${took}s, more than ${max_s}s"; failures=$((failures + 1)); return
    fi
    if ! node "$dir/check.js" "$work/records.json" "$dir/expected.json" "$want" "$work/send.out" >"$work/check.out" 2>&1; then
        echo "FAIL $name"; cat "$work/check.out"; failures=$((failures + 1)); return
    fi
    echo "ok   $name ($(cat "$work/send.out"))"
}

start_receiver
main_http=$http_port
H="http://127.0.0.1:$http_port/v1/traces"
G="http://127.0.0.1:$grpc_port"

run_case "grpc plaintext" '{"protocol":"grpc","maxBytes":905,"apiKey":"interop-key"}' 0 10 \
    --protocol grpc --endpoint "$G"
run_case "grpc plaintext gzip" '{"protocol":"grpc","maxBytes":800,"apiKey":"interop-key"}' 0 10 \
    --protocol grpc --endpoint "$G" --gzip
if [ $tls = 1 ]; then
    run_case "grpc tls" '{"protocol":"grpc+tls","maxBytes":905,"apiKey":"interop-key"}' 0 10 \
        --protocol grpc --endpoint "https://localhost:$grpc_tls_port" --ca "$work/cert.pem"
    run_case "grpc tls gzip, no scheme" '{"protocol":"grpc+tls","maxBytes":800}' 0 10 \
        --protocol grpc --endpoint "127.0.0.1:$grpc_tls_port" --ca "$work/cert.pem" --gzip
    run_case "grpc tls, unknown CA refused" '{"accepted":0}' 1 10 \
        --protocol grpc --endpoint "https://localhost:$grpc_tls_port"
fi
run_case "http/protobuf" '{"protocol":"http","contentType":"application/x-protobuf","contentEncoding":"","path":"/v1/traces","apiKey":"interop-key"}' 0 10 \
    --protocol http/protobuf --endpoint "$H"
run_case "http/protobuf gzip" '{"contentType":"application/x-protobuf","contentEncoding":"gzip"}' 0 10 \
    --protocol http/protobuf --endpoint "$H" --gzip
run_case "http/json" '{"contentType":"application/json","contentEncoding":""}' 0 10 \
    --protocol http/json --endpoint "$H"
run_case "http/json gzip" '{"contentType":"application/json","contentEncoding":"gzip"}' 0 10 \
    --protocol http/json --endpoint "$H" --gzip

# Faults: every batch must arrive exactly once, nothing may hang.
control "$http_port" /_faults '{"http503":1}' >/dev/null
run_case "503 then success" '{"accepted":1,"refused":1}' 0 10 --protocol http/protobuf --endpoint "$H"
control "$http_port" /_faults '{"http429":1,"retryAfter":"1"}' >/dev/null
t0=$SECONDS
run_case "429 with Retry-After" '{"accepted":1,"refused":1}' 0 10 --protocol http/json --endpoint "$H"
control "$http_port" /_faults '{"grpcUnavailable":2}' >/dev/null
run_case "gRPC UNAVAILABLE twice then success" '{"accepted":1,"refused":2}' 0 10 --protocol grpc --endpoint "$G" --gzip
control "$http_port" /_faults '{"reset":1}' >/dev/null
run_case "connection reset mid-request" '{"accepted":1,"refused":1}' 0 10 --protocol http/protobuf --endpoint "$H"

# Receiver down at start: it comes up on the port while the exporter retries.
late_port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
timeout 60 "$sender" --protocol http/protobuf --endpoint "http://127.0.0.1:$late_port/v1/traces" \
    --timeout-ms 15000 --retries 100 >"$work/late.out" 2>&1 &
late_pid=$!
sleep 1
start_receiver --http-port "$late_port"
wait $late_pid
late_rc=$?
control "$late_port" /_records >"$work/records.json"
if [ $late_rc -eq 0 ] && node "$dir/check.js" "$work/records.json" "$dir/expected.json" '{"accepted":1}' >"$work/check.out" 2>&1; then
    echo "ok   receiver down at start ($(cat "$work/late.out"))"
else
    echo "FAIL receiver down at start (otlp_send exited $late_rc)"; cat "$work/late.out" "$work/check.out"
    failures=$((failures + 1))
fi
http_port=$main_http

# Slower than the timeout: the exporter gives up on time (exit 2, transient).
control "$http_port" /_faults '{"slowMs":4000}' >/dev/null
t0=$SECONDS
timeout 60 "$sender" --protocol http/protobuf --endpoint "$H" --timeout-ms 500 >"$work/send.out" 2>&1
rc=$?
if [ $rc -eq 2 ] && [ $((SECONDS - t0)) -le 3 ]; then
    echo "ok   slower than the timeout ($(cat "$work/send.out"))"
else
    echo "FAIL slower than the timeout: exit $rc after $((SECONDS - t0))s"; failures=$((failures + 1))
fi

if [ $failures -ne 0 ]; then
    echo "interop: $failures case(s) failed; receiver log: $work/receiver.log"
    exit 1
fi
echo "interop: all cases passed"
