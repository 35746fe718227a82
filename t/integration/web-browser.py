#!/usr/bin/env python3
"""web-browser.py - drives headless chromium through the DevTools protocol for 70-web.t.

Chromium's one-shot --screenshot/--dump-dom flags cannot wait for a page that keeps a live
stream open (the dashboard's SSE holds --virtual-time-budget forever), so this script starts
chromium with --remote-debugging-port, talks to it over a WebSocket (standard library only),
waits for real conditions in the page and takes the screenshots. Scenarios:

  dashboard BASE OUT.png      the dashboard renders the polls, the totals chart and the breakdown,
                              goes live, and a band-contest vote cast with its form shows its 202
                              id and is counted
  election BASE OUT_DIR       with election votes in the stack (it casts some through the edge),
                              the election's charts draw, hold the values of the results endpoint
                              (top departments, shares of the chosen department and municipality,
                              top stations, totals), a vote cast with the form moves them; saves
                              election-desktop.png and election-phone.png (390 px wide)
  chat BASE OUT.png USER PEER PASSWORD
                              register + log in USER through the form, open PEER, send a
                              message and wait until the live stream delivers it back, find it
                              again after a reload, log out (the token then answers 401)
  shop BASE OUT.png USER SECRETS
                              the bookstore as USER (a token signed with the first key of the
                              SECRETS file, put where a chat-page login keeps it): "my orders"
                              goes live, a book sold with the form is found by the catalog
                              search, bought from its page, and its order reaches a final state
                              on the page through the live stream

BASE is the edge's URL (one setting: http://127.0.0.1:$EDGE_PORT, or https://... with
EDGE_CA_FILE naming the CA that signed the edge's certificate).
Prints one line "check NAME ok|fail DETAIL" per check; exit 0 when every check passed.
"""
import base64
import hashlib
import hmac
import json
import os
import random
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1200,900", "--remote-debugging-port=0", "about:blank"]


class CDP:
    """A minimal DevTools client: one page target, text frames, client-side masking."""

    def __init__(self, ws_url):
        host_port, path = ws_url[len("ws://"):].split("/", 1)
        host, port = host_port.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise RuntimeError("devtools closed the connection during the handshake")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"websocket handshake refused: {head[:80]!r}")
        self.next_id = 0

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise RuntimeError("devtools connection closed")
            buf += chunk
        return buf

    def _recv_message(self):
        data = b""
        while True:
            b0, b1 = self._recv_exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._recv_exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._recv_exact(8))[0]
            data += self._recv_exact(n)
            if b0 & 0x80:          # FIN
                return json.loads(data)

    def call(self, method, **params):
        self.next_id += 1
        payload = json.dumps({"id": self.next_id, "method": method, "params": params}).encode()
        n = len(payload)
        header = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else
                                  bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536 else
                                  bytes([0x80 | 127]) + struct.pack(">Q", n))
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        while True:                # events are not subscribed to, but skip any that come
            msg = self._recv_message()
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def js(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"page script failed: {r['exceptionDetails'].get('text')}: {expr[:80]}")
        return r.get("result", {}).get("value")

    def wait(self, expr, timeout=15.0):
        """Polls a JS expression until it is truthy; returns its value or None on timeout."""
        end = time.time() + timeout
        while time.time() < end:
            try:
                v = self.js(expr)
            except RuntimeError as e:   # the page is still loading (a script not there yet)
                if "page script failed" not in str(e):
                    raise
                v = None
            if v:
                return v
            time.sleep(0.2)
        return None

    def goto(self, url):
        self.call("Page.navigate", url=url)
        self.wait("location.href !== 'about:blank' && document.readyState === 'complete'")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))


def edge_key_pin():
    """Chromium trusts the edge's certificate by its public key (EDGE_TLS_CERT, issued by the
    stack's local CA), so the pages load over HTTPS without touching the system's trust store."""
    cert = os.environ.get("EDGE_TLS_CERT") or os.path.join(os.environ.get("STATE_DIR", ".state"),
                                                           "tls", "edge.crt")
    if not os.path.exists(cert):
        return []
    pub = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-pubkey"],
                         capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         capture_output=True, check=True).stdout
    return ["--ignore-certificate-errors-spki-list="
            + base64.b64encode(hashlib.sha256(der).digest()).decode()]


