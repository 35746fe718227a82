#!/usr/bin/env python3
"""pipeline.py - the whole pipeline's sustained vote rate (./build.sh bench pipeline).

Offered load steps through the running stack's edge (the shipped nginx-conf/, over HTTPS) with
every sink and the api running:

  1. baseline: the slowest store's own ingest rate alone - the vote sink's MongoDB writes (its
     document shape, batches of 1000) from a plain mongo-c-driver client (`sink-inspect bench`);
  2. steps at fractions of that rate (PIPELINE_FRACTIONS), PIPELINE_STEP_SECONDS each: wrk paced
     at the step's rate (stack/bench/edge/paced.lua, keep-alive, one POST /api/votes per slot), while
     this script samples the vote sink's consumer lag (its /metrics, every 0.5 s) and measures
     freshness: a probe votes for a choice the load never uses, then reads the results through
     the edge until its vote is counted; freshness is 202 to seen;
  3. per step, each party's CPU per vote (cpu-snap.py over /proc; wrk's from this process's
     waited-for children) and whether the step was sustained: no error, the vote sink's lag at
     its end <= one second of the achieved rate, freshness p99 < 1 s. The sustained rate is the
     highest achieved rate of a sustained step: where the achieved rate falls short of the
     offered one, the edge answered slower than the load asked (wrk's connections all waited);
  4. the zero-loss audit (locust/audit.py) over every 202 id the steps received, with the
     requests still in flight when wrk stopped counted as unknown.

Writes OUT_DIR/pipeline.md (the section of docs/BENCHMARKS.md) and OUT_DIR/pipeline-lag.png
(lag and freshness over the run). Exit 1 if the audit fails. Reads build.sh's settings from the
environment (eval "$(./build.sh env)").
"""
import json
import os
import resource
import re
import ssl
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
POLL, LOAD_CHOICE, PROBE_CHOICE = "band-contest", "quetzal-punk", "ruta-sur"


def env(name, default=None):
    v = os.environ.get(name)
    if v in (None, ""):
        if default is None:
            sys.exit("pipeline.py: %s is not set (eval \"$(./build.sh env)\")" % name)
        return default
    return v


EDGE = env("EDGE_URL")
CTX = ssl.create_default_context(cafile=env("EDGE_CA_FILE"))
STATE, BUILD = env("STATE_DIR"), env("BUILD_DIR")
OUT = env("PIPELINE_OUT", os.path.join(STATE, "bench"))
STEP_S = float(env("PIPELINE_STEP_SECONDS", "10"))
FRACTIONS = [float(x) for x in env("PIPELINE_FRACTIONS", "0.3 0.5 0.7 0.9 1.1").split()]
CONNS = int(env("PIPELINE_CONNECTIONS", "64"))
BASE_DOCS = int(env("PIPELINE_BASELINE_DOCS", "50000"))
PY = sys.executable
SNAP = os.path.join(ROOT, "stack/bench/sinks/cpu-snap.py")
PARTIES = ["edge", "kafka", "redis", "mongo", "postgres", "vote-sink", "chat-sink", "api", "wrk"]


def http(method, url, body=None):
    req = urllib.request.Request(url, data=body, method=method,
                                 headers={"Content-Type": "application/json"} if body else {})
    with urllib.request.urlopen(req, context=CTX, timeout=10) as r:
        return r.status, json.loads(r.read() or b"{}")


def metric(port, name):
    with urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port, timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def pid_of(service):
    with open(os.path.join(STATE, "run", service + ".pid")) as f:
        return int(f.read().strip())


def party_specs():
    """cpu-snap.py labels: the edge's workers (children of its master), each service by its pid
    file, PostgreSQL with every child."""
    specs = []
    master = pid_of("edge")
    for w in subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split():
        specs.append("edge.%s=%s" % (w, w))
    for label, svc, mode in (("kafka", "kafka", ""), ("redis", "redis", ""), ("mongo", "mongo", ""),
                             ("postgres", "postgres", "/pg"), ("vote-sink", "vote-sink", ""),
                             ("chat-sink", "chat-sink", ""), ("api", "api", "")):
        try:
            specs.append("%s=%d%s" % (label, pid_of(svc), mode))
        except OSError:
            pass
    return specs


