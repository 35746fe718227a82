#!/usr/bin/env python3
"""audit.py - the zero-loss audit after a load or fault run.

After the load clients stop, it waits (bounded) until the sinks have applied everything in
Kafka, then compares, per poll and for chat:

    202 answers counted by the load clients (locustfile's LOAD_RESULT_FILE[.w*] files)
    == the run's documents in MongoDB vote.votes      (duplicate-voter votes included)
    == new sum of Redis poll:{p}:totals + new poll:{p}:dupes
    202 chat answers == the run's rows in PostgreSQL messages

"the run's documents" are those of the records the votes topic received during the run (its
end offsets at the snapshot, `audit.py snapshot`, and after the drain): the audit reads that
slice of the log and looks each id up in MongoDB, along with every 202 answer's id (kept by
the locustfile), by `_id` alone - the one query FerretDB answers from an index - so its time
grows with the run, not with what the store already holds. Every 202 id must be in MongoDB
(votes) or PostgreSQL (chat) - "0 lost" by id, which holds even when other clients write at the
same time (--shared then drops the count equality that such writers break, and the audit names
the run's records that are no answer of its own); every record of the slice must have its
document. "new" Redis and DLQ figures are deltas since the snapshot, so the audit is exact on a
stack that already holds data. Internal consistency is checked too (Redis count == sum of
totals, Redis dupes == the run's documents flagged duplicate), hostile requests must not have
been accepted, and requests with no HTTP answer (unknown outcome) make the result FAIL unless
--allow-unknown (then the stores may hold up to that many more).

--timeout bounds the whole check, drain included: past it the audit stops, prints the checks it
made and the ones it could not make, and FAILs.

Drain: "consumer lag 0" is measured against the sinks' own applied offsets, which they
commit atomically with their writes (docs/CONTRACT.md): Redis hash sink:votes:offsets and
PostgreSQL table sink_offsets, compared with the topic end offsets from `kcat -Q`. With
KAFKA_LAG_CMD set, `$KAFKA_LAG_CMD <group>` is used instead: it prints either one number
(the total lag) or rows "topic partition current end lag" (e.g. "stack/bin/kafka-topics lag").

Commands:
  audit.py snapshot --out before.json          record the store counters now
  audit.py check --results R.json [--before before.json] [--timeout 120] [--allow-unknown]
                 [--json OUT.json]
  audit.py show                                print the store counters and lag now

Connections from the environment build.sh exports: REDIS_HOST (default 127.0.0.1), REDIS_PORT, PG_CONNINFO (or PG_PORT),
MONGO_URI (or MONGO_PORT), KAFKA_BROKERS, POLL_CATALOG. Exit status: 0 PASS, 1 FAIL,
2 usage or connection error. Needs the venv from locust/setup.sh (pymongo, redis, psycopg2)
and kcat.
"""
import argparse
import glob
import json
import os
import shlex
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def env(name, default):
    v = os.environ.get(name)
    return v if v not in (None, "") else default


def settings(args):
    s = {
        "redis_host": env("REDIS_HOST", "127.0.0.1"),
        "redis_port": int(env("REDIS_PORT", "6379")),
        "redis_prefix": args.redis_prefix,
        "pg": env("PG_CONNINFO", "host=127.0.0.1 port=%s dbname=vote user=vote" % env("PG_PORT", "5432")),
        "mongo": env("MONGO_URI", "mongodb://127.0.0.1:%s/" % env("MONGO_PORT", "27017")),
        "brokers": env("KAFKA_BROKERS", "127.0.0.1:%s" % env("KAFKA_PORT", "9092")),
        "catalog": env("POLL_CATALOG", os.path.join(ROOT, "stack", "polls.json")),
        "vote_topic": args.vote_topic, "chat_topic": args.chat_topic,
        "polls": [p for p in (args.polls or "").split(",") if p],
        "bound_ms": 1000 * getattr(args, "timeout", 5),
    }
    return s


def die(msg, code=2):
    print("audit: %s" % msg, file=sys.stderr)
    sys.exit(code)


