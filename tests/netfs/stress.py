#!/usr/bin/env python3
"""Stress and crash driver for reader/writer locks on two GlusterFS client mounts.

Runs N worker processes spread over two simulated hosts (tests/netfs/onhost.sh A|B: own
UTS and PID namespaces, hostnames node-a / node-b, mounts /mnt/srwl-a and /mnt/srwl-b)
against ONE lock path (the same relative path under each host's mount), checks the oracles
from the workers' event logs, prints a side-by-side summary and writes a JSON result file.

Implementations (the same protocol, see worker_common.py):
  srwl              libsoftrwlock through its C API   (target/netfs/srwl_worker)
  filelock-4.2.11   Python filelock SoftReadWriteLock (venv made by make-venvs.sh)
  filelock-3.32.7   Python filelock SoftReadWriteLock (venv made by make-venvs.sh)
  flock             fcntl.flock LOCK_SH / LOCK_EX on the lock file
  none              no lock at all: the negative control; its run must come out BROKEN,
                    or the oracles are blind (run-ci.sh checks that)

A scenario is given as  --run IMPL[,key=value...]  (repeatable), keys:
  w=10          percent of operations that are writes (10 = a 90/10 mix)
  workers=8     number of workers (alternating host A, host B)
  duration=20   seconds of load
  inject=0      SEED:MAX_US for SRWL_INJECT_DELAY (srwl only), 0 = off
  kill=0        kill mode: SIGKILL at least this many workers (0 = off); see --help-oracle
  hb=0.5 stale=3.0 poll=0.05   lock intervals
  hold=5 think=5              ms slept inside a critical section / between operations (max)
  timeout=10    acquire timeout (s)
  maxwait=6     longest acquire wait (s) a libsoftrwlock scenario without kills may take
  io=direct     data-file I/O of the oracle: direct (O_DIRECT, the default) or buffered
                (page cache; Python workers only: shows how a buffered oracle misleads)
  name=...      label

Exit status: 0 when every libsoftrwlock scenario passed, 1 when one failed (judged), 2 when the
campaign did not finish (a crash, bad arguments, host agents that did not start: the results
are incomplete), 77 when the GlusterFS mounts or the workers are not there. filelock and flock
scenarios never fail the run: they are measured, not judged (they are expected to break on
these mounts).

The JSON result file is rewritten after every scenario: {"run_id", "seed", "complete",
"expected_scenarios", "results": [...]}; "complete" is true only once every scenario ran.

Internal: `stress.py --agent` is the per-host agent that onhost.sh runs as pid 1 of a
host's namespaces; it spawns and kills workers on the driver's orders (JSON lines).
"""

import argparse
import bisect
import json
import os
import random
import selectors
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import worker_common as wc  # noqa: E402

ORACLE = """\
Oracles (checked from the workers' local event logs, so killed workers count too):

1. Exclusion, readers: a reader reads the data record twice under its read lock; it must not
   change (V event), and its seq must be even (O event) unless the odd seq was written by a
   writer that had already been SIGKILLed inside its critical section before the read.
2. Exclusion, writers: a writer reads the record back after writing seq odd; it must be exactly
   what it wrote (V event). An odd seq read at entry ("repaired") is fine only if the writer
   named in it was SIGKILLed inside before that read (the same rule as 1).
3. Lost updates, exact even under kills: every writer logs "K gid seq counter lastgid" before
   it writes anything and "D gid" after its final write. A grant with D incremented the counter.
   A grant with K but no D (its writer was killed) incremented it iff some later writer read a
   record naming that grant with an even seq, or the final record names it with an even seq.
   Final counter == #D + #(killed grants that landed), exactly. Without kills this is also
   checked against the JSON lines: final counter == sum of grants_write.
4. Fencing (libsoftrwlock): each writer's srwl_generation() exceeds the one in the record it read.
5. Liveness under kills: for each kill, the phase of the victim (holding read/write, waiting,
   releasing, idle) is taken from its log at the kill time; for holder kills we measure the time
   from the kill to the next grant by anyone, and, when a writer was waiting, to the next write
   grant. A later kill (a waiter at the head of the queue, say) legitimately adds its own stale
   period, so the bound stale_threshold + margin applies to the time from the last kill before
   that grant (both raw and bounded numbers are reported).
6. No unexpected errors, no lost holds, no hung workers (every wait is bounded; a worker still
   alive at the end + timeout + 20 s is killed and reported as hung), no stall (a stretch with
   no grant at all longer than the acquire timeout), and both reads and writes granted.
7. Waits and hosts (libsoftrwlock scenarios without kills): no acquire timed out, the longest
   wait is at most maxwait (6 s by default), and each host was granted reads and writes
   (neither side starves).
"""


# ----------------------------------------------------------------------------------------
# Agent (runs inside onhost.sh, pid 1 of the host's PID namespace)
# ----------------------------------------------------------------------------------------

def _emit(obj):
    data = (json.dumps(obj) + "\n").encode()
    while data:
        n = os.write(1, data)
        data = data[n:]


