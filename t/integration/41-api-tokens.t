#!/usr/bin/env bash
# 41-api-tokens.t: which tokens the api daemon and the edge accept (issue 5).
#
# Proves: a token signed with a secret not in the secrets file, an expired token (signed with
# the real key), an alg=none token, a token whose payload was altered after signing, a token
# with an unknown kid and a garbage string are all refused with 401 by the daemon; a token
# correctly signed by the test with the real key is accepted (so the refusals are about the
# defects, not about the test's signing).  With the edge up: the login token is accepted for
# POST /api/chat/messages, the same forged/expired/alg=none tokens are refused there, and after
# logout the edge refuses the token within 1 s (revocation over Kafka).
. "$(dirname "$0")/../lib/tap.sh"
# shellcheck source=t/integration/api-lib.sh
. "$(dirname "$0")/api-lib.sh"

api_up || bail_out "api daemon not answering on $API_URL"
[ -r "$JWT_SECRETS_FILE" ] || bail_out "cannot read the secrets file $JWT_SECRETS_FILE"
plan 15

u="${RUN}t"; peer="${RUN}p"
register "$u"; register "$peer"
kid=$(signing_kid); secret=$(signing_secret); now=$(date +%s)
hdr="{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"$kid\"}"
claims() { printf '{"sub":"%s","iat":%d,"exp":%d,"jti":"%s"}' "$u" "$1" "$2" "$3"; }

good=$(sign_jwt "$hdr" "$(claims "$now" $((now + 600)) 01KTESTGOOD000000000000000)" "$secret")
forged=$(sign_jwt "$hdr" "$(claims "$now" $((now + 600)) 01KTESTFORGED0000000000000)" "not-the-secret-but-long-enough")
expired=$(sign_jwt "$hdr" "$(claims $((now - 7200)) $((now - 3600)) 01KTESTEXPIRED000000000000)" "$secret")
none="$(printf '{"alg":"none","typ":"JWT"}' | b64url).$(claims "$now" $((now + 600)) 01KTESTNONE000000000000000 | b64url)."
other_sub=$(printf '{"sub":"%s","iat":%d,"exp":%d,"jti":"01KTESTGOOD000000000000000"}' "$peer" "$now" $((now + 600)) | b64url)
tampered="$(cut -d. -f1 <<<"$good").$other_sub.$(cut -d. -f3 <<<"$good")"
badkid=$(sign_jwt '{"alg":"HS256","typ":"JWT","kid":"no-such-kid"}' "$(claims "$now" $((now + 600)) 01KTESTKID0000000000000000)" "$secret")

code() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $2" "$1"; }
is "$(code "$API_URL/api/auth/me" "$good")" 200 "api: a token the test signed with the real key is accepted (control)"
is "$(code "$API_URL/api/auth/me" "$forged")" 401 "api: token signed with another secret: 401"
is "$(code "$API_URL/api/auth/me" "$expired")" 401 "api: expired token: 401"
is "$(code "$API_URL/api/auth/me" "$none")" 401 "api: alg=none token: 401"
is "$(code "$API_URL/api/auth/me" "$tampered")" 401 "api: payload changed after signing (sub of another user): 401"
is "$(code "$API_URL/api/auth/me" "$badkid")" 401 "api: unknown kid: 401"
is "$(code "$API_URL/api/auth/me" "garbage")" 401 "api: garbage token: 401"
is "$(curl -s -o /dev/null -w '%{http_code}' "$API_URL/api/chat/conversations")" 401 "api: no token on a chat read: 401"

if ! edge_up; then
    skip "edge (nginx + module) not up on $EDGE_URL" 7
    done_testing
fi
chat() { curl -s -o /dev/null -w '%{http_code}' -H "$JSON" -H "Authorization: Bearer $1" \
         -d "{\"to\":\"$peer\",\"text\":\"token check $RUN\"}" "$EDGE_URL/api/chat/messages"; }
is "$(chat "$forged")" 401 "edge: token signed with another secret: 401"
is "$(chat "$expired")" 401 "edge: expired token: 401"
is "$(chat "$none")" 401 "edge: alg=none token: 401"
is "$(chat "$tampered")" 401 "edge: tampered payload: 401"

req POST "$API_URL/api/auth/login" "{\"username\":\"$u\",\"password\":\"$PASSWORD\"}"
token=$(jq -r .token <<<"$last_body")
is "$(chat "$token")" 202 "edge: the token from login is accepted for a chat message: 202"
req POST "$EDGE_URL/api/auth/logout" "{}" -H "Authorization: Bearer $token"
t0=$(now_ms)
is "$last_status" 204 "logout through the edge: 204"
# Poll the edge until it refuses the token; it must within 1 s of the 204.
refused=""
while [ $(( $(now_ms) - t0 )) -lt 3000 ]; do
    c=$(chat "$token")
    if [ "$c" = 401 ]; then refused=$(( $(now_ms) - t0 )); break; fi
    sleep 0.05
done
diag "edge refused the logged-out token after ${refused:-never (>3000)} ms"
ok "[ -n '$refused' ] && [ '$refused' -le 1000 ]" "edge refuses the logged-out token within 1 s (${refused:-never} ms)"
done_testing