def cpu_per_vote(a, b, votes):
    out = {}
    da, db = json.load(open(a)), json.load(open(b))
    hz = os.sysconf("SC_CLK_TCK")
    for label, parts in db.items():
        if label == "_machine":
            continue
        before = da.get(label, {})
        t = sum(max(0, v - before.get(k, 0)) for k, v in parts.items())
        party = label.split(".")[0]
        out[party] = out.get(party, 0) + t
    busy = db["_machine"] - da["_machine"]
    out["machine"] = busy
    return {k: v / hz * 1e6 / max(1, votes) for k, v in out.items()}


class Sampler(threading.Thread):
    """Lag of the vote sink every 0.5 s, and freshness probes one after another."""

    def __init__(self, t0):
        super().__init__(daemon=True)
        self.t0, self.stop, self.lag, self.fresh = t0, threading.Event(), [], []
        self.port = env("VOTE_SINK_METRICS_PORT", "9101")
        self.probe_ids = []
        self.probe_unknown = 0

    def counted(self):
        _, r = http("GET", EDGE + "/api/polls/%s/results" % POLL)
        return r["totals"].get(PROBE_CHOICE, 0)

    def run(self):
        seen = self.counted()
        threading.Thread(target=self.lag_loop, daemon=True).start()
        while not self.stop.is_set():
            body = json.dumps({"poll": POLL, "choice": PROBE_CHOICE}).encode()
            try:
                st, r = http("POST", EDGE + "/api/votes", body)
            except Exception:       # noqa: BLE001 - an unanswered probe is an unknown outcome
                self.probe_unknown += 1
                continue
            t202 = time.monotonic()
            if st != 202:
                continue
            self.probe_ids.append(r["id"])
            seen += 1
            while not self.stop.is_set() and time.monotonic() - t202 < 30:
                if self.counted() >= seen:
                    self.fresh.append((t202 - self.t0, time.monotonic() - t202))
                    break
                time.sleep(0.02)
            time.sleep(0.2)

    def lag_loop(self):
        while not self.stop.is_set():
            try:
                self.lag.append((time.monotonic() - self.t0, metric(self.port, "sink_lag_messages")))
            except OSError:
                pass
            time.sleep(0.5)


def p99(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.99 * (len(xs) - 1))))] if xs else float("nan")


def wait_drained(port, limit=120):
    t = time.monotonic()
    while time.monotonic() - t < limit:
        if metric(port, "sink_lag_messages") == 0:
            return True
        time.sleep(0.5)
    return False


