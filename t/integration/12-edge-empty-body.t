#!/usr/bin/env bash
# 12-edge-empty-body.t: an empty body through the shipped edge is a client error, not a broken
# answer.
#
# Proves: POST /api/votes and POST /api/chat/messages (with a valid token) whose body is empty -
# Content-Length: 0, a zero-length chunked body, or no body at all - are answered with a valid
# status line "HTTP/1.1 400" and the contract's JSON error {"error":"malformed_json",...}
# (before the fix: "HTTP/1.1 000" with {"error":"internal"}), over HTTP/1.1 and HTTP/2; and
# that none of them produced a record (the votes and chat topics' end offsets do not move).
# Needs the running stack (EDGE_URL, EDGE_CA_FILE, KAFKA_BROKERS from ./build.sh env).
. "$(dirname "$0")/../lib/tap.sh"
# shellcheck source=t/integration/api-lib.sh
. "$(dirname "$0")/api-lib.sh"

edge_up || plan skip_all "edge (nginx + module) not up on $EDGE_URL"
plan 12

register "${RUN}eb"
token=$(login_token "${RUN}eb")
[ -n "$token" ] || bail_out "cannot log in ${RUN}eb through the api daemon"

# end_offsets TOPIC -> the sum of its partitions' end offsets (records ever written)
end_offsets() {
    kcat -b "$KAFKA_BROKERS" -Q -t "$1:0:-1" -t "$1:1:-1" 2>/dev/null \
        | awk '{ for (i = 1; i <= NF; i++) if ($i == "offset") s += $(i + 1) } END { print s + 0 }'
}
before="$(end_offsets votes) $(end_offsets chat)"

# empty PATH KIND CURL-ARGS... -> "STATUS-LINE|ERROR-CODE" of the answer
empty() {
    local path=$1 out; shift
    out=$(curl -sS -i -m 10 -X POST -H "$JSON" "$@" "$EDGE_URL$path" | tr -d '\r')
    printf '%s|%s' "$(head -n 1 <<<"$out" | awk '{ print $1, $2 }')" \
        "$(sed '1,/^$/d' <<<"$out" | jq -r .error 2>/dev/null)"
}
auth=(-H "Authorization: Bearer $token")

for proto in --http1.1 --http2; do
    want='HTTP/1.1 400|malformed_json'
    [ "$proto" = --http2 ] && want='HTTP/2 400|malformed_json'
    is "$(empty /api/votes "$proto" --data-binary '')" "$want" \
       "vote, Content-Length: 0 ($proto): 400 malformed_json"
    is "$(empty /api/chat/messages "$proto" "${auth[@]}" --data-binary '')" "$want" \
       "chat, Content-Length: 0 ($proto): 400 malformed_json"
    is "$(empty /api/votes "$proto" -H 'Content-Length:')" "$want" \
       "vote, no body at all ($proto): 400 malformed_json"
done
# Chunked bodies are HTTP/1.1 only.
is "$(empty /api/votes --http1.1 -H 'Transfer-Encoding: chunked' --data-binary '')" \
   'HTTP/1.1 400|malformed_json' "vote, zero-length chunked body: 400 malformed_json"
is "$(empty /api/chat/messages --http1.1 "${auth[@]}" -H 'Transfer-Encoding: chunked' --data-binary '')" \
   'HTTP/1.1 400|malformed_json' "chat, zero-length chunked body: 400 malformed_json"

# The same connection keeps working after an empty body (keep-alive, no half-read request).
two=$(curl -sS -m 10 --http1.1 -o /dev/null -o /dev/null -w '%{http_code} %{num_connects}\n' \
      -X POST -H "$JSON" --data-binary '' "$EDGE_URL/api/votes" "$EDGE_URL/api/votes" | paste -sd' ')
is "$two" "400 1 400 0" "two empty votes on one keep-alive connection: 400 twice, one connect"

# A raw request, so no client tidies the status line: three digits, a reason phrase.
raw=$(printf 'POST /api/votes HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' \
      | openssl s_client -quiet -connect "${EDGE_URL#https://}" -servername localhost \
            -CAfile "$EDGE_CA_FILE" -verify_return_error 2>/dev/null | head -n 1 | tr -d '\r')
is "$raw" "HTTP/1.1 400 Bad Request" "raw Content-Length: 0 request: the status line is 'HTTP/1.1 400 Bad Request'"
raw=$(printf 'POST /api/votes HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n' \
      | openssl s_client -quiet -connect "${EDGE_URL#https://}" -servername localhost \
            -CAfile "$EDGE_CA_FILE" -verify_return_error 2>/dev/null | head -n 1 | tr -d '\r')
is "$raw" "HTTP/1.1 400 Bad Request" "raw zero-length chunked request: the status line is 'HTTP/1.1 400 Bad Request'"

is "$(end_offsets votes) $(end_offsets chat)" "$before" "no record was produced to votes or chat"
done_testing
