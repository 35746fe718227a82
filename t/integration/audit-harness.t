#!/usr/bin/env bash
# audit-harness.t: the zero-loss audit (locust/audit.py) reads the real stores and fails
# when it should. Uses its own poll id, chat user prefix and Kafka topics (unique per run)
# so it never depends on, nor disturbs, other data; removes what it wrote.
#
# Proves: PASS when the stores hold exactly the 202s; FAIL when MongoDB lacks votes (by count
# and by answer id; --shared tolerates other writers but not a lost id), when
# Redis totals disagree, when chat rows are missing, on unknown outcomes (unless
# --allow-unknown), on results from two runs, and when a topic is not drained in time.
# Needs the stack (Redis, PostgreSQL, MongoDB-wire, Kafka) and the venv of locust/setup.sh.
. "$(dirname "$0")/../lib/tap.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
py=${CACHE_DIR:-$root/.cache}/venv/bin/python
[ -x "$py" ] || plan skip_all "no venv (run locust/setup.sh)"
redis-cli -p "${REDIS_PORT:-6379}" ping >/dev/null 2>&1 || plan skip_all "Redis not running (./build.sh up)"
command -v kcat >/dev/null || plan skip_all "kcat not installed"

poll="audit-selftest-$$"
prefix="zzaudit$$."
vt="audit-selftest-$$-votes"; ct="audit-selftest-$$-chat"
work=$(mktemp -d /tmp/audit-harness.XXXXXX)
R="redis-cli -p ${REDIS_PORT:-6379}"
mongo() { "$py" - "$poll" "$@" <<'PY'
import os, sys, pymongo
poll, op = sys.argv[1], sys.argv[2]
c = pymongo.MongoClient(os.environ.get("MONGO_URI", "mongodb://127.0.0.1:%s/" % os.environ.get("MONGO_PORT", "27017")))["vote"]["votes"]
if op == "add":
    n, dup = int(sys.argv[3]), sys.argv[4] == "dup"
    for i in range(n):
        d = {"_id": "%s-%s-%d" % (poll, "d" if dup else "v", i), "v": 1, "kind": "vote", "poll": poll, "choice": "A", "attrs": {}}
        if dup: d["duplicate"] = True
        c.insert_one(d)
elif op == "clean":
    c.delete_many({"poll": poll})
PY
}
pgq() { psql -X -qtA "${PG_CONNINFO:-host=127.0.0.1 port=${PG_PORT:-5432} dbname=vote user=vote}" -c "$1"; }
cleanup() {
    mongo clean
    $R del "poll:$poll:totals" "poll:$poll:count" "poll:$poll:dupes" >/dev/null
    pgq "DELETE FROM messages WHERE id LIKE 'audit-selftest-$$-%'" >/dev/null
    "${KAFKA_TOPICS_CMD:-$root/stack/bin/kafka-topics}" delete "$vt" >/dev/null 2>&1
    "${KAFKA_TOPICS_CMD:-$root/stack/bin/kafka-topics}" delete "$ct" >/dev/null 2>&1
    rm -rf "$work"
}
trap 'cleanup; _tap_on_exit' EXIT
"${KAFKA_TOPICS_CMD:-$root/stack/bin/kafka-topics}" create "$vt" 1
"${KAFKA_TOPICS_CMD:-$root/stack/bin/kafka-topics}" create "$ct" 1

results() {   # results FILE ACCEPTED [UNKNOWN] [CHAT_ACCEPTED] [RUN_ID] [DUP]
    cat > "$1" <<JSON
{"run_id": "${5:-run-$$}", "chat_user_prefix": "$prefix",
 "votes": {"$poll": {"accepted": $2, "accepted_duplicate_voter": ${6:-0}, "unknown": ${3:-0}, "status": {"202": $2}}},
 "chat": {"accepted": ${4:-0}, "unknown": 0, "status": {}},
 "hostile": {"sent": 0, "as_expected": 0, "unexpected": 0, "accepted": 0, "unknown": 0}}
JSON
}
audit() { "$py" "$root/locust/audit.py" --polls "$poll" --vote-topic "$vt" --chat-topic "$ct" "$@" > "$work/out" 2>&1; echo $?; }

is "$(audit snapshot --out "$work/before.json")" 0 "snapshot is written"

results "$work/r0.json" 0
is "$(audit check --results "$work/r0.json" --before "$work/before.json" --timeout 5)" 0 "nothing sent, nothing stored: PASS"
like "$(cat "$work/out")" "PASS" "prints PASS"

