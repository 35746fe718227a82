# shellcheck shell=bash disable=SC2034  # variables for the scripts that source it
# api-lib.sh - helpers shared by the api daemon's integration tests (NN-api-*.t).
#
# Sourced after t/lib/tap.sh.  Talks to the real stack from build.sh's environment:
#   API_URL   the daemon directly (default http://127.0.0.1:$API_PORT)
#   EDGE_URL  nginx + module      (default https://127.0.0.1:$EDGE_TLS_PORT)
#   EDGE_CA_FILE the CA of the edge's certificate (default $STATE_DIR/tls/ca.crt): every curl
#             here trusts it (CURL_CA_BUNDLE; the api daemon itself is plain HTTP on loopback)
#   JWT_SECRETS_FILE (default $STATE_DIR/jwt-secrets), REDIS_PORT, PG_CONNINFO
# Every user a test creates gets the per-run prefix $RUN, so runs never collide.

API_URL=${API_URL:-http://127.0.0.1:${API_PORT:-8090}}
EDGE_URL=${EDGE_URL:-https://127.0.0.1:${EDGE_TLS_PORT:-8443}}
EDGE_CA_FILE=${EDGE_CA_FILE:-${STATE_DIR:-.state}/tls/ca.crt}
export CURL_CA_BUNDLE=$EDGE_CA_FILE
JWT_SECRETS_FILE=${JWT_SECRETS_FILE:-${STATE_DIR:-.state}/jwt-secrets}
PG_CONNINFO=${PG_CONNINFO:-host=127.0.0.1 port=${PG_PORT:-5432} dbname=vote user=vote}
RUN="t$(date +%s | tail -c 6)$$"
PASSWORD="correct horse battery staple"
JSON='Content-Type: application/json'

# last_status / last_body: set by req
req() {   # req METHOD URL [BODY] [extra curl args...]
    local method=$1 url=$2 body=${3:-} out
    shift 3 2>/dev/null || shift $#
    if [ -n "$body" ]; then
        out=$(curl -sS -m 10 -X "$method" -H "$JSON" --data-binary "$body" -w '\n%{http_code}' "$@" "$url")
    else
        out=$(curl -sS -m 10 -X "$method" -w '\n%{http_code}' "$@" "$url")
    fi
    last_status=${out##*$'\n'}
    last_body=${out%$'\n'*}
}

api_up() { curl -fsS -m 2 "$API_URL/healthz" >/dev/null 2>&1; }

# edge module present: an unauthenticated chat post is refused with 401 (not 404/502)
edge_up() {
    [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' -X POST -H "$JSON" -d '{}' \
        "$EDGE_URL/api/chat/messages")" = 401 ]
}

register() {   # register USER -> status in last_status
    req POST "$API_URL/api/auth/register" "{\"username\":\"$1\",\"password\":\"$PASSWORD\"}"
}

login_token() {   # login_token USER -> prints the token
    req POST "$API_URL/api/auth/login" "{\"username\":\"$1\",\"password\":\"$PASSWORD\"}"
    jq -r '.token // empty' <<<"$last_body"
}

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# sign_jwt HEADER_JSON PAYLOAD_JSON SECRET -> an HS256 token made outside the daemon
sign_jwt() {
    local h p s
    h=$(printf '%s' "$1" | b64url)
    p=$(printf '%s' "$2" | b64url)
    s=$(printf '%s' "$h.$p" | openssl dgst -sha256 -hmac "$3" -binary | b64url)
    printf '%s.%s.%s' "$h" "$p" "$s"
}

signing_kid() { awk '!/^#/ && NF >= 2 {print $1; exit}' "$JWT_SECRETS_FILE"; }
signing_secret() { awk '!/^#/ && NF >= 2 {print $2; exit}' "$JWT_SECRETS_FILE"; }

# jwt_part TOKEN N -> decoded JSON of part N (0 header, 1 payload)
jwt_part() {
    local part
    part=$(cut -d. -f$(($2 + 1)) <<<"$1" | tr '_-' '/+')
    while [ $((${#part} % 4)) -ne 0 ]; do part="$part="; done
    openssl base64 -d -A <<<"$part"
}

now_ms() { date +%s%3N; }

# send_chat FROM_TOKEN FROM TO TEXT -> sets sent_id: POST /api/chat/messages at the edge.
send_chat() {
    local tok=$1 to=$3 text=$4 body
    body=$(jq -cn --arg to "$to" --arg text "$text" '{to: $to, text: $text}')
    req POST "$EDGE_URL/api/chat/messages" "$body" -H "Authorization: Bearer $tok"
    sent_id=$(jq -r '.id // empty' <<<"$last_body")
}

# wait_stored ID TOKEN PEER [MS] -> 0 when the api lists message ID in the conversation
wait_stored() {
    local id=$1 tok=$2 peer=$3 limit=${4:-5000} t0
    t0=$(now_ms)
    while [ $(( $(now_ms) - t0 )) -lt "$limit" ]; do
        curl -s -H "Authorization: Bearer $tok" "$API_URL/api/chat/conversations/$peer/messages?limit=200" |
            jq -e --arg id "$id" 'any(.messages[]; .id == $id)' >/dev/null && return 0
        sleep 0.05
    done
    return 1
}
