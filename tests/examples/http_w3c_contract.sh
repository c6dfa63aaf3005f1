#!/usr/bin/env bash
# The W3C Trace Context test-service contract of the example server (POST /test): for each
# element of the JSON array, in order, a POST of the "arguments" (verbatim JSON) to the "url",
# each as its own CLIENT span (a fresh span id) whose context the callback carries; the answer
# comes after every callback finished. Malformed bodies get 400, oversized ones 413, and the
# server keeps serving. The callbacks go to a second example server (its own POST /test).
# shellcheck source=tests/examples/http_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/http_lib.sh"

trace=0af7651916cd43dd8448eb211c80319c
parent=b7ad6b7169203331
start_server service
start_server receiver
cb=$(url receiver /test)

# Second callback: its arguments hold a nested instruction that the receiver carries out, which
# shows that "arguments" travel verbatim (a call to port 1, refused: the receiver still answers).
body='[{"url": "'$cb'", "arguments": []},
       {"url": "'$cb'", "arguments": [{"url": "http://127.0.0.1:1/nested", "arguments": {"k": "v\"\u00e9"}}]}]'
answer=$(client -X POST -H "traceparent: 00-$trace-$parent-01" -H "Content-Type: application/json" \
    -d "$body" "$(url service /test)")
check "POST /test answers after both callbacks, with their statuses" \
    eq "$answer" '{"callbacks":[200,200]}'
check "an empty list makes no callback and answers 200" \
    eq "$(status -X POST -d '[]' "$(url service /test)")" 200

# Malformed or unexpected bodies: 400, no callback, no crash.
n=0
for bad in '' ' ' '[' '[{"url":"x",' '{"url":"x"}' '[1]' '[{"arguments":[]}]' '[{"url":1}]' \
    '[{"url":""}]' '[{"url":"a\u0000b"}]' '[{"url":"\ud800"}]' '[{"url":"x"}] trailing' \
    '[{"url":"x","arguments":[1,]}]' '[{"url":"x","arguments":01}]' '["\x"]' \
    "$(printf '[%.0s' $(seq 100))" "$(printf '\001\002\377')"; do
    n=$((n + 1))
    check "malformed body $n gives 400" eq "$(status -X POST -d "$bad" "$(url service /test)")" 400
done
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$work/big.json"
check "a body over 1 MiB gives 413" eq "$(status -X POST -d "@$work/big.json" "$(url service /test)")" 413
check "GET /test gives 405" eq "$(status "$(url service /test)")" 405
check "an unknown path gives 404" eq "$(status "$(url service /nope)")" 404
check "the server still serves after all that" eq "$(status "$(url service /)")" 200

stop_servers
spans service receiver

server=$(field 2 service SERVER "POST /test" "$trace")
check "the SERVER span continues the harness's trace" test -n "$server"
check "with the harness's parent id" eq "$(field 3 service SERVER "POST /test" "$trace")" "$parent"
mapfile -t clients < <(awk -F'\t' -v t="$trace" -v p="$server" \
    '$1 == t && $3 == p && $4 == "CLIENT" { print $2 }' "$work/spans.tsv")
check "one CLIENT span per callback" eq "${#clients[@]}" 2
check "each callback has a fresh span id" test "${clients[0]:-a}" != "${clients[1]:-a}"
mapfile -t received < <(field 3 receiver SERVER "POST /test" "$trace")
check "both callbacks arrived with the trace's traceparent" eq "${#received[@]}" 2
check "the first callback's parent is the first CLIENT span" eq "${received[0]:-}" "${clients[0]:-}"
check "the second callback's parent is the second CLIENT span" eq "${received[1]:-}" "${clients[1]:-}"
check "the nested instruction reached the receiver verbatim" \
    grep -qF '{"key":"url.full","value":{"stringValue":"http://127.0.0.1:1/nested"}}' \
    "$work/receiver.jsonl"
check "no callback was made for a malformed body" \
    eq "$(awk -F'\t' '$5 == "receiver" && $4 == "SERVER"' "$work/spans.tsv" | wc -l | tr -d ' ')" 2
finish
