#!/usr/bin/env python3
"""The campaign's verdict rejects what is not a finished, complete run of this campaign.

Plants result files as a stale, crashed or partial campaign would leave them and runs
verdict.py on each (a real process on real files); also feeds stress.py's judge of waits and
hosts a starved host, a timeout and a long wait. Needs no mount. Exit 0 pass, 1 fail.
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import stress  # noqa: E402

failures = []


def srwl(name, passed=True):
    return {"impl": "srwl", "name": name, "passed": passed, "failures": [] if passed else ["x"]}


CONTROL = {"impl": "none", "name": "control", "passed": False, "violations": 12, "lost_updates": 3}


def doc(run_id, results, complete=True, expected=None):
    return {"run_id": run_id, "seed": 1, "complete": complete,
            "expected_scenarios": len(results) if expected is None else expected, "results": results}


def verdict(tmp, content, run_id="ci-this", n=2, stress_exit=0, crowded=0):
    path = os.path.join(tmp, "results.json")
    if os.path.exists(path):
        os.unlink(path)
    if content is not None:
        with open(path, "w") as f:
            json.dump(content, f)
    p = subprocess.run([sys.executable, os.path.join(HERE, "verdict.py"), "--json", path, "--run-id", run_id,
                        "--srwl", str(n), "--stress-exit", str(stress_exit), "--check", f"crowded room={crowded}"],
                       capture_output=True, text=True)
    return p.returncode, p.stdout


def expect(name, want_rc, got):
    rc, out = got
    if rc != want_rc:
        failures.append(f"{name}: verdict exit {rc}, expected {want_rc}:\n{out}")
    else:
        print(f"test_verdict: ok: {name}: exit {rc}: {out.strip().splitlines()[-1]}")


def main():
    good = [CONTROL, srwl("a"), srwl("b")]
    with tempfile.TemporaryDirectory(prefix="srwl-verdict-") as tmp:
        expect("this run, complete, all passed", 0, verdict(tmp, doc("ci-this", good)))
        expect("stale file of an earlier run (stress.py exit 1)", 1,
               verdict(tmp, doc("ci-earlier", good), stress_exit=1))
        expect("control only", 1, verdict(tmp, doc("ci-this", [CONTROL])))
        expect("one libsoftrwlock scenario missing", 1, verdict(tmp, doc("ci-this", good[:2])))
        expect("incomplete (stopped early)", 1,
               verdict(tmp, doc("ci-this", good[:2], complete=False, expected=3), n=1, stress_exit=2))
        expect("stress.py crashed after writing everything", 1, verdict(tmp, doc("ci-this", good), stress_exit=2))
        expect("no result file", 1, verdict(tmp, None))
        expect("a libsoftrwlock scenario failed", 1, verdict(tmp, doc("ci-this", [CONTROL, srwl("a"), srwl("b", False)])))
        expect("control came out clean", 1,
               verdict(tmp, doc("ci-this", [dict(CONTROL, passed=True, violations=0, lost_updates=0), srwl("a"), srwl("b")])))
        expect("crowded room failed", 1, verdict(tmp, doc("ci-this", good), crowded=1))
        expect("crowded room skipped", 1, verdict(tmp, doc("ci-this", good), crowded=77))

    # stress.py's judge of a scenario without kills: waits and hosts
    sc = {"w": 10.0, "maxwait": 6.0}
    fine = {"timeouts": 0, "wait_read_max": 0.4, "wait_write_max": 2.0,
            "write_grants_by_host": {"A": 9, "B": 8}, "read_grants_by_host": {"A": 90, "B": 80}}
    cases = [("fine", fine, 0),
             ("host B's writers starved", dict(fine, write_grants_by_host={"A": 17, "B": 0}), 1),
             ("host A's readers starved", dict(fine, read_grants_by_host={"A": 0, "B": 170}), 1),
             ("one acquire timed out", dict(fine, timeouts=1), 1),
             ("a wait of 6.5 s", dict(fine, wait_write_max=6.5), 1)]
    for name, res, want in cases:
        got = stress.judge_waits_and_hosts(sc, res)
        if len(got) != want:
            failures.append(f"judge_waits_and_hosts({name}): {got}, expected {want} failure(s)")
        else:
            print(f"test_verdict: ok: judge_waits_and_hosts: {name}: {got or 'pass'}")
    for f in failures:
        print(f"test_verdict: FAIL: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
