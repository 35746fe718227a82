#!/usr/bin/env python3
"""web-browser.py - drives headless chromium through the DevTools protocol for 70-web.t.

Chromium's one-shot --screenshot/--dump-dom flags cannot wait for a page that keeps a live
stream open (the dashboard's SSE holds --virtual-time-budget forever), so this script starts
chromium with --remote-debugging-port, talks to it over a WebSocket (standard library only),
waits for real conditions in the page and takes the screenshots. Scenarios:

  dashboard BASE OUT.png      the dashboard renders the polls, the bars and the breakdown, goes
                              live, and a vote cast with its form shows its 202 id and is counted
  chat BASE OUT.png USER PEER PASSWORD
                              register + log in USER through the form, open PEER, send a
                              message and wait until the live stream delivers it back, find it
                              again after a reload, log out (the token then answers 401)

Prints one line "check NAME ok|fail DETAIL" per check; exit 0 when every check passed.
"""
import base64
import hashlib
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
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
            v = self.js(expr)
            if v:
                return v
            time.sleep(0.2)
        return None

    def goto(self, url):
        self.call("Page.navigate", url=url)
        self.wait("document.readyState === 'complete'")

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
    port = open(port_file).read().split()[0]
    targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
    page = next(t for t in targets if t.get("type") == "page")
    return proc, profile, CDP(page["webSocketDebuggerUrl"])


results = []


def check(name, passed, detail=""):
    results.append(bool(passed))
    detail = " ".join(str(detail).split())[:300]
    print(f"check {name} {'ok' if passed else 'fail'} {detail}".rstrip(), flush=True)


def dashboard(b, base, out):
    b.goto(f"{base}/#poll=guatemala-2027")
    polls = b.wait("[...document.querySelectorAll('#poll option')].map(o => o.value).join(' ')")
    check("polls-listed", polls and "band-contest" in polls, polls or "no poll options")
    bars = b.wait("document.querySelectorAll('#bars .name').length")
    check("bars-drawn", bars and bars >= 2, f"{bars} bars")
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


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ("dashboard", "chat"):
        sys.exit(__doc__)
    binary = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    proc, profile, b = start_chromium(binary)
    try:
        b.call("Page.enable")
        if sys.argv[1] == "dashboard":
            dashboard(b, sys.argv[2], sys.argv[3])
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
