#!/usr/bin/env python3
"""Events for the fraud and anomaly examples, with known fraud cases injected.

Writes into OUT_DIR (default: the current folder):
  transactions.jsonl  {"tx_id", "user_id", "amount", "merchant", "country", "home_country", "ts"}
  logins.jsonl        {"user_id", "success", "device", "known_device", "ts"}
  api_errors.jsonl    {"user_id", "endpoint", "status", "ts"}
  expected.json       the injected cases: which transactions must be blocked, which users
                      must raise an account-takeover alert, and that nothing else may be.

Clean traffic: each user pays a few small amounts (5-300) in their home country, at least
three minutes apart, and logs in from known devices (an occasional single failed login).
Injected cases (none of them can arise from clean traffic):
  rapid     a burst of 4 payments of 600-1500 within 2 minutes: the velocity rule
            (>= 3 payments and over 1,500 in total within 5 minutes) blocks the 3rd and 4th;
  model     one payment of 2,500-6,000 abroad: the model's score is above 0.8;
  takeover  5 failed logins within 3 minutes, then a successful login from an unknown
            device and a payment over 1,000 within 10 minutes of the first failure, with
            API errors around it (the anomaly detector's pattern).
Events are written in event-time order with up to 4 seconds of disorder (the jobs'
watermark delay is 5 seconds). Same seed, same files.
"""
import argparse
import json
import os
import random
from datetime import datetime, timedelta, timezone

START = datetime(2026, 3, 2, 9, 0, 0, tzinfo=timezone.utc)
COUNTRIES = ["DE", "FR", "NL", "ES", "IT", "PL"]


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir", nargs="?", default=".")
    ap.add_argument("--users", type=int, default=400)
    ap.add_argument("--minutes", type=int, default=60)
    ap.add_argument("--rapid", type=int, default=12, help="rapid high-value bursts to inject")
    ap.add_argument("--model", type=int, default=10, help="high-score payments to inject")
    ap.add_argument("--takeover", type=int, default=8, help="account takeovers to inject")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    end = START + timedelta(minutes=a.minutes)
    users = [f"u{i:04d}" for i in range(a.users)]
    home = {u: rnd.choice(COUNTRIES) for u in users}
    tx, logins, errors = [], [], []
    next_tx = [1]

    def pay(u, t, amount, country):
        tx.append({"tx_id": next_tx[0], "user_id": u, "amount": round(amount, 2),
                   "merchant": f"m{rnd.randrange(50):02d}", "country": country,
                   "home_country": home[u], "ts": t})
        next_tx[0] += 1
        return next_tx[0] - 1

    # Each injected case gets its own user, so clean traffic of that user cannot mix in.
    special = rnd.sample(users, a.rapid + a.model + a.takeover)
    rapid_users = special[:a.rapid]
    model_users = special[a.rapid:a.rapid + a.model]
    takeover_users = special[a.rapid + a.model:]
    clean_users = [u for u in users if u not in special]

    for u in clean_users:
        t = START + timedelta(seconds=rnd.uniform(0, 600))
        while t < end:
            pay(u, t, rnd.uniform(5, 300), home[u])
            t += timedelta(seconds=rnd.uniform(180, 900))
        t = START + timedelta(seconds=rnd.uniform(0, 1800))
        logins.append({"user_id": u, "success": True, "device": f"d-{u}", "known_device": True, "ts": t})
        if rnd.random() < 0.2:  # a mistyped password, then success
            logins.append({"user_id": u, "success": False, "device": f"d-{u}", "known_device": True,
                           "ts": t - timedelta(seconds=20)})
        if rnd.random() < 0.1:
            errors.append({"user_id": u, "endpoint": "/api/cart", "status": 500,
                           "ts": t + timedelta(seconds=rnd.uniform(1, 60))})

    expected = {"blocked_tx": [], "cases": [], "takeover_users": []}
    span = max(1, a.minutes - 15)
    for u in rapid_users:
        t = START + timedelta(minutes=rnd.uniform(2, span))
        ids = []
        for _ in range(4):
            ids.append(pay(u, t, rnd.uniform(600, 1500), home[u]))
            t += timedelta(seconds=rnd.uniform(15, 35))
        expected["blocked_tx"] += ids[2:]
        expected["cases"].append({"kind": "rapid", "user_id": u, "tx_ids": ids, "blocked": ids[2:]})
    for u in model_users:
        t = START + timedelta(minutes=rnd.uniform(2, span))
        pay(u, t - timedelta(minutes=20), rnd.uniform(5, 300), home[u]) if t - timedelta(minutes=20) > START else None
        abroad = rnd.choice([c for c in COUNTRIES if c != home[u]] + ["US", "BR"])
        i = pay(u, t, rnd.uniform(2500, 6000), abroad)
        expected["blocked_tx"].append(i)
        expected["cases"].append({"kind": "model", "user_id": u, "tx_ids": [i], "blocked": [i]})
    for u in takeover_users:
        t = START + timedelta(minutes=rnd.uniform(2, span))
        for k in range(5):
            logins.append({"user_id": u, "success": False, "device": f"x-{u}", "known_device": False,
                           "ts": t + timedelta(seconds=30 * k)})
            errors.append({"user_id": u, "endpoint": "/api/login", "status": 401,
                           "ts": t + timedelta(seconds=30 * k + 1)})
        t2 = t + timedelta(seconds=200)
        logins.append({"user_id": u, "success": True, "device": f"x-{u}", "known_device": False, "ts": t2})
        # Payment after the takeover: high, at home (the velocity rule and the model stay
        # quiet; the anomaly detector finds it by the logins before it).
        i = pay(u, t2 + timedelta(seconds=120), rnd.uniform(1001, 1400), home[u])
        errors.append({"user_id": u, "endpoint": "/api/payments", "status": 500,
                       "ts": t2 + timedelta(seconds=125)})
        expected["takeover_users"].append(u)
        expected["cases"].append({"kind": "takeover", "user_id": u, "tx_ids": [i], "blocked": []})

    os.makedirs(a.out_dir, exist_ok=True)

    def write(name, rows):
        rows.sort(key=lambda r: r["ts"])
        # Bounded disorder: swap neighbours whose times are within 4 seconds.
        for i in range(1, len(rows)):
            if rnd.random() < 0.3 and (rows[i]["ts"] - rows[i - 1]["ts"]).total_seconds() < 4:
                rows[i - 1], rows[i] = rows[i], rows[i - 1]
        with open(os.path.join(a.out_dir, name), "w") as f:
            for r in rows:
                f.write(json.dumps(dict(r, ts=iso(r["ts"]))) + "\n")

    write("transactions.jsonl", tx)
    write("logins.jsonl", logins)
    write("api_errors.jsonl", errors)
    expected["blocked_tx"].sort()
    expected["takeover_users"].sort()
    with open(os.path.join(a.out_dir, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print(f"{len(tx)} transactions, {len(logins)} logins, {len(errors)} API errors; "
          f"{len(expected['cases'])} injected cases ({a.rapid} rapid, {a.model} model, {a.takeover} takeover)")


if __name__ == "__main__":
    main()
