#!/usr/bin/env python3
"""Load client of bench/http_ingest.sh (Python standard library only).

Posts EVENTS JSON clicks as NDJSON bodies of BATCH events from CLIENTS threads (one
keep-alive connection each) to http://127.0.0.1:PORT/PATH, retrying 429/503 answers after
their Retry-After, then waits until OUT (the job's file sink) holds EVENTS lines.
Prints one line: "<seconds until every event was acknowledged> <seconds until all were in
the output> <busy answers>".

usage: http_ingest_client.py PORT PATH EVENTS BATCH CLIENTS OUT
"""
import http.client
import os
import sys
import threading
import time


def bodies(events, batch):
    out = []
    for first in range(0, events, batch):
        lines = []
        for i in range(first, min(first + batch, events)):
            lines.append('{"user_id":%d,"page":"/product/%d","ts":%d,"event_type":"view"}'
                         % (i % 100000, i % 1000, 1704067200000 + i * 10))
        out.append(("\n".join(lines) + "\n").encode())
    return out


def main():
    port, path, events, batch, clients, out_path = (int(sys.argv[1]), sys.argv[2], int(sys.argv[3]),
                                                    int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
    work = bodies(events, batch)
    next_body = [0]
    lock = threading.Lock()
    busy = [0]
    errors = []

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                if next_body[0] >= len(work) or errors:
                    break
                body = work[next_body[0]]
                next_body[0] += 1
            while True:
                try:
                    conn.request("POST", path, body, {"Content-Type": "application/x-ndjson"})
                    r = conn.getresponse()
                    text = r.read()
                except (ConnectionError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    continue
                if r.status == 202:
                    break
                if r.status in (429, 503):
                    with lock:
                        busy[0] += 1
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    time.sleep(float(r.getheader("Retry-After", "1")) / 20)
                    continue
                with lock:
                    errors.append("%d %s" % (r.status, text[:200]))
                return
        conn.close()

    start = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    acked = time.monotonic() - start
    if errors:
        sys.exit("unexpected answer: " + errors[0])
    lines = 0
    offset = 0
    deadline = time.monotonic() + 300
    while lines < events:
        if time.monotonic() > deadline:
            sys.exit("the output has %d lines, not %d" % (lines, events))
        if os.path.exists(out_path):
            with open(out_path, "rb") as f:
                f.seek(offset)
                chunk = f.read()
            cut = chunk.rfind(b"\n") + 1
            lines += chunk.count(b"\n", 0, cut)
            offset += cut
        if lines < events:
            time.sleep(0.005)
    done = time.monotonic() - start
    if lines != events:
        sys.exit("the output has %d lines, not %d" % (lines, events))
    print("%.3f %.3f %d" % (acked, done, busy[0]))


if __name__ == "__main__":
    main()
