#!/usr/bin/env python3
"""Runs one external conformance suite (../shared/conformance/<suite>) against build/sluice.

The suite's own runner prints `ok NAME` / `FAIL NAME: reason` per case and a pass count.
This wrapper compares the failures with tests/conformance/known_failures.txt (each line:
`suite case-name  # missing feature`). It fails when a case fails that is not listed (a
regression) and when a listed case passes (the list must stay true), and prints the
suite's pass count as its last line.

usage: run_suite.py SLUICE SUITE_DIR SUITE_NAME [CASES_SUBDIR ...]
"""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def known_failures(suite):
    out = {}
    with open(os.path.join(HERE, "known_failures.txt")) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            body, _, reason = line.partition("#")
            parts = body.split()
            if len(parts) == 2 and parts[0] == suite:
                out[parts[1]] = reason.strip()
    return out


def main():
    sluice, suite_dir, suite = sys.argv[1], sys.argv[2], sys.argv[3]
    subdirs = sys.argv[4:] or ["cases"]
    if not os.path.isdir(suite_dir):
        print(f"conformance: suite directory {suite_dir} not found", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    known = known_failures(suite)
    failed, passed, total = set(), 0, 0
    for sub in subdirs:
        cmd = [sys.executable, os.path.join(suite_dir, "run_cases.py"), sluice, os.path.join(suite_dir, sub)]
        p = subprocess.run(cmd, capture_output=True, text=True)
        for line in p.stdout.splitlines():
            m = re.match(r"^(ok|FAIL)\s+(\S+?):?(\s|$)", line)
            if not m:
                if re.search(r"cases pass$", line):
                    print(f"{sub}: {line}")
                continue
            total += 1
            if m.group(1) == "ok":
                passed += 1
            else:
                failed.add(m.group(2))
                if m.group(2) not in known:
                    print(line)
        if p.returncode not in (0, 1):
            print(p.stdout[-2000:], p.stderr[-2000:])
    unexpected = sorted(failed - set(known))
    fixed = sorted(n for n in known if n not in failed)
    for n in sorted(failed & set(known)):
        print(f"known failure {n}: {known[n]}")
    for n in unexpected:
        print(f"REGRESSION {n}: fails and is not in known_failures.txt")
    for n in fixed:
        print(f"NOW PASSES {n}: remove it from known_failures.txt")
    print(f"conformance {suite}: {passed}/{total} cases pass, {len(failed & set(known))} known failures")
    ok = not unexpected and not fixed and total > 0
    print(f"{passed} passed, {total - passed} failed" if ok else f"{passed} passed, {total - passed} failed (unexpected)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
