"""locustfile.py - load profiles for the vote & chat edge (Locust 2.32, FastHttpUser).

Users:
  VoteUser     votes in the Guatemala 2027 election (voter, department, municipality,
               station drawn from the generated data set, party by regional preference)
               and in the band contest; expects 202. A small share of election votes
               deliberately reuse a voter that was already accepted (LOAD_DUP_RATE) to
               exercise the one-vote-per-voter rule.
  ChatUser     registers, logs in, sends 1:1 messages to other simulated users, reads
               conversations and history; expects 202 for sends.
  BuyerUser    (profile "flash") a bookstore buyer in a flash sale: the first buyer of the
               process publishes the sale's book (LOAD_FLASH_COPIES copies, as a seller), then
               every buyer browses the catalog, orders one copy (POST /api/orders, expects 202
               {"id","status":"pending"}) and looks at their orders. Tokens are signed with the
               stack's key (JWT_SECRETS_FILE), as the api daemon signs a login.
  HostileUser  (profile "hostile") sends malformed / hostile requests - bad JSON, invalid
               UTF-8, wrong types, unknown poll, oversized and deeply nested bodies, wrong
               content type and method, forged / alg=none / expired / tampered tokens,
               SQL-injection strings - and marks a failure unless the contract's 4xx comes back.

Shape: every profile is driven by ProfileShape (env below): ramp to the peak, hold, and for
"burst" (election night) drop to a tail before stopping. Set LOAD_NO_SHAPE=1 to use -u/-t.

Exact counts: every 202 is counted per poll (and chat), and its id kept, in this process;
counters and ids are written as JSON to LOAD_RESULT_FILE when the test stops (worker processes write LOAD_RESULT_FILE.w<pid>).
Users are stopped gracefully (stop_timeout defaults to 30 s > request timeout), so no
request is cut in half; a request that ends without any HTTP status (timeout, reset), or with
the edge's 503 ack_timeout (handed to Kafka, not acknowledged in time), is counted as "unknown" -
the audit (locust/audit.py) needs those to be 0 for an exact PASS, or --allow-unknown.

Environment:
  LOAD_PROFILE       smoke | steady | burst | hostile | flash    (default steady)
  LOAD_USERS         peak users              (default per profile: 10/40/150/40/200)
  LOAD_DURATION      total seconds           (default per profile: 20/60/90/60/30)
  LOAD_FLASH_COPIES  copies of the flash sale's book (default 10)
  LOAD_SPAWN_RATE    users started per second (default: peak/10, at least 1)
  LOAD_DATASET       data set from gen_dataset.py (default $STATE_DIR/load/dataset.json;
                     generated in memory with seed 2027 when the file does not exist)
  LOAD_RESULT_FILE   where to write the counters (default ./load-results.json)
  LOAD_RUN_ID        tag for this run: makes voter ids and chat usernames unique per run
                     (default: current time)
  LOAD_DUP_RATE      share of election votes that reuse an accepted voter (default 0.02)
  JWT_SECRETS_FILE   when readable (default $STATE_DIR/jwt-secrets), HostileUser also sends
                     an expired and a tampered token signed with the real key
  --host / LOAD_HOST edge base URL (default $EDGE_URL, https://127.0.0.1:8443)
  EDGE_CA_FILE       the CA the edge's certificate is verified against (default
                     $STATE_DIR/tls/ca.crt, the local CA build.sh creates)

Example:
  LOAD_PROFILE=burst LOAD_RESULT_FILE=/tmp/r.json \
    .cache/venv/bin/locust -f locust/locustfile.py --headless --csv /tmp/run
"""
import base64
import hashlib
import hmac
import json
import os
import random
import string
import sys
import threading
import time
from collections import defaultdict

import gevent.ssl
from locust import FastHttpUser, LoadTestShape, between, events, task

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_dataset  # noqa: E402  (same folder)

STATE_DIR = os.environ.get("STATE_DIR", os.path.join(os.path.dirname(HERE), ".state"))
EDGE_URL = os.environ.get("EDGE_URL", "https://127.0.0.1:8443")
EDGE_CA_FILE = os.environ.get("EDGE_CA_FILE", os.path.join(STATE_DIR, "tls", "ca.crt"))

