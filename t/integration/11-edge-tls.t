#!/usr/bin/env bash
# 11-edge-tls.t: the shipped edge over HTTPS (nginx-conf/nginx.conf, certificate from build.sh).
#
# Proves: the certificate verifies against EDGE_CA_FILE for 127.0.0.1 and localhost; TLS 1.2 and
# 1.3 are spoken and TLS 1.0 / 1.1 are refused by the server (a protocol_version alert), as is a
# TLS 1.2 suite without forward secrecy; a garbage ClientHello gets a TLS alert or a closed
# connection and the edge keeps serving; a plain HTTP request to the TLS port gets a clean 400
# JSON error; TLS 1.2 sessions resume from the shared cache; votes, chat and an SSE stream work
# over HTTP/2 (and HTTP/1.1 through ALPN); HSTS is sent over HTTPS, also on nginx's own JSON
# errors; plain HTTP on EDGE_PORT redirects to HTTPS with 308 (a redirected vote keeps its
# method and body) except /healthz and /metrics.
# Needs the running stack (./build.sh env: EDGE_URL, EDGE_CA_FILE, EDGE_PORT).
. "$(dirname "$0")/../lib/tap.sh"
# shellcheck source=t/integration/api-lib.sh
. "$(dirname "$0")/api-lib.sh"

edge_up || plan skip_all "edge (nginx + module) not up on $EDGE_URL"
plan 21

hostport=${EDGE_URL#https://}
port=${hostport##*:}
plain="http://127.0.0.1:${EDGE_PORT:?EDGE_PORT not set}"

# tls ARGS... -> s_client's output of a handshake (stdin closed at once)
tls() { openssl s_client -connect "$hostport" -CAfile "$EDGE_CA_FILE" "$@" </dev/null 2>&1; }

like "$(tls -servername localhost -verify_return_error -tls1_3)" 'Verify return code: 0 \(ok\)' \
     "TLS 1.3 handshake, certificate verifies against EDGE_CA_FILE"
like "$(tls -verify_return_error -verify_ip 127.0.0.1 -tls1_2)" 'Protocol *: TLSv1\.2' \
     "TLS 1.2 handshake, certificate valid for IP 127.0.0.1"
is "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$EDGE_CA_FILE" --resolve "localhost:$port:127.0.0.1" \
      "https://localhost:$port/healthz")" 200 "https://localhost:$port verifies (DNS name in the certificate)"

# Old protocols: the client must offer them (SECLEVEL=0 lets OpenSSL 3 do so); the server's
# alert is what refuses them.
for v in tls1 tls1_1; do
    out=$(tls "-$v" -cipher 'DEFAULT:@SECLEVEL=0')
    like "$out" 'alert protocol version|unsupported protocol|no protocols available' \
         "-$v is refused ($(grep -oE 'alert protocol version|unsupported protocol|no protocols available' <<<"$out" | head -1))"
done
out=$(tls -tls1_2 -cipher 'AES128-SHA:AES256-GCM-SHA384')
like "$out" 'handshake failure|no shared cipher' "a TLS 1.2 suite without forward secrecy (RSA key exchange) is refused"

# Garbage ClientHello: a handshake record whose body is not a ClientHello.
reply=$( { printf '\x16\x03\x01\x00\x10garbage-garbage!'; sleep 1; } \
         | timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; cat >&3 & timeout 3 cat <&3" | od -An -tx1 | tr -d ' \n')
ok "[ -z '$reply' ] || [ '${reply:0:2}' = 15 ]" "a garbage ClientHello: a TLS alert or a closed connection (got '${reply:0:14}')"
is "$(curl -s -o /dev/null -w '%{http_code}' "$EDGE_URL/healthz")" 200 "the edge still serves HTTPS after it"

# Plain HTTP sent to the TLS port.
out=$(curl -s -m 5 -w '\n%{http_code}' "http://$hostport/healthz")
is "${out##*$'\n'}:$(jq -r .error <<<"${out%$'\n'*}" 2>/dev/null)" "400:plain_http_to_https_port" \
   "plain HTTP to the TLS port: 400 with a JSON error"

# Session resumption (TLS 1.2: the session is known right after the handshake).
sess=$(mktemp); trap 'rm -f "$sess"' EXIT
tls -tls1_2 -sess_out "$sess" >/dev/null
like "$(tls -tls1_2 -sess_in "$sess")" 'Reused, TLSv1\.2' "a TLS 1.2 session resumes from the shared cache"

# HTTP/2 and HTTP/1.1 (ALPN) for votes and chat.
vote='{"poll":"band-contest","choice":"quetzal-punk"}'
for proto in --http2 --http1.1; do
    out=$(curl -s -m 10 "$proto" -w '\n%{http_code} %{http_version}' -H "$JSON" --data-binary "$vote" "$EDGE_URL/api/votes")
    want="202 2"; [ "$proto" = --http1.1 ] && want="202 1.1"
    is "${out##*$'\n'}" "$want" "a vote over $proto: 202"
done
register "${RUN}ta"; register "${RUN}tb"
token=$(login_token "${RUN}ta")
out=$(curl -s -m 10 --http2 -w '\n%{http_code} %{http_version}' -H "$JSON" -H "Authorization: Bearer $token" \
      --data-binary "{\"to\":\"${RUN}tb\",\"text\":\"over h2\"}" "$EDGE_URL/api/chat/messages")
is "${out##*$'\n'}" "202 2" "a chat message over HTTP/2: 202"
like "${out%$'\n'*}" '"conversation":' "its answer names the conversation"

# SSE over HTTP/2: the first event arrives on the stream.
ev=$(curl -sN -m 4 --http2 "$EDGE_URL/api/polls/band-contest/stream" 2>/dev/null | grep -m 1 '^event: ')
is "$ev" "event: results" "an SSE stream over HTTP/2 delivers its first event"

# HSTS over HTTPS, on the module's answers and on nginx's own JSON errors too.
like "$(curl -s -D - -o /dev/null "$EDGE_URL/healthz" | tr -d '\r' | tr A-Z a-z)" 'strict-transport-security: max-age=63072000' \
     "HSTS on an HTTPS answer"
like "$(curl -s -D - -o /dev/null "$EDGE_URL/api/polls/band-contest/results" | tr -d '\r' | tr A-Z a-z)" \
     'strict-transport-security: max-age=' "HSTS on a location with headers of its own (results cache)"

# Plain HTTP on EDGE_PORT.
is "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$plain/api/polls?x=1")" \
   "308 https://127.0.0.1:$port/api/polls?x=1" "plain HTTP redirects to HTTPS with 308 (path and query kept)"
is "$(curl -s -L -o /dev/null -w '%{http_code} %{num_redirects}' -H "$JSON" --data-binary "$vote" "$plain/api/votes")" \
   "202 1" "a vote sent to plain HTTP follows the 308 as a POST with its body: 202"
is "$(curl -s -w ' %{http_code}' "$plain/healthz" | tr -d '\n')" '{"status":"ok"} 200' "/healthz stays plain (probes, load balancers)"
like "$(curl -s "$plain/metrics")" '^# (HELP|TYPE) ' "/metrics stays plain for the loopback scraper"
