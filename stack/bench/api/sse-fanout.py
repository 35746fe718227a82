#!/usr/bin/env python3
"""sse-fanout.py - SSE fan-out latency: N clients on one stream, a trigger, delivery times.

Opens --clients connections to --url (optionally with a header, e.g. a Bearer token), waits
until every client has its stream open, then for each of --rounds runs the --trigger shell
command (e.g. `redis-cli PUBLISH ...` or a curl POST through the edge) and measures, for
every client, the time from just before the trigger to the arrival of the first event named
--event after it. Prints one JSON line: clients, rounds, delivered, missing, p50/p99/max ms.

Standard library only (asyncio), so it runs wherever python3 does.
"""
import argparse
import asyncio
import json
import subprocess
import sys
import time
import urllib.parse


class Client:
    def __init__(self):
        self.events = asyncio.Queue()
        self.ready = asyncio.Event()
        self.error = None


async def stream(url, header, client, stop):
    try:
        await read_stream(url, header, client, stop)
    except (OSError, asyncio.IncompleteReadError) as e:
        client.error = str(e)
    finally:
        client.ready.set()  # a failed client must not hold up the start


async def read_stream(url, header, client, stop):
    u = urllib.parse.urlsplit(url)
    reader, writer = await asyncio.open_connection(u.hostname, u.port or 80)
    path = u.path + ("?" + u.query if u.query else "")
    req = f"GET {path} HTTP/1.1\r\nHost: {u.hostname}\r\nAccept: text/event-stream\r\n"
    if header:
        req += header + "\r\n"
    writer.write((req + "\r\n").encode())
    await writer.drain()
    event = None
    try:
        while not stop.is_set():
            line = await reader.readline()
            if not line:
                break
            text = line.decode(errors="replace").rstrip("\r\n")
            if text.startswith("retry:") or text.startswith("event:") and not client.ready.is_set():
                client.ready.set()
            if text.startswith("event:"):
                event = text[6:].strip()
            elif text.startswith("data:") and event:
                client.events.put_nowait((time.monotonic(), event))
                event = None
    finally:
        writer.close()


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


async def main(args):
    stop = asyncio.Event()
    clients = [Client() for _ in range(args.clients)]
    tasks = []
    for i, c in enumerate(clients):
        tasks.append(asyncio.create_task(stream(args.url, args.header, c, stop)))
        if i % 100 == 99:
            await asyncio.sleep(0.05)  # do not trip the listen backlog
    await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in clients)), 60)
    await asyncio.sleep(0.5)
    failed = [c.error for c in clients if c.error]
    if failed:
        print(json.dumps({"clients": args.clients, "failed_to_connect": len(failed),
                          "first_error": failed[0]}))
        stop.set()
        return 2
    latencies, missing = [], 0
    for _ in range(args.rounds):
        for c in clients:  # forget initial snapshots and earlier rounds
            while not c.events.empty():
                c.events.get_nowait()
        t0 = time.monotonic()
        subprocess.run(args.trigger, shell=True, check=True, stdout=subprocess.DEVNULL)
        for c in clients:
            deadline = t0 + args.timeout
            got = None
            while got is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    t, name = await asyncio.wait_for(c.events.get(), remaining)
                except asyncio.TimeoutError:
                    break
                if name == args.event and t >= t0:
                    got = t
            if got is None:
                missing += 1
            else:
                latencies.append((got - t0) * 1000)
        await asyncio.sleep(args.pause)
    stop.set()
    for t in tasks:
        t.cancel()
    print(json.dumps({
        "clients": args.clients, "rounds": args.rounds, "delivered": len(latencies),
        "missing": missing,
        "p50_ms": round(percentile(latencies, 50) or -1, 1),
        "p99_ms": round(percentile(latencies, 99) or -1, 1),
        "max_ms": round(max(latencies) if latencies else -1, 1)}))
    return 0 if missing == 0 else 1


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--header", default="", help='e.g. "Authorization: Bearer TOKEN"')
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--event", default="message", help="SSE event name to wait for")
    ap.add_argument("--trigger", required=True, help="shell command that causes one event")
    ap.add_argument("--timeout", type=float, default=5.0, help="seconds per round")
    ap.add_argument("--pause", type=float, default=0.5, help="seconds between rounds")
    sys.exit(asyncio.run(main(ap.parse_args())))
