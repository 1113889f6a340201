#!/usr/bin/env python3
"""Verdict of one stress.py campaign, for run-moosefs.sh and run-glusterfs-defaults.sh.

  campaign_verdict.py RESULTS.json LABEL STRESS_EXIT

Prints one "ok  " / "FAIL" line per judged scenario (every libsoftrwlock scenario must pass;
the no-lock control must come out broken, or the oracles are blind), then a last line
"counts: PASSED FAILED" for the runner to add up. Exit 0 when nothing failed.
"""
import json
import sys


def main():
    path, label, stress_exit = sys.argv[1], sys.argv[2], sys.argv[3]
    passed = failed = 0
    try:
        res = json.load(open(path))["results"]
    except (OSError, ValueError, KeyError) as e:
        print(f"FAIL {label}: no results from stress.py (exit {stress_exit}): {e}")
        print("counts: 0 1")
        return 1
    if stress_exit not in ("0", "1"):
        print(f"FAIL {label}: stress.py exited {stress_exit}")
        failed += 1
    for r in res:
        if r["impl"] == "srwl":
            ok = r["passed"]
            why = "; ".join(r.get("failures", []))
        elif r["impl"] == "none":
            ok = not r["passed"] and (r["violations"] > 0 or r["lost_updates"] > 0)
            why = "the no-lock control came out clean: the oracles cannot see a broken lock"
        else:
            continue
        passed += ok
        failed += not ok
        detail = (f"{r['grants_read']} reads, {r['grants_write']} writes, {r['grants_per_s']}/s, "
                  f"lost {r['lost_updates']}, violations {r['violations']}, errors {r['errors']}, "
                  f"lost holds {r['lost_holds']}, kills {r['kills']}")
        print(f"{'ok  ' if ok else 'FAIL'} {label}: {r['name']} ({detail})" + ("" if ok else f": {why}"))
    print(f"counts: {passed} {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