results "$work/r3.json" 3
is "$(audit check --results "$work/r3.json" --before "$work/before.json" --timeout 5)" 1 "3 answers claimed, 0 stored: FAIL"
like "$(cat "$work/out")" "MISMATCH +$poll: MongoDB docs == 202 answers +got 0 +want 3" "names the MongoDB mismatch"

mongo add 3 vote
$R hincrby "poll:$poll:totals" A 3 >/dev/null; $R incrby "poll:$poll:count" 3 >/dev/null
is "$(audit check --results "$work/r3.json" --before "$work/before.json" --timeout 5)" 0 "3 stored in MongoDB and Redis: PASS"

idsjson() { local n=$1 extra=${2:-} i out=""; for ((i = 0; i < n; i++)); do out="$out\"$poll-v-$i\","; done; [ -n "$extra" ] && out="$out\"$extra\","; echo "[${out%,}]"; }
withids() {   # withids FILE IDS_JSON : add an "ids" member to a results file
    "$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); d["ids"]={sys.argv[2]: json.loads(sys.argv[3])}; json.dump(d, open(sys.argv[1], "w"))' "$1" "$poll" "$2"
}
results "$work/ri.json" 3; withids "$work/ri.json" "$(idsjson 3)"
is "$(audit check --results "$work/ri.json" --before "$work/before.json" --timeout 5)" 0 "the 3 answer ids are all in MongoDB: PASS"
results "$work/rl.json" 3; withids "$work/rl.json" "$(idsjson 2 "$poll-never-stored")"
is "$(audit check --results "$work/rl.json" --before "$work/before.json" --timeout 5)" 1 "an answer id that is not in MongoDB: FAIL"
like "$(cat "$work/out")" "MISMATCH +$poll: 202 answers missing in MongoDB \(lost\) +got 1 +want 0" "names the lost vote"
results "$work/rs.json" 2; withids "$work/rs.json" "$(idsjson 2)"
is "$(audit check --results "$work/rs.json" --before "$work/before.json" --timeout 5)" 1 "2 answers but 3 new documents: FAIL (strict)"
is "$(audit check --results "$work/rs.json" --before "$work/before.json" --timeout 5 --shared)" 0 "... PASS with --shared (other writers allowed, nothing lost)"

mongo add 1 dup
results "$work/r4.json" 4 0 0 run-$$ 1
is "$(audit check --results "$work/r4.json" --before "$work/before.json" --timeout 5)" 1 "duplicate in MongoDB but Redis dupes not counted: FAIL"
like "$(cat "$work/out")" "MISMATCH +$poll: Redis totals \+ dupes == MongoDB docs" "names the Redis mismatch"
$R incr "poll:$poll:dupes" >/dev/null
is "$(audit check --results "$work/r4.json" --before "$work/before.json" --timeout 5)" 0 "duplicate counted in Redis dupes: PASS"

results "$work/ru.json" 4 1 0 run-$$ 1
is "$(audit check --results "$work/ru.json" --before "$work/before.json" --timeout 5)" 1 "one request without answer: FAIL by default"
is "$(audit check --results "$work/ru.json" --before "$work/before.json" --timeout 5 --allow-unknown)" 0 "... PASS with --allow-unknown (4 <= 4 <= 5)"

results "$work/rc.json" 4 0 1 run-$$ 1
is "$(audit check --results "$work/rc.json" --before "$work/before.json" --timeout 5)" 1 "one chat 202 claimed, no row from $prefix*: FAIL"
pgq "INSERT INTO messages (id, conversation, sender, recipient, body, received_at) VALUES ('audit-selftest-$$-1', '${prefix}a:${prefix}b', '${prefix}a', '${prefix}b', 'hi', now())"
is "$(audit check --results "$work/rc.json" --before "$work/before.json" --timeout 5)" 0 "the row exists: PASS"

results "$work/rx.json" 4 0 1 run-$$ 1
results "$work/rx.json.w1" 0 0 0 other-run
is "$(audit check --results "$work/rx.json" --before "$work/before.json" --timeout 5)" 1 "results of two different runs: FAIL"

printf 'x\n' | kcat -q -b "${KAFKA_BROKERS:-127.0.0.1:9092}" -P -t "$vt"
is "$(audit check --results "$work/rc.json" --before "$work/before.json" --timeout 2)" 1 "a message no sink applied: not drained, FAIL"
like "$(cat "$work/out")" "NOT drained" "says it did not drain"
done_testing