def _tail_phase(path):
    """Phase of a worker from the last line of its event log."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 300))
            chunk = f.read()
    except OSError:
        return "idle"
    lines = chunk.rstrip(b"\n").split(b"\n")
    if not lines or not lines[-1]:
        return "idle"
    return phase_of(lines[-1].decode(errors="replace").split())


def phase_of(f):
    k = f[0] if f else ""
    if k == "A":
        return "wait_" + f[1]
    if k == "G":
        return "hold_" + f[1]
    if k == "O":
        return "hold_" + f[1]
    if k in ("K", "D"):
        return "hold_w"
    if k == "V":
        return "hold"
    if k in ("R", "L"):
        return "release"
    return "idle"


def agent_main():
    sel = selectors.DefaultSelector()
    os.set_blocking(0, False)
    sel.register(0, selectors.EVENT_READ, "stdin")
    procs = {}   # id -> {"p": Popen, "buf": bytes, "log": path}
    inbuf = b""
    pending = None
    _emit({"ev": "ready", "host": socket.gethostname(), "mnt": os.environ.get("SRWL_MNT"),
           "pid": os.getpid(), "t": time.monotonic()})

    def do_kill(wid, why):
        pr = procs.get(wid)
        if pr is None or pr["p"].poll() is not None:
            _emit({"ev": "kill_missed", "id": wid, "why": "not running"})
            return
        phase = _tail_phase(pr["log"])
        t = time.monotonic()
        try:
            os.kill(pr["p"].pid, signal.SIGKILL)
        except ProcessLookupError:
            _emit({"ev": "kill_missed", "id": wid, "why": "gone"})
            return
        _emit({"ev": "killed", "id": wid, "pid": pr["p"].pid, "t": t, "phase_seen": phase, "why": why})

    while True:
        timeout = 0.002 if pending else 0.5
        for key, _ in sel.select(timeout):
            if key.data == "stdin":
                try:
                    chunk = os.read(0, 65536)
                except BlockingIOError:
                    continue
                if not chunk:          # driver gone: take everything down
                    for pr in procs.values():
                        if pr["p"].poll() is None:
                            pr["p"].kill()
                    return 0
                inbuf += chunk
                while b"\n" in inbuf:
                    line, inbuf = inbuf.split(b"\n", 1)
                    if not line.strip():
                        continue
                    cmd = json.loads(line)
                    op = cmd["op"]
                    if op == "spawn":
                        env = dict(os.environ)
                        env.update(cmd.get("env", {}))
                        errf = open(cmd["stderr"], "ab")
                        try:
                            p = subprocess.Popen(cmd["argv"], stdin=subprocess.DEVNULL,
                                                 stdout=subprocess.PIPE, stderr=errf, env=env)
                        except OSError as e:
                            _emit({"ev": "spawn_failed", "id": cmd["id"], "error": str(e)})
                            continue
                        finally:
                            errf.close()
                        procs[cmd["id"]] = {"p": p, "buf": b"", "log": cmd["log"]}
                        os.set_blocking(p.stdout.fileno(), False)
                        sel.register(p.stdout, selectors.EVENT_READ, cmd["id"])
                        _emit({"ev": "started", "id": cmd["id"], "pid": p.pid, "t": time.monotonic()})
                    elif op == "kill":
                        do_kill(cmd["id"], "direct")
                    elif op == "killphase":
                        pending = {"ids": cmd["ids"], "phases": set(cmd["phases"]),
                                   "deadline": time.monotonic() + cmd.get("within", 0.5),
                                   "want": cmd.get("want", "")}
                    elif op == "quit":
                        for pr in procs.values():
                            if pr["p"].poll() is None:
                                pr["p"].kill()
                        for pr in procs.values():
                            try:
                                pr["p"].wait(timeout=5)
                            except subprocess.TimeoutExpired:
                                pass
                        _emit({"ev": "bye"})
                        return 0
            else:
                wid = key.data
                pr = procs[wid]
                try:
                    chunk = os.read(key.fd, 65536)
                except BlockingIOError:
                    continue
                if chunk:
                    pr["buf"] += chunk
                    continue
                sel.unregister(key.fileobj)
                key.fileobj.close()
                try:
                    rc = pr["p"].wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pr["p"].kill()
                    rc = pr["p"].wait()
                lines = [ln for ln in pr["buf"].decode(errors="replace").splitlines() if ln.strip()]
                _emit({"ev": "exited", "id": wid, "rc": rc, "out": lines[-1] if lines else "",
                       "t": time.monotonic()})
        if pending:
            live = [w for w in pending["ids"] if w in procs and procs[w]["p"].poll() is None]
            hit = None
            if "any" in pending["phases"]:
                hit = random.choice(live) if live else None
            else:
                random.shuffle(live)
                for w in live:
                    if _tail_phase(procs[w]["log"]) in pending["phases"]:
                        hit = w
                        break
            if hit is None and time.monotonic() >= pending["deadline"]:
                hit = random.choice(live) if live else None
                why = "fallback"
                if hit is None:
                    _emit({"ev": "kill_missed", "id": None, "why": "no live worker"})
                    pending = None
                    continue
            else:
                why = "target " + pending["want"]
            if hit is not None:
                pending = None
                do_kill(hit, why)


# ----------------------------------------------------------------------------------------
# Driver
# ----------------------------------------------------------------------------------------

class Agent:
    def __init__(self, host, outdir):
        self.host = host
        self.errlog = open(os.path.join(outdir, f"agent-{host}.stderr"), "wb")
        self.p = subprocess.Popen([os.path.join(HERE, "onhost.sh"), host, sys.executable,
                                   os.path.abspath(__file__), "--agent"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errlog)
        os.set_blocking(self.p.stdout.fileno(), False)
        self.buf = b""
        self.info = None

    def send(self, obj):
        try:
            self.p.stdin.write((json.dumps(obj) + "\n").encode())
            self.p.stdin.flush()
        except BrokenPipeError:
            pass

    def read_events(self):
        out = []
        try:
            chunk = os.read(self.p.stdout.fileno(), 65536)
        except BlockingIOError:
            return out
        if not chunk:
            return None
        self.buf += chunk
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            if line.strip():
                out.append(json.loads(line))
        return out

    def close(self):
        self.send({"op": "quit"})
        try:
            self.p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.errlog.close()


IMPLS = ("srwl", "filelock-4.2.11", "filelock-3.32.7", "flock", "none")


def worker_argv(impl, opts):
    if impl == "srwl":
        exe = opts.srwl_worker
        if not os.access(exe, os.X_OK):
            raise SystemExit(f"stress.py: {exe} is missing: run tests/netfs/build-worker.sh")
        return [exe]
    if impl.startswith("filelock-"):
        py = os.path.join(opts.venv_dir, impl, "bin", "python")
        if not os.access(py, os.X_OK):
            raise SystemExit(f"stress.py: {py} is missing: run tests/netfs/make-venvs.sh")
        return [py, os.path.join(HERE, "filelock_worker.py")]
    if impl == "flock":
        return [sys.executable, os.path.join(HERE, "flock_worker.py")]
    if impl == "none":
        return [sys.executable, os.path.join(HERE, "nolock_worker.py")]
    raise SystemExit(f"stress.py: unknown implementation {impl!r} (known: {', '.join(IMPLS)})")


def parse_run(spec, opts):
    parts = spec.split(",")
    sc = {"impl": parts[0], "w": 10.0, "workers": opts.workers, "duration": opts.duration,
          "inject": "0", "kill": 0, "hb": 0.5, "stale": 3.0, "poll": 0.05, "hold": 5.0,
          "think": 5.0, "timeout": 10.0, "maxwait": 6.0, "margin": opts.margin, "name": None,
          "io": "direct"}
    for kv in parts[1:]:
        k, _, v = kv.partition("=")
        if k not in sc:
            raise SystemExit(f"stress.py: unknown key {k!r} in --run {spec!r}")
        sc[k] = v if k in ("inject", "name", "impl", "io") else float(v)
    sc["workers"] = int(sc["workers"])
    sc["kill"] = int(sc["kill"])
    if sc["io"] not in ("direct", "buffered") or (sc["io"] == "buffered" and sc["impl"] == "srwl"):
        raise SystemExit("stress.py: io=direct, or io=buffered for the Python workers only")
    if sc["workers"] < 2:
        raise SystemExit("stress.py: at least 2 workers")
    if not sc["name"]:
        mix = f"{100 - sc['w']:g}/{sc['w']:g}"
        sc["name"] = f"{sc['impl']} {mix}" + (f" inject={sc['inject']}" if sc["inject"] != "0" else "") \
            + (f" kill>={sc['kill']}" if sc["kill"] else "") + (" io=buffered" if sc["io"] == "buffered" else "")
    worker_argv(sc["impl"], opts)   # fail early if missing
    return sc


def slug(s):
    return "".join(c if c.isalnum() or c in "-." else "_" for c in s)


def run_scenario(sc, opts, run_id, index):
    name = sc["name"]
    outdir = os.path.join(opts.out, run_id, f"{index:02d}-{slug(name)}")
    os.makedirs(outdir, exist_ok=True)
    rel = f"stress/{run_id}-{index:02d}-{slug(sc['impl'])}"
    os.makedirs(os.path.join(opts.mnt_a, rel), exist_ok=True)
    lock_rel, data_rel = f"{rel}/lock", f"{rel}/data"
    with open(os.path.join(opts.mnt_a, data_rel), "wb") as f:
        f.write(wc.format_record(0, 0, "init", 0, "driver"))
    print(f"\n=== [{index}] {name}: {sc['workers']} workers on 2 hosts, {sc['duration']:g} s, "
          f"lock {rel}/lock under each mount", flush=True)
    base_argv = worker_argv(sc["impl"], opts)
    agents = {"A": Agent("A", outdir), "B": Agent("B", outdir)}
    sel = selectors.DefaultSelector()
    for h, ag in agents.items():
        sel.register(ag.p.stdout, selectors.EVENT_READ, h)

    workers = {}     # wid -> dict(host, log, seed, started, exited, json, killed_at)
    kills = []
    events_log = []
    problems = []
    # wait for both agents
    deadline = time.monotonic() + 20
    while any(ag.info is None for ag in agents.values()):
        if time.monotonic() > deadline:
            for ag in agents.values():
                ag.p.kill()
            raise SystemExit("stress.py: the host agents did not start within 20 s "
                             f"(see {outdir}/agent-*.stderr)")
        for key, _ in sel.select(0.2):
            evs = agents[key.data].read_events()
            if evs is None:
                err = open(os.path.join(outdir, f"agent-{key.data}.stderr")).read()
                raise SystemExit(f"stress.py: host agent {key.data} exited at start: {err.strip()}")
            for ev in evs:
                if ev["ev"] == "ready":
                    agents[key.data].info = ev
    hostnames = {h: ag.info["host"] for h, ag in agents.items()}
    for h, m in (("A", opts.mnt_a), ("B", opts.mnt_b)):
        if agents[h].info.get("mnt") != m:
            raise SystemExit(f"stress.py: host {h}'s workers got mount {agents[h].info.get('mnt')}, not {m}")

    load_before = os.getloadavg()
    t_begin = time.monotonic() + 0.5
    until = t_begin + sc["duration"]
    next_index = [0]

    def spawn(host):
        i = next_index[0]
        next_index[0] += 1
        wid = f"{host}{i}"
        log = os.path.join(outdir, f"{wid}.log")
        seed = opts.seed * 100003 + index * 1009 + i
        argv = base_argv + [
            "--wid", wid, "--lock", lock_rel, "--data", data_rel, "--log", log,
            "--until", f"{until:.6f}", "--write-pct", f"{sc['w']:g}", "--hold-ms", f"{sc['hold']:g}",
            "--think-ms", f"{sc['think']:g}", "--timeout", f"{sc['timeout']:g}",
            "--heartbeat", f"{sc['hb']:g}", "--stale", f"{sc['stale']:g}", "--poll", f"{sc['poll']:g}",
            "--seed", str(seed)] + (["--buffered-io"] if sc["io"] == "buffered" else [])
        env = {}
        if sc["impl"] == "srwl" and sc["inject"] != "0":
            s, _, mx = sc["inject"].partition(":")
            env["SRWL_INJECT_DELAY"] = f"{int(s) * 1000 + i}:{mx}"
        workers[wid] = {"host": host, "log": log, "seed": seed, "exited": False, "json": None,
                        "killed_at": None, "rc": None}
        agents[host].send({"op": "spawn", "id": wid, "argv": argv, "env": env, "log": log,
                           "stderr": os.path.join(outdir, f"{wid}.stderr")})
        return wid

    for k in range(sc["workers"]):
        spawn("AB"[k % 2])

    kill_mode = sc["kill"] > 0
    # stop killing early enough that the last victim's lock is recovered inside the run
    kill_stop = until - (sc["stale"] + sc["margin"] + 1.0)
    kill_interval = (kill_stop - t_begin) / (sc["kill"] * 1.3) if kill_mode else 0
    next_kill = t_begin + 1.0
    kill_pending = False
    kill_rotation = [["hold_w"], ["hold_r"], ["wait_r", "wait_w"], ["release"], ["hold_w"],
                     ["wait_w"], ["any"]]
    kill_n = 0
    hard_end = until + sc["timeout"] + 20.0
    hung = []
    agents_dead = set()
    rng = random.Random(opts.seed + index)
    while True:
        now = time.monotonic()
        alive = [w for w, st in workers.items() if not st["exited"]]
        if now >= until and not alive:
            break
        if now >= hard_end and not hung:
            hung = list(alive)
            for w in alive:
                problems.append(f"worker {w} hung: still running {now - until:.1f} s after the end; killed")
                agents[workers[w]["host"]].send({"op": "kill", "id": w})
        if hung and now >= hard_end + 10.0:
            break
        if kill_mode and not kill_pending and now >= next_kill and now < kill_stop:
            host = rng.choice("AB")
            ids = [w for w in alive if workers[w]["host"] == host]
            if ids:
                want = kill_rotation[kill_n % len(kill_rotation)]
                kill_n += 1
                agents[host].send({"op": "killphase", "ids": ids, "phases": want, "within": 0.6,
                                   "want": "+".join(want)})
                kill_pending = True
            next_kill = now + kill_interval * rng.uniform(0.5, 1.5)
        for key, _ in sel.select(0.05):
            h = key.data
            evs = agents[h].read_events()
            if evs is None:
                if h not in agents_dead:
                    agents_dead.add(h)
                    sel.unregister(key.fileobj)
                    problems.append(f"host agent {h} died")
                    for w, st in workers.items():
                        if st["host"] == h and not st["exited"]:
                            st["exited"] = True
                continue
            for ev in evs:
                ev["host"] = h
                events_log.append(ev)
                e = ev["ev"]
                if e == "exited":
                    st = workers[ev["id"]]
                    st["exited"] = True
                    st["rc"] = ev["rc"]
                    try:
                        st["json"] = json.loads(ev["out"]) if ev["out"] else None
                    except ValueError:
                        st["json"] = None
                        problems.append(f"worker {ev['id']} printed a bad result line: {ev['out'][:200]!r}")
                    if st["killed_at"] is None and ev["rc"] != 0 and ev["id"] not in hung:
                        err = ""
                        try:
                            err = open(os.path.join(outdir, f"{ev['id']}.stderr")).read()[-500:]
                        except OSError:
                            pass
                        problems.append(f"worker {ev['id']} exited with status {ev['rc']}: {err.strip()}")
                elif e == "killed":
                    kill_pending = False
                    st = workers[ev["id"]]
                    st["killed_at"] = ev["t"]
                    if ev["why"] == "direct":      # a hung worker killed at the end
                        continue
                    kills.append({"wid": ev["id"], "host": h, "t": ev["t"], "phase_seen": ev["phase_seen"],
                                  "why": ev["why"]})
                    if time.monotonic() < until - 1.0:
                        spawn(h)      # a replacement, on the same host
                elif e == "kill_missed":
                    kill_pending = False
                elif e == "spawn_failed":
                    problems.append(f"could not start worker {ev['id']}: {ev['error']}")
                    workers[ev["id"]]["exited"] = True
    for ag in agents.values():
        ag.close()
    dump_state(os.path.join(opts.mnt_a, rel), os.path.join(outdir, "final-state.txt"))
    final_a = wc.read_data(os.path.join(opts.mnt_a, data_rel))
    final_b = wc.read_data(os.path.join(opts.mnt_b, data_rel))
    with open(os.path.join(outdir, "agent-events.jsonl"), "w") as f:
        for ev in events_log:
            f.write(json.dumps(ev) + "\n")
    res = analyze(sc, workers, kills, final_a, final_b, problems, hung, t_begin, until)
    res.update(name=name, impl=sc["impl"], scenario=sc, outdir=outdir, lock=f"{rel}/lock",
               hostnames=hostnames, loadavg_before=load_before, loadavg_after=os.getloadavg())
    with open(os.path.join(outdir, "result.json"), "w") as f:
        json.dump(res, f, indent=1)
    return res


def dump_state(top, out):
    """Write what the lock left on disk (names, sizes, ages, first bytes) for post-mortems."""
    now = time.time()
    with open(out, "w") as f:
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            for name in sorted(dirnames + filenames):
                p = os.path.join(dirpath, name)
                try:
                    st = os.lstat(p)
                except OSError as e:
                    f.write(f"{os.path.relpath(p, top)}: {e}\n")
                    continue
                line = f"{os.path.relpath(p, top)}  mode {st.st_mode:o} size {st.st_size} age {now - st.st_mtime:.1f}s"
                if name in filenames and st.st_size < 4096:
                    try:
                        line += f"  {wc.read_data(p)[:160]!r}" if name == "data" else \
                            f"  {open(p, 'rb').read(160)!r}"
                    except OSError as e:
                        line += f"  ({e})"
                f.write(line + "\n")


def parse_log(path):
    ev = []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                if not line.endswith("\n"):
                    break      # torn last line of a killed worker
                ev.append(line.split())
    except OSError:
        pass
    return ev


def ev_time(f):
    """CLOCK_MONOTONIC time of an event line, or None."""
    k = f[0]
    try:
        if k in ("A", "T"):
            return float(f[2])
        if k == "G":
            return float(f[3])
        if k == "O":
            return float(f[4])
        if k == "K":
            return float(f[5])
        if k == "D":
            return float(f[2])
        if k in ("S", "E", "V", "N", "R", "L", "F", "X"):
            return float(f[1])
    except (IndexError, ValueError):
        return None
    return None


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))]


def analyze(sc, workers, kills, final_a, final_b, problems, hung, t_begin, until):
    stale, margin = sc["stale"], sc["margin"]
    bound = stale + margin
    logs = {w: parse_log(st["log"]) for w, st in workers.items()}
    timed = {}                           # wid -> (times, events) of the events that carry a time
    for w, evs in logs.items():
        tv = [(ev_time(f), f) for f in evs]
        tv = [(t, f) for t, f in tv if t is not None]
        timed[w] = ([t for t, _ in tv], [f for _, f in tv])

    def event_at(w, t):
        """The last event of worker w at or before time t, or None."""
        ts, fs = timed.get(w, ([], []))
        i = bisect.bisect_right(ts, t)
        return fs[i - 1] if i else None
    killed_at = {w: st["killed_at"] for w, st in workers.items() if st["killed_at"] is not None}

    grants = {"r": [], "w": []}          # (t, wid)
    waits = {"r": [], "w": []}
    grants_by_host = {"A": 0, "B": 0}
    grants_by_host_mode = {"r": {"A": 0, "B": 0}, "w": {"A": 0, "B": 0}}
    done = set()
    k_obs = []                           # (t, gid, seq, counter, lastgid)
    odd_obs = []                         # (t, mode, gid, lastgid, wid)
    write_gids = {}                      # gid -> wid
    counts = dict(violations_in_worker=0, errors=0, timeouts=0, lost=0, grants_read=0, grants_write=0,
                  fencing=0)
    samples = {"violations": [], "errors": [], "fencing": []}
    for w, evs in logs.items():
        pending_a = {}
        for f in evs:
            k = f[0]
            t = ev_time(f)
            if k == "A":
                pending_a = {"mode": f[1], "t": t}
            elif k == "G":
                mode = f[1]
                grants[mode].append((t, w))
                grants_by_host[workers[w]["host"]] += 1
                grants_by_host_mode[mode][workers[w]["host"]] += 1
                counts["grants_read" if mode == "r" else "grants_write"] += 1
                if pending_a:
                    waits[mode].append(t - pending_a["t"])
                pending_a = {}
                if mode == "w":
                    write_gids[f[2]] = w
            elif k == "T":
                counts["timeouts"] += 1
                pending_a = {}
            elif k == "K":
                k_obs.append((t, f[1], int(f[2]), int(f[3]), f[4]))
            elif k == "O":
                odd_obs.append((t, f[1], f[2], f[3], w))
            elif k == "D":
                done.add(f[1])
            elif k == "V":
                counts["violations_in_worker"] += 1
                if len(samples["violations"]) < 5:
                    samples["violations"].append(f"{w}: " + " ".join(f[2:]))
            elif k == "N":
                counts["fencing"] += 1
                if len(samples["fencing"]) < 5:
                    samples["fencing"].append(f"{w}: " + " ".join(f[2:]))
            elif k == "E":
                counts["errors"] += 1
                if len(samples["errors"]) < 8:
                    samples["errors"].append(f"{w}: " + " ".join(f[2:]))
            elif k == "L":
                counts["lost"] += 1
    for m in grants:
        grants[m].sort()

    # ---- oracle 1+2: odd observations must name a writer killed inside before the read
    incomplete = {g: w for g, w in write_gids.items() if g not in done}
    bad_odd = []
    explained_odd = 0
    for (t, mode, gid, last, w) in odd_obs:
        lw = incomplete.get(last)
        if lw is not None and lw in killed_at and killed_at[lw] < t:
            explained_odd += 1
        else:
            bad_odd.append(f"{'reader' if mode == 'r' else 'writer'} {gid} saw seq odd written by {last}"
                           f" ({'alive' if (lw or last.split(':')[0]) not in killed_at else 'killed later'})")
    # ---- oracle 3: exact counter
    try:
        fseq, fcounter, flast = wc.parse_record(final_a)
    except ValueError:
        fseq, fcounter, flast = -1, -1, "?"
        problems.append(f"final data record unreadable: {final_a[:100]!r}")
    if final_a != final_b:
        problems.append(f"the two mounts disagree on the final data record: {final_a[:60]!r} vs {final_b[:60]!r}")
    landed = set()
    for (t, gid, seq, counter, last) in k_obs:
        if last in incomplete and seq % 2 == 0:
            landed.add(last)
    if flast in incomplete and fseq % 2 == 0:
        landed.add(flast)
    expected = len(done) + len(landed)
    lost_updates = expected - fcounter
    json_grants_write = sum((st["json"] or {}).get("grants_write", 0) for st in workers.values()
                            if st["json"] is not None)
    json_ok_all = all(st["json"] is not None for st in workers.values() if st["killed_at"] is None)
    if not kills and json_ok_all and fcounter != json_grants_write:
        problems.append(f"final counter {fcounter} != sum of grants_write reported by the workers "
                        f"{json_grants_write}")
    incomplete_live = [g for g, w in incomplete.items() if w not in killed_at]
    # ---- liveness under kills
    all_g = sorted(grants["r"] + grants["w"])
    all_t = [t for t, _ in all_g]
    w_t = [t for t, _ in grants["w"]]
    phase_counts = {}
    rec_any = []        # kill -> next grant by anyone, for holder kills
    rec_conf = []       # kill -> next write grant, for holder kills while a writer waited
    since_any = []      # the same, measured from the last kill before that grant
    since_conf = []
    kill_ts = sorted(k["t"] for k in kills)

    def since_last_kill(t0, t1):
        # a later kill (of a waiter at the head of the queue, say) legitimately adds its own
        # stale period: the bound applies from the last kill before the grant
        j = bisect.bisect_left(kill_ts, t1) - 1
        return t1 - max(t0, kill_ts[j]) if j >= 0 else t1 - t0
    unrecovered = []
    for kd in kills:
        f = event_at(kd["wid"], kd["t"])
        ph = phase_of(f) if f else "idle"
        kd["phase"] = ph
        phase_counts[ph] = phase_counts.get(ph, 0) + 1
        if ph in ("hold_w", "hold_r", "hold", "release"):
            i = bisect.bisect_right(all_t, kd["t"])
            if i < len(all_t):
                r = all_t[i] - kd["t"]
                kd["recovery_any"] = r
                rec_any.append(r)
                since_any.append(since_last_kill(kd["t"], all_t[i]))
            elif until - kd["t"] > bound:
                unrecovered.append(kd)
            # a writer waiting at the kill: time to the next write grant
            waiting_w = False
            for w2 in logs:
                if w2 == kd["wid"] or (killed_at.get(w2) or 1e18) < kd["t"]:
                    continue
                last = event_at(w2, kd["t"])
                if last and last[0] == "A" and last[1] == "w":
                    waiting_w = True
                    break
            if waiting_w:
                j = bisect.bisect_right(w_t, kd["t"])
                if j < len(w_t):
                    r = w_t[j] - kd["t"]
                    kd["recovery_write"] = r
                    rec_conf.append(r)
                    since_conf.append(since_last_kill(kd["t"], w_t[j]))
                elif until - kd["t"] > bound:
                    unrecovered.append(kd)
    # longest stretch without any grant inside the run (from the start, between grants, to the end)
    gap_pts = [t_begin] + [t for t in all_t if t_begin <= t <= until] + [until]
    gaps = [(b - a, a) for a, b in zip(gap_pts, gap_pts[1:])]
    max_gap, max_gap_at = max(gaps) if gaps else (0.0, t_begin)
    dur = max(1e-9, until - t_begin)
    res = {
        "max_grant_gap": max_gap, "max_grant_gap_from_s": max_gap_at - t_begin,
        "grants_read": counts["grants_read"], "grants_write": counts["grants_write"],
        "grants_per_s": round((counts["grants_read"] + counts["grants_write"]) / dur, 1),
        "writes_per_s": round(counts["grants_write"] / dur, 1),
        "grants_by_host": grants_by_host,
        "read_grants_by_host": grants_by_host_mode["r"], "write_grants_by_host": grants_by_host_mode["w"],
        "final_record": final_a.decode(errors="replace").strip(),
        "final_counter": fcounter, "expected_counter": expected,
        "completed_writes": len(done), "killed_writes_landed": len(landed),
        "killed_writes_not_landed": len(incomplete) - len(incomplete_live) - len(landed),
        "incomplete_writes_of_live_workers": len(incomplete_live),
        "json_grants_write": json_grants_write,
        "lost_updates": lost_updates,
        "violations_in_worker": counts["violations_in_worker"],
        "odd_seen_unexplained": len(bad_odd), "odd_seen_after_kill": explained_odd,
        "violations": counts["violations_in_worker"] + len(bad_odd),
        "errors": counts["errors"], "timeouts": counts["timeouts"], "lost_holds": counts["lost"],
        "fencing_errors": counts["fencing"],
        "hung": hung,
        "wait_read_p50": pct(waits["r"], 50), "wait_read_p99": pct(waits["r"], 99),
        "wait_read_max": max(waits["r"]) if waits["r"] else None,
        "wait_write_p50": pct(waits["w"], 50), "wait_write_p99": pct(waits["w"], 99),
        "wait_write_max": max(waits["w"]) if waits["w"] else None,
        "workers_started": len(workers),
        "kills": len(kills), "kill_phases": phase_counts,
        "recovery_after_holder_kill_max": max(rec_any) if rec_any else None,
        "recovery_after_holder_kill_mean": (sum(rec_any) / len(rec_any)) if rec_any else None,
        "recovery_write_after_holder_kill_max": max(rec_conf) if rec_conf else None,
        "recovery_measured": len(rec_any), "recovery_write_measured": len(rec_conf),
        "recovery_since_last_kill_max": max(since_any) if since_any else None,
        "recovery_write_since_last_kill_max": max(since_conf) if since_conf else None,
        "recovery_bound": bound,
        "unrecovered_kills": [{"wid": k["wid"], "t": k["t"], "phase": k["phase"]} for k in unrecovered],
        "samples": {"odd": bad_odd[:5], **samples},
        "problems": problems,
        "kill_list": kills,
    }
    # ---- verdict (applied to libsoftrwlock only)
    fails = []
    if res["violations"]:
        fails.append(f"{res['violations']} exclusion violation(s)")
    if lost_updates:
        fails.append(f"counter {fcounter}, expected {expected}: "
                     f"{'lost' if lost_updates > 0 else 'extra'} {abs(lost_updates)} update(s)")
    if res["errors"]:
        fails.append(f"{res['errors']} error(s)")
    if res["fencing_errors"]:
        fails.append(f"{res['fencing_errors']} write grant(s) whose fencing token did not exceed the previous writer's")
    if res["lost_holds"]:
        fails.append(f"{res['lost_holds']} lost hold(s)")
    if hung:
        fails.append(f"{len(hung)} hung worker(s)")
    if problems:
        fails.append(f"{len(problems)} problem(s)")
    if max_gap > sc["timeout"]:
        fails.append(f"stalled: no grant at all for {max_gap:.1f} s (from {max_gap_at - t_begin:.1f} s into the run), "
                     f"longer than the acquire timeout {sc['timeout']:g} s")
    if res["grants_write"] == 0 or (sc["w"] < 100 and res["grants_read"] == 0):
        fails.append("no read or no write grant at all (starvation)")
    if not sc["kill"] and sc["impl"] == "srwl":
        # libsoftrwlock's promise; the comparison locks keep their safety-only label
        fails += judge_waits_and_hosts(sc, res)
    if sc["kill"]:
        if len(kills) < sc["kill"]:
            fails.append(f"only {len(kills)} kills, wanted >= {sc['kill']}")
        for key in ("recovery_since_last_kill_max", "recovery_write_since_last_kill_max"):
            if res[key] is not None and res[key] > bound:
                fails.append(f"{key} {res[key]:.2f} s > stale + margin {bound:.2f} s")
        if unrecovered:
            fails.append(f"{len(unrecovered)} kill(s) after which the lock was not granted again")
    res["failures"] = fails
    res["passed"] = not fails
    return res


def judge_waits_and_hosts(sc, res):
    """Without kills nothing excuses a long wait: no acquire may time out, none may wait longer
    than maxwait, and each host must be granted reads and writes (neither side starves)."""
    fails = []
    if res["timeouts"]:
        fails.append(f"{res['timeouts']} acquire timeout(s) without any kill")
    longest = max([x for x in (res["wait_read_max"], res["wait_write_max"]) if x is not None], default=0.0)
    if longest > sc["maxwait"]:
        fails.append(f"longest acquire wait {longest:.2f} s > maxwait {sc['maxwait']:g} s")
    for h in "AB":
        if res["write_grants_by_host"][h] == 0:
            fails.append(f"no write grant on host {h} (starved)")
        if sc["w"] < 100 and res["read_grants_by_host"][h] == 0:
            fails.append(f"no read grant on host {h} (starved)")
    return fails


def fmt(x, nd=2):
    return "-" if x is None else f"{x:.{nd}f}"


def print_result(r):
    sc = r["scenario"]
    judged = sc["impl"] == "srwl"
    verdict = ("PASS" if r["passed"] else "FAIL") if judged else ("clean" if r["passed"] else "BROKEN")
    print(f"--- {r['name']}: {verdict}  (hosts {r['hostnames']['A']}, {r['hostnames']['B']}; logs {r['outdir']})")
    print(f"    machine load average (1 min) {r['loadavg_before'][0]:.1f} before, {r['loadavg_after'][0]:.1f} after")
    print(f"    grants: {r['grants_read']} read, {r['grants_write']} write "
          f"({r['grants_per_s']}/s; host A {r['read_grants_by_host']['A']} read + "
          f"{r['write_grants_by_host']['A']} write, host B {r['read_grants_by_host']['B']} read + "
          f"{r['write_grants_by_host']['B']} write)")
    print(f"    counter: final {r['final_counter']}, expected {r['expected_counter']} "
          f"(completed {r['completed_writes']} + killed-but-landed {r['killed_writes_landed']}; "
          f"killed before landing {r['killed_writes_not_landed']}) -> lost updates {r['lost_updates']}")
    print(f"    violations {r['violations']} (in-worker {r['violations_in_worker']}, odd seq unexplained "
          f"{r['odd_seen_unexplained']}; odd seq left by killed writers {r['odd_seen_after_kill']}), "
          f"errors {r['errors']}, timeouts {r['timeouts']}, lost holds {r['lost_holds']}, hung {len(r['hung'])}")
    print(f"    longest time without any grant: {r['max_grant_gap']:.2f} s (from {r['max_grant_gap_from_s']:.1f} s into the run)")
    print(f"    wait read p50/p99/max {fmt(r['wait_read_p50'], 3)}/{fmt(r['wait_read_p99'], 3)}/"
          f"{fmt(r['wait_read_max'], 3)} s, write {fmt(r['wait_write_p50'], 3)}/{fmt(r['wait_write_p99'], 3)}/"
          f"{fmt(r['wait_write_max'], 3)} s")
    if sc["kill"]:
        print(f"    kills {r['kills']} (workers started {r['workers_started']}), phase at kill: {r['kill_phases']}")
        print(f"    recovery after a holder kill: max {fmt(r['recovery_after_holder_kill_max'])} s, mean "
              f"{fmt(r['recovery_after_holder_kill_mean'])} s over {r['recovery_measured']}; next write grant "
              f"with a writer waiting: max {fmt(r['recovery_write_after_holder_kill_max'])} s over "
              f"{r['recovery_write_measured']}")
        print(f"    the same measured from the last kill before that grant (bound stale+margin = "
              f"{r['recovery_bound']:.2f} s): any grant max {fmt(r['recovery_since_last_kill_max'])} s, "
              f"write grant max {fmt(r['recovery_write_since_last_kill_max'])} s")
    for s in r["samples"]["violations"] + r["samples"]["odd"]:
        print(f"    violation: {s}")
    if r["fencing_errors"]:
        print(f"    fencing: {r['fencing_errors']} write grant(s) got a token not above the previous writer's")
    for s in r["samples"]["fencing"][:3]:
        print(f"    fencing: {s}")
    for s in r["samples"]["errors"][:5]:
        print(f"    error: {s}")
    for s in r["problems"][:5]:
        print(f"    problem: {s}")
    for s in r["failures"] if judged else []:
        print(f"    FAILED: {s}")


def print_table(results):
    print("\n=== side by side")
    hdr = (f"{'scenario':<38} {'reads':>6} {'writes':>6} {'/s':>6} {'lost-upd':>8} {'viol':>5} "
           f"{'fence':>5} {'err':>4} {'tmo':>4} {'lost':>4} {'kills':>5} {'recov-max':>9}  verdict")
    print(hdr)
    print("-" * len(hdr))
    for r in results:
        judged = r["impl"] == "srwl"
        verdict = ("PASS" if r["passed"] else "FAIL") if judged else ("clean" if r["passed"] else "BROKEN")
        print(f"{r['name'][:38]:<38} {r['grants_read']:>6} {r['grants_write']:>6} {r['grants_per_s']:>6} "
              f"{r['lost_updates']:>8} {r['violations']:>5} {r['fencing_errors']:>5} {r['errors']:>4} {r['timeouts']:>4} "
              f"{r['lost_holds']:>4} {r['kills']:>5} {fmt(r['recovery_since_last_kill_max']):>9}  {verdict}")


def save_results(jpath, run_id, seed, expected, results):
    """Rewrite the result file (atomically): a campaign that stops early leaves "complete": false."""
    os.makedirs(os.path.dirname(os.path.abspath(jpath)), exist_ok=True)
    tmp = f"{jpath}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump({"run_id": run_id, "seed": seed, "complete": len(results) == expected,
                   "expected_scenarios": expected, "results": results}, f, indent=1)
    os.replace(tmp, jpath)


EXIT_UNFINISHED = 2


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agent", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--run", action="append", default=[], help="scenario IMPL[,key=value...] (repeatable)")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--margin", type=float, default=1.5, help="recovery bound = stale + margin (s)")
    ap.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    ap.add_argument("--out", default=os.environ.get("SRWL_NETFS_OUT", "/tmp/srwl-netfs"),
                    help="local directory for logs and results")
    ap.add_argument("--json", default=None, help="result file (default OUT/RUN_ID/results.json)")
    ap.add_argument("--run-id", default=None, help="run identifier written into the results "
                    "(default: date, time and pid)")
    ap.add_argument("--srwl-worker", default=os.path.join(ROOT, "target", "netfs", "srwl_worker"))
    ap.add_argument("--venv-dir", default=os.environ.get("SRWL_VENV_DIR", "/tmp/srwl-netfs-venvs"))
    ap.add_argument("--mnt-a", default=os.environ.get("SRWL_MNT_A", "/mnt/srwl-a"))
    ap.add_argument("--mnt-b", default=os.environ.get("SRWL_MNT_B", "/mnt/srwl-b"))
    ap.add_argument("--help-oracle", action="store_true", help="explain the oracles and exit")
    opts = ap.parse_args()
    if opts.agent:
        return agent_main()
    if opts.help_oracle:
        print(ORACLE)
        return 0
    if not opts.run:
        ap.error("give at least one --run IMPL[,key=value...]")
    # onhost.sh gives each host's workers its mount from these: the same ones as the driver's
    os.environ["SRWL_MNT_A"], os.environ["SRWL_MNT_B"] = opts.mnt_a, opts.mnt_b
    for m in (opts.mnt_a, opts.mnt_b):
        if not os.path.ismount(m):
            print(f"stress.py: SKIP: {m} is not mounted: run tests/netfs/setup.sh first", file=sys.stderr)
            return 77
    if os.stat(opts.mnt_a).st_dev == os.stat(opts.mnt_b).st_dev:
        print(f"stress.py: {opts.mnt_a} and {opts.mnt_b} are the same device, not two clients", file=sys.stderr)
        return 77
    scenarios = [parse_run(s, opts) for s in opts.run]
    run_id = opts.run_id or time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}"
    if not run_id or any(not (c.isalnum() or c in "-._") for c in run_id):
        raise SystemExit(f"stress.py: bad --run-id {run_id!r} (letters, digits, - . _)")
    print(f"stress.py: run {run_id}, seed {opts.seed}, logs under {os.path.join(opts.out, run_id)}")
    jpath = opts.json or os.path.join(opts.out, run_id, "results.json")
    results = []
    save_results(jpath, run_id, opts.seed, len(scenarios), results)
    for i, sc in enumerate(scenarios):
        t0 = time.monotonic()
        r = run_scenario(sc, opts, run_id, i)
        r["wall_s"] = round(time.monotonic() - t0, 1)
        results.append(r)
        save_results(jpath, run_id, opts.seed, len(scenarios), results)
        print_result(r)
    print_table(results)
    print(f"\nstress.py: results written to {jpath}")
    bad = [r["name"] for r in results if r["impl"] == "srwl" and not r["passed"]]
    if bad:
        print(f"stress.py: FAILED libsoftrwlock scenario(s): {', '.join(bad)}")
        return 1
    n_srwl = sum(1 for r in results if r["impl"] == "srwl")
    print(f"stress.py: {n_srwl} libsoftrwlock scenario(s) passed; "
          f"{len(results) - n_srwl} comparison scenario(s) recorded")
    return 0


if __name__ == "__main__":
    # A campaign that stops early must not look like a judged failure (exit 1): every way out
    # other than a verdict or a skip exits 2.
    try:
        rc = main()
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            raise
        print(e.code, file=sys.stderr)
        rc = EXIT_UNFINISHED
    except BaseException:
        import traceback
        traceback.print_exc()
        rc = EXIT_UNFINISHED
    sys.exit(rc)
