#!/usr/bin/env python3
"""Clickstream benchmark: whole `sluice run` versus JSON decoding alone, same 10M events.

usage: bench/run_clickstream.py [--runs 3] [--parallelism 1] [--build build]

Runs bench/clickstream.sql (10M generated events, 1-minute TUMBLE, COUNT and COUNT
DISTINCT per page, SQLite upsert sink) --runs times and reports the medians of:
  - events/s (wall clock) and events per CPU-second (user+sys of the process: "per core");
  - decode-only events/s on one core (build/bench/pipeline_benchmark, BM_DecodeClickstream);
  - their ratio: the share of the per-core budget that the rest of the pipeline costs.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

EVENTS = 10_000_000
HERE = os.path.dirname(os.path.abspath(__file__))


def run_job(sluice, parallelism):
    with tempfile.TemporaryDirectory() as d:
        start = time.time()
        p = subprocess.Popen([sluice, "run", "-q", "-p", str(parallelism), os.path.join(HERE, "clickstream.sql")], cwd=d)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.time() - start
        if status != 0:
            sys.exit(f"sluice exited with status {status}")
        return wall, usage.ru_utime + usage.ru_stime


def decode_rate(bench):
    out = subprocess.run([bench, "--benchmark_filter=BM_DecodeClickstream", "--benchmark_format=json"],
                         capture_output=True, text=True, check=True).stdout
    b = json.loads(out)["benchmarks"][0]
    return b["items_per_second"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--parallelism", type=int, default=1)
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    a = ap.parse_args()
    sluice = os.path.abspath(os.path.join(a.build, "sluice"))
    bench = os.path.abspath(os.path.join(a.build, "bench", "pipeline_benchmark"))
    walls, cpus, decodes = [], [], []
    for i in range(a.runs):
        wall, cpu = run_job(sluice, a.parallelism)
        walls.append(EVENTS / wall)
        cpus.append(EVENTS / cpu)
        decodes.append(decode_rate(bench))
        print(f"run {i + 1}: sluice run {EVENTS / wall / 1e6:.2f} M events/s wall, "
              f"{EVENTS / cpu / 1e6:.2f} M events per CPU-second; decode alone {decodes[-1] / 1e6:.2f} M events/s")
    w, c, d = statistics.median(walls), statistics.median(cpus), statistics.median(decodes)
    print(f"median of {a.runs}: whole run {w / 1e6:.2f} M events/s wall ({c / 1e6:.2f} M per CPU-second), "
          f"decode alone {d / 1e6:.2f} M events/s per core; decode/run per core = {d / c:.2f}x")


if __name__ == "__main__":
    main()
