#!/usr/bin/env python3
"""Checkpoint benchmark: duration of checkpoints and the throughput they cost, per backend.

usage: bench/checkpoint_cost.py [--runs 3] [--interval 1s] [--build build]

Writes 12M JSON events with 1M distinct keys (once, into --data), then runs
bench/checkpoint_cost.sql (a 1-day window holding every key's COUNT and SUM to the end) in
three configurations, --runs times each, in interleaved order (the machine is shared):
  never            no checkpoints
  memory, rocksdb  a checkpoint every --interval with that state backend
and reports the median events/s, the throughput ratio against `never`, and for the
checkpointing runs the median and maximum checkpoint duration (trigger -> durable, from
the engine's debug log), the median checkpoint size and the bytes actually written per
checkpoint (RocksDB links unchanged SST files instead of writing them again).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

EVENTS = 12_000_000
KEYS = 1_000_000
HERE = os.path.dirname(os.path.abspath(__file__))
LINE = re.compile(r"checkpoint (\d+) complete: (\d+) bytes \((\d+) new\) in (\d+) ms")


def write_data(path):
    if os.path.exists(path):
        return
    base = 1700000000000  # ms; one event per 0.01 ms of event time, all in one day
    with open(path + ".tmp", "w") as f:
        for i in range(EVENTS):
            f.write(f'{{"k":{(i * 7919) % KEYS},"v":{i % 1000},"ts":{base + i // 100}}}\n')
    os.rename(path + ".tmp", path)


def run(sluice, data, backend, interval):
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(HERE, "checkpoint_cost.sql")) as f:
            sql = f.read().replace("{DATA}", data)
        with open(os.path.join(d, "job.sql"), "w") as f:
            f.write(sql)
        args = [sluice, "--log-level", "debug", "run", "-q", "job.sql"]
        if backend:
            args += ["--checkpoint-dir", os.path.join(d, "ck"), "--checkpoint-interval", interval,
                     "--state-backend", backend]
        start = time.time()
        p = subprocess.run(args, cwd=d, capture_output=True, text=True)
        wall = time.time() - start
        if p.returncode != 0:
            sys.exit(f"sluice failed ({p.returncode}): {p.stderr[-2000:]}")
        cks = [tuple(int(x) for x in m) for m in LINE.findall(p.stderr)]
        return wall, cks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--interval", default="1s")
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--data", default=os.path.join(tempfile.gettempdir(), f"sluice-checkpoint-bench-{EVENTS}.jsonl"))
    a = ap.parse_args()
    write_data(a.data)
    sluice = os.path.abspath(os.path.join(a.build, "sluice"))
    configs = [("never", None), ("memory", "memory"), ("rocksdb", "rocksdb")]
    rates = {name: [] for name, _ in configs}
    ckpts = {name: [] for name, _ in configs}
    for i in range(a.runs):
        for name, backend in configs:
            wall, cks = run(sluice, a.data, backend, a.interval)
            rates[name].append(EVENTS / wall)
            # The last checkpoint is the final one at end of input (state already emitted).
            ckpts[name].extend(cks[:-1] if len(cks) > 1 else [])
            print(f"run {i + 1} {name:8s}: {EVENTS / wall / 1e6:.2f} M events/s, {len(cks)} checkpoints", flush=True)
    base = statistics.median(rates["never"])
    print(f"\nmedian of {a.runs} runs, checkpoint every {a.interval}, ~1M keys of state:")
    for name, _ in configs:
        r = statistics.median(rates[name])
        line = f"  {name:8s} {r / 1e6:.2f} M events/s ({r / base:.2f}x of never)"
        if ckpts[name]:
            durations = [c[3] for c in ckpts[name]]
            sizes = [c[1] for c in ckpts[name]]
            new = [c[2] for c in ckpts[name]]
            line += (f"; checkpoint duration median {statistics.median(durations)} ms, max {max(durations)} ms; "
                     f"size median {statistics.median(sizes) / 1e6:.1f} MB, written median {statistics.median(new) / 1e6:.1f} MB")
        print(line)


if __name__ == "__main__":
    main()
