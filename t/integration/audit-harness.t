#!/usr/bin/env bash
# audit-harness.t: the zero-loss audit (locust/audit.py) reads the real stores and fails
# when it should. Uses its own poll id, chat user prefix and Kafka topics (unique per run)
# so it never depends on, nor disturbs, other data; removes what it wrote.
#
# Proves: PASS when the stores hold exactly the 202s; FAIL when MongoDB lacks votes (by count
# and by answer id; --shared tolerates other writers but not a lost id), when a record of the
# run's Kafka slice has no document, when Redis totals disagree, when chat rows are missing, on
# unknown outcomes (unless --allow-unknown), on results from two runs, when a topic is not
# drained in time, and when the audit's --timeout passes (MongoDB-wire server frozen with
# SIGSTOP): it stops there, names the checks it could not make and FAILs.
# "Stored" here means what the vote sink does: the record in the votes topic, its document in
# MongoDB, its tallies in Redis and the applied offset in sink:votes:offsets.
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
    n, dup, first = int(sys.argv[3]), sys.argv[4] == "dup", int(sys.argv[5])
    for i in range(first, first + n):
        d = {"_id": "%s-%s-%d" % (poll, "d" if dup else "v", i), "v": 1, "kind": "vote", "poll": poll, "choice": "A", "attrs": {}}
        if dup: d["duplicate"] = True
        c.insert_one(d)
elif op == "clean":
    # by _id, one at a time: the one filter FerretDB finds without reading the whole collection
    for i in range(10):
        for tag in ("v", "d"):
            c.delete_one({"_id": "%s-%s-%d" % (poll, tag, i)})
PY
}
pgq() { psql -X -qtA "${PG_CONNINFO:-host=127.0.0.1 port=${PG_PORT:-5432} dbname=vote user=vote}" -c "$1"; }
cleanup() {
    mongo clean
    $R del "poll:$poll:totals" "poll:$poll:count" "poll:$poll:dupes" >/dev/null
    $R hdel sink:votes:offsets "$vt:0" >/dev/null
    pgq "DELETE FROM messages WHERE id LIKE 'audit-selftest-$$-%'" >/dev/null
    "${KAFKA_TOPICS_CMD:-$root/stack/bin/kafka-topics}" delete "$vt" >/dev/null 2>&1
    "${KAFKA_TOPICS_CMD:-$root/stack/bin/kafka-topics}" delete "$ct" >/dev/null 2>&1
    rm -rf "$work"
}
trap 'cleanup; _tap_on_exit' EXIT
"${KAFKA_TOPICS_CMD:-$root/stack/bin/kafka-topics}" create "$vt" 1
"${KAFKA_TOPICS_CMD:-$root/stack/bin/kafka-topics}" create "$ct" 1

stored() {   # stored N vote|dup [FIRST]: N votes as the sink leaves them (record, document, offset)
    local n=$1 kind=$2 first=${3:-0} i tag=v
    [ "$kind" = dup ] && tag=d
    [ "$kind" = none ] || mongo add "$n" "$kind" "$first"
    for ((i = first; i < first + n; i++)); do
        printf '{"v":1,"kind":"vote","id":"%s-%s-%d","poll":"%s","choice":"A","attrs":{},"received_at":1}\n' \
            "$poll" "$tag" "$i" "$poll"
    done | kcat -q -b "${KAFKA_BROKERS:-127.0.0.1:9092}" -P -t "$vt"
    applied=$((${applied:-0} + n))
    $R hset sink:votes:offsets "$vt:0" "$applied" >/dev/null
}
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
is "$(audit check --results "$work/r0.json" --before "$work/before.json" --timeout 60)" 0 "nothing sent, nothing stored: PASS"
like "$(cat "$work/out")" "PASS" "prints PASS"

results "$work/r3.json" 3
is "$(audit check --results "$work/r3.json" --before "$work/before.json" --timeout 60)" 1 "3 answers claimed, 0 stored: FAIL"
like "$(cat "$work/out")" "MISMATCH +$poll: MongoDB docs == 202 answers +got 0 +want 3" "names the MongoDB mismatch"

stored 3 vote
$R hincrby "poll:$poll:totals" A 3 >/dev/null; $R incrby "poll:$poll:count" 3 >/dev/null
is "$(audit check --results "$work/r3.json" --before "$work/before.json" --timeout 60)" 0 "3 stored in MongoDB and Redis: PASS"

idsjson() { local n=$1 extra=${2:-} i out=""; for ((i = 0; i < n; i++)); do out="$out\"$poll-v-$i\","; done; [ -n "$extra" ] && out="$out\"$extra\","; echo "[${out%,}]"; }
withids() {   # withids FILE IDS_JSON : add an "ids" member to a results file
    "$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); d["ids"]={sys.argv[2]: json.loads(sys.argv[3])}; json.dump(d, open(sys.argv[1], "w"))' "$1" "$poll" "$2"
}
results "$work/ri.json" 3; withids "$work/ri.json" "$(idsjson 3)"
is "$(audit check --results "$work/ri.json" --before "$work/before.json" --timeout 60)" 0 "the 3 answer ids are all in MongoDB: PASS"
results "$work/rl.json" 3; withids "$work/rl.json" "$(idsjson 2 "$poll-never-stored")"
is "$(audit check --results "$work/rl.json" --before "$work/before.json" --timeout 60)" 1 "an answer id that is not in MongoDB: FAIL"
like "$(cat "$work/out")" "MISMATCH +$poll: 202 answers missing in MongoDB \(lost\) +got 1 +want 0" "names the lost vote"
results "$work/rs.json" 2; withids "$work/rs.json" "$(idsjson 2)"
is "$(audit check --results "$work/rs.json" --before "$work/before.json" --timeout 60)" 1 "2 answers but 3 new documents: FAIL (strict)"
is "$(audit check --results "$work/rs.json" --before "$work/before.json" --timeout 60 --shared)" 0 "... PASS with --shared (other writers allowed, nothing lost)"

