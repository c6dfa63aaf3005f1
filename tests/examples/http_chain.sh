#!/usr/bin/env bash
# Two example servers in a chain, frontend -> backend, with the default propagators
# (tracecontext,baggage): the request's traceparent is continued by the frontend's SERVER span,
# the frontend's CLIENT span is the backend SERVER span's parent, one trace id throughout; the
# SERVER and CLIENT spans carry the HTTP semantic-convention attributes; a failing downstream
# call gives 502 and error statuses; SIGTERM stops the servers cleanly.
# shellcheck source=tests/examples/http_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/http_lib.sh"

trace=4bf92f3577b34da6a3ce929d0e0e4736
parent=00f067aa0ba902b7
start_server backend
start_server frontend

answer=$(client -H "traceparent: 00-$trace-$parent-01" -H "tracestate: vendor=abc" \
    -H "User-Agent: chain-test/1.0" "$(url frontend "/chain?next=$(url backend /)")")
check "the chain answers with the backend's greeting" \
    eq "$answer" "frontend called $(url backend /): 200 hello from backend"
check "an unreachable next service gives 502" \
    eq "$(status "$(url frontend '/chain?next=http://127.0.0.1:1/')")" 502
check "/chain without next gives 400" eq "$(status "$(url frontend /chain)")" 400

stop_servers
spans frontend backend

server=$(field 2 frontend SERVER "GET /chain" "$trace" | head -n1)
check "the frontend SERVER span continues the incoming trace" test -n "$server"
check "its parent is the incoming parent id" \
    eq "$(field 3 frontend SERVER "GET /chain" "$trace" | head -n1)" "$parent"
client_span=$(awk -F'\t' -v t="$trace" -v p="$server" \
    '$1 == t && $3 == p && $4 == "CLIENT" && $5 == "frontend" { print $2 }' "$work/spans.tsv")
check "the frontend CLIENT span is a child of its SERVER span" test -n "$client_span"
check "the backend SERVER span has the frontend CLIENT span as parent, same trace id" \
    eq "$(field 3 backend SERVER "GET /" "$trace")" "$client_span"
check "one trace holds the three spans" \
    eq "$(awk -F'\t' -v t="$trace" '$1 == t' "$work/spans.tsv" | wc -l | tr -d ' ')" 3
# The 502 and 400 requests are traces of their own: --check must say so.
check "trace_view --check fails with several traces" \
    bash -c '! "$0" --check "$1" "$2" >/dev/null 2>&1' "$OTEL_TRACE_VIEW_BIN" \
    "$work/frontend.jsonl" "$work/backend.jsonl"

# Attributes, read from the exported JSON lines.
line_of() { grep -F "\"spanId\":\"$1\"" "$work/$2.jsonl" || true; }
has_attr() { grep -qF "{\"key\":\"$2\",\"value\":{$3}}" <<<"$1"; }
bserver=$(field 2 backend SERVER "GET /" "$trace")
bline=$(line_of "$bserver" backend)
bport=${server_port[backend]}
for a in '"http.request.method"|"stringValue":"GET"' '"url.path"|"stringValue":"/"' \
    '"url.scheme"|"stringValue":"http"' '"http.route"|"stringValue":"/"' \
    '"http.response.status_code"|"intValue":"200"' '"server.address"|"stringValue":"127.0.0.1"' \
    "\"server.port\"|\"intValue\":\"$bport\"" '"client.address"|"stringValue":"127.0.0.1"' \
    '"network.protocol.version"|"stringValue":"1.1"' \
    '"user_agent.original"|"stringValue":"otelc-example/'; do
    key=${a%%|*}
    key=${key//\"/}
    value=${a#*|}
    if [ "$key" = user_agent.original ]; then
        check "backend SERVER span has $key" grep -qF "{\"key\":\"$key\",\"value\":{$value" <<<"$bline"
    else
        check "backend SERVER span has $key = ${value#*:}" has_attr "$bline" "$key" "$value"
    fi
done
fline=$(line_of "$server" frontend)
check "frontend SERVER span has the client's user_agent.original" \
    has_attr "$fline" user_agent.original '"stringValue":"chain-test/1.0"'
cline=$(line_of "$client_span" frontend)
check "CLIENT span has url.full" has_attr "$cline" url.full "\"stringValue\":\"$(url backend /)\""
check "CLIENT span has server.port" has_attr "$cline" server.port "\"intValue\":\"$bport\""
check "CLIENT span has server.address" has_attr "$cline" server.address '"stringValue":"127.0.0.1"'
check "CLIENT span has http.request.method" has_attr "$cline" http.request.method '"stringValue":"GET"'
check "CLIENT span has http.response.status_code" \
    has_attr "$cline" http.response.status_code '"intValue":"200"'
check "the incoming tracestate is kept on the frontend SERVER span" \
    grep -qF '"traceState":"vendor=abc"' <<<"$fline"
check "and passed on to the backend" grep -qF '"traceState":"vendor=abc"' <<<"$bline"

# The failed downstream call: 502 from the frontend, both spans in error.
check "502 SERVER span has error status" \
    eq "$(awk -F'\t' '$5 == "frontend" && $4 == "SERVER" && $7 == "502" { print $8 }' "$work/spans.tsv")" ERROR
check "the failed CLIENT span has error status" \
    eq "$(awk -F'\t' '$5 == "frontend" && $4 == "CLIENT" && $7 == "-" { print $8 }' "$work/spans.tsv")" ERROR
check "the failed CLIENT span says why (error.type)" \
    grep -qF '{"key":"error.type","value":{"stringValue":"connection_refused"}}' "$work/frontend.jsonl"
check "400 SERVER span keeps an unset status" \
    eq "$(awk -F'\t' '$5 == "frontend" && $4 == "SERVER" && $7 == "400" { print $8 }' "$work/spans.tsv")" UNSET
finish