PROFILES = {
    # name: (peak users, duration s, weights {user class: weight}, shape kind)
    "smoke":   (10, 20, {"VoteUser": 3, "ChatUser": 1, "HostileUser": 0, "BuyerUser": 0}, "steady"),
    "steady":  (40, 60, {"VoteUser": 8, "ChatUser": 2, "HostileUser": 0, "BuyerUser": 0}, "steady"),
    "burst":   (150, 90, {"VoteUser": 9, "ChatUser": 1, "HostileUser": 0, "BuyerUser": 0}, "burst"),
    "hostile": (40, 60, {"VoteUser": 6, "ChatUser": 3, "HostileUser": 1, "BuyerUser": 0}, "steady"),
    # the bookstore's flash sale: buyers only, ramped fast to the peak (burst shape)
    "flash":   (200, 30, {"VoteUser": 0, "ChatUser": 0, "HostileUser": 0, "BuyerUser": 1}, "burst"),
}
PROFILE = os.environ.get("LOAD_PROFILE", "steady")
if PROFILE not in PROFILES:
    raise SystemExit("locustfile: unknown LOAD_PROFILE %r (one of %s)" % (PROFILE, ", ".join(PROFILES)))
PEAK_USERS = int(os.environ.get("LOAD_USERS") or PROFILES[PROFILE][0])
DURATION = float(os.environ.get("LOAD_DURATION") or PROFILES[PROFILE][1])
SPAWN_RATE = float(os.environ.get("LOAD_SPAWN_RATE") or max(1.0, PEAK_USERS / 10.0))
WEIGHTS = PROFILES[PROFILE][2]
SHAPE_KIND = PROFILES[PROFILE][3]
RUN_ID = os.environ.get("LOAD_RUN_ID") or time.strftime("%Y%m%d%H%M%S")
RESULT_FILE = os.environ.get("LOAD_RESULT_FILE", "load-results.json")
DUP_RATE = float(os.environ.get("LOAD_DUP_RATE", "0.02"))
JWT_SECRETS_FILE = os.environ.get("JWT_SECRETS_FILE", os.path.join(STATE_DIR, "jwt-secrets"))
REQUEST_TIMEOUT = 10.0
STOP_TIMEOUT = 30.0

# ----------------------------------------------------------------------------- data set


def _load_dataset():
    path = os.environ.get("LOAD_DATASET", os.path.join(STATE_DIR, "load", "dataset.json"))
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f), path
    args = type("A", (), {})()
    args.seed, args.voters, args.stations_min, args.stations_max = 2027, 20000, 2, 60
    args.geo = os.path.join(os.path.dirname(HERE), "stack", "data", "guatemala.json")
    args.catalog = os.environ.get("POLL_CATALOG", os.path.join(os.path.dirname(HERE), "stack", "polls.json"))
    return gen_dataset.build(args), "(generated in memory, seed 2027)"


DATASET, DATASET_SOURCE = _load_dataset()
ELECTION = DATASET["election"]
ELECTION_POLL = ELECTION["poll"]
BAND = DATASET["band_contest"]
BAND_POLL = BAND["poll"]
VOTERS = DATASET["voters"]
DEPT_WEIGHTS = {d["name"]: (list(d["choice_weights"].keys()), list(d["choice_weights"].values()))
                for d in ELECTION["departments"]}
BAND_CHOICES = list(BAND["weights"].keys())
BAND_W = list(BAND["weights"].values())

# ----------------------------------------------------------------------------- counters


def _new_counters():
    return {
        "votes": defaultdict(lambda: {"accepted": 0, "accepted_duplicate_voter": 0,
                                      "unknown": 0, "status": defaultdict(int)}),
        "chat": {"accepted": 0, "unknown": 0, "status": defaultdict(int)},
        "orders": {"accepted": 0, "unknown": 0, "status": defaultdict(int)},
        "books": [],                       # books this process published (the flash sale's)
        "hostile": {"sent": 0, "as_expected": 0, "unexpected": 0, "accepted": 0,
                    "unknown": 0, "by_case": defaultdict(lambda: defaultdict(int))},
        "accounts": {"registered": 0, "login_failed": 0},
        "ids": defaultdict(list),          # poll (or "chat") -> ids of the 202 answers
        "accepted_without_id": 0,
    }