def start_chromium(binary):
    profile = tempfile.mkdtemp(prefix="web-t-")
    proc = subprocess.Popen([binary, f"--user-data-dir={profile}"] + edge_key_pin() + CHROMIUM_FLAGS,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port_file = os.path.join(profile, "DevToolsActivePort")
    for _ in range(300):
        if os.path.exists(port_file) and os.path.getsize(port_file) > 0:
            break
        time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError("chromium did not open its DevTools port within 30 s")
    try:
        port = open(port_file).read().split()[0]
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30))
        page = next(t for t in targets if t.get("type") == "page")
        return proc, profile, CDP(page["webSocketDebuggerUrl"])
    except Exception:   # no browser may outlive a failed start (main's cleanup never sees it)
        proc.kill()
        proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
        raise


results = []


def check(name, passed, detail=""):
    results.append(bool(passed))
    detail = " ".join(str(detail).split())[:300]
    print(f"check {name} {'ok' if passed else 'fail'} {detail}".rstrip(), flush=True)


def dashboard(b, base, out):
    b.goto(f"{base}/#poll=guatemala-2027")
    # The picker says "loading..." until GET /api/polls answered: wait for the catalog's ids.
    polls = b.wait("(s => s && !s.disabled && [...s.options].map(o => o.value).join(' '))"
                   "(document.getElementById('poll'))")
    check("polls-listed", polls and "band-contest" in polls, polls or "no poll options")
    bars = b.wait("(c => c && c.data.labels.length)(Chart.getChart(document.getElementById('chart-totals')))")
    check("totals-chart-drawn", bars and bars >= 2, f"{bars} bars")
    count = b.wait("document.getElementById('count').textContent !== '-' && document.getElementById('count').textContent")
    check("count-shown", count is not None, f"count {count}")
    rows = b.wait("document.querySelectorAll('#breakdown tbody tr').length")
    check("breakdown-table", rows, f"{rows} rows")
    live = b.wait("(t => /live|polling/.test(t) && t)(document.getElementById('live-state').textContent)", 10)
    check("live-updates", live, live or "neither stream nor polling")
    # The band contest: cast a vote with the form and watch the count move without a reload.
    b.js("""(() => { const s = document.getElementById('poll'); s.value = 'band-contest';
        s.dispatchEvent(new Event('change')); })()""")
    count_js = "Number((document.getElementById('count').textContent || '').replace(/[^0-9]/g, '') || NaN)"
    before = b.wait(f"(n => Number.isFinite(n) ? String(n) : '')({count_js})")
    b.js("document.querySelector('#vote-form button').click()")
    answer = b.wait("(t => /202|error|HTTP|\\d{3} /.test(t) && t)(document.getElementById('vote-result').textContent)", 10)
    check("vote-form-202", answer and answer.startswith("202 accepted"), answer or "no answer shown")
    if answer and answer.startswith("202") and before:
        moved = b.wait(f"{count_js} > {before} && String({count_js})", 30)
        check("vote-counted-live", moved, f"count {before} -> {moved}" if moved else f"count stayed {before} for 30 s")
    time.sleep(0.5)
    b.screenshot(out)


# ---- the election dashboard --------------------------------------------------------------
ELECTION = "guatemala-2027"
# (department, municipality) pairs of the seeded votes, weighted so the top lists are clear.
PLACES = [("Guatemala", "Mixco", 9), ("Guatemala", "Villa Nueva", 7), ("Sacatepéquez", "Antigua Guatemala", 5),
          ("Quetzaltenango", "Quetzaltenango", 4), ("Escuintla", "Escuintla", 3), ("Petén", "Flores", 2),
          ("Izabal", "Puerto Barrios", 1)]


