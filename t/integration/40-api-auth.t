#!/usr/bin/env bash
# 40-api-auth.t: accounts on the api daemon (issue 5), against the real PostgreSQL and Kafka.
#
# Proves: register answers 201 / 409 (duplicate) / 422 (weak password, bad username, extra
# field) / 400 (not JSON) / 415 / 413; login answers a HS256 JWT with sub, iat, exp, jti and a
# kid header, 401 for a wrong password or an unknown user, and takes the same time for both
# (medians within 20%: argon2id against a dummy hash); logout answers 204, produces
# {"jti","exp"} keyed by jti to auth.revocations, and the token is refused afterwards;
# the password is stored as an argon2id hash, never in clear.
. "$(dirname "$0")/../lib/tap.sh"
# shellcheck source=t/integration/api-lib.sh
. "$(dirname "$0")/api-lib.sh"

api_up || bail_out "api daemon not answering on $API_URL"
plan 27

u="${RUN}a"
register "$u"
is "$last_status" 201 "register a new user: 201"
is "$(jq -r .username <<<"$last_body")" "$u" "the answer names the user"
register "$u"
is "$last_status" 409 "registering the same username again: 409"
is "$(jq -r '.error + " " + .field' <<<"$last_body")" "username_taken username" "409 body is {error, detail, field}"

req POST "$API_URL/api/auth/register" "{\"username\":\"${RUN}w\",\"password\":\"short-pw\"}"
is "$last_status:$(jq -r .field <<<"$last_body")" "422:password" "a 8-character password is refused: 422 field password"
req POST "$API_URL/api/auth/register" "{\"username\":\"Bad-Name\",\"password\":\"$PASSWORD\"}"
is "$last_status:$(jq -r .field <<<"$last_body")" "422:username" "an upper-case username is refused: 422"
req POST "$API_URL/api/auth/register" "{\"username\":\"ab\",\"password\":\"$PASSWORD\"}"
is "$last_status" 422 "a 2-character username is refused: 422"
req POST "$API_URL/api/auth/register" "{\"username\":\"${RUN}x\",\"password\":\"$PASSWORD\",\"admin\":true}"
is "$last_status:$(jq -r .field <<<"$last_body")" "422:admin" "an extra field is refused: 422 field admin"
req POST "$API_URL/api/auth/register" '{"username":'
is "$last_status" 400 "malformed JSON: 400"
is "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: text/plain' -d '{}' "$API_URL/api/auth/register")" 415 "text/plain body: 415"
big=$(head -c 6000 /dev/zero | tr '\0' a)
req POST "$API_URL/api/auth/register" "{\"username\":\"${RUN}y\",\"password\":\"$big\"}"
is "$last_status" 413 "a 6 kB body: 413"

stored=$(psql -X -tA "$PG_CONNINFO" -c "select password_hash from users where username = '$u'")
like "$stored" '^\$argon2id\$v=19\$' "the stored password is an argon2id hash"

req POST "$API_URL/api/auth/login" "{\"username\":\"$u\",\"password\":\"$PASSWORD\"}"
token=$(jq -r '.token // empty' <<<"$last_body")
is "$last_status" 200 "login with the right password: 200"
like "$token" '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' "the answer carries a JWT"
hdr=$(jwt_part "$token" 0); claims=$(jwt_part "$token" 1)
is "$(jq -r '.alg + " " + .kid' <<<"$hdr")" "HS256 $(signing_kid)" "header: alg HS256, kid of the signing key"
is "$(jq -r .sub <<<"$claims")" "$u" "claim sub is the username"
ok "jq -e '(.exp - .iat) == 3600 and (.jti | test(\"^[0-9A-Z]{26}$\"))' <<<'$claims'" "claims: exp = iat + 3600, jti is a ULID"
is "$(jq -r .expires_at <<<"$last_body")" "$(jq -r .exp <<<"$claims")" "expires_at equals the exp claim"

req POST "$API_URL/api/auth/login" "{\"username\":\"$u\",\"password\":\"wrong horse battery\"}"
is "$last_status" 401 "login with a wrong password: 401"
req POST "$API_URL/api/auth/login" "{\"username\":\"${RUN}nobody\",\"password\":\"$PASSWORD\"}"
is "$last_status" 401 "login as an unknown user: 401"

# Timing: interleave wrong-password and unknown-user logins, compare the medians.
known=() unknown=()
for i in 1 2 3 4 5 6 7 8 9; do
    known+=("$(curl -s -o /dev/null -w '%{time_total}' -H "$JSON" -d "{\"username\":\"$u\",\"password\":\"wrong password $i\"}" "$API_URL/api/auth/login")")
    unknown+=("$(curl -s -o /dev/null -w '%{time_total}' -H "$JSON" -d "{\"username\":\"${RUN}ghost$i\",\"password\":\"wrong password $i\"}" "$API_URL/api/auth/login")")
done
mk=$(printf '%s\n' "${known[@]}" | sort -n | sed -n 5p)
mu=$(printf '%s\n' "${unknown[@]}" | sort -n | sed -n 5p)
diag "login median: known user ${mk}s, unknown user ${mu}s"
ok "awk -v a=$mk -v b=$mu 'BEGIN { d = a - b; if (d < 0) d = -d; m = a > b ? a : b; exit !(d <= 0.2 * m) }'" \
   "login time for an unknown user is within 20% of a known user's (medians ${mk}s / ${mu}s)"

req GET "$API_URL/api/auth/me" "" -H "Authorization: Bearer $token"
is "$last_status" 200 "the token authenticates a read"
t0=$(now_ms)
req POST "$API_URL/api/auth/logout" "{}" -H "Authorization: Bearer $token"
is "$last_status" 204 "logout: 204"
diag "logout (acks=all round trip) took $(( $(now_ms) - t0 )) ms"
jti=$(jq -r .jti <<<"$claims")
rec=$(kcat -q -b "${KAFKA_BROKERS:-127.0.0.1:9092}" -C -t auth.revocations -o -200 -e -f '%k %s\n' 2>/dev/null | grep "^$jti ")
ok "jq -e --arg j '$jti' '.jti == \$j and .exp == $(jq .exp <<<"$claims")' <<<'${rec#* }'" \
   "auth.revocations holds {jti, exp} keyed by the token's jti"
req GET "$API_URL/api/auth/me" "" -H "Authorization: Bearer $token"
is "$last_status:$(jq -r .detail <<<"$last_body")" "401:revoked" "the logged-out token is refused: 401 revoked"
req POST "$API_URL/api/auth/logout" "{}" -H "Authorization: Bearer $token"
is "$last_status" 204 "logging out the same token again is harmless: 204"
req POST "$API_URL/api/auth/login" "{\"username\":\"$u\",\"password\":\"$PASSWORD\"}"
token2=$(jq -r '.token // empty' <<<"$last_body")
is "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $token2" "$API_URL/api/auth/logout")" 204 \
   "a bodyless logout (no Content-Type) works: 204"
done_testing