COUNTERS = _new_counters()
COUNTERS_LOCK = threading.Lock()   # gevent greenlets do not preempt, this guards the writer
STARTED_AT = None
WORKER_SLOT = 0                    # 0 for a local run, the worker index in distributed mode


def _write_results(environment, final):
    runner = environment.runner
    kind = type(runner).__name__ if runner else "none"
    if kind == "MasterRunner":
        return                      # masters make no requests
    path = RESULT_FILE if kind != "WorkerRunner" else "%s.w%d" % (RESULT_FILE, os.getpid())
    with COUNTERS_LOCK:
        data = {
            "about": "202 counters written by locust/locustfile.py at test stop",
            "run_id": RUN_ID, "profile": PROFILE, "pid": os.getpid(), "runner": kind,
            "worker_slot": WORKER_SLOT, "final": final, "host": environment.host,
            "dataset": DATASET_SOURCE, "started_at": STARTED_AT, "written_at": time.time(),
            "chat_user_prefix": CHAT_PREFIX,
            "votes": {p: {"accepted": c["accepted"], "accepted_duplicate_voter": c["accepted_duplicate_voter"],
                          "unknown": c["unknown"], "status": dict(c["status"])}
                      for p, c in COUNTERS["votes"].items()},
            "chat": {"accepted": COUNTERS["chat"]["accepted"], "unknown": COUNTERS["chat"]["unknown"],
                     "status": dict(COUNTERS["chat"]["status"])},
            "orders": {"accepted": COUNTERS["orders"]["accepted"], "unknown": COUNTERS["orders"]["unknown"],
                       "status": dict(COUNTERS["orders"]["status"])},
            "books": list(COUNTERS["books"]),
            "hostile": {k: v for k, v in COUNTERS["hostile"].items() if k != "by_case"},
            "hostile_by_case": {k: dict(v) for k, v in COUNTERS["hostile"]["by_case"].items()},
            "accounts": dict(COUNTERS["accounts"]),
            "accepted_without_id": COUNTERS["accepted_without_id"],
            "ids": {k: list(v) for k, v in COUNTERS["ids"].items()},
        }
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


@events.init.add_listener
def _on_init(environment, **_kw):
    # graceful stop: users finish the request they are in (see module docstring)
    if not environment.stop_timeout:
        environment.stop_timeout = STOP_TIMEOUT
    if environment.host is None:
        environment.host = os.environ.get("LOAD_HOST", EDGE_URL)


@events.test_start.add_listener
def _on_test_start(environment, **_kw):
    global COUNTERS, STARTED_AT, WORKER_SLOT
    with COUNTERS_LOCK:
        COUNTERS = _new_counters()
    STARTED_AT = time.time()
    WORKER_SLOT = getattr(environment.runner, "worker_index", 0) or 0


@events.test_stop.add_listener
def _on_test_stop(environment, **_kw):
    _write_results(environment, final=True)


@events.quitting.add_listener
def _on_quitting(environment, **_kw):
    if STARTED_AT is not None:
        _write_results(environment, final=True)


def _status_key(resp):
    return str(resp.status_code or 0)


def _remember_id(kind, resp):
    """keep the id of a 202 answer: the audit looks every one of them up in the stores"""
    try:
        COUNTERS["ids"][kind].append(json.loads(resp.text)["id"])
    except (ValueError, KeyError, TypeError):
        COUNTERS["accepted_without_id"] += 1


def _unknown_outcome(code, resp):
    """No HTTP answer, or the edge's 503 ack_timeout: the record was handed to Kafka and its
    acknowledgement did not come in time, so it may still be stored (ngx_vote_module/README.md).
    Either way the client cannot know; the audit allows the stores that many extra records."""
    return code == 0 or (code == 503 and '"ack_timeout"' in (resp.text or ""))