stored 1 dup
results "$work/r4.json" 4 0 0 run-$$ 1
is "$(audit check --results "$work/r4.json" --before "$work/before.json" --timeout 60)" 1 "duplicate in MongoDB but Redis dupes not counted: FAIL"
like "$(cat "$work/out")" "MISMATCH +$poll: Redis totals \+ dupes == MongoDB docs" "names the Redis mismatch"
$R incr "poll:$poll:dupes" >/dev/null
is "$(audit check --results "$work/r4.json" --before "$work/before.json" --timeout 60)" 0 "duplicate counted in Redis dupes: PASS"

results "$work/ru.json" 4 1 0 run-$$ 1
is "$(audit check --results "$work/ru.json" --before "$work/before.json" --timeout 60)" 1 "one request without answer: FAIL by default"
is "$(audit check --results "$work/ru.json" --before "$work/before.json" --timeout 60 --allow-unknown)" 0 "... PASS with --allow-unknown (4 <= 4 <= 5)"

results "$work/rc.json" 4 0 1 run-$$ 1
is "$(audit check --results "$work/rc.json" --before "$work/before.json" --timeout 60)" 1 "one chat 202 claimed, no row from $prefix*: FAIL"
pgq "INSERT INTO messages (id, conversation, sender, recipient, body, received_at) VALUES ('audit-selftest-$$-1', '${prefix}a:${prefix}b', '${prefix}a', '${prefix}b', 'hi', now())"
is "$(audit check --results "$work/rc.json" --before "$work/before.json" --timeout 60)" 0 "the row exists: PASS"

results "$work/rx.json" 4 0 1 run-$$ 1
results "$work/rx.json.w1" 0 0 0 other-run
is "$(audit check --results "$work/rx.json" --before "$work/before.json" --timeout 60)" 1 "results of two different runs: FAIL"

stored 1 none 3
results "$work/rk.json" 4 0 1 run-$$ 1
is "$(audit check --results "$work/rk.json" --before "$work/before.json" --timeout 60)" 1 "a vote record of the run with no document: FAIL"
like "$(cat "$work/out")" "MISMATCH +$poll: the run's Kafka records missing in MongoDB +got 1 +want 0" "names the record MongoDB lacks"
mongo add 1 vote 3
$R hincrby "poll:$poll:totals" A 1 >/dev/null; $R incrby "poll:$poll:count" 1 >/dev/null
results "$work/rk.json" 4 0 1 run-$$ 1
is "$(audit check --results "$work/rk.json" --before "$work/before.json" --timeout 60 --allow-unknown)" 1 "... until it has one (but then 5 documents for 4 answers and no unknown: FAIL)"
results "$work/rk.json" 4 1 1 run-$$ 1
is "$(audit check --results "$work/rk.json" --before "$work/before.json" --timeout 60 --allow-unknown)" 0 "... PASS when one request had no answer (4 <= 5 <= 5)"

is "$(audit snapshot --out "$work/before2.json")" 0 "a second snapshot, the topic holding records"
stored 1 vote 5
$R hincrby "poll:$poll:totals" A 1 >/dev/null; $R incrby "poll:$poll:count" 1 >/dev/null
results "$work/r5.json" 1 0 1; withids "$work/r5.json" "[\"$poll-v-5\"]"
"$py" -c 'import json,sys; d=json.load(open(sys.argv[1])); d["ids"]["chat"]=[sys.argv[2]]; json.dump(d, open(sys.argv[1], "w"))' \
    "$work/r5.json" "audit-selftest-$$-1"
is "$(audit check --results "$work/r5.json" --before "$work/before2.json" --timeout 60)" 0 "only the records after that snapshot are the run's: PASS" \
    || diag "$(grep -E 'MISMATCH|FAIL|NOT|took' "$work/out")"

# --timeout: the MongoDB-wire server frozen, the look-ups cannot end; the audit must.
mpid=$(cat "${STATE_DIR:-$root/.state}/run/mongo.pid" 2>/dev/null)
if [ -n "$mpid" ] && kill -0 "$mpid" 2>/dev/null; then
    kill -STOP "$mpid"
    rc=$(audit check --results "$work/rk.json" --before "$work/before.json" --timeout 15 --allow-unknown)
    kill -CONT "$mpid"
    is "$rc" 1 "MongoDB-wire server frozen: FAIL"
    took=$(sed -n 's/^audit took \([0-9.]*\) s (bound 15 s).*/\1/p' "$work/out")
    ok "awk 'BEGIN { exit !(${took:-99} <= 15.5) }'" "... at its 15 s bound (took ${took:-?} s, its own clock)"
    like "$(cat "$work/out")" "NOT CHECKED every 202 id in MongoDB" "... names what it could not check"
    like "$(cat "$work/out")" "ok +chat: PostgreSQL messages == 202 answers" "... and reports what it did check"
else
    skip "no live MongoDB-wire server pid in \$STATE_DIR/run/mongo.pid" 4
fi

printf 'x\n' | kcat -q -b "${KAFKA_BROKERS:-127.0.0.1:9092}" -P -t "$vt"
is "$(audit check --results "$work/rc.json" --before "$work/before.json" --timeout 8)" 1 "a message no sink applied: not drained, FAIL"
like "$(cat "$work/out")" "NOT drained" "says it did not drain"
done_testing
