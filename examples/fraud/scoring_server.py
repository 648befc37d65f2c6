#!/usr/bin/env python3
"""A local model-scoring service for the fraud example: POST /score with a JSON object of
features (or an array of such objects) answers {"score": s, "model_version": "..."} (or an
array of answers, in order). The "model" is a fixed logistic regression:

    score = 1 / (1 + exp(-(-10 + 0.003 * amount + 5 * abroad + 0.2 * max(0, tx_count_5m - 2))))

where abroad = country differs from home_country. It scores a payment of 2,500 abroad at
0.92 and any payment at home below 2,000 under 0.05.

usage: scoring_server.py [--port N] [--port-file F] [--die-after N]
  binds 127.0.0.1 (port 0: any free one); --die-after N: the process exits at once after
  answering N scoring requests, to show a job going on without its model (the example's test)
"""
import argparse
import json
import math
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL_VERSION = "fraud-logit-v1"
DIE_AFTER = 0  # 0: never
served = 0
served_lock = threading.Lock()


def score(f):
    amount = float(f.get("amount") or 0)
    abroad = 1.0 if f.get("country") and f.get("home_country") and f["country"] != f["home_country"] else 0.0
    count = float(f.get("tx_count_5m") or 0)
    z = -10 + 0.003 * amount + 5 * abroad + 0.2 * max(0.0, count - 2)
    return {"score": round(1 / (1 + math.exp(-z)), 6), "model_version": MODEL_VERSION}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        if self.path.split("?")[0] != "/score":
            return self.reply(404, {"error": "unknown path"})
        try:
            n = int(self.headers.get("Content-Length", "0"))
            if n > 1 << 20:
                return self.reply(413, {"error": "body too large"})
            body = json.loads(self.rfile.read(n) or b"null")
            if isinstance(body, list):
                self.reply(200, [score(x) for x in body])
            elif isinstance(body, dict):
                self.reply(200, score(body))
            else:
                return self.reply(400, {"error": "expected a JSON object or array"})
            self.count()
        except (ValueError, TypeError) as e:
            return self.reply(400, {"error": str(e)})

    def count(self):
        global served
        with served_lock:
            served += 1
            if DIE_AFTER and served >= DIE_AFTER:
                self.wfile.flush()
                os._exit(0)

    def do_GET(self):
        if self.path == "/health":
            return self.reply(200, {"status": "ok", "model_version": MODEL_VERSION})
        return self.reply(404, {"error": "unknown path"})

    def reply(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8500)
    ap.add_argument("--port-file", help="write the bound port here (useful with --port 0)")
    ap.add_argument("--die-after", type=int, default=0)
    a = ap.parse_args()
    global DIE_AFTER
    DIE_AFTER = a.die_after
    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    server.daemon_threads = True
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(server.server_address[1]))
        os.replace(tmp, a.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
