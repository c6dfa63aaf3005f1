#!/usr/bin/env bash
# The example server extracts and injects with whatever OTEL_PROPAGATORS names: a request that
# carries only B3 (single or multi), Jaeger or Datadog headers is continued by a server
# configured for that format, and its outgoing call carries the same format on to the next
# server; a server configured for tracecontext alone ignores those headers and starts a trace.
# shellcheck source=tests/examples/http_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/http_lib.sh"

start_server b3 OTEL_PROPAGATORS=b3
start_server b3next OTEL_PROPAGATORS=b3multi OTEL_TRACES_SAMPLER=always_on
start_server datadog OTEL_PROPAGATORS=datadog
start_server jaeger OTEL_PROPAGATORS=jaeger
start_server w3c OTEL_PROPAGATORS=tracecontext

t1=80f198ee56343ba864fe8b2a57d3eff7
s1=e457b5a2e4d86bd1
t2=463ac35c9f6413ad48485a3953bb6124
s2=0020000000000001
s3=a2fb4a1d1a96d312
client -H "b3: $t1-$s1-1" "$(url b3 "/chain?next=$(url b3next /)")" >/dev/null
client -H "X-B3-TraceId: $t2" -H "X-B3-SpanId: $s2" -H "X-B3-Sampled: 1" "$(url b3 /)" >/dev/null
client -H "b3: 48485a3953bb6124-$s3-1" "$(url b3 /)" >/dev/null
client -H "b3: 11111111111111111111111111111111-$s3-0" "$(url b3 "/chain?next=$(url b3next /)")" >/dev/null
# Datadog: decimal ids (low 64 bits), the high 64 bits in _dd.p.tid.
client -H "x-datadog-trace-id: 1234567890123456789" -H "x-datadog-parent-id: 987654321" \
    -H "x-datadog-sampling-priority: 1" -H "x-datadog-tags: _dd.p.tid=640cfd8d00000000" \
    "$(url datadog "/chain?next=$(url datadog /)")" >/dev/null
client -H "uber-trace-id: $t2:$s2:0:1" "$(url jaeger /)" >/dev/null
client -H "b3: $t1-$s1-1" -H "x-datadog-trace-id: 1" -H "x-datadog-parent-id: 2" "$(url w3c /)" >/dev/null
stop_servers
spans b3 b3next datadog jaeger w3c

check "b3 single header: the SERVER span continues the trace" \
    eq "$(field 3 b3 SERVER "GET /chain" "$t1")" "$s1"
b3client=$(awk -F'\t' -v t="$t1" '$1 == t && $5 == "b3" && $4 == "CLIENT" { print $2 }' "$work/spans.tsv")
check "b3: the outgoing call carries the trace on to a b3multi server" \
    eq "$(field 3 b3next SERVER "GET /" "$t1")" "${b3client:-none}"
check "b3 multi headers (X-B3-*): continued" eq "$(field 3 b3 SERVER "GET /" "$t2")" "$s2"
check "b3 with a 64-bit trace id: left-padded with zeros" \
    eq "$(field 3 b3 SERVER "GET /" "000000000000000048485a3953bb6124")" "$s3"
# b3next samples everything (always_on), so it shows what b3 passed on without recording.
check "b3 sampling state 0: the server records nothing" \
    eq "$(awk -F'\t' '$1 == "11111111111111111111111111111111" && $5 == "b3"' "$work/spans.tsv")" ""
check "but passes the trace on (to a server that samples everything)" \
    test -n "$(field 3 b3next SERVER "GET /" 11111111111111111111111111111111)"

ddtrace=640cfd8d00000000112210f47de98115 # 1234567890123456789 = 0x112210f47de98115
check "datadog: continued, 128-bit trace id from x-datadog-trace-id and _dd.p.tid" \
    eq "$(field 3 datadog SERVER "GET /chain" "$ddtrace")" 000000003ade68b1 # 987654321
ddclient=$(awk -F'\t' -v t="$ddtrace" '$1 == t && $5 == "datadog" && $4 == "CLIENT" { print $2 }' \
    "$work/spans.tsv")
check "datadog: the outgoing call carries the trace (x-datadog-* headers)" \
    eq "$(field 3 datadog SERVER "GET /" "$ddtrace")" "${ddclient:-none}"
check "jaeger uber-trace-id: continued" eq "$(field 3 jaeger SERVER "GET /" "$t2")" "$s2"

w3c_trace=$(field 1 w3c SERVER "GET /")
w3c_parent=$(field 3 w3c SERVER "GET /")
check "tracecontext alone ignores b3 and datadog headers: a new trace" \
    test -n "$w3c_trace" -a "$w3c_trace" != "$t1" -a "$w3c_parent" = "-"
finish
