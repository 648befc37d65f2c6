#!/usr/bin/env python3
"""Throughput of a running job with and without load on its HTTP server.

Runs `sluice run --http 127.0.0.1:0` on an unbounded generator job (as fast as it can,
a 1-second TUMBLE with COUNT and COUNT DISTINCT per page into the blackhole sink) and
measures its input rate (sluice_source_records_total, read from /metrics) over a window of
WINDOW seconds, in two conditions, interleaved (A B A B ...):

  quiet   two scrapes: at the start and the end of the window
  loaded  a scrape of /metrics every 100 ms, and every second a burst of 1,000 concurrent
          API requests (plan, watermarks, checkpoints, dlq, jobs, metrics in turn), each on
          its own connection

The load's own threads (the client) run at nice --client-nice (default 19), standing in for
a client on another host: on a 2-core machine an unniced client of 1,000 threads takes the
CPU the job would use, which says nothing about the server. Sluice serves HTTP at nice 19
itself, so the data path keeps the CPU under a burst.

Prints each pair and the medians, and the burst's latency and error count. Standard
library only. Usage: bench/api_load.py [--sluice build/sluice] [--pairs 5] [--window 10]
[--client-nice 19]
"""
import argparse
import concurrent.futures
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import http.client

JOB = """
CREATE TABLE clicks (user_id BIGINT, page TEXT, ts TIMESTAMP)
  WITH (connector = 'generator', splits = '2', event_time = 'ts', malformed = '0.001');
CREATE TABLE per_second (window_start TIMESTAMP, page TEXT, views BIGINT, users BIGINT)
  WITH (connector = 'blackhole');
INSERT INTO per_second
SELECT window_start, page, COUNT(*), COUNT(DISTINCT user_id) FROM TUMBLE(clicks, ts, INTERVAL '1 second')
GROUP BY window_start, page;
"""

BURST = 1000
PATHS = ["/api/v1/jobs/job/plan", "/api/v1/jobs/job/watermarks", "/api/v1/jobs/job/checkpoints",
         "/api/v1/jobs/job/dlq?limit=20", "/api/v1/jobs", "/metrics"]


def get(port, path, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        return r.status, body
    finally:
        c.close()


def records(port):
    status, body = get(port, "/metrics")
    if status != 200:
        raise RuntimeError(f"/metrics: HTTP {status}")
    total = 0
    for line in body.decode().splitlines():
        if line.startswith("sluice_source_records_total{"):
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


class Load:
    """A scrape every 100 ms and a burst of BURST concurrent requests every second."""

    def __init__(self, port, nice):
        self.port = port
        self.nice = nice
        self.stop = threading.Event()
        self.latencies = []
        self.errors = 0
        self.scrapes = 0
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=BURST, initializer=self.lower_priority)
        self.threads = [threading.Thread(target=self.scrape_loop), threading.Thread(target=self.burst_loop)]

    def lower_priority(self):
        # Linux: a thread's nice value is its own (PRIO_PROCESS with a thread id).
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)

    def scrape_loop(self):
        self.lower_priority()
        while not self.stop.is_set():
            t = time.monotonic()
            try:
                get(self.port, "/metrics")
                self.scrapes += 1
            except OSError:
                self.errors += 1
            self.stop.wait(max(0.0, 0.1 - (time.monotonic() - t)))

    def one(self, i):
        t = time.monotonic()
        try:
            status, _ = get(self.port, PATHS[i % len(PATHS)])
            ok = status == 200
        except OSError:
            ok = False
        return ok, time.monotonic() - t

    def burst_loop(self):
        self.lower_priority()
        while not self.stop.is_set():
            t = time.monotonic()
            for ok, seconds in self.pool.map(self.one, range(BURST)):
                self.latencies.append(seconds)
                self.errors += 0 if ok else 1
            self.stop.wait(max(0.0, 1.0 - (time.monotonic() - t)))

    def __enter__(self):
        for th in self.threads:
            th.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for th in self.threads:
            th.join()
        self.pool.shutdown()


def measure(sluice, workdir, window, loaded, nice):
    log_path = os.path.join(workdir, "sluice.log")
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sluice, "run", "-q", "job.sql", "--http", "127.0.0.1:0"], cwd=workdir,
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        port = None
        for _ in range(1000):
            m = re.search(r"serving http://127\.0\.0\.1:(\d+)", open(log_path).read())
            if m:
                port = int(m.group(1))
                break
            if proc.poll() is not None:
                raise RuntimeError("sluice exited: " + open(log_path).read())
            time.sleep(0.01)
        if port is None:
            raise RuntimeError("sluice did not print its address")
        time.sleep(2.0)  # past start-up
        load = Load(port, nice) if loaded else None
        if load:
            load.__enter__()
        try:
            time.sleep(0.5)
            r0, t0 = records(port), time.monotonic()
            time.sleep(window)
            r1, t1 = records(port), time.monotonic()
        finally:
            if load:
                load.__exit__(None, None, None)
        return (r1 - r0) / (t1 - t0), load
    finally:
        if proc.pid > 0 and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sluice", default=os.path.join(os.path.dirname(__file__), "..", "build", "sluice"))
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument("--client-nice", type=int, default=19)
    a = ap.parse_args()
    sluice = os.path.abspath(a.sluice)
    quiet, loaded, ratios, latencies, errors, scrapes = [], [], [], [], 0, 0
    with tempfile.TemporaryDirectory(prefix="sluice-api-load-") as workdir:
        with open(os.path.join(workdir, "job.sql"), "w") as f:
            f.write(JOB)
        for i in range(a.pairs):
            q, _ = measure(sluice, workdir, a.window, False, a.client_nice)
            l, load = measure(sluice, workdir, a.window, True, a.client_nice)
            quiet.append(q)
            loaded.append(l)
            ratios.append(l / q)
            latencies += load.latencies
            errors += load.errors
            scrapes += load.scrapes
            print(f"pair {i + 1}: quiet {q:,.0f} records/s, loaded {l:,.0f} records/s, ratio {l / q:.3f} "
                  f"({len(load.latencies)} burst requests, {load.scrapes} scrapes, {load.errors} errors)", flush=True)
    lat = sorted(latencies)
    print(f"median quiet {statistics.median(quiet):,.0f} records/s, loaded {statistics.median(loaded):,.0f} records/s, "
          f"per-pair ratio median {statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})")
    if lat:
        print(f"burst requests: {len(lat)}, errors {errors}, latency p50 {lat[len(lat) // 2] * 1000:.1f} ms, "
              f"p99 {lat[int(len(lat) * 0.99)] * 1000:.1f} ms; scrapes {scrapes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