def http(base, path, body=None):
    """GET (or POST a JSON body) through the edge -> (status, parsed body or None)."""
    ctx = ssl.create_default_context(cafile=os.environ["EDGE_CA_FILE"]) if os.environ.get("EDGE_CA_FILE") else None
    req = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"} if body is not None else {})
    try:
        with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, None


def seed_votes(base, poll, n):
    """Casts n votes through the edge (the real way: edge -> Kafka -> vote sink); 202s."""
    status, cat = http(base, "/api/polls")
    choices = next(p["choices"] for p in cat["polls"] if p["id"] == poll)
    rnd = random.Random(20)
    places = [p for p in PLACES for _ in range(p[2])]
    accepted = 0
    for i in range(n):
        dep, mun, _ = rnd.choice(places)
        vote = {"poll": poll, "choice": choices[min(int(rnd.expovariate(0.6)), len(choices) - 1)],
                "attrs": {"department": dep, "municipality": mun, "station": f"web-{dep[:3]}-{i % 6}"}}
        accepted += http(base, "/api/votes", vote)[0] == 202
    return accepted


def chart_js(canvas_id):
    return f"(c => c ? {{labels: c.data.labels, data: c.data.datasets[0].data}} : null)(Chart.getChart(document.getElementById('{canvas_id}')))"


def ranked(rows):
    """[(value, total)] most votes first (the dashboard's order; ties by name)."""
    return sorted(rows, key=lambda r: (-r[1], r[0]))


def expected_charts(base, dep, mun):
    """The chart contents the results endpoint implies, read the way a client reads them."""
    _, res = http(base, f"/api/polls/{ELECTION}/results")
    by_dep = res["by_attr"]["department"]
    deps = ranked([(d, sum(c.values())) for d, c in by_dep.items()])
    shares = {}
    for attr, value in (("department", dep), ("municipality", mun)):
        q = urllib.parse.urlencode({"attr": attr, "value": value})
        status, one = http(base, f"/api/polls/{ELECTION}/results?{q}")
        shares[attr] = one["breakdown"]["choices"] if status == 200 else {}
    return {"totals": res["totals"], "count": res["count"], "departments": deps,
            "stations": [(t["value"], t["total"]) for t in res["top"]["station"]], "shares": shares}


def page_charts(b):
    return b.js("({" + ", ".join(f"'{k}': {chart_js(c)}" for k, c in (
        ("totals", "chart-totals"), ("departments", "chart-departments"), ("stations", "chart-stations"),
        ("department", "chart-share-department"), ("municipality", "chart-share-municipality"))) +
        ", dep: document.getElementById('share-department').value"
        ", mun: document.getElementById('share-municipality').value})")


def compare(page, want):
    """Differences between the page's charts and the endpoint's numbers ([] when they agree)."""
    diffs = []
    tot = dict(zip(page["totals"]["labels"], page["totals"]["data"]))
    if tot != want["totals"]:
        diffs.append(f"totals {tot} != {want['totals']}")
    if page["totals"]["data"] != sorted(page["totals"]["data"], reverse=True):
        diffs.append("totals not sorted by votes")
    top = dict(want["departments"])
    deps = list(zip(page["departments"]["labels"], page["departments"]["data"]))
    if [v for _, v in deps] != [v for _, v in want["departments"][:len(deps)]] or len(deps) != min(5, len(top)) \
            or any(top.get(d) != v for d, v in deps):
        diffs.append(f"top departments {deps} != {want['departments'][:5]}")
    st = list(zip(page["stations"]["labels"], page["stations"]["data"]))
    if [v for _, v in st] != [v for _, v in want["stations"][:5]] or len(st) != min(5, len(want["stations"])):
        diffs.append(f"top stations {st} != {want['stations'][:5]}")
    for attr in ("department", "municipality"):
        got = dict(zip(page[attr]["labels"], page[attr]["data"]))
        if got != want["shares"][attr]:
            diffs.append(f"{attr} share {got} != {want['shares'][attr]}")
    return diffs