def main():
    os.makedirs(OUT, exist_ok=True)
    run = "pipe%d" % os.getpid()
    body = os.path.join(OUT, "pipeline-vote.json")
    with open(body, "w") as f:
        f.write(json.dumps({"poll": POLL, "choice": LOAD_CHOICE}))
    ids_file = os.path.join(OUT, "pipeline-ids.txt")
    open(ids_file, "w").close()
    inspect = os.path.join(BUILD, "bin", "sink-inspect")
    mongo = env("MONGO_URI")

    print("== baseline: %d vote documents into MongoDB-wire from a plain client" % BASE_DOCS, flush=True)
    out = subprocess.run([inspect, mongo, run, "votes", "bench", str(BASE_DOCS), "1000"],
                         capture_output=True, text=True, check=True).stdout
    subprocess.run([inspect, mongo, run, "votes", "drop"], capture_output=True)
    base = float(re.search(r"docs_per_sec=(\d+)", out).group(1))
    print("   %.0f docs/s" % base, flush=True)

    audit = [PY, os.path.join(ROOT, "locust/audit.py")]
    before = os.path.join(OUT, "pipeline-before.json")
    subprocess.run(audit + ["snapshot", "--out", before], check=True, capture_output=True)
    vport = env("VOTE_SINK_METRICS_PORT", "9101")
    t0 = time.monotonic()
    sampler = Sampler(t0)
    sampler.start()
    steps, accepted, statuses = [], 0, {}
    for frac in FRACTIONS:
        rate = max(1, int(base * frac))
        print("== step: %.0f votes/s offered (%.1f x baseline), %gs" % (rate, frac, STEP_S), flush=True)
        shell = subprocess.Popen(["bash", "-c", 'wrk -t1 -c%d -d%ds --latency -s "$LUA" "$URL"; sleep 0.3'
                                  % (CONNS, STEP_S)],
                                 env=dict(os.environ, BODY_FILE=body, RATE=str(rate), CONNS=str(CONNS),
                                          IDS_FILE=ids_file, LUA=os.path.join(ROOT, "stack/bench/edge/paced.lua"),
                                          URL=EDGE + "/api/votes"),
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        a, b = os.path.join(OUT, "cpu-a.json"), os.path.join(OUT, "cpu-b.json")
        subprocess.run([PY, SNAP, "snap", a] + party_specs(), check=True)
        s0 = time.monotonic() - t0
        wrk = shell.communicate()[0]
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([PY, SNAP, "snap", b] + party_specs(), check=True)
        s1 = time.monotonic() - t0
        with open(os.path.join(OUT, "pipeline-wrk.log"), "a") as f:
            f.write(wrk)
        n = int(re.search(r"(\d+) requests in", wrk).group(1))
        non2xx = int((re.search(r"Non-2xx or 3xx responses: (\d+)", wrk) or [0, 0])[1])
        sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", wrk)
        errors = non2xx + (sum(int(x) for x in sock.groups()) if sock else 0)
        achieved = n / STEP_S
        ok202 = n - non2xx
        accepted += ok202
        statuses["202"] = statuses.get("202", 0) + ok202
        if non2xx:
            statuses["other"] = statuses.get("other", 0) + non2xx
        lag_end = metric(vport, "sink_lag_messages")
        fresh = [f for t, f in sampler.fresh if s0 + 2 <= t <= s1]
        cpu = cpu_per_vote(a, b, ok202)
        # wrk (and the two snapshots, a few ms) ended as children of this process
        cpu["wrk"] = ((ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)) * 1e6 / max(1, ok202)
        sustained = (errors == 0 and lag_end <= achieved and fresh and p99(fresh) < 1.0)
        steps.append(dict(frac=frac, rate=rate, achieved=achieved, errors=errors, lag_end=lag_end,
                          lag_max=max([v for t, v in sampler.lag if s0 <= t <= s1] or [0]),
                          fresh_p50=statistics.median(fresh) if fresh else float("nan"),
                          fresh_p99=p99(fresh), probes=len(fresh), cpu=cpu, sustained=bool(sustained),
                          span=(s0, s1)))
        st = steps[-1]
        print("   achieved %.0f/s, errors %d, lag end %d (max %d), freshness p50 %.3f p99 %.3f s (%d probes): %s"
              % (achieved, errors, lag_end, st["lag_max"], st["fresh_p50"], st["fresh_p99"], len(fresh),
                 "sustained" if sustained else "NOT sustained"), flush=True)
        if not wait_drained(vport):
            print("   the vote sink did not drain within 120 s", flush=True)
    sampler.stop.set()
    sampler.join(timeout=35)

    # The audit's input: the 202 ids of the load and of the probes, the requests in flight when
    # each wrk stopped (at most its connections) and unanswered probes as unknown outcomes.
    ids = [x.strip() for x in open(ids_file) if x.strip()] + sampler.probe_ids
    unknown = CONNS * len(FRACTIONS) + sampler.probe_unknown
    results = os.path.join(OUT, "pipeline-results.json")
    with open(results, "w") as f:
        json.dump({"run_id": run, "votes": {POLL: {"accepted": len(ids), "accepted_duplicate_voter": 0,
                                                    "unknown": unknown, "status": statuses}},
                   "ids": {POLL: ids}, "chat": {"accepted": 0, "unknown": 0, "status": {}}}, f)
    print("== audit: %d 202 ids, up to %d unknown outcomes" % (len(ids), unknown), flush=True)
    t = time.monotonic()
    # The audit looks every id up by `_id` (~2000/s here), so its bound grows with the run.
    bound = max(120, len(ids) // 1000 + 60)
    ar = subprocess.run(audit + ["check", "--results", results, "--before", before, "--timeout", str(bound),
                                 "--allow-unknown"], capture_output=True, text=True)
    audit_s = time.monotonic() - t
    with open(os.path.join(OUT, "pipeline-audit.log"), "w") as f:
        f.write(ar.stdout + ar.stderr)
    verdict = "PASS" if ar.returncode == 0 else "FAIL"
    print(ar.stdout[-1500:], flush=True)

    best = max([s for s in steps if s["sustained"]], key=lambda s: s["achieved"], default=None)
    plot(steps, sampler)
    write_md(base, steps, best, verdict, audit_s, len(ids), unknown)
    return 0 if verdict == "PASS" else 1


def plot(steps, sampler):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    ax[0].plot([t for t, _ in sampler.lag], [v for _, v in sampler.lag], lw=1)
    ax[0].set_ylabel("vote sink lag (messages)")
    ax[1].plot([t for t, _ in sampler.fresh], [f * 1000 for _, f in sampler.fresh], ".", ms=3)
    ax[1].axhline(1000, color="red", lw=0.8, ls="--")
    ax[1].set_ylabel("202 to counted (ms)")
    ax[1].set_xlabel("seconds since the first step")
    for s in steps:
        for a in ax:
            a.axvspan(s["span"][0], s["span"][1], alpha=0.08, color="green" if s["sustained"] else "red")
        ax[0].annotate("%.0f/s" % s["rate"], (s["span"][0], 0), fontsize=8)
    fig.suptitle("Pipeline: offered vote rate steps through the shipped edge")
    fig.tight_layout()
    fig.savefig(os.path.join(OUT, "pipeline-lag.png"), dpi=90)


def write_md(base, steps, best, verdict, audit_s, n_ids, unknown):
    lines = []
    lines.append("Baseline (the slowest store alone): %.0f vote documents/s into the MongoDB-wire server "
                 "from one mongo-c-driver client, batches of 1000. Steps of %gs through the shipped edge "
                 "over HTTPS (wrk paced, %d keep-alive connections), every sink and the api running; "
                 "a step is sustained when it had no errors, the vote sink's lag at its end was <= "
                 "one second of votes and results through the edge were < 1 s behind the 202s at "
                 "p99; an achieved rate below the offered one is the edge answering slower than "
                 "the load asked, with every wrk connection waiting (`stack/bench/pipeline/pipeline.py`)." % (base, STEP_S, CONNS))
    lines.append("")
    hdr = "| offered /s | x baseline | achieved /s | errors | lag end | lag max | fresh p50 s | fresh p99 s | sustained |"
    lines += [hdr, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for s in steps:
        lines.append("| %d | %.2f | %.0f | %d | %d | %d | %.3f | %.3f | %s |" % (
            s["rate"], s["frac"], s["achieved"], s["errors"], s["lag_end"], s["lag_max"],
            s["fresh_p50"], s["fresh_p99"], "yes" if s["sustained"] else "no"))
    lines.append("")
    if best:
        lines.append("**Highest sustained rate: %.0f votes/s = %.2f x the slowest store alone** (target >= 0.9; "
                     "offered %d/s in that step)." % (best["achieved"], best["achieved"] / base, best["rate"]))
    else:
        lines.append("**No step was sustained.**")
    lines.append("")
    lines.append("CPU per vote of each party (us, /proc ticks over each step; machine = every busy tick):")
    lines.append("")
    lines.append("| offered /s | " + " | ".join(PARTIES + ["machine"]) + " |")
    lines.append("| ---: | " + " | ".join(["---:"] * (len(PARTIES) + 1)) + " |")
    for s in steps:
        lines.append("| %d | " % s["rate"] + " | ".join("%.1f" % s["cpu"].get(p, 0) for p in PARTIES + ["machine"]) + " |")
    lines.append("")
    lines.append("Zero-loss audit of every 202 (%d ids, up to %d requests in flight when a step ended counted "
                 "as unknown): **%s** in %.1f s (log: `$STATE_DIR/bench/pipeline-audit.log`)."
                 % (n_ids, unknown, verdict, audit_s))
    lines.append("")
    lines.append("![lag and freshness over the steps](bench-pipeline-lag.png)")
    with open(os.path.join(OUT, "pipeline.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
