#!/usr/bin/env python3
"""State stays bounded: peak memory of `sluice run` as the number of events grows.

usage: bench/state_memory.py [--build build] [--events 1000000,3000000,10000000]

Runs two jobs on the clickstream generator, each with 1M, 3M and 10M events (the event-time
span grows with the count, so the number of closed windows grows tenfold):
  tumble:  1-minute TUMBLE, COUNT(*) and COUNT(DISTINCT user_id) per page
  session: SESSION with a 30-minute gap per user, COUNT(*) and ARRAY_AGG(page)
and prints peak RSS (ru_maxrss) for each. State of fired windows is freed, so peak memory
must stay flat: the script prints the ratio of the largest to the smallest run.
"""
import argparse
import os
import subprocess
import sys
import tempfile

JOBS = {
    "tumble": """
CREATE TABLE clicks (user_id BIGINT, page TEXT, ts TIMESTAMP)
  WITH (connector = 'generator', seed = '42', events = '{n}', users = '100000', pages = '1000',
        out_of_order = '0.05', max_out_of_orderness = '5 seconds', event_time = 'ts', watermark_delay = '5 seconds');
CREATE TABLE out (window_start TIMESTAMP, page TEXT, clicks BIGINT, users BIGINT)
  WITH (connector = 'file', path = 'out.jsonl');
INSERT INTO out SELECT window_start, page, COUNT(*), COUNT(DISTINCT user_id)
FROM TUMBLE(clicks, ts, INTERVAL '1 minute') GROUP BY window_start, page;
""",
    "session": """
CREATE TABLE clicks (user_id BIGINT, page TEXT, ts TIMESTAMP)
  WITH (connector = 'generator', seed = '42', events = '{n}', users = '20000', pages = '1000', interval = '100ms',
        out_of_order = '0.05', max_out_of_orderness = '5 seconds', event_time = 'ts', watermark_delay = '5 seconds');
CREATE TABLE out (user_id BIGINT, window_start TIMESTAMP, views BIGINT, pages TEXT)
  WITH (connector = 'file', path = 'out.jsonl');
INSERT INTO out SELECT user_id, window_start, COUNT(*), ARRAY_AGG(page)
FROM SESSION(clicks, ts, INTERVAL '30 minutes') GROUP BY user_id, window_start, window_end;
""",
}


def peak_rss_mb(sluice, sql):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "job.sql")
        with open(path, "w") as f:
            f.write(sql)
        p = subprocess.Popen([sluice, "run", "-q", path], cwd=d)
        _, status, usage = os.wait4(p.pid, 0)
        if status != 0:
            sys.exit(f"sluice failed with status {status}")
        rows = sum(1 for _ in open(os.path.join(d, "out.jsonl")))
        return usage.ru_maxrss / 1024.0, rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build"))
    ap.add_argument("--events", default="1000000,3000000,10000000")
    a = ap.parse_args()
    sluice = os.path.abspath(os.path.join(a.build, "sluice"))
    counts = [int(x) for x in a.events.split(",")]
    for name, sql in JOBS.items():
        peaks = []
        for n in counts:
            mb, rows = peak_rss_mb(sluice, sql.format(n=n))
            peaks.append(mb)
            print(f"{name:8s} {n:>10,d} events: peak RSS {mb:7.1f} MiB, {rows:,d} window rows emitted")
        print(f"{name:8s} peak RSS at {counts[-1]:,d} / at {counts[0]:,d} events = {peaks[-1] / peaks[0]:.2f}x")


if __name__ == "__main__":
    main()