def election(b, base, out_dir):
    _, res = http(base, f"/api/polls/{ELECTION}/results")
    before = res["count"]
    n = 150
    accepted = seed_votes(base, ELECTION, n)
    check("votes-seeded", accepted == n, f"{accepted}/{n} election votes accepted by the edge")
    counted = None
    for _ in range(100):
        counted = http(base, f"/api/polls/{ELECTION}/results")[1]["count"]
        if counted >= before + accepted:
            break
        time.sleep(0.1)
    check("votes-counted", counted >= before + accepted, f"count {before} -> {counted}")

    b.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
    b.goto(f"{base}/#poll={ELECTION}")
    drawn = b.wait("['chart-totals', 'chart-departments', 'chart-stations', 'chart-share-department',"
                   " 'chart-share-municipality'].every(id => (c => c && c.data.datasets[0].data.length &&"
                   " c.getDatasetMeta(0).data.length)(Chart.getChart(document.getElementById(id))))", 20)
    check("charts-drawn", drawn, "totals, top departments, top stations and both donuts have data")
    # The page and the endpoint can be one snapshot apart: compare until they agree (10 s).
    diffs = ["never compared"]
    end = time.time() + 10
    while diffs and time.time() < end:
        page = page_charts(b)
        diffs = compare(page, expected_charts(base, page["dep"], page["mun"]))
        if diffs:
            time.sleep(0.3)
    check("charts-match-results", not diffs, "; ".join(diffs) or
          f"department {page['dep']}, municipality {page['mun']}: every chart holds the endpoint's numbers")
    labels = b.js("[...document.querySelectorAll('canvas')].map(c => c.getAttribute('aria-label'))")
    check("text-alternatives", labels and all(any(ch.isdigit() for ch in l) and "%" in l for l in labels),
          " | ".join(labels)[:200])
    legend = b.js("document.getElementById('legend-share-department').textContent")
    check("donut-legend-percent-and-count", "%" in legend and any(c.isdigit() for c in legend), legend[:120])
    tables = b.js("[...document.querySelectorAll('details.numbers')].every(d => d.querySelector('summary') &&"
                  " d.querySelectorAll('tbody tr').length > 0)")
    check("numbers-one-click-away", tables, "each bar chart has a Numbers disclosure with its table")
    form = b.js("[...document.querySelectorAll('#vote-attrs input')].map(i => i.name).join(',') + ' / ' +"
                " document.getElementById('vote-poll-title').textContent")
    check("vote-form-offers-poll", form and form.startswith("department,municipality,station") and "Elecciones" in form, form)

    # Cast a vote with the form: the totals bar of the choice and the department's donut move.
    page = page_charts(b)
    choice = page["totals"]["labels"][-1]   # the smallest bar: its growth is visible
    t0 = dict(zip(page["totals"]["labels"], page["totals"]["data"]))[choice]
    d0 = dict(zip(page["department"]["labels"], page["department"]["data"])).get(choice, 0)
    b.js(f"""(() => {{ const set = (id, v) => {{ document.getElementById(id).value = v; }};
        set('vote-choice', {json.dumps(choice)}); set('vote-attr-department', {json.dumps(page['dep'])});
        set('vote-attr-municipality', {json.dumps(page['mun'])}); set('vote-attr-station', 'web-form');
        document.querySelector('#vote-form button').click(); }})()""")
    answer = b.wait("(t => /202|error|\\d{3} /.test(t) && t)(document.getElementById('vote-result').textContent)", 10)
    check("election-vote-202", answer and answer.startswith("202 accepted"), answer or "no answer shown")
    moved = b.wait(f"""(p => (t => t > {t0} && t)(p.totals.data[p.totals.labels.indexOf({json.dumps(choice)})]))
                     ({page_charts_expr()})""", 15)
    check("totals-chart-moved", moved, f"{choice}: {t0} -> {moved}")
    dmoved = b.wait(f"""(p => (t => t > {d0} && t)(p.department.data[p.department.labels.indexOf({json.dumps(choice)})]))
                      ({page_charts_expr()})""", 15)
    check("department-donut-moved", dmoved, f"{choice} in {page['dep']}: {d0} -> {dmoved}")
    time.sleep(1)   # let the animation end
    full_page_shot(b, os.path.join(out_dir, "election-desktop.png"))
    b.call("Emulation.setDeviceMetricsOverride", width=390, height=844, deviceScaleFactor=1, mobile=True)
    time.sleep(1.5)
    wide = b.js("document.documentElement.scrollWidth")
    check("phone-no-sideways-scroll", wide <= 390, f"page is {wide} px wide at 390 px")
    full_page_shot(b, os.path.join(out_dir, "election-phone.png"))