def _imports():
    try:
        import pymongo  # noqa: F401
        import psycopg2  # noqa: F401
        import redis  # noqa: F401
    except ImportError as e:
        die("%s - run locust/setup.sh and use .cache/venv/bin/python" % e)


# ----------------------------------------------------------------------------- stores

class Stores:
    def __init__(self, s):
        _imports()
        import pymongo
        import psycopg2
        import redis
        self.s = s
        self.r = redis.Redis(host=s["redis_host"], port=s["redis_port"], socket_timeout=10)
        # a check waits for MongoDB as long as the audit's own bound lets it (then FAILs there)
        self.m = pymongo.MongoClient(s["mongo"], serverSelectionTimeoutMS=max(5000, s["bound_ms"]))
        self.pg = psycopg2.connect(s["pg"], connect_timeout=5)
        self.pg.autocommit = True
        if s.get("polls"):
            self.polls = s["polls"]
        else:
            with open(s["catalog"], encoding="utf-8") as f:
                self.polls = [p["id"] for p in json.load(f)["polls"]]

    def chat_rows_from(self, prefix):
        """messages sent by users whose name starts with prefix (a load run's own users)"""
        pat = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        # The range lets the (sender, id) index find them (the LIKE alone reads the table under
        # any collation but "C"); the LIKE keeps it exact under any collation.
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        with self.pg.cursor() as c:
            c.execute("SELECT count(*) FROM messages WHERE sender >= %s AND sender < %s AND sender LIKE %s",
                      (prefix, upper, pat))
            return c.fetchone()[0]

    def counters(self):
        pre = self.s["redis_prefix"]
        out = {"polls": {}, "taken_at": time.time()}
        for p in self.polls:
            base = "%spoll:%s:" % (pre, p)
            totals = self.r.hgetall(base + "totals")
            out["polls"][p] = {
                "redis_totals_sum": sum(int(v) for v in totals.values()),
                "redis_count": int(self.r.get(base + "count") or 0),
                "redis_dupes": int(self.r.get(base + "dupes") or 0),
            }
        with self.pg.cursor() as c:
            c.execute("SELECT count(*) FROM messages")
            out["pg_messages"] = c.fetchone()[0]
        out["kafka_end"] = {t: kafka_offsets(self.s["brokers"], t)
                            for t in (self.s["vote_topic"], self.s["chat_topic"],
                                      self.s["vote_topic"] + ".dlq", self.s["chat_topic"] + ".dlq")}
        return out

    def lookup_votes(self, ids, progress, threads=8):
        """{id: (poll, duplicate)} of the ids found in vote.votes, one `_id` equality query
        each: the only filter FerretDB's SQLite backend answers from an index (a `$in` or a
        filter on any other field reads the whole collection), so the cost is the run's size
        times log(store size). progress["looked_up"] counts the ids done so far."""
        coll = self.m["vote"]["votes"]
        ids = list(ids)
        found, lock = {}, threading.Lock()
        chunks = [ids[i:i + 250] for i in range(0, len(ids), 250)]

        errors = []

        def work():
            while True:
                with lock:
                    if not chunks or errors:
                        return
                    chunk = chunks.pop()
                mine = {}
                try:
                    for x in chunk:
                        d = coll.find_one({"_id": x}, {"poll": 1, "duplicate": 1})
                        if d is not None:
                            mine[x] = (d.get("poll"), bool(d.get("duplicate")))
                except Exception as e:      # noqa: BLE001 - raised again below
                    with lock:
                        errors.append(e)
                    return
                with lock:
                    found.update(mine)
                    progress["looked_up"] += len(chunk)

        ts = [threading.Thread(target=work, daemon=True) for _ in range(max(1, min(threads, len(chunks))))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if errors:
            raise errors[0]
        return found

    def missing_chat_ids(self, ids):
        found = set()
        with self.pg.cursor() as c:
            for i in range(0, len(ids), 1000):
                c.execute("SELECT id FROM messages WHERE id = ANY(%s)", (ids[i:i + 1000],))
                found.update(r[0] for r in c.fetchall())
        return [x for x in ids if x not in found]

    def applied_offsets(self):
        """next offset to apply per partition, as the sinks record it with their writes"""
        pre = self.s["redis_prefix"]
        votes = {}
        for k, v in self.r.hgetall(pre + "sink:votes:offsets").items():
            topic, _, part = k.decode().rpartition(":")
            if topic == self.s["vote_topic"]:
                votes[int(part)] = int(v)
        chat = {}
        with self.pg.cursor() as c:
            c.execute("SELECT partition, next_offset FROM sink_offsets WHERE topic = %s", (self.s["chat_topic"],))
            for part, off in c.fetchall():
                chat[int(part)] = int(off)
        return votes, chat


def kcat(args, timeout=20):
    try:
        p = subprocess.run(["kcat"] + args, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        die("kcat not found (Debian package kcat)")
    except subprocess.TimeoutExpired:
        return None
    return p.stdout if p.returncode == 0 else None


def kafka_partitions(brokers, topic):
    out = kcat(["-b", brokers, "-L", "-J", "-t", topic])
    if not out:
        return []
    for t in json.loads(out).get("topics", []):
        if t.get("topic") == topic and not t.get("error"):
            return sorted(p["partition"] for p in t.get("partitions", []))
    return []


def kafka_offsets(brokers, topic, which=-1):
    """{partition: end offset} (which=-1) or beginning offset (which=-2)"""
    parts = kafka_partitions(brokers, topic)
    if not parts:
        return {}
    q = []
    for p in parts:
        q += ["-t", "%s:%d:%d" % (topic, p, which)]
    out = kcat(["-b", brokers, "-Q"] + q) or ""
    res = {}
    for line in out.splitlines():
        # "votes [0] offset 1234"
        bits = line.split()
        if len(bits) >= 4 and bits[0] == topic and bits[2] == "offset":
            res[int(bits[1].strip("[]"))] = int(bits[3])
    return res


def kafka_run_votes(brokers, topic, start, end, timeout):
    """The records of topic between the offsets start and end ({partition: offset}; a partition
    missing from start is read from its beginning): -> ({id: poll}, unreadable, error or None).
    This is the run's own slice of the log: what the sinks had to store, whatever else the
    stores hold."""
    out, bad = {}, 0
    start = {int(k): v for k, v in start.items()}      # a snapshot read back from JSON has "0"
    t_end = time.time() + timeout
    for part, e in sorted(end.items()):
        b = start.get(part)
        if b is None:
            b = kafka_offsets(brokers, topic, -2).get(part, 0)
        if e <= b:
            continue
        left = t_end - time.time()
        if left <= 0:
            return out, bad, "no time left to read %s[%d]" % (topic, part)
        text = kcat(["-b", brokers, "-C", "-q", "-J", "-t", topic, "-p", str(part), "-o", str(b),
                     "-c", str(e - b), "-e"], timeout=left)
        if text is None:
            return out, bad, "kcat could not read %s[%d] offsets %d-%d" % (topic, part, b, e)
        n = 0
        for line in text.splitlines():
            if not line.strip():
                continue
            n += 1
            try:
                v = json.loads(json.loads(line).get("payload") or "")
                out[v["id"]] = v["poll"]
            except (ValueError, KeyError, TypeError, AttributeError):
                bad += 1
        if n != e - b:
            return out, bad, "%s[%d]: read %d records of offsets %d-%d" % (topic, part, n, b, e)
    return out, bad, None


def lag_now(st):
    """-> ({'vote-sink': lag, 'chat-sink': lag}, detail text)"""
    s = st.s
    cmd = os.environ.get("KAFKA_LAG_CMD")
    if cmd:
        lags = {}
        for g in ("vote-sink", "chat-sink"):
            p = subprocess.run(shlex.split(cmd) + [g], capture_output=True, text=True, timeout=120)
            lines = [ln.split() for ln in p.stdout.splitlines() if ln.strip()]
            try:
                if len(lines) == 1 and len(lines[0]) == 1:
                    lags[g] = int(lines[0][0])          # one number: the total lag
                else:                                   # rows "topic partition current end lag"
                    lags[g] = sum(int(r[-1]) for r in lines if r[-1].isdigit())
            except ValueError:
                die("KAFKA_LAG_CMD %s %s printed %r" % (cmd, g, p.stdout))
            if p.returncode != 0:
                die("KAFKA_LAG_CMD %s %s failed: %s" % (cmd, g, p.stderr.strip()))
        return lags, "KAFKA_LAG_CMD"
    votes_applied, chat_applied = st.applied_offsets()
    lags, detail = {}, []
    for g, topic, applied in (("vote-sink", s["vote_topic"], votes_applied),
                              ("chat-sink", s["chat_topic"], chat_applied)):
        end = kafka_offsets(s["brokers"], topic, -1)
        begin = kafka_offsets(s["brokers"], topic, -2)
        total = 0
        for part, e in end.items():
            a = applied.get(part, begin.get(part, 0))
            total += max(0, e - a)
            detail.append("%s[%d] end %d applied %d" % (topic, part, e, a))
        lags[g] = total
    return lags, "; ".join(detail)


def wait_drained(st, timeout, quiet=False):
    deadline = time.time() + timeout
    last = None
    while True:
        lags, detail = lag_now(st)
        if all(v == 0 for v in lags.values()):
            if not quiet:
                print("drained: lag vote-sink 0, chat-sink 0 (%s)" % detail)
            return True, lags
        if not quiet and lags != last:
            print("waiting for sinks: lag vote-sink %d, chat-sink %d" % (lags["vote-sink"], lags["chat-sink"]))
            last = lags
        if time.time() >= deadline:
            print("NOT drained after %d s: %s" % (timeout, detail))
            return False, lags
        time.sleep(1)


# ----------------------------------------------------------------------------- results

def load_results(path):
    files = []
    for f in [path] + sorted(glob.glob(path + ".w*")):
        if os.path.exists(f) and not f.endswith(".tmp"):
            files.append(f)
    if not files:
        die("no results file %s (nor %s.w*)" % (path, path))
    agg = {"votes": {}, "chat": {"accepted": 0, "unknown": 0, "status": {}},
           "hostile": {"sent": 0, "as_expected": 0, "unexpected": 0, "accepted": 0, "unknown": 0},
           "files": files, "run_ids": set(), "processes": 0, "chat_prefixes": set(),
           "ids": {}, "has_ids": True, "accepted_without_id": 0, "started_at": None}
    for f in files:
        with open(f) as fh:
            d = json.load(fh)
        agg["run_ids"].add(d.get("run_id"))
        agg["chat_prefixes"].add(d.get("chat_user_prefix"))
        if "ids" not in d:
            agg["has_ids"] = False
        for k, v in d.get("ids", {}).items():
            agg["ids"].setdefault(k, []).extend(v)
        agg["accepted_without_id"] += d.get("accepted_without_id", 0)
        if d.get("started_at") and (agg["started_at"] is None or d["started_at"] < agg["started_at"]):
            agg["started_at"] = d["started_at"]
        agg["processes"] += 1
        for p, c in d.get("votes", {}).items():
            a = agg["votes"].setdefault(p, {"accepted": 0, "accepted_duplicate_voter": 0, "unknown": 0, "status": {}})
            for k in ("accepted", "accepted_duplicate_voter", "unknown"):
                a[k] += c.get(k, 0)
            for k, v in c.get("status", {}).items():
                a["status"][k] = a["status"].get(k, 0) + v
        ch = d.get("chat", {})
        agg["chat"]["accepted"] += ch.get("accepted", 0)
        agg["chat"]["unknown"] += ch.get("unknown", 0)
        for k, v in ch.get("status", {}).items():
            agg["chat"]["status"][k] = agg["chat"]["status"].get(k, 0) + v
        for k in agg["hostile"]:
            agg["hostile"][k] += d.get("hostile", {}).get(k, 0)
    return agg


# ----------------------------------------------------------------------------- checks

def delta(after, before, *path):
    a, b = after, before
    for k in path:
        a = a.get(k, 0) if isinstance(a, dict) else 0
        b = b.get(k, 0) if isinstance(b, dict) else 0
    return (a or 0) - (b or 0)


def dlq_delta(after, before, topic):
    a = sum(after.get("kafka_end", {}).get(topic, {}).values())
    b = sum(before.get("kafka_end", {}).get(topic, {}).values()) if before else 0
    return a - b


def do_checks(args, st, res, before, deadline, a):
    """The checks, cheapest first, into a (the shared audit state): rows, failures, notes, and
    pending, the checks not made yet (what a timeout leaves unchecked)."""
    b = before or {"polls": {}, "pg_messages": 0}

    def check(what, got, want, ok=None):
        good = (got == want) if ok is None else ok
        a["rows"].append((what, got, want, "ok" if good else "MISMATCH"))
        if not good:
            a["failures"].append(what)

    def done(phase):
        a["pending"].remove(phase)

    # The drain may take the bound but a reserve, so the checks still run and say what they see.
    reserve = min(30.0, args.timeout / 4.0)
    drained, lags = wait_drained(st, max(0.0, deadline - reserve - time.time()))
    if not drained:
        a["failures"].append("sinks did not drain within the audit's bound (lag %s)" % lags)
    done("drain")
    after = st.counters()
    a["after"] = after
    done("store counters")

    polls = a["polls"]
    for p in polls:
        c = res["votes"].get(p, {"accepted": 0, "accepted_duplicate_voter": 0, "unknown": 0})
        tot = delta(after, b, "polls", p, "redis_totals_sum")
        cnt = delta(after, b, "polls", p, "redis_count")
        dup = delta(after, b, "polls", p, "redis_dupes")
        if res["has_ids"]:
            check("%s: distinct ids among the 202 answers" % p, len(set(res["ids"].get(p, []))), c["accepted"])
        check("%s: Redis count == sum of totals" % p, cnt, tot)
        check("%s: Redis dupes >= client re-votes accepted" % p, dup, c["accepted_duplicate_voter"],
              ok=dup >= c["accepted_duplicate_voter"])
        if c["unknown"] and not args.allow_unknown:
            check("%s: requests with unknown outcome" % p, c["unknown"], 0)
    if res["accepted_without_id"]:
        check("202 answers without an id in the body", res["accepted_without_id"], 0)
    done("Redis")

    ch = res["chat"]
    if res["has_ids"]:
        cids = res["ids"].get("chat", [])
        check("chat: distinct ids among the 202 answers", len(set(cids)), ch["accepted"])
        lost = st.missing_chat_ids(cids)
        a["lost"]["chat"] = len(lost)
        check("chat: 202 answers missing in PostgreSQL (lost)", len(lost), 0)
        for x in lost[:5]:
            a["notes"].append("lost chat message %s" % x)
    prefixes = res["chat_prefixes"]
    if len(prefixes) == 1 and next(iter(prefixes)):
        # the run's own users only: immune to other chat traffic, no snapshot needed
        a["chat_prefix"] = next(iter(prefixes))
        pgd = st.chat_rows_from(a["chat_prefix"])
    else:
        pgd = after["pg_messages"] - b.get("pg_messages", 0)
    a["pg_rows"] = pgd
    if ch["unknown"] and args.allow_unknown:
        check("chat: 202 <= PostgreSQL rows <= 202 + unknown(%d)" % ch["unknown"], pgd, ch["accepted"],
              ok=ch["accepted"] <= pgd <= ch["accepted"] + ch["unknown"])
    else:
        check("chat: PostgreSQL messages == 202 answers", pgd, ch["accepted"])
        if ch["unknown"]:
            check("chat: requests with unknown outcome", ch["unknown"], 0)
    done("chat")

    h = res["hostile"]
    if h["sent"]:
        check("hostile: accepted (202) hostile requests", h["accepted"], 0)
        check("hostile: answered with another status than the contract's 4xx", h["unexpected"], 0)
        cut = h["sent"] - h["as_expected"] - h["unexpected"]
        if cut > 0:
            # Users stopped at the end of the run while waiting for an answer; nothing hostile can
            # be stored (the stores' equalities below would show it), so this is only reported.
            a["notes"].append("%d hostile request(s) were cut off by the end of the run (no answer read)" % cut)
    for t in (args.vote_topic + ".dlq", args.chat_topic + ".dlq"):
        check("%s: new dead letters" % t, dlq_delta(after, before, t), 0)
    done("hostile, DLQ")

    # The run's votes are the records its Kafka slice holds (offsets at the snapshot to now):
    # MongoDB is asked about those ids and the 202 ids only, never counted as a whole.
    vt = args.vote_topic
    run, bad, err = kafka_run_votes(st.s["brokers"], vt, b.get("kafka_end", {}).get(vt, {}),
                                    after["kafka_end"].get(vt, {}), max(1.0, deadline - time.time()))
    if err:
        check("%s: the run's records read from Kafka (%s)" % (vt, err), "no", "yes")
    if bad:
        a["notes"].append("%d record(s) of the run in %s are no vote (the DLQ check judges them)" % (bad, vt))
    a["kafka_records"] = len(run)
    done("Kafka run records")

    want = set(run)
    for p in polls:
        want.update(res["ids"].get(p, []))
    a["to_look_up"] = len(want)
    found = st.lookup_votes(want, a)
    done("MongoDB look-ups")

    for p in polls:
        c = res["votes"].get(p, {"accepted": 0, "accepted_duplicate_voter": 0, "unknown": 0})
        n202, unknown = c["accepted"], c["unknown"]
        ids = res["ids"].get(p, [])
        kp = [x for x, q in run.items() if q == p]
        m = sum(1 for x in kp if found.get(x, (None,))[0] == p)
        mdup = sum(1 for x in kp if found.get(x) == (p, True))
        a["mongo"][p] = (m, mdup)
        tot = delta(after, b, "polls", p, "redis_totals_sum")
        dup = delta(after, b, "polls", p, "redis_dupes")
        if res["has_ids"]:
            lost = [x for x in ids if found.get(x, (None,))[0] != p]
            a["lost"][p] = len(lost)
            check("%s: 202 answers missing in MongoDB (lost)" % p, len(lost), 0)
            for x in lost[:5]:
                a["notes"].append("lost %s vote %s" % (p, x))
        check("%s: the run's Kafka records missing in MongoDB" % p, len(kp) - m, 0)
        if args.shared:
            pass          # other writers: only the id lookups and the internal checks hold
        elif unknown and args.allow_unknown:
            check("%s: 202 answers <= MongoDB docs <= 202 + unknown(%d)" % (p, unknown), m, n202,
                  ok=n202 <= m <= n202 + unknown)
        else:
            check("%s: MongoDB docs == 202 answers" % p, m, n202)
        if m != n202 and res["has_ids"]:
            mine = set(ids)
            other = [x for x in kp if x not in mine]
            if other:
                a["notes"].append("%s: %d record(s) of the run's Kafka slice are no 202 answer of this "
                                  "run (other writers, or a refused request that was stored anyway): %s"
                                  % (p, len(other), "; ".join(other[:5])))
        check("%s: Redis totals + dupes == MongoDB docs" % p, tot + dup, m)
        check("%s: Redis dupes == MongoDB duplicate:true" % p, dup, mdup)
    done("MongoDB")


def report(args, res, before, a, elapsed):
    print()
    print("zero-loss audit  run %s  (%d load process%s, %s)" % (
        next(iter(res["run_ids"])), res["processes"], "" if res["processes"] == 1 else "es",
        "delta since snapshot " + args.before if before else "absolute counts, no snapshot"))
    print()
    b, after = before or {"polls": {}}, a.get("after")
    print("%-10s %10s %10s %10s %10s %10s %10s %8s" % ("poll", "202s", "re-votes", "mongo", "dup-flag",
                                                        "redis-sum", "redis-dup", "unknown"))
    for p in a["polls"]:
        c = res["votes"].get(p, {"accepted": 0, "accepted_duplicate_voter": 0, "unknown": 0})
        m, mdup = a["mongo"].get(p, ("-", "-"))
        rs = delta(after, b, "polls", p, "redis_totals_sum") if after else "-"
        rd = delta(after, b, "polls", p, "redis_dupes") if after else "-"
        print("%-10s %10d %10d %10s %10s %10s %10s %8d" % (
            p[:10], c["accepted"], c["accepted_duplicate_voter"], m, mdup, rs, rd, c["unknown"]))
    ch = res["chat"]
    print("%-10s %10d %10s %10s %10s %10s %10s %8d   (PostgreSQL rows: %s%s)" % (
        "chat", ch["accepted"], "-", "-", "-", "-", "-", ch["unknown"], a.get("pg_rows", "-"),
        ", senders %s*" % a["chat_prefix"] if a.get("chat_prefix") else ""))
    h = res["hostile"]
    if h["sent"]:
        print("hostile: %d sent, %d refused as expected, %d unexpected, %d accepted" % (
            h["sent"], h["as_expected"], h["unexpected"], h["accepted"]))
    print()
    for what, got, want, verdict in a["rows"]:
        print("  %-8s %-60s got %-10s want %s" % (verdict, what, got, want))
    for n in a["notes"]:
        print("  note: %s" % n)
    for n in a["pending"]:
        print("  NOT CHECKED %s" % n)
    print()
    print("audit took %.1f s (bound %d s): %s run records from Kafka, %d of %d ids looked up in MongoDB"
          % (elapsed, args.timeout, a.get("kafka_records", "-"), a["looked_up"], a["to_look_up"]))
    if a["failures"] or a["pending"]:
        print("FAIL: %d check(s) failed%s" % (len(a["failures"]), ", %d not made" % len(a["pending"])
                                                if a["pending"] else ""))
        for f in a["failures"]:
            print("  - %s" % f)
        return 1
    print("PASS: every 202 is stored exactly once (0 lost, 0 double)")
    return 0


def write_json(path, res, before, a, rc):
    """The audit's figures for scripts (the cluster test's scenario table); None = not measured."""
    b, after = before or {"polls": {}}, a.get("after")
    out = {"pass": rc == 0, "failures": a["failures"], "pending": a["pending"], "polls": {},
           "chat": {"accepted": res["chat"]["accepted"], "unknown": res["chat"]["unknown"],
                    "pg_rows": a.get("pg_rows"), "lost": a["lost"].get("chat")}}
    for p in a["polls"]:
        c = res["votes"].get(p, {"accepted": 0, "unknown": 0})
        m = a["mongo"].get(p)
        out["polls"][p] = {
            "accepted": c["accepted"], "unknown": c["unknown"], "lost": a["lost"].get(p),
            "mongo": m[0] if m else None,
            "redis_sum": delta(after, b, "polls", p, "redis_totals_sum") if after else None,
            "redis_dupes": delta(after, b, "polls", p, "redis_dupes") if after else None}
    with open(path + ".tmp", "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)


# What each phase of do_checks proves, for the report of an audit cut by its bound.
PHASES = [
    ("drain", "sinks drained (lag 0 against the offsets they applied)"),
    ("store counters", "store counters after the run (Redis, PostgreSQL, Kafka end offsets)"),
    ("Redis", "distinct 202 ids; Redis count == sum of totals; dupes >= re-votes; unknown outcomes"),
    ("chat", "chat: every 202 id in PostgreSQL; rows == 202s"),
    ("hostile, DLQ", "hostile requests refused; no new dead letters"),
    ("Kafka run records", "the run's vote records read from Kafka"),
    ("MongoDB look-ups", "MongoDB look-ups of the run's ids"),
    ("MongoDB", "every 202 id in MongoDB; MongoDB docs == 202s; Redis totals + dupes == MongoDB; "
                "Redis dupes == MongoDB duplicate:true"),
]


def run_check(args, st):
    """Runs do_checks under the --timeout bound: past it, reports what was and was not checked
    and FAILs, whatever a store is still doing."""
    t0 = time.time()
    deadline = t0 + args.timeout
    res = load_results(args.results)
    if len(res["run_ids"]) > 1:
        print("FAIL: results files belong to different runs: %s" % sorted(map(str, res["run_ids"])))
        return 1
    before = None
    if args.before:
        with open(args.before) as f:
            before = json.load(f)
    a = {"rows": [], "failures": [], "notes": [], "pending": [p for p, _ in PHASES], "mongo": {}, "lost": {},
         "looked_up": 0, "to_look_up": 0, "polls": sorted(set(st.polls) | set(res["votes"]))}
    err = []

    def body():
        try:
            do_checks(args, st, res, before, deadline, a)
        except Exception as e:       # noqa: BLE001 - a store error is a FAIL with its name
            err.append("%s: %s" % (type(e).__name__, e))

    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join(max(0.0, deadline - time.time()))
    if t.is_alive():
        a["failures"].append("the audit's bound of %d s passed (%d of %d MongoDB look-ups made)"
                             % (args.timeout, a["looked_up"], a["to_look_up"]))
    if err:
        a["failures"].append("store error: %s" % err[0])
    what = dict(PHASES)
    # a copy: the checking thread may still be adding to a
    seen = dict(a, rows=list(a["rows"]), failures=list(a["failures"]), notes=list(a["notes"]),
                mongo=dict(a["mongo"]), pending=[what[p] for p in list(a["pending"])])
    rc = report(args, res, before, seen, time.time() - t0)
    if args.json:
        write_json(args.json, res, before, seen, rc)
    if t.is_alive():
        sys.stdout.flush()
        os._exit(rc)      # the checking thread may sit in a store call: do not wait for it
    return rc


def main(argv=None):
    ap = argparse.ArgumentParser(description="Zero-loss audit after a load/chaos run (see module docstring).",
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--redis-prefix", default=env("VOTE_SINK_REDIS_PREFIX", ""),
                    help="key prefix the vote sink uses (default $VOTE_SINK_REDIS_PREFIX or none)")
    ap.add_argument("--vote-topic", default=env("VOTE_TOPIC", "votes"))
    ap.add_argument("--chat-topic", default=env("CHAT_TOPIC", "chat"))
    ap.add_argument("--polls", help="comma-separated poll ids to audit (default: every poll in $POLL_CATALOG)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("snapshot", help="record store counters before a run")
    sp.add_argument("--out", required=True)
    sc = sub.add_parser("check", help="wait for the sinks, compare with the load results")
    sc.add_argument("--results", required=True, help="LOAD_RESULT_FILE of the run (its .w* siblings are read too)")
    sc.add_argument("--before", help="snapshot taken before the run (without it: absolute counts)")
    sc.add_argument("--timeout", type=int, default=120,
                    help="bound of the whole check, drain included (default 120 s): past it, FAIL "
                         "with what was and was not checked")
    sc.add_argument("--shared", action="store_true",
                    help="the stack has other writers: skip 'MongoDB docs == 202s'; every 202 id must "
                         "still be stored, and Redis must still agree with MongoDB")
    sc.add_argument("--json", help="also write the figures and the verdict to this file (JSON)")
    sc.add_argument("--allow-unknown", action="store_true",
                    help="accept stores holding up to N more than the 202s when N requests had no answer")
    sub.add_parser("show", help="print store counters and lag now")
    args = ap.parse_args(argv)

    try:
        st = Stores(settings(args))
    except SystemExit:
        raise
    except Exception as e:   # connection problems: name them, exit 2
        die("cannot connect to the stores: %s: %s" % (type(e).__name__, e))

    if args.cmd == "snapshot":
        c = st.counters()
        tmp = args.out + ".tmp"
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(tmp, "w") as f:
            json.dump(c, f, indent=1, sort_keys=True)
        os.replace(tmp, args.out)
        print("snapshot written to %s" % args.out)
        return 0
    if args.cmd == "show":
        print(json.dumps(st.counters(), indent=1, sort_keys=True))
        lags, detail = lag_now(st)
        print("lag: %s (%s)" % (lags, detail))
        return 0
    return run_check(args, st)


if __name__ == "__main__":
    sys.exit(main())
