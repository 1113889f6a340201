#!/usr/bin/env python3
"""The verdict of a GlusterFS campaign (run-ci.sh, run-long.sh) from stress.py's result file.

    verdict.py --json FILE --run-id ID --srwl N --stress-exit RC [--check NAME=RC]... [--label L]

Passes only when all of these hold:
  - stress.py finished with a verdict (exit 0 or 1; 2 means it stopped early);
  - FILE is the result of THIS run (its run_id is ID) and is complete;
  - it holds exactly N libsoftrwlock scenarios and one no-lock control;
  - every libsoftrwlock scenario passed and the control was caught (broken);
  - every other check given (crowded.py, verify_bad_mount.sh) exited 0.
Prints one line per check and `<label>: P passed, F failed`; exit 0 pass, 1 fail.
"""
import argparse
import json
import sys


def judge(doc, run_id, n_srwl):
    """(lines, passed, failed) for a parsed result file."""
    lines, passed, failed = [], 0, 0
    if doc.get("run_id") != run_id:
        return [f"FAIL results are of run {doc.get('run_id')!r}, not of this run {run_id!r} (stale file)"], 0, 1
    if doc.get("complete") is not True:
        lines.append(f"FAIL results incomplete: {len(doc.get('results', []))} of "
                     f"{doc.get('expected_scenarios')} scenarios (the campaign stopped early)")
        failed += 1
    res = doc.get("results", [])
    srwl = [r for r in res if r.get("impl") == "srwl"]
    controls = [r for r in res if r.get("impl") == "none"]
    if len(srwl) != n_srwl:
        lines.append(f"FAIL {len(srwl)} libsoftrwlock scenario(s) in the results, expected {n_srwl}")
        failed += 1
    if len(controls) != 1:
        lines.append(f"FAIL {len(controls)} no-lock control(s) in the results, expected 1")
        failed += 1
    for r in srwl:
        ok = r.get("passed") is True
        passed += ok
        failed += not ok
        lines.append(f"{'ok  ' if ok else 'FAIL'} {r['name']}" + ("" if ok else ": " + "; ".join(r.get("failures", []))))
    for r in controls:
        ok = r.get("passed") is False and (r.get("violations", 0) > 0 or r.get("lost_updates", 0) > 0)
        passed += ok
        failed += not ok
        lines.append(f"{'ok  ' if ok else 'FAIL'} {r['name']}"
                     + ("" if ok else ": the no-lock control came out clean: the oracles cannot see a broken lock"))
    return lines, passed, failed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", required=True)
    ap.add_argument("--run-id", required=True)
    ap.add_argument("--srwl", type=int, required=True, help="number of libsoftrwlock scenarios expected")
    ap.add_argument("--stress-exit", type=int, required=True)
    ap.add_argument("--check", action="append", default=[], metavar="NAME=RC",
                    help="another check of the campaign and its exit status (repeatable)")
    ap.add_argument("--label", default="netfs")
    ap.add_argument("--wall", default="?")
    a = ap.parse_args()
    lines, passed, failed = [], 0, 0
    if a.stress_exit not in (0, 1):
        lines.append(f"FAIL stress.py exit {a.stress_exit}: the campaign did not finish with a verdict")
        failed += 1
    try:
        with open(a.json) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        lines.append(f"FAIL no readable result file {a.json}: {e}")
        doc = None
        failed += 1
    if doc is not None:
        l2, p2, f2 = judge(doc, a.run_id, a.srwl)
        lines += l2
        passed += p2
        failed += f2
    for c in a.check:
        name, _, rc = c.rpartition("=")
        ok = rc == "0"
        passed += ok
        failed += not ok
        lines.append(f"{'ok  ' if ok else 'FAIL'} {name} (exit {rc})")
    for ln in lines:
        print(f"{a.label}: {ln}")
    print(f"{a.label}: wall time {a.wall} s; stress.py exit {a.stress_exit}; results {a.json} (run {a.run_id})")
    print(f"{a.label}: {passed} passed, {failed} failed")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