def page_charts_expr():
    return "({" + ", ".join(f"'{k}': {chart_js(c)}" for k, c in (
        ("totals", "chart-totals"), ("department", "chart-share-department"))) + "})"


def full_page_shot(b, path):
    h = b.js("document.documentElement.scrollHeight")
    w = b.js("document.documentElement.clientWidth")
    data = b.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                  clip={"x": 0, "y": 0, "width": w, "height": h, "scale": 1})["data"]
    with open(path, "wb") as f:
        f.write(base64.b64decode(data))


def chat(b, base, out, user, peer, password):
    b.goto(f"{base}/chat.html")
    form = b.js("!!document.getElementById('auth-form')")
    check("auth-form", form)
    # Register and log in through the form, as a user would.
    b.js(f"""(() => {{
        document.getElementById('username').value = {json.dumps(user)};
        document.getElementById('password').value = {json.dumps(password)};
        document.querySelector('#auth-form button[value=register]').click(); }})()""")
    who = b.wait("!document.getElementById('chat-card').classList.contains('hidden') && document.getElementById('whoami').textContent", 20)
    err = b.js("document.getElementById('auth-result').textContent")
    check("register-login", who and user in who, who or f"auth error: {err}")
    if not who:
        b.screenshot(out)
        return
    token = b.js("JSON.parse(sessionStorage.getItem('vote-chat-session')||'{}').token || ''")
    check("token-in-sessionStorage", token.count(".") == 2, "JWT kept in sessionStorage")
    live = b.wait("document.getElementById('stream-state').textContent.includes('live')", 15)
    check("stream-live", live, "chat stream connected (fetch + Authorization header)")
    b.js(f"""(() => {{ document.getElementById('peer').value = {json.dumps(peer)};
        document.querySelector('#peer-form button').click(); }})()""")
    ready = b.wait("!document.getElementById('text').disabled", 15)
    check("conversation-open", ready, b.js("document.getElementById('chat-result').textContent") or "")
    text = f"hello {peer}, from the headless browser test"
    b.js(f"""(() => {{ document.getElementById('text').value = {json.dumps(text)};
        document.querySelector('#send-form button').click(); }})()""")
    # Either the message appears (202, pending until the stream brings it back) or an error shows.
    outcome = b.wait("document.querySelector('#message-list .msg.mine') ? 'sent'"
                     " : document.getElementById('chat-result').textContent", 10)
    sent = outcome == "sent"
    check("send-202", sent, "202, shown as pending" if sent else (outcome or "no answer shown"))
    delivered = sent and b.wait("(m => m && !m.classList.contains('pending'))(document.querySelector('#message-list .msg.mine'))", 20)
    check("delivered-live", delivered, "the message came back on the live stream (stored by the chat sink)"
          if delivered else "not sent" if not sent else "not back on the live stream within 20 s")
    time.sleep(0.3)
    b.screenshot(out)
    if delivered:
        # A reload keeps the session (sessionStorage) and shows the message from the history api.
        b.call("Page.reload")
        b.wait("document.readyState === 'complete'")
        again = b.wait(f"[...document.querySelectorAll('#message-list .msg')].some(m => m.textContent.includes({json.dumps(text)}))", 15)
        check("history-after-reload", again, "the sent message is in GET .../messages after a reload")
    # Logout: 204, back to the sign-in form, and the token is dead for the api too.
    b.js("document.querySelector('#whoami button').click()")
    out_msg = b.wait("!document.getElementById('auth-card').classList.contains('hidden') && document.getElementById('auth-result').textContent", 10)
    err = b.js("document.getElementById('chat-result').textContent")
    check("logout", out_msg and b.js("sessionStorage.getItem('vote-chat-session')") is None, out_msg or f"still signed in: {err}")
    status = b.js(f"""fetch('/api/chat/conversations', {{headers: {{Authorization: 'Bearer ' + {json.dumps(token)}}}}})
                     .then(r => r.status)""")
    check("token-revoked", status == 401, f"old token answered {status} after logout")


