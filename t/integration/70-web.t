#!/usr/bin/env bash
# 70-web.t: the edge serves the web app (web/) with the right content types and every file a
# page references; then - when chromium is installed (else those checks skip) - a headless
# browser (web-browser.py, DevTools protocol) loads the dashboard and checks it lists the polls
# from GET /api/polls, draws the totals chart and the breakdown, goes live and counts a band
# contest vote from its form; with election votes in the stack (it casts 150 through the edge)
# the election's charts draw, hold the numbers of the results endpoint, move when a vote is cast
# with the form, and fit a phone's width; and it uses the chat page as a person would: register
# + log in, open a conversation, send, and see the message come back on the live stream; and the
# bookstore: sell a book, find it, buy it, and watch the order reach its final state live.
# Screenshots (desktop and a 390 px phone) are kept under $STATE_DIR/web-screenshots/.
# Needs the running stack and the environment build.sh exports. EDGE_URL (default
# http://127.0.0.1:$EDGE_PORT) is the one setting naming the edge; EDGE_CA_FILE its CA if https.
. "$(dirname "$0")/../lib/tap.sh"

base=${EDGE_URL:-http://127.0.0.1:${EDGE_PORT:?EDGE_PORT not set: run through ./build.sh test}}
curl_ca=(); [ -n "${EDGE_CA_FILE:-}" ] && curl_ca=(--cacert "$EDGE_CA_FILE")
plan no_plan   # the browser part reports one result per check it gets to

# content_type PATH -> "STATUS CONTENT-TYPE" (charset and other parameters dropped)
content_type() {
    curl -s "${curl_ca[@]}" -o /dev/null --max-time 5 -w '%{http_code} %{content_type}' "$base$1" | sed 's/;.*//'
}

is "$(content_type /)" "200 text/html" "GET / is the dashboard (text/html)"
is "$(content_type /index.html)" "200 text/html" "GET /index.html is text/html"
is "$(content_type /chat.html)" "200 text/html" "GET /chat.html is text/html"
is "$(content_type /shop.html)" "200 text/html" "GET /shop.html (the bookstore) is text/html"
for f in results.js charts.js chat.js shop.js api.js vendor/chart.umd.js; do
    like "$(content_type "/$f")" '^200 (application|text)/javascript$' "GET /$f has a JavaScript type (module scripts need one)"
done
is "$(content_type /style.css)" "200 text/css" "GET /style.css is text/css"
like "$(content_type /no-such-page.html)" "^404 " "an unknown static path is 404"

# Every module and stylesheet the pages reference is served (catches a renamed file).
refs=$(cat "$(dirname "$0")/../../web/"*.html "$(dirname "$0")/../../web/"*.js |
       grep -oE "(src|href)=\"[a-z]+\.(js|css)\"|from '\./[a-z]+\.js'" | grep -oE '[a-z]+\.(js|css)' | sort -u)
missing=""
for f in $refs; do [[ "$(content_type "/$f")" == 200* ]] || missing="$missing $f"; done
is "$missing" "" "every script, module and stylesheet the pages reference is served ($(echo $refs))"
# The chart library comes from the edge too (build.sh setup installs it): no outside URL.
is "$(grep -ohE '(src|href)="(https?:)?//[^"]*"' "$(dirname "$0")/../../web/"*.html | tr '\n' ' ')" "" \
   "no page loads anything from outside the edge"

# The dashboard's data comes through the same edge.
like "$(curl -s "${curl_ca[@]}" --max-time 5 "$base/api/polls")" '"polls":\[' "GET /api/polls (the dashboard's first call) answers the catalog"

# ---- headless browser -------------------------------------------------------------------
# web-browser.py drives chromium over the DevTools protocol (one-shot --screenshot cannot wait
# for a page that keeps a live stream open) and prints "check NAME ok|fail DETAIL" lines.
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
    skip "chromium not installed (Debian package chromium): headless browser checks" 2
    done_testing
fi
shots=${STATE_DIR:-/tmp}/web-screenshots
mkdir -p "$shots"
browser() {   # browser SCENARIO ARGS... -> one TAP line per check
    local scenario=$1 out tag name status detail
    out=$(timeout 180 python3 "$(dirname "$0")/web-browser.py" "$@" 2>&1)
    grep -q '^check ' <<<"$out" || { fail "browser $scenario: no checks ran"; diag "$out"; return; }
    while read -r tag name status detail; do
        [ "$tag" = check ] || continue
        if [ "$status" = ok ]; then pass "browser $scenario: $name${detail:+ ($detail)}"
        else fail "browser $scenario: $name"; diag "$detail"; fi
    done <<<"$out"
}
browser dashboard "$base" "$shots/index.png"
ok "[ -s '$shots/index.png' ]" "screenshot of the dashboard: $shots/index.png"
rm -f "$shots/election-desktop.png" "$shots/election-phone.png"
browser election "$base" "$shots"
for w in desktop phone; do
    ok "[ -s '$shots/election-$w.png' ]" "screenshot of the election dashboard ($w): $shots/election-$w.png"
done
user="webt$$${RANDOM}"
browser chat "$base" "$shots/chat.png" "$user" "${user}p" "web test password $$"
ok "[ -s '$shots/chat.png' ]" "screenshot of the chat page: $shots/chat.png"
browser shop "$base" "$shots/shop.png" "${user}b" "${JWT_SECRETS_FILE:-$STATE_DIR/jwt-secrets}"
ok "[ -s '$shots/shop.png' ]" "screenshot of the bookstore: $shots/shop.png"
done_testing