def _body(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_headers(**extra):
    """A new dict per request: the HTTP client changes the dict it is given when it reconnects
    (seen as every request losing Content-Type -> 415 after an nginx reload closed the
    keep-alive connections), so no request may share one."""
    return dict({"Content-Type": "application/json"}, **extra)

# ----------------------------------------------------------------------------- voters


class VoterSource:
    """Run-unique, DPI-shaped voter ids: the data set gives each voter's department,
    municipality and station; the 8-digit serial is shifted by a per-run salt and this
    process's slot so that runs and processes never share a voter (up to 10^7 votes per
    process)."""

    def __init__(self):
        self.n = 0
        self.accepted = []           # voters answered 202 (bounded sample for re-votes)
        salt = int(hashlib.sha256(RUN_ID.encode()).hexdigest(), 16)
        self.base = salt % 100000000

    def next_voter(self):
        while True:
            v = VOTERS[self.n % len(VOTERS)]
            serial = (self.base + WORKER_SLOT * 10000000 + self.n) % 100000000
            self.n += 1
            dpi = gen_dataset.make_dpi(serial, v["id"][-4:-2], int(v["id"][-2:]))
            if dpi:
                return dpi, v

    def remember(self, voter, v):
        if len(self.accepted) < 5000:
            self.accepted.append((voter, v))
        else:
            self.accepted[random.randrange(len(self.accepted))] = (voter, v)


VOTER_SOURCE = VoterSource()
ACCEPTED_VOTERS = set()             # per process: voters with a 202 in the election

# ----------------------------------------------------------------------------- users


def edge_ssl_context(cafile=None):
    """The edge's certificate is verified (hostname included) against EDGE_CA_FILE."""
    return gevent.ssl.create_default_context(cafile=EDGE_CA_FILE)


class EdgeUser(FastHttpUser):
    abstract = True
    insecure = False
    ssl_context_factory = staticmethod(edge_ssl_context)


class VoteUser(EdgeUser):
    """Election-night and TV-contest voter."""
    weight = WEIGHTS["VoteUser"]
    abstract = WEIGHTS["VoteUser"] == 0
    wait_time = between(0.01, 0.1)
    network_timeout = REQUEST_TIMEOUT
    connection_timeout = 5.0

    def _post_vote(self, poll, body, voter=None):
        with self.client.post("/api/votes", data=_body(body), headers=json_headers(),
                              catch_response=True, name="POST /api/votes [%s]" % poll) as resp:
            code = resp.status_code or 0
            c = COUNTERS["votes"][poll]
            c["status"][_status_key(resp)] += 1
            if code == 202:
                c["accepted"] += 1
                _remember_id(poll, resp)
                if voter is not None:
                    if voter in ACCEPTED_VOTERS:
                        c["accepted_duplicate_voter"] += 1
                    else:
                        ACCEPTED_VOTERS.add(voter)
                resp.success()
                return True
            if _unknown_outcome(code, resp):
                c["unknown"] += 1
                resp.failure("unknown outcome (%d): %s" % (code, resp.error or (resp.text or "")[:120]))
            else:
                resp.failure("expected 202, got %d: %s" % (code, (resp.text or "")[:200]))
            return False

    @task(8)
    def vote_election(self):
        if VOTER_SOURCE.accepted and random.random() < DUP_RATE:
            voter, v = random.choice(VOTER_SOURCE.accepted)       # a voter trying twice
        else:
            voter, v = VOTER_SOURCE.next_voter()
        choices, weights = DEPT_WEIGHTS[v["department"]]
        body = {"poll": ELECTION_POLL, "choice": random.choices(choices, weights)[0], "voter": voter,
                "attrs": {"department": v["department"], "municipality": v["municipality"],
                          "station": v["station"]}}
        if self._post_vote(ELECTION_POLL, body, voter):
            VOTER_SOURCE.remember(voter, v)

    @task(4)
    def vote_band(self):
        body = {"poll": BAND_POLL, "choice": random.choices(BAND_CHOICES, BAND_W)[0]}
        self._post_vote(BAND_POLL, body)

    @task(1)
    def read_results(self):
        poll = random.choice((ELECTION_POLL, BAND_POLL))
        self.client.get("/api/polls/%s/results" % poll, name="GET /api/polls/[poll]/results")


CHAT_USERS = []                     # usernames registered by this process (peers)
CHAT_PREFIX = "lt%s." % hashlib.sha256(RUN_ID.encode()).hexdigest()[:8]   # every chat user of this run
CHAT_SEQ = [0]
CHAT_LINES = [
    "¿Ya votaste?", "Voy saliendo para el centro de votación", "La cola está larga en Mixco",
    "Los resultados de Quetzaltenango ya están subiendo", "Qué buena la banda de anoche",
    "¿Quién va ganando?", "Nos vemos en la plaza", "Llegué, ¿dónde estás?",
    "hello from the load test", "ok", "👍", "Robert'); DROP TABLE messages;--",
]


def _rand_password():
    return "".join(random.choice(string.ascii_letters + string.digits) for _ in range(16))


class ChatUser(EdgeUser):
    """A person chatting 1:1 with other simulated people."""
    weight = WEIGHTS["ChatUser"]
    abstract = WEIGHTS["ChatUser"] == 0
    wait_time = between(0.2, 1.0)
    network_timeout = REQUEST_TIMEOUT
    connection_timeout = 5.0

    def on_start(self):
        CHAT_SEQ[0] += 1
        self.username = "%s%d.%d" % (CHAT_PREFIX, WORKER_SLOT, CHAT_SEQ[0])
        self.password = _rand_password()
        self.token = None
        with self.client.post("/api/auth/register", data=_body({"username": self.username, "password": self.password}),
                              headers=json_headers(), catch_response=True, name="POST /api/auth/register") as r:
            if r.status_code in (201, 409):
                r.success()
                if r.status_code == 201:
                    COUNTERS["accounts"]["registered"] += 1
            else:
                r.failure("register: %d %s" % (r.status_code or 0, (r.text or "")[:200]))
        self._login()
        if self.token:
            CHAT_USERS.append(self.username)

    def _login(self):
        with self.client.post("/api/auth/login", data=_body({"username": self.username, "password": self.password}),
                              headers=json_headers(), catch_response=True, name="POST /api/auth/login") as r:
            if r.status_code == 200:
                try:
                    self.token = json.loads(r.text)["token"]
                    r.success()
                    return
                except (ValueError, KeyError, TypeError):
                    r.failure("login: no token in %r" % (r.text or "")[:200])
            else:
                r.failure("login: %d %s" % (r.status_code or 0, (r.text or "")[:200]))
            COUNTERS["accounts"]["login_failed"] += 1
            self.token = None

    def _auth(self):
        return {"Authorization": "Bearer %s" % self.token}

    def _peer(self):
        peers = [u for u in CHAT_USERS if u != self.username]
        return random.choice(peers) if peers else None

    @task(6)
    def send_message(self):
        if not self.token:
            self._login()
            return
        peer = self._peer()
        if peer is None:
            return
        body = {"to": peer, "text": random.choice(CHAT_LINES)}
        headers = json_headers(**self._auth())
        with self.client.post("/api/chat/messages", data=_body(body), headers=headers,
                              catch_response=True, name="POST /api/chat/messages") as r:
            code = r.status_code or 0
            c = COUNTERS["chat"]
            c["status"][str(code)] += 1
            if code == 202:
                c["accepted"] += 1
                _remember_id("chat", r)
                r.success()
            elif _unknown_outcome(code, r):
                c["unknown"] += 1
                r.failure("unknown outcome (%d): %s" % (code, r.error or (r.text or "")[:120]))
            else:
                r.failure("expected 202, got %d: %s" % (code, (r.text or "")[:200]))
                if code == 401:
                    self.token = None

    @task(2)
    def read_history(self):
        peer = self._peer()
        if not self.token or peer is None:
            return
        self.client.get("/api/chat/conversations/%s/messages?limit=20" % peer, headers=self._auth(),
                        name="GET /api/chat/conversations/[peer]/messages")

    @task(1)
    def list_conversations(self):
        if self.token:
            self.client.get("/api/chat/conversations", headers=self._auth(), name="GET /api/chat/conversations")


# ----------------------------------------------------------------------------- hostile


def _b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _jwt(header, claims, key):
    h = _b64url(json.dumps(header, separators=(",", ":")).encode())
    p = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    if key is None:
        return "%s.%s." % (h, p)
    sig = hmac.new(key, ("%s.%s" % (h, p)).encode(), hashlib.sha256).digest()
    return "%s.%s.%s" % (h, p, _b64url(sig))


def _real_signing_key():
    try:
        with open(JWT_SECRETS_FILE, "rb") as f:
            for line in f:
                parts = line.strip().split(None, 1)
                if len(parts) == 2 and not parts[0].startswith(b"#"):
                    return parts[0].decode(), parts[1]
    except OSError:
        pass
    return None, None


def _ulid_like():
    return "".join(random.choice("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for _ in range(26))


def _hostile_cases():
    """(case name, method, path, body bytes or None, headers, expected statuses)."""
    now = int(time.time())
    J = json_headers()
    election_ok = {"poll": ELECTION_POLL, "choice": ELECTION["parties"][0], "voter": "dpi-0000000000000",
                   "attrs": {"department": "Guatemala", "municipality": "Mixco", "station": "0108-001"}}
    deep = "[" * 2000 + "]" * 2000          # 4 KB: under the body limit, far over any depth limit
    kid, key = _real_signing_key()
    claims = {"sub": "mallory", "iat": now, "exp": now + 600, "jti": _ulid_like()}
    msg = _body({"to": "alice", "text": "hi"})
    cases = [
        ("bad-json", "POST", "/api/votes", b'{"poll": "band-contest", "choice": ', J, {400}),
        ("bad-json-trailing", "POST", "/api/votes", b'{"poll":"band-contest","choice":"ruta-sur"} x', J, {400}),
        ("invalid-utf8", "POST", "/api/votes", b'{"poll":"band-contest","choice":"\xff\xfe\xc3"}', J, {400}),
        ("wrong-type-choice", "POST", "/api/votes", _body({"poll": BAND_POLL, "choice": 5}), J, {422}),
        ("wrong-type-attrs", "POST", "/api/votes", _body({"poll": BAND_POLL, "choice": BAND_CHOICES[0], "attrs": []}), J, {422}),
        ("body-not-object", "POST", "/api/votes", b'["band-contest"]', J, {422}),
        ("unknown-poll", "POST", "/api/votes", _body({"poll": "no-such-poll", "choice": "x"}), J, {422}),
        ("unknown-choice", "POST", "/api/votes", _body({"poll": BAND_POLL, "choice": "the-beatles"}), J, {422}),
        ("missing-field", "POST", "/api/votes", _body({"poll": BAND_POLL}), J, {422}),
        ("extra-field", "POST", "/api/votes", _body({"poll": BAND_POLL, "choice": BAND_CHOICES[0], "admin": True}), J, {422}),
        ("missing-attrs", "POST", "/api/votes", _body({"poll": ELECTION_POLL, "choice": ELECTION["parties"][0]}), J, {422}),
        ("extra-attr", "POST", "/api/votes",
         _body(dict(election_ok, attrs=dict(election_ok["attrs"], ballot="presidente"))), J, {422}),
        ("sqli-poll", "POST", "/api/votes", _body({"poll": "band-contest' OR '1'='1", "choice": "x"}), J, {422}),
        ("sqli-choice", "POST", "/api/votes", _body({"poll": BAND_POLL, "choice": "'; DROP TABLE votes;--"}), J, {422}),
        ("oversized", "POST", "/api/votes",
         _body({"poll": BAND_POLL, "choice": BAND_CHOICES[0], "pad": "x" * (2 * 1024 * 1024)}), J, {413}),
        ("deep-nesting", "POST", "/api/votes", deep.encode(), J, {400, 422}),
        ("deep-nesting-attrs", "POST", "/api/votes",
         ('{"poll":"%s","choice":"%s","attrs":%s}' % (BAND_POLL, BAND_CHOICES[0], '{"a":' * 500 + '1' + '}' * 500)).encode(),
         J, {400, 422}),
        ("wrong-content-type", "POST", "/api/votes", _body({"poll": BAND_POLL, "choice": BAND_CHOICES[0]}),
         {"Content-Type": "text/plain"}, {415}),
        ("wrong-method", "GET", "/api/votes", None, {}, {405}),
        ("chat-no-token", "POST", "/api/chat/messages", msg, J, {401}),
        ("chat-garbage-token", "POST", "/api/chat/messages", msg, dict(J, Authorization="Bearer not.a.jwt"), {401}),
        ("chat-forged-key", "POST", "/api/chat/messages", msg,
         dict(J, Authorization="Bearer " + _jwt({"alg": "HS256", "typ": "JWT", "kid": kid or "k1"}, claims,
                                                 b"not-the-server-secret-0123456789")), {401}),
        ("chat-alg-none", "POST", "/api/chat/messages", msg,
         dict(J, Authorization="Bearer " + _jwt({"alg": "none", "typ": "JWT", "kid": kid or "k1"}, claims, None)), {401}),
        ("chat-sqli-recipient", "POST", "/api/chat/messages", _body({"to": "bob'; DROP TABLE messages;--", "text": "x"}),
         dict(J, Authorization="Bearer " + _jwt({"alg": "HS256", "typ": "JWT", "kid": kid or "k1"}, claims,
                                                 key or b"not-the-server-secret-0123456789")),
         {422} if key else {401}),
    ]
    if key:
        expired = dict(claims, iat=now - 7200, exp=now - 3600)
        cases.append(("chat-expired", "POST", "/api/chat/messages", msg,
                      dict(J, Authorization="Bearer " + _jwt({"alg": "HS256", "typ": "JWT", "kid": kid}, expired, key)),
                      {401}))
        good = _jwt({"alg": "HS256", "typ": "JWT", "kid": kid}, claims, key)
        h, p, s = good.split(".")
        tampered_p = _b64url(json.dumps(dict(claims, sub="admin"), separators=(",", ":")).encode())
        cases.append(("chat-tampered-payload", "POST", "/api/chat/messages", msg,
                      dict(J, Authorization="Bearer %s.%s.%s" % (h, tampered_p, s)), {401}))
        cases.append(("chat-not-yet-valid", "POST", "/api/chat/messages", msg,
                      dict(J, Authorization="Bearer " + _jwt({"alg": "HS256", "typ": "JWT", "kid": kid},
                                                             dict(claims, nbf=now + 3600), key)), {401}))
    return cases


class HostileUser(EdgeUser):
    """Sends one malformed or hostile request per task; the contract's 4xx is a success,
    anything else (notably a 202) is a failure and is counted."""
    weight = WEIGHTS["HostileUser"]
    abstract = WEIGHTS["HostileUser"] == 0
    wait_time = between(0.01, 0.1)
    network_timeout = REQUEST_TIMEOUT
    connection_timeout = 5.0

    def on_start(self):
        self.cases = _hostile_cases()

    @task
    def hostile(self):
        name, method, path, body, headers, expected = random.choice(self.cases)
        h = COUNTERS["hostile"]
        h["sent"] += 1
        with self.client.request(method, path, data=body, headers=dict(headers or {}), catch_response=True,
                                 name="hostile %s" % name) as r:
            code = r.status_code or 0
            h["by_case"][name][str(code)] += 1
            if code in expected:
                h["as_expected"] += 1
                r.success()
                return
            h["unexpected"] += 1
            if code == 202:
                h["accepted"] += 1
            if code == 0:
                if name == "oversized":       # nginx may close before reading the body
                    h["unexpected"] -= 1
                    h["as_expected"] += 1
                    r.success()
                    return
                h["unknown"] += 1
            r.failure("hostile %s: expected %s, got %d: %s" % (name, "/".join(map(str, sorted(expected))), code,
                                                              (r.text or "")[:200]))


# ----------------------------------------------------------------------------- bookstore

FLASH_COPIES = int(os.environ.get("LOAD_FLASH_COPIES", "10"))
FLASH_BOOK = {"id": None, "lock": None}
BUYER_SEQ = [0]


def _signed_token(sub):
    kid, key = _real_signing_key()
    if key is None:
        return None
    now = int(time.time())
    return _jwt({"alg": "HS256", "typ": "JWT", "kid": kid},
                {"sub": sub, "iat": now, "exp": now + 3600, "jti": "%s-%s" % (sub, _ulid_like())}, key)


class BuyerUser(EdgeUser):
    """A buyer in the bookstore's flash sale (see the module docstring)."""
    weight = WEIGHTS.get("BuyerUser", 0)
    abstract = WEIGHTS.get("BuyerUser", 0) == 0
    wait_time = between(0.2, 1.0)
    network_timeout = REQUEST_TIMEOUT
    connection_timeout = 5.0

    def on_start(self):
        BUYER_SEQ[0] += 1
        self.username = "%sb%d.%d" % (CHAT_PREFIX, WORKER_SLOT, BUYER_SEQ[0])
        self.token = _signed_token(self.username)
        if FLASH_BOOK["lock"] is None:
            import gevent.lock
            FLASH_BOOK["lock"] = gevent.lock.Semaphore()
        with FLASH_BOOK["lock"]:
            if FLASH_BOOK["id"] is None:
                self._publish()

    def _auth(self):
        return {"Authorization": "Bearer %s" % self.token}

    def _publish(self):
        seller = _signed_token("%sseller%d" % (CHAT_PREFIX, WORKER_SLOT))
        body = {"title": "Flash sale %s" % RUN_ID, "author": "Locust", "condition": "new",
                "price_cents": 1999, "copies": FLASH_COPIES}
        with self.client.post("/api/books", data=_body(body), catch_response=True, name="POST /api/books",
                              headers=json_headers(Authorization="Bearer %s" % seller)) as r:
            try:
                FLASH_BOOK["id"] = json.loads(r.text)["id"] if r.status_code == 201 else None
            except (ValueError, KeyError, TypeError):
                FLASH_BOOK["id"] = None
            if FLASH_BOOK["id"] is None:
                r.failure("publish: %d %s" % (r.status_code or 0, (r.text or "")[:200]))
                return
            COUNTERS["books"].append(FLASH_BOOK["id"])
            r.success()

    @task(5)
    def buy(self):
        if not self.token or FLASH_BOOK["id"] is None:
            return
        with self.client.post("/api/orders", data=_body({"book": FLASH_BOOK["id"], "copies": 1}),
                              headers=json_headers(**self._auth()), catch_response=True,
                              name="POST /api/orders") as r:
            code = r.status_code or 0
            c = COUNTERS["orders"]
            c["status"][str(code)] += 1
            if code == 202:
                c["accepted"] += 1
                _remember_id("orders", r)
                r.success()
            elif _unknown_outcome(code, r):
                c["unknown"] += 1
                r.failure("unknown outcome (%d): %s" % (code, r.error or (r.text or "")[:120]))
            else:
                r.failure("expected 202, got %d: %s" % (code, (r.text or "")[:200]))

    @task(2)
    def browse(self):
        self.client.get("/api/books?limit=20", name="GET /api/books")

    @task(1)
    def my_orders(self):
        if self.token:
            self.client.get("/api/orders?limit=10", headers=self._auth(), name="GET /api/orders")


# ----------------------------------------------------------------------------- shape

if os.environ.get("LOAD_NO_SHAPE") != "1":
    class ProfileShape(LoadTestShape):
        """steady: ramp to LOAD_USERS over 10% of the run, hold, stop at LOAD_DURATION.
        burst (election night): 15% ramp, 45% hold at the peak, then drop to 20% of the
        peak for the rest, then stop."""
        abstract = False

        def tick(self):
            t = self.get_run_time()
            if t >= DURATION:
                return None
            if SHAPE_KIND == "burst":
                if t < 0.6 * DURATION:
                    return (PEAK_USERS, max(SPAWN_RATE, PEAK_USERS / max(1.0, 0.15 * DURATION)))
                return (max(1, int(PEAK_USERS * 0.2)), PEAK_USERS)
            return (PEAK_USERS, SPAWN_RATE)