def signed_token(secrets, sub):
    with open(secrets) as f:
        kid, key = f.readline().split()
    enc = lambda o: base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode()  # noqa: E731
    now = int(time.time())
    head = enc({"alg": "HS256", "typ": "JWT", "kid": kid})
    body = enc({"sub": sub, "iat": now, "exp": now + 3600, "jti": f"{sub}-{now}"})
    sig = hmac.new(key.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"


def shop(b, base, out, user, secrets):
    b.goto(f"{base}/shop.html")
    session = {"token": signed_token(secrets, user), "username": user, "expires_at": int(time.time()) + 3600}
    b.js(f"sessionStorage.setItem('vote-chat-session', {json.dumps(json.dumps(session))})")
    b.call("Page.reload")
    b.wait("document.readyState === 'complete'")
    live = b.wait("document.getElementById('live').textContent === 'live'", 15)
    check("orders-live", live, "my orders follow the stream (fetch + Authorization header)")
    title = f"Browser book {user}"
    b.js(f"""(() => {{ const v = (id, x) => {{ document.getElementById(id).value = x; }};
        v('title', {json.dumps(title)}); v('author', 'Headless'); v('price', '12.50'); v('sell-copies', '1');
        document.querySelector('#sell-form button').click(); }})()""")
    sold = b.wait("document.getElementById('sell-result').textContent", 10)
    check("sell", sold and "Published as book" in sold, sold or "no answer shown")
    b.js(f"""(() => {{ document.getElementById('q').value = {json.dumps(title)};
        document.querySelector('#search-form button').click(); }})()""")
    found = b.wait(f"[...document.querySelectorAll('#books a')].find(a => a.textContent === {json.dumps(title)}) ? 1 : 0", 10)
    check("search", found == 1, "the catalog search finds the new book")
    if found != 1:
        b.screenshot(out)
        return
    b.js("document.querySelector('#books a').click()")
    page = b.wait("!document.getElementById('book-card').classList.contains('hidden') && document.getElementById('book-meta').textContent", 10)
    check("book-page", page and "$12.50" in page and "1 of 1 left" in page, page or "book page not shown")
    b.js("document.querySelector('#buy-form button').click()")
    placed = b.wait("document.getElementById('buy-result').textContent", 10)
    check("buy-202", placed and "pending" in placed, placed or "no answer shown")
    final = b.wait("[...document.querySelectorAll('#orders .badge')].map(x => x.textContent)"
                   ".find(t => t === 'shipped' || t === 'payment_failed') || ''", 25)
    check("order-final-live", bool(final), f"the order reached {final} on the page" if final else "no final state within 25 s")
    time.sleep(0.3)
    b.screenshot(out)


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ("dashboard", "election", "chat", "shop"):
        sys.exit(__doc__)
    binary = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    proc, profile, b = start_chromium(binary)
    try:
        b.call("Page.enable")
        if sys.argv[1] == "dashboard":
            dashboard(b, sys.argv[2], sys.argv[3])
        elif sys.argv[1] == "election":
            election(b, sys.argv[2], sys.argv[3])
        elif sys.argv[1] == "shop":
            shop(b, *sys.argv[2:6])
        else:
            chat(b, *sys.argv[2:7])
    except Exception as e:  # reported as a failed check, so the TAP test shows why
        check("browser", False, str(e))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)
    sys.exit(0 if results and all(results) else 1)


if __name__ == "__main__":
    main()
