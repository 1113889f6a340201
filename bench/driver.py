#!/usr/bin/env python3
"""driver.py: runs the benchmark scenarios of bench/bench.h for every implementation on every
filesystem, collects the numbers, prints the tables and writes them into BENCHMARKS.md.

Called by bench/run.sh (which builds everything and makes the venvs first); see there for the
command line a human uses. Implementations:
  libsoftrwlock   target/bench/srwl_bench       (C, links the library)
  filelock-4.2.11 <venv>/bin/python bench/filelock_bench.py
  filelock-3.32.7 <venv>/bin/python bench/filelock_bench.py
  flock           target/bench/flock_bench      (C, flock(2))
"""
import argparse
import datetime
import glob
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "target", "bench")

# ---- parameters of the scenarios ---------------------------------------------------------
FULL = dict(cycle_s=2.0, writers=4, writers_s=5.0, mixed_readers=99, netfs_mixed_readers=24,
            mixed_s=8.0, bursts=(64, 256), waiters=16, waiters_s=10.0, waiter_modes=("r", "w"),
            netfs_waiter_modes=("w",), strace_bursts=(64, 256), burst_timeout=30.0,
            netfs_burst_timeout=20.0, netfs_python_bursts=(64,),
            scale=(16, 64, 256, 1024, 4096), netfs_scale=(16, 64, 256, 1024), scale_python_max=1024,
            scale_timeout=30.0, scale_strace=(16, 1024, 4096), scale_repeat=3, mix_procs=8, mix_s=10.0,
            mix_write_pct=10)
QUICK = dict(quick=True, cycle_s=1.0, writers=4, writers_s=3.0, mixed_readers=24, mixed_s=3.0,
             bursts=(64, 256), python_bursts=(64,), waiters=16, waiters_s=3.0, waiter_modes=("w",),
             netfs_waiter_modes=("w",), strace_bursts=(64, 256), burst_timeout=10.0,
             netfs_burst_timeout=10.0, impls=("libsoftrwlock", "filelock-4.2.11", "flock"),
             scale=(16, 256, 1024), netfs_scale=(16, 256), scale_python_max=256,
             scale_timeout=15.0, scale_strace=(16, 256), scale_repeat=1, mix_procs=8, mix_s=4.0,
             mix_write_pct=10)
HB, STALE, POLL = 0.5, 2.0, 0.1  # heartbeat, stale threshold, poll interval (s), all impls

# file-related syscalls (what "file syscalls" counts); everything else is reported as "other"
FILE_SYSCALLS = set("""openat open creat mkdirat mkdir renameat renameat2 rename unlinkat unlink
rmdir linkat link symlinkat symlink getdents64 getdents newfstatat fstat stat lstat statx
access faccessat faccessat2 write pwrite64 writev pwritev pwritev2 read pread64 readv preadv
preadv2 close lseek fsync fdatasync syncfs ftruncate truncate fchmod fchmodat chmod fchown
fchownat utimensat futimesat utime utimes fcntl flock fadvise64 readlink readlinkat
fstatfs statfs dup dup2 dup3 mknodat copy_file_range sendfile64 fallocate""".split())


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def loadavg():
    try:
        return open("/proc/loadavg").read().split()[:3]
    except OSError:
        return ["?"] * 3


# ---- running one scenario ------------------------------------------------------------------
class Impl:
    def __init__(self, name, argv, lang):
        self.name, self.argv, self.lang = name, argv, lang


def impls(venvs):
    out = [Impl("libsoftrwlock", [os.path.join(BENCH, "srwl_bench")], "C")]
    for ver in ("4.2.11", "3.32.7"):
        py = os.path.join(venvs, f"srwl-bench-venv-{ver}", "bin", "python")
        out.append(Impl(f"filelock-{ver}", [py, os.path.join(ROOT, "bench", "filelock_bench.py")],
                        "Python"))
    out.append(Impl("flock", [os.path.join(BENCH, "flock_bench")], "C"))
    return out


def run(argv, timeout, strace_out=None):
    """Runs argv in its own process group; returns (json summary or None, stderr tail)."""
    if strace_out:
        argv = ["strace", "-f", "-c", "-o", strace_out] + argv
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        err += f"\n[driver: killed after {timeout} s]"
    summary = None
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                summary = json.loads(line)
            except ValueError:
                pass
    tail = "\n".join(err.strip().splitlines()[-5:])
    if summary is None:
        log(f"    no result from {' '.join(argv[:6])}...: {tail}")
    return summary, tail


_PERF_EVENTS = []


def perf_syscall_events():
    """syscalls:sys_enter_<name> for every file syscall this kernel has a tracepoint for, and
    raw_syscalls:sys_enter for all of them; [] if perf cannot count them."""
    if _PERF_EVENTS:
        return _PERF_EVENTS[0]
    events = []
    try:
        listed = subprocess.run(["perf", "list", "tracepoint"], capture_output=True, text=True,
                                timeout=60).stdout
        have = set(re.findall(r"syscalls:sys_enter_(\w+)", listed))
        events = [f"syscalls:sys_enter_{k}" for k in sorted(FILE_SYSCALLS & have)]
        if events and subprocess.run(["perf", "stat", "-e", "raw_syscalls:sys_enter", "true"],
                                     capture_output=True, timeout=60).returncode == 0:
            events.append("raw_syscalls:sys_enter")
        else:
            events = []
    except (OSError, subprocess.TimeoutExpired):
        events = []
    _PERF_EVENTS.append(events)
    return events


def parse_perf(path):
    """perf stat -x, output: count,unit,event,... ; returns {syscall: count, '*all*': count}."""
    calls = {}
    try:
        lines = open(path).read().splitlines()
    except OSError:
        return None
    for line in lines:
        f = line.split(",")
        if len(f) < 3 or not f[0].isdigit():
            continue
        if f[2] == "raw_syscalls:sys_enter":
            calls["*all*"] = int(f[0])
        elif f[2].startswith("syscalls:sys_enter_"):
            calls[f[2][len("syscalls:sys_enter_"):]] = int(f[0])
    return calls


def parse_strace(path):
    calls = {}
    try:
        lines = open(path).read().splitlines()
    except OSError:
        return calls
    for line in lines:
        parts = line.split()
        if len(parts) < 5 or not re.match(r"^[\d.]+$", parts[0]) or parts[-1] == "total":
            continue
        try:
            calls[parts[-1]] = calls.get(parts[-1], 0) + int(parts[3])
        except ValueError:
            pass
    return calls


def read_proc_files(d):
    """Per-process files written by the benches: a list of dicts."""
    procs = []
    for f in sorted(glob.glob(os.path.join(d, "*.txt"))):
        p = dict(role=None, cycles=0, writes=0, errors=0, timeouts=0, violations=0, wait=[],
                 handoff=[], handoffx=[], grant=[], waitto=[])
        for line in open(f):
            k, _, v = line.strip().partition(" ")
            if k == "role":
                p["role"] = v
            elif k in ("wait", "handoff", "handoffx", "grant", "waitto"):
                p[k].append(float(v))
            elif k in ("cycles", "writes", "errors", "timeouts", "violations"):
                p[k] += int(v)
        procs.append(p)
    return procs


def pct(xs, q):
    if not xs:
        return None
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(q / 100.0 * (len(xs) - 1)))))
    return xs[k]


class Bench:
    def __init__(self, args, cfg):
        self.args, self.cfg = args, cfg
        self.results = dict(meta={}, fs={})
        self.runs = os.path.join(BENCH, "runs")
        self.seq = 0

    def outdir(self, fs, impl, scen):
        self.seq += 1
        d = os.path.join(self.runs, fs, impl.name, f"{self.seq:03d}-{scen}")
        os.makedirs(d, exist_ok=True)
        return d

    def base(self, impl, scen, locks, tag, data=True, direct=False):
        """argv for one scenario on fresh lock/data paths (one per path set = per mount)."""
        argv = impl.argv + [scen]
        for i, d in enumerate(locks):
            argv += ["--lock", os.path.join(d, f"{impl.name}.{tag}.lock")]
        if data:
            for d in locks:
                argv += ["--data", os.path.join(d, f"{impl.name}.{tag}.data")]
        if direct:
            argv.append("--direct")
        argv += ["--hb", str(HB), "--stale", str(STALE), "--poll", str(POLL)]
        return argv

    # ---- the scenarios --------------------------------------------------------------------
    def cycles(self, fs, impl, dirs, res):
        for mode in ("r", "w"):
            self.seq += 1
            argv = self.base(impl, "cycles", dirs[:1], f"cyc{self.seq}", data=False)
            s, _ = run(argv + ["--mode", mode, "--seconds", str(self.cfg["cycle_s"])], 120)
            res[f"rate_{mode}"] = s["rate"] if s else None
            res[f"cycles_errors_{mode}"] = s["errors"] if s else None
            log(f"    cycles {mode}: {s['rate'] if s else '-':.6} /s" if s else
                f"    cycles {mode}: failed")

    def syscalls(self, fs, impl, dirs, res):
        for mode in ("r", "w"):
            rate = res.get(f"rate_{mode}") or 50
            n = int(max(20, min(1000 if impl.lang == "C" else 200, rate * 0.7)))
            counts = []
            for k in (0, n):
                self.seq += 1
                argv = self.base(impl, "cycles", dirs[:1], f"sys{self.seq}", data=False)
                st = os.path.join(self.outdir(fs, impl, "strace"), f"strace.{mode}.{k}.txt")
                s, _ = run(argv + ["--mode", mode, "--count", str(k)], 300, strace_out=st)
                counts.append(parse_strace(st) if s else None)
            if counts[0] is None or counts[1] is None:
                res[f"sys_{mode}"] = None
                continue
            per = {}
            for name in set(counts[0]) | set(counts[1]):
                v = (counts[1].get(name, 0) - counts[0].get(name, 0)) / n
                if abs(v) >= 0.005:
                    per[name] = round(v, 2)
            files = sum(v for k2, v in per.items() if k2 in FILE_SYSCALLS)
            res[f"sys_{mode}"] = dict(n=n, per=per, file=round(files, 2),
                                      all=round(sum(per.values()), 2))
            log(f"    syscalls/{mode} cycle: file {files:.1f}, all {sum(per.values()):.1f} (N={n})")

    def writers(self, fs, impl, dirs, res, direct):
        d = self.outdir(fs, impl, "writers")
        argv = self.base(impl, "writers", dirs, f"wr{self.seq}", direct=direct)
        s, _ = run(argv + ["--procs", str(self.cfg["writers"]), "--seconds",
                           str(self.cfg["writers_s"]), "--out", d], self.cfg["writers_s"] + 120)
        procs = read_proc_files(d)
        if not s or not procs:
            res["writers"] = None
            return
        cyc = [p["cycles"] for p in procs]
        total = sum(cyc)
        handoff = [h for p in procs for h in p["handoff"]]
        handoffx = [h for p in procs for h in p["handoffx"]]
        res["writers"] = dict(
            total=total, rate=total / s["seconds"], per_proc=cyc,
            fairness=(min(cyc) / max(cyc)) if max(cyc) else 0.0, counter=s["counter"],
            exact=s["counter"] == total, lost=total - s["counter"],
            errors=sum(p["errors"] for p in procs), timeouts=sum(p["timeouts"] for p in procs),
            violations=sum(p["violations"] for p in procs),
            handoff_median=pct(handoff, 50), handoff_p99=pct(handoff, 99), handoff=handoff,
            handoffx_median=pct(handoffx, 50), handoffx_n=len(handoffx))
        w = res["writers"]
        log(f"    4 writers: {w['rate']:.1f}/s per-proc {cyc} counter {w['counter']} "
            f"(grants {total}) handoff median {w['handoff_median']}")

    def mixed(self, fs, impl, dirs, res, direct, readers):
        d = self.outdir(fs, impl, "mixed")
        argv = self.base(impl, "mixed", dirs, f"mx{self.seq}", direct=direct)
        s, _ = run(argv + ["--procs", str(readers), "--seconds", str(self.cfg["mixed_s"]),
                           "--out", d], self.cfg["mixed_s"] + 180)
        procs = read_proc_files(d)
        if not s or not procs:
            res["mixed"] = None
            return
        w = [p for p in procs if p["role"] == "w"]
        r = [p for p in procs if p["role"] == "r"]
        # a timed-out wait counts as a wait of (at least) its length
        waits = [x for p in w for x in p["wait"] + p["waitto"]]
        rc = [p["cycles"] for p in r]
        res["mixed"] = dict(
            readers=readers, seconds=s["seconds"], writes=sum(p["cycles"] for p in w),
            wait_median=pct(waits, 50), wait_p99=pct(waits, 99),
            wait_max=max(waits) if waits else None, writer_timeouts=sum(p["timeouts"] for p in w),
            read_rate=sum(rc) / s["seconds"], reader_min=min(rc) if rc else 0,
            reader_max=max(rc) if rc else 0, reader_starved=sum(1 for c in rc if c == 0),
            errors=sum(p["errors"] for p in procs),
            timeouts=sum(p["timeouts"] for p in procs),
            violations=sum(p["violations"] for p in procs), waits=waits)
        m = res["mixed"]
        log(f"    1w+{readers}r: writes {m['writes']} wait median {m['wait_median']} "
            f"p99 {m['wait_p99']} reads {m['read_rate']:.0f}/s violations {m['violations']}")

    def burst(self, fs, impl, dirs, res, n, netfs):
        # strace -f of many Python processes takes minutes: the Python bursts are counted only
        # locally and only for 64 (their syscalls barely depend on the filesystem)
        with_strace = n in self.cfg["strace_bursts"] and (
            impl.lang == "C" or (not netfs and n <= 64 and not self.cfg.get("quick")))
        d = self.outdir(fs, impl, f"burst{n}")
        argv = self.base(impl, "burst", dirs, f"bu{self.seq}", data=False)
        limit = self.cfg["netfs_burst_timeout" if netfs else "burst_timeout"]
        s, _ = run(argv + ["--procs", str(n), "--out", d, "--timeout", str(limit)], limit + 240)
        procs = read_proc_files(d)
        key = f"burst{n}"
        if not s or not procs:
            res[key] = None
            return
        grants = [g for p in procs if p["cycles"] for g in p["grant"]]
        held = sum(p["cycles"] for p in procs)
        res[key] = dict(all_hold=(max(grants) - s["t0"]) if held == n else None, held=held, n=n,
                        limit=limit, median=pct([g - s["t0"] for g in grants], 50),
                        errors=sum(p["errors"] for p in procs), failed=s["failed_procs"])
        if with_strace:
            res[key].update(self.strace_burst(fs, impl, dirs, n))
        b = res[key]
        log(f"    burst {n}: all hold after {b['all_hold']} s ({held}/{n}), syscalls "
            f"{b.get('sys_file', '-')} file / {b.get('sys_all', '-')} all")

    def strace_burst(self, fs, impl, dirs, n):
        """strace -f -c of N readers released together, run with acquire minus run without
        (the holders are SIGKILLed once all hold: only the acquisitions are counted)."""
        tot = []
        for extra in (["--no-acquire"], []):
            self.seq += 1
            argv = self.base(impl, "burst", dirs, f"bs{self.seq}", data=False)
            d2 = self.outdir(fs, impl, f"burst{n}-strace")
            st = os.path.join(d2, "strace.txt")
            s2, _ = run(argv + ["--procs", str(n), "--out", d2] + extra, 900, strace_out=st)
            tot.append(parse_strace(st) if s2 else None)
        if tot[0] is None or tot[1] is None:
            return {}
        allc = sum(tot[1].values()) - sum(tot[0].values())
        filec = (sum(v for k, v in tot[1].items() if k in FILE_SYSCALLS)
                 - sum(v for k, v in tot[0].items() if k in FILE_SYSCALLS))
        kinds = {k: tot[1].get(k, 0) - tot[0].get(k, 0) for k in set(tot[1]) | set(tot[0])}
        return dict(sys_all=allc, sys_file=filec,
                    kinds={k: v for k, v in kinds.items() if k in FILE_SYSCALLS and v > 0})

    def perf_burst(self, fs, impl, dirs, n):
        """Like strace_burst, but counted by the kernel's syscall tracepoints (perf stat follows
        the forked readers): no ptrace stop per call, so the readers interleave as they do
        without a tracer (strace -f stops each at every syscall, so they interleave otherwise
        and meet a different room). None if perf cannot count tracepoints here."""
        events = perf_syscall_events()
        if not events:
            return None
        tot = []
        for extra in (["--no-acquire"], []):
            self.seq += 1
            argv = self.base(impl, "burst", dirs, f"bp{self.seq}", data=False)
            d2 = self.outdir(fs, impl, f"burst{n}-perf")
            out = os.path.join(d2, "perf.txt")
            s2, _ = run(["perf", "stat", "-x,", "-o", out, "-e", ",".join(events), "--"] + argv
                        + ["--procs", str(n), "--out", d2] + extra, 900)
            tot.append(parse_perf(out) if s2 else None)
        if tot[0] is None or tot[1] is None:
            return {}
        kinds = {k: tot[1].get(k, 0) - tot[0].get(k, 0) for k in set(tot[1]) | set(tot[0])}
        allc = kinds.pop("*all*", 0)
        filec = sum(v for k, v in kinds.items() if k in FILE_SYSCALLS)
        return dict(sys_all=allc, sys_file=filec, tool="perf stat of the syscall tracepoints",
                    kinds={k: v for k, v in kinds.items() if k in FILE_SYSCALLS and v > 0})

    def scale(self, fs, impl, dirs, res, netfs):
        """The scale curve: N readers released together, once all hold released together again;
        time until the last holds and until the last has released. An implementation's curve
        stops at the first N where not all held within the limit or that took more than a
        quarter of it (four times the crowd would then not fit); Python stops at
        scale_python_max (thousands of forked interpreters do not fit in memory). A C
        implementation's bursts run scale_repeat times at each size and the median is kept (one
        burst of thousands of processes on 2 cores varies by a third from run to run); every
        run's times are kept beside it."""
        limit = self.cfg["scale_timeout"]
        reps = self.cfg.get("scale_repeat", 1) if impl.lang == "C" else 1
        curve = res.setdefault("scale", {})
        stop = None
        for n in self.cfg["netfs_scale" if netfs else "scale"]:
            if impl.lang != "C" and n > self.cfg["scale_python_max"]:
                curve[str(n)] = dict(n=n, skipped=f"Python: at most {self.cfg['scale_python_max']}")
                continue
            if stop:
                curve[str(n)] = dict(n=n, skipped=stop)
                continue
            runs = []
            for _ in range(reps):
                d = self.outdir(fs, impl, f"scale{n}")
                argv = self.base(impl, "burst", dirs, f"sc{self.seq}", data=False)
                s, _ = run(argv + ["--procs", str(n), "--out", d, "--timeout", str(limit),
                                   "--release"], 2 * limit + 300)
                procs = read_proc_files(d)
                shutil.rmtree(d, ignore_errors=True)  # thousands of small files; the summary is kept
                if not s or not procs:
                    runs = None
                    break
                grants = sorted(g - s["t0"] for p in procs if p["cycles"] for g in p["grant"])
                held = len(grants)
                runs.append(dict(
                    n=n, limit=limit, held=held,
                    all_hold=grants[-1] if held == n else None, median=pct(grants, 50),
                    released=s.get("released"),
                    all_released=s["all_released"] if s.get("all_released", -1) >= 0 else None,
                    load=loadavg()))
            if not runs:
                curve[str(n)] = dict(n=n, failed=True)
                stop = f"failed at {n}"
                continue
            # The median run by the time until all hold (a run in which not all held counts as
            # the slowest).
            runs.sort(key=lambda x: float("inf") if x["all_hold"] is None else x["all_hold"])
            r = dict(runs[len(runs) // 2])
            if len(runs) > 1:
                r["runs"] = [x["all_hold"] for x in runs]
            curve[str(n)] = r
            log(f"    scale {n}: all hold {r['all_hold']} s ({r['held']}/{n}), all released "
                f"{r['all_released']} s (load {' '.join(r['load'])})"
                + (f"; median of {len(r['runs'])} runs: {r['runs']}" if r.get("runs") else ""))
            if r["all_hold"] is None:
                stop = f"at {n} not all held within {limit:g} s"
            elif r["all_hold"] > limit / 4:
                stop = f"{n} took {r['all_hold']:.1f} s"
        if impl.lang == "C":  # strace of thousands of Python processes takes far too long
            for n in self.cfg["scale_strace"]:
                if n not in self.cfg["netfs_scale" if netfs else "scale"]:
                    continue
                st = self.perf_burst(fs, impl, dirs, n)
                if st is None:
                    st = self.strace_burst(fs, impl, dirs, n)
                    if st:
                        st["tool"] = "strace -f -c"
                if st:
                    st.update(per_reader=st["sys_file"] / n, per_reader_all=st["sys_all"] / n)
                    curve[str(n)].update(strace=st)
                    log(f"    scale {n}: file syscalls per reader {st['per_reader']:.2f}")

    def mix(self, fs, impl, dirs, res, direct):
        d = self.outdir(fs, impl, "mix")
        self.seq += 1
        argv = self.base(impl, "mix", dirs, f"mi{self.seq}", direct=direct)
        secs = self.cfg["mix_s"]
        s, _ = run(argv + ["--procs", str(self.cfg["mix_procs"]), "--seconds", str(secs),
                           "--write-pct", str(self.cfg["mix_write_pct"]), "--hold-ms", "5",
                           "--think-ms", "5", "--out", d], secs + 120)
        procs = read_proc_files(d)
        if not s or not procs:
            res["mix"] = None
            return
        grants = sum(p["cycles"] for p in procs)
        writes = sum(p["writes"] for p in procs)
        res["mix"] = dict(procs=s["procs"], seconds=s["seconds"], grants=grants, writes=writes,
                          rate=grants / s["seconds"], counter=s["counter"],
                          exact=s["counter"] == writes,
                          errors=sum(p["errors"] for p in procs),
                          timeouts=sum(p["timeouts"] for p in procs),
                          violations=sum(p["violations"] for p in procs))
        m = res["mix"]
        log(f"    90/10 mix: {m['rate']:.1f} grants/s, counter {m['counter']} (writes {writes}), "
            f"violations {m['violations']}")

    def evict(self, fs, impl, dirs, res):
        self.seq += 1
        argv = self.base(impl, "evict", dirs, f"ev{self.seq}", data=False)
        s, _ = run(argv, 120)
        res["evict"] = s["grant_after_kill"] if s and s["grant_after_kill"] >= 0 else None
        log(f"    evict: next grant {res['evict']} s after SIGKILL (stale {STALE} s)")

    def waiters(self, fs, impl, dirs, res, mode):
        d = self.outdir(fs, impl, f"waiters-{mode}")
        self.seq += 1
        argv = self.base(impl, "waiters", dirs, f"wa{self.seq}", data=False)
        secs = self.cfg["waiters_s"]
        s, _ = run(argv + ["--procs", str(self.cfg["waiters"]), "--seconds", str(secs),
                           "--mode", mode, "--out", d], secs + 120)
        procs = read_proc_files(d)
        key = f"waiters_{mode}"
        if not s:
            res[key] = None
            return
        cpu = s["cpu"]
        res[key] = dict(seconds=s["seconds"], cpu=cpu,
                        mean_pct=100 * statistics.mean(cpu) / s["seconds"],
                        max_pct=100 * max(cpu) / s["seconds"],
                        granted=sum(p["cycles"] for p in procs),
                        errors=sum(p["errors"] for p in procs))
        w = res[key]
        log(f"    {len(cpu)} {mode}-waiters: CPU mean {w['mean_pct']:.3f}% max {w['max_pct']:.3f}% "
            f"of a core (granted wrongly: {w['granted']})")

    # ---- one filesystem -----------------------------------------------------------------------
    @staticmethod
    def mounts_ok(dirs, fstype="fuse.glusterfs"):
        """Each dir's parent must still be a FUSE mount of that type and the dir visible through
        it (another session may tear the volume down under us: then the numbers mean nothing)."""
        mounts = {}
        for line in open("/proc/mounts"):
            f = line.split()
            mounts[f[1]] = f[2]
        for d in dirs:
            root = os.path.dirname(d)
            if mounts.get(root) != fstype:
                return f"{root} is no longer a {fstype} mount"
            if not os.path.isdir(d):
                return f"{d} is not visible"
        return None

    @staticmethod
    def other_users(dirs):
        """Processes using the mounts between our runs (none of ours is running then)."""
        pids = set()
        for d in dirs:
            if not os.path.ismount(os.path.dirname(d)):
                continue  # fuser -m would name every user of the filesystem below
            r = subprocess.run(["fuser", "-m", os.path.dirname(d)], capture_output=True, text=True)
            pids |= set(r.stdout.split())
        return sorted(pids)

    def run_fs(self, fs, dirs, direct, all_impls, netfs, scale_only=False):
        info = dict(dirs=dirs, load_before=loadavg(), started=time.time(),
                    date=datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
                    git=git_describe(), note=self.args.netfs_note if netfs else "")
        try:
            info["fstype"] = subprocess.run(["df", "--output=fstype", dirs[0]], capture_output=True,
                                            text=True).stdout.split()[-1]
        except OSError:
            info["fstype"] = "?"
        fstype = info["fstype"]
        shutil.rmtree(os.path.join(self.runs, fs), ignore_errors=True)
        fsres = dict(info=info, impls={})
        if scale_only:
            self.results.setdefault("scale", {})[fs] = fsres
        else:
            self.results["fs"][fs] = fsres
            # What the operations a cycle cannot avoid cost here, without any lock around them.
            fsres["floor"], _ = run([os.path.join(BENCH, "fs_floor"), dirs[0], "1"], 120)
            log(f"== {fs}: floor {fsres['floor']}")
        for impl in all_impls:
            if netfs:
                bad = self.mounts_ok(dirs, fstype)
                if bad:
                    info["invalid"] = f"stopped before {impl.name}: {bad}"
                    log(f"== {fs}: {info['invalid']}")
                    break
                busy = self.other_users(dirs)
                if busy:
                    info.setdefault("shared_during", []).append(impl.name)
                    log(f"   other processes use the volume: {' '.join(busy[:10])}")
            res = {}
            fsres["impls"][impl.name] = res
            log(f"== {fs}: {impl.name} (load {' '.join(loadavg())})")
            t_impl = time.time()
            if scale_only:
                self.scale(fs, impl, dirs, res, netfs)
            elif netfs and impl.name == "flock":
                # flock across two client mounts: no exclusion. Show the lost updates.
                self.cycles(fs, impl, dirs, res)
                self.writers(fs, impl, dirs, res, direct)
                self.mix(fs, impl, dirs, res, direct)
                continue
            else:
                self.full(fs, impl, dirs, res, direct, netfs)
            res["minutes"] = (time.time() - t_impl) / 60
            log(f"   ({res['minutes']:.1f} min)")
            if netfs:
                bad = self.mounts_ok(dirs, fstype)
                if bad:  # the mounts went away during this implementation's runs
                    info["invalid"] = f"during {impl.name}: {bad}; its numbers are dropped"
                    fsres["impls"].pop(impl.name)
                    log(f"== {fs}: {info['invalid']}")
                    break
        info["load_after"] = loadavg()
        info["minutes"] = (time.time() - info["started"]) / 60

    def full(self, fs, impl, dirs, res, direct, netfs):
        """Every scenario but the scale curve (bench/run.sh --scale adds that)."""
        self.cycles(fs, impl, dirs, res)
        self.syscalls(fs, impl, dirs, res)
        self.writers(fs, impl, dirs, res, direct)
        if netfs:
            self.mix(fs, impl, dirs, res, direct)
        readers = self.cfg["mixed_readers"]
        if netfs:
            readers = self.cfg.get("netfs_mixed_readers", readers)
        self.mixed(fs, impl, dirs, res, direct, readers)
        bursts = self.cfg["bursts"]
        if impl.lang != "C":
            bursts = self.cfg.get("netfs_python_bursts" if netfs else "python_bursts", bursts)
        for n in bursts:
            self.burst(fs, impl, dirs, res, n, netfs)
        self.evict(fs, impl, dirs, res)
        for mode in self.cfg["netfs_waiter_modes" if netfs else "waiter_modes"]:
            self.waiters(fs, impl, dirs, res, mode)


def git_describe():
    return subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                          capture_output=True, text=True).stdout.strip()


# ---- reporting -------------------------------------------------------------------------------
def fmt(v, nd=1, unit=""):
    if v is None:
        return "-"
    if isinstance(v, float):
        if abs(v) >= 100:
            return f"{v:.0f}{unit}"
        return f"{v:.{nd}f}{unit}"
    return f"{v}{unit}"


def ms(v):
    return "-" if v is None else (f"{v * 1000:.1f} ms" if v < 10 else f"{v:.1f} s")


def g(d, *keys):
    for k in keys:
        if d is None:
            return None
        d = d.get(k) if isinstance(d, dict) else None
    return d


def burst_cell(b):
    if not b:
        return "-"
    if b["all_hold"] is not None:
        return ms(b["all_hold"])
    return f"> {b['limit']:g} s ({b['held']} of {b['n']} held by then)"


def top_kinds(sysres, nmax=12):
    if not sysres:
        return "-"
    items = sorted(((k, v) for k, v in sysres["per"].items() if k in FILE_SYSCALLS and v >= 0.05),
                   key=lambda kv: -kv[1])
    s = ", ".join(f"{k} {v:g}" for k, v in items[:nmax])
    if len(items) > nmax:
        s += ", ..."
    others = sorted(((k, v) for k, v in sysres["per"].items()
                     if k not in FILE_SYSCALLS and v >= 0.05), key=lambda kv: -kv[1])
    if others:
        s += "; other: " + ", ".join(f"{k} {v:g}" for k, v in others[:6])
    return s


def tables(results):
    out = []
    for fs, fsres in results["fs"].items():
        info = fsres["info"]
        names = list(fsres["impls"])
        out.append(f"### {fs}: {', '.join(info['dirs'])} ({info['fstype']})\n")
        out.append(f"Run on {info.get('date', '?')}, git {info.get('git', '?')}.\n")
        if info.get("note"):
            out.append(f"**Note: {info['note']}**\n")
        if info.get("shared_during"):
            out.append("**Other processes used the GlusterFS volume when these started: "
                       f"{', '.join(info['shared_during'])}; their numbers include that load.**\n")
        if info.get("invalid"):
            out.append(f"**Incomplete: {info['invalid']}.**\n")
        out.append(f"Load average before/after: {' '.join(info['load_before'])} / "
                   f"{' '.join(info.get('load_after', ['?']))}; took {info.get('minutes', 0):.1f} min.\n")
        hdr = "| | " + " | ".join(names) + " |"
        sep = "| --- |" + " --- |" * len(names)
        rows = []

        def row(label, f):
            rows.append(f"| {label} | " + " | ".join(f(fsres["impls"][n]) for n in names) + " |")

        row("1. uncontended read cycles/s", lambda r: fmt(r.get("rate_r")))
        row("1. uncontended write cycles/s", lambda r: fmt(r.get("rate_w")))
        row("2. file syscalls / read cycle", lambda r: fmt(g(r, "sys_r", "file")))
        row("2. file syscalls / write cycle", lambda r: fmt(g(r, "sys_w", "file")))
        row("2. all syscalls / read cycle", lambda r: fmt(g(r, "sys_r", "all")))
        row("2. all syscalls / write cycle", lambda r: fmt(g(r, "sys_w", "all")))
        row("3. 4 writers: cycles/s", lambda r: fmt(g(r, "writers", "rate")))
        row("3. 4 writers: per-process cycles", lambda r: " / ".join(map(str, g(r, "writers", "per_proc") or [])) or "-")
        row("3. 4 writers: fairness min/max", lambda r: fmt(g(r, "writers", "fairness"), 2))
        row("3. 4 writers: counter (lost updates)",
            lambda r: "-" if not r.get("writers") else
            f"{r['writers']['counter']}/{r['writers']['total']} "
            f"({'exact' if r['writers']['exact'] else str(r['writers']['lost']) + ' lost'})")
        row("3. 4 writers: handoff median / p99",
            lambda r: "-" if not r.get("writers") else
            f"{ms(r['writers']['handoff_median'])} / {ms(r['writers']['handoff_p99'])}")
        if any(g(fsres["impls"][n], "writers", "handoffx_n") for n in names):
            row("3. 4 writers: cross-client handoff median (n)",
                lambda r: "-" if not g(r, "writers", "handoffx_n") else
                f"{ms(r['writers']['handoffx_median'])} ({r['writers']['handoffx_n']})")
        row("3. errors / timeouts / odd seq seen",
            lambda r: "-" if not r.get("writers") else
            f"{r['writers']['errors']} / {r['writers']['timeouts']} / {r['writers']['violations']}")
        row("4. 1 writer + N readers: N", lambda r: fmt(g(r, "mixed", "readers")))
        row("4. writer wait median", lambda r: ms(g(r, "mixed", "wait_median")))
        row("4. writer wait p99 (max)", lambda r: "-" if not r.get("mixed") else
            f"{ms(r['mixed']['wait_p99'])} ({ms(r['mixed']['wait_max'])})")
        row("4. writes done (writer timeouts)", lambda r: "-" if not r.get("mixed") else
            f"{r['mixed']['writes']} ({r['mixed']['writer_timeouts']})")
        row("4. readers: cycles/s total", lambda r: fmt(g(r, "mixed", "read_rate")))
        row("4. readers: per-reader min / max cycles", lambda r: "-" if not r.get("mixed") else
            f"{r['mixed']['reader_min']} / {r['mixed']['reader_max']}")
        row("4. errors / timeouts / writer seen by reader", lambda r: "-" if not r.get("mixed") else
            f"{r['mixed']['errors']} / {r['mixed']['timeouts']} / {r['mixed']['violations']}")
        for n in (64, 256):
            row(f"5. {n} readers at once: all hold after", lambda r, n=n: burst_cell(g(r, f"burst{n}")))
            row(f"5. {n} readers: syscalls file / all", lambda r, n=n: "-" if g(r, f"burst{n}", "sys_all") is None else
                f"{r[f'burst{n}']['sys_file']} / {r[f'burst{n}']['sys_all']}")
        row(f"6. SIGKILLed writer: next grant after (stale {STALE:g} s)", lambda r: ms(r.get("evict")))
        for mode, label in (("r", "read"), ("w", "write")):
            row(f"7. 16 {label} waiters: CPU mean / max, % of a core",
                lambda r, mode=mode: "-" if not r.get(f"waiters_{mode}") else
                f"{r[f'waiters_{mode}']['mean_pct']:.2f}% / {r[f'waiters_{mode}']['max_pct']:.2f}%")
        if any(fsres["impls"][n].get("mix") for n in names):
            row("8. 90/10, 8 processes: grants/s", lambda r: fmt(g(r, "mix", "rate")))
            row("8. 90/10: counter (lost updates) / writer seen by reader",
                lambda r: "-" if not r.get("mix") else
                f"{r['mix']['counter']}/{r['mix']['writes']} "
                f"({'exact' if r['mix']['exact'] else str(r['mix']['writes'] - r['mix']['counter']) + ' lost'})"
                f" / {r['mix']['violations']}")
            row("8. 90/10: errors / timeouts", lambda r: "-" if not r.get("mix") else
                f"{r['mix']['errors']} / {r['mix']['timeouts']}")
        out += [hdr, sep] + rows + [""]
        fl = fsres.get("floor")
        if fl:
            out.append(f"Floor on this filesystem (`target/bench/fs_floor DIR`: the bare operations, "
                       f"no lock around them, microseconds per pair): mkdir + rmdir "
                       f"{fl['dir_cycle_us']:.0f} us, create + write + close + unlink "
                       f"{fl['file_cycle_us']:.0f} us, file rename out and back "
                       f"{fl['rename_pair_us']:.0f} us, lseek + getdents64 {fl['listing_us']:.1f} us"
                       + (f", rewrite + link + unlink of a prepared file {fl['link_cycle_us']:.0f} us"
                          if "link_cycle_us" in fl else "") + ". "
                       f"A write grant that rests on rmdir cannot cycle faster than mkdir + rmdir + "
                       f"two renames: {1e6 / (fl['dir_cycle_us'] + fl['rename_pair_us']):.0f}/s.\n")
        # syscalls by kind
        out.append(f"Syscalls per uncontended cycle by kind ({fs}; strace -f -c, "
                   "run of N cycles minus run of 0 cycles, divided by N):\n")
        out.append("| impl | read cycle | write cycle |")
        out.append("| --- | --- | --- |")
        for n in names:
            r = fsres["impls"][n]
            if r.get("sys_r") or r.get("sys_w"):
                out.append(f"| {n} | {top_kinds(r.get('sys_r'))} | {top_kinds(r.get('sys_w'))} |")
        out.append("")
    return "\n".join(out)


def goals(results):
    rows = []
    L = results["fs"].get("local", {}).get("impls", {})
    N = results["fs"].get("glusterfs", {}).get("impls", {})
    s = L.get("libsoftrwlock", {})
    f4 = L.get("filelock-4.2.11", {})

    def ratio(a, b):
        return (a / b) if a and b else None

    def add(goal, measured, ok):
        rows.append(f"| {goal} | {measured} | {'-' if ok is None else ('met' if ok else '**not met**')} |")

    v = g(s, "sys_r", "file")
    add("file syscalls per uncontended read cycle <= 8 (local)", fmt(v), None if v is None else v <= 8)
    v = g(s, "sys_w", "file")
    add("file syscalls per uncontended write cycle <= 16 (local)", fmt(v), None if v is None else v <= 16)
    for mode in ("r", "w"):
        a, b = g(s, f"sys_{mode}", "file"), g(f4, f"sys_{mode}", "file")
        rt = ratio(b, a)
        add(f"{'read' if mode == 'r' else 'write'} cycle: >= 20x fewer file syscalls than filelock 4.2.11",
            f"{fmt(rt)}x ({fmt(a)} vs {fmt(b)})", None if rt is None else rt >= 20)
    peers = ("filelock-4.2.11", "filelock-3.32.7")
    for fsname, impls_, need in (("local", L, 20), ("glusterfs", N, 10)):
        if not impls_:
            add(f"uncontended cycles/s >= {need}x filelock ({fsname})", "not run", None)
            continue
        for mode in ("r", "w"):
            for peer in peers:
                a = g(impls_, "libsoftrwlock", f"rate_{mode}")
                b = g(impls_, peer, f"rate_{mode}")
                rt = ratio(a, b)
                add(f"uncontended {'read' if mode == 'r' else 'write'} cycles/s >= {need}x {peer} ({fsname})",
                    f"{fmt(rt)}x ({fmt(a)} vs {fmt(b)}/s)", None if rt is None else rt >= need)
    for fsname, impls_ in (("local", L), ("glusterfs", N)):
        if not impls_:
            continue
        for peer in peers:
            a = g(impls_, "libsoftrwlock", "writers", "rate")
            b = g(impls_, peer, "writers", "rate")
            rt = ratio(a, b)
            add(f"4 writers: throughput >= 10x {peer} ({fsname})",
                f"{fmt(rt)}x ({fmt(a)} vs {fmt(b)}/s)", None if rt is None else rt >= 10)
        fr = g(impls_, "libsoftrwlock", "writers", "fairness")
        add(f"4 writers: fairness min/max >= 0.5 ({fsname})", fmt(fr, 2), None if fr is None else fr >= 0.5)
        w = g(impls_, "libsoftrwlock", "writers")
        add(f"4 writers: counter exact ({fsname})",
            "-" if not w else f"{w['counter']} of {w['total']}", None if not w else w["exact"])
        m = g(impls_, "libsoftrwlock", "mixed")
        add(f"1 writer + {m['readers'] if m else '?'} readers: writer p99 wait < 5 poll intervals "
            f"(< {5 * POLL:g} s) ({fsname})",
            "-" if not m else ms(m["wait_p99"]), None if not m or m["wait_p99"] is None else m["wait_p99"] < 5 * POLL)
    b = g(s, "burst256")
    add("256 readers all hold within 2 s (local)", burst_cell(b),
        None if not b else (b["all_hold"] is not None and b["all_hold"] < 2))
    for fsname, impls_ in (("local", L), ("glusterfs", N)):
        for mode in ("r", "w"):
            w = g(impls_, "libsoftrwlock", f"waiters_{mode}")
            if w:
                add(f"16 {'read' if mode == 'r' else 'write'} waiters: CPU < 1% of a core each ({fsname})",
                    f"max {w['max_pct']:.2f}%", w["max_pct"] < 1)
    return "| goal | measured | |\n| --- | --- | --- |\n" + "\n".join(rows) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--local-dir", default="", help="local directory (not needed with --netfs-only)")
    ap.add_argument("--netfs", default="", help="DIR_A,DIR_B: the same directory through two mounts")
    ap.add_argument("--netfs-name", default="glusterfs", choices=("glusterfs", "moosefs"),
                    help="which network filesystem --netfs is (the section's name)")
    ap.add_argument("--scale", action="store_true",
                    help="after the scenarios, the scale curve on the same filesystems")
    ap.add_argument("--scale-only", action="store_true",
                    help="only the scale curve; keep everything else of the existing --json")
    ap.add_argument("--venvs", default="/tmp")
    ap.add_argument("--json", required=True)
    ap.add_argument("--md", required=True, help="where to write the generated markdown")
    ap.add_argument("--scale-md", default="",
                    help="where to write the generated scale-curve markdown (and goals of issue 13)")
    ap.add_argument("--command", default="bench/run.sh")
    ap.add_argument("--only", default="", help="comma-separated implementation names")
    ap.add_argument("--netfs-readers", type=int, default=0)
    ap.add_argument("--netfs-note", default="", help="printed above the GlusterFS tables")
    ap.add_argument("--netfs-only", action="store_true",
                    help="run GlusterFS only; keep the local section of the existing --json")
    ap.add_argument("--same-run", action="store_true",
                    help="with --netfs-only: second phase of one run (keeps its date and command)")
    ap.add_argument("--render-only", action="store_true", help="re-render --md from --json")
    args = ap.parse_args()
    if args.render_only:
        write_md(args, json.load(open(args.json)))
        return
    cfg = dict(QUICK if args.quick else FULL)
    if args.netfs_readers:
        cfg["netfs_mixed_readers"] = args.netfs_readers
    b = Bench(args, cfg)
    all_impls = impls(args.venvs)
    only = args.only.split(",") if args.only else cfg.get("impls")
    if only:
        all_impls = [i for i in all_impls if i.name in only]
    meta = b.results["meta"]
    meta.update(
        date=datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        command=args.command, nproc=os.cpu_count(), kernel=platform.release(),
        cpu=next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                  if l.startswith("model name")), "?"),
        mem_gib=round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        config=cfg, hb=HB, stale=STALE, poll=POLL, load_start=loadavg(), netfs_only=args.netfs_only,
        python=platform.python_version(), git=git_describe())
    t0 = time.time()
    if args.netfs_only or args.scale_only:
        # keep the sections of the earlier run that this one does not redo
        try:
            old = json.load(open(args.json))
            b.results["fs"] = old.get("fs", {})
            b.results["scale"] = old.get("scale", {})
            if args.scale_only:
                b.results["meta"] = meta = old["meta"]
                meta["scale_date"] = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
                meta["scale_command"] = args.command
                meta["config"].update({k: v for k, v in cfg.items() if "scale" in k})
            elif args.same_run:
                for k in ("date", "command", "load_start", "minutes"):
                    meta[k] = old["meta"][k]
                meta["netfs_only"] = False
            log(f"== keeping {', '.join(b.results['fs']) or 'no scenario tables'} (scale curve: "
                f"{', '.join(b.results['scale']) or 'none'}) of the run of {old['meta'].get('date', '?')}")
        except (OSError, ValueError, KeyError):
            log("== no earlier results to keep")
    if not args.netfs_only and args.local_dir:
        os.makedirs(args.local_dir, exist_ok=True)
        if not args.scale_only:
            b.run_fs("local", [args.local_dir], False, all_impls, False)
        if args.scale or args.scale_only:
            b.run_fs("local", [args.local_dir], False, all_impls, False, scale_only=True)
    if args.netfs:
        dirs = args.netfs.split(",")
        os.makedirs(dirs[0], exist_ok=True)
        for _ in range(100):  # the other client may cache the negative lookup for a moment
            if all(os.path.isdir(x) for x in dirs):
                break
            time.sleep(0.1)
        fstype = subprocess.run(["df", "--output=fstype", dirs[0]], capture_output=True,
                                text=True).stdout.split()[-1:] or ["?"]
        bad = Bench.mounts_ok(dirs, fstype[0])
        if not fstype[0].startswith("fuse"):
            bad = f"{dirs[0]} is on {fstype[0]}, not a FUSE client mount"
        if bad:
            log(f"== {args.netfs_name}: not run: {bad}")
        else:
            if not args.scale_only:
                b.run_fs(args.netfs_name, dirs, True, all_impls, True)
            if args.scale or args.scale_only:
                b.run_fs(args.netfs_name, dirs, True, all_impls, True, scale_only=True)
    if args.scale_only:
        meta["scale_minutes"] = (time.time() - t0) / 60
        meta.setdefault("minutes", 0)
        meta.setdefault("load_end", loadavg())
    else:
        meta["minutes"] = meta.get("minutes", 0) if args.same_run else 0
        meta["minutes"] += (time.time() - t0) / 60
        meta["load_end"] = loadavg()
    with open(args.json, "w") as f:
        json.dump(b.results, f, indent=1)
    print(write_md(args, b.results))


def write_md(args, results):
    """The scenario tables into --md (only if some were run), the scale curve into --scale-md."""
    md = ""
    if results.get("fs"):
        md = render(results)
        with open(args.md, "w") as f:
            f.write(md)
    if args.scale_md:
        sm = render_scale(results)
        with open(args.scale_md, "w") as f:
            f.write(sm)
        md += "\n" + sm
    return md


def scale_cell(r):
    if not r:
        return "-"
    if r.get("skipped"):
        return f"not run ({r['skipped']})"
    if r.get("failed"):
        return "failed"
    hold = ms(r["all_hold"]) if r["all_hold"] is not None else \
        f"> {r['limit']:g} s ({r['held']} of {r['n']} held)"
    rel = ms(r["all_released"]) if r.get("all_released") is not None else \
        (f"> {r['limit']:g} s" if r.get("released") is not None else "-")
    return f"{hold} / {rel}"


def sys_ratio(curve, lo=16, hi=1024):
    a = g(curve, str(lo), "strace", "per_reader")
    b = g(curve, str(hi), "strace", "per_reader")
    return (b / a) if a and b else None, a, b


def render_scale(results):
    m = results.get("meta", {})
    cfg = m.get("config", {})
    out = [f"Run: `{m.get('scale_command') or m.get('command')}` on "
           f"{m.get('scale_date') or m.get('date')}"
           + (f", {m['scale_minutes']:.1f} min" if m.get("scale_minutes") else "") + ". "
           f"Each reader may wait {cfg.get('scale_timeout', 30):g} s, and so may the release; "
           "an implementation's curve stops after the first size at which not all held within "
           "that or the last took more than a quarter of it, and Python stops at "
           f"{cfg.get('scale_python_max', 1024)} processes (each a forked interpreter). Same lock "
           f"settings as below (heartbeat {m.get('hb', HB):g} s, stale {m.get('stale', STALE):g} s, "
           f"poll {m.get('poll', POLL):g} s). On a network filesystem the readers alternate "
           "between its two client mounts. File syscalls per reader (C implementations): the "
           "syscalls of a burst with acquire minus those of one without, divided by N, counted "
           "by perf stat on the kernel's syscall tracepoints (strace -f -c where perf cannot: "
           "strace stops a reader at every syscall, the readers interleave differently and "
           "the counts come out different); in brackets all syscalls."
           + (f" C implementations: the median of {cfg['scale_repeat']} bursts at each size "
              "(one burst of thousands of processes on 2 cores varies by a third from run to "
              "run; the goal's row gives the range)." if cfg.get("scale_repeat", 1) > 1 else "")
           + "\n"]
    for fs, fsres in results.get("scale", {}).items():
        info = fsres["info"]
        names = list(fsres["impls"])
        out.append(f"### Scale curve, {fs}: {', '.join(info['dirs'])} ({info['fstype']})\n")
        out.append(f"Run on {info.get('date', '?')}, git {info.get('git', '?')}; load average "
                   f"before/after {' '.join(info['load_before'])} / "
                   f"{' '.join(info.get('load_after', ['?']))}; took {info.get('minutes', 0):.1f} min.\n")
        if info.get("invalid"):
            out.append(f"**Incomplete: {info['invalid']}.**\n")
        out.append("Readers released together: time until the last one holds / then, released "
                   "together again, time until the last one has released.\n")
        out.append("| readers at once | " + " | ".join(names) + " |")
        out.append("| --- |" + " --- |" * len(names))
        sizes = sorted({int(k) for n in names for k in fsres["impls"][n].get("scale", {})})
        for n in sizes:
            out.append(f"| {n} | " + " | ".join(
                scale_cell(g(fsres["impls"][x], "scale", str(n))) for x in names) + " |")
        for n in sorted({int(k) for x in names for k, v in fsres["impls"][x].get("scale", {}).items()
                         if v.get("strace")}):
            out.append(f"| file syscalls per reader at {n} (all) | " + " | ".join(
                "-" if not g(fsres["impls"][x], "scale", str(n), "strace") else
                f"{fsres['impls'][x]['scale'][str(n)]['strace']['per_reader']:.1f} "
                f"({fsres['impls'][x]['scale'][str(n)]['strace']['per_reader_all']:.1f})"
                for x in names) + " |")
        out.append("")
        for x in names:
            curve = fsres["impls"][x].get("scale", {})
            st = {k: v["strace"] for k, v in curve.items() if v.get("strace")}
            if x == "libsoftrwlock" and st:
                tool = next(iter(st.values())).get("tool", "strace -f -c")
                out.append(f"{x}, file syscalls of the whole burst by kind ({tool}, run "
                           "with acquire minus run without): " + "; ".join(
                               f"{k} readers: " + ", ".join(
                                   f"{kk} {vv}" for kk, vv in sorted(v["kinds"].items(),
                                                                    key=lambda kv: -kv[1])[:6])
                               for k, v in sorted(st.items(), key=lambda kv: int(kv[0]))) + ".\n")
    return "\n".join(out) + "\n#### Goals (issue 13)\n\n" + goals13(results)


def goals13(results):
    rows = []

    def add(goal, measured, ok):
        rows.append(f"| {goal} | {measured} | "
                    f"{'not measured' if ok is None else ('met' if ok else '**not met**')} |")

    sc = results.get("scale", {})
    L = g(sc, "local", "impls") or {}
    a = g(L, "libsoftrwlock", "scale", "4096", "all_hold")
    b = g(L, "flock", "scale", "4096", "all_hold")
    def spread(x):
        runs = [t for t in g(L, x, "scale", "4096", "runs") or [] if t is not None]
        return (f", runs {min(runs) * 1000:.1f}-{max(runs) * 1000:.1f} ms" if len(runs) > 1
                else "")

    add("4096 readers at once locally: all hold within 1.2x of flock's time, same run",
        "-" if not (a and b) else f"{a / b:.1f}x ({ms(a)}{spread('libsoftrwlock')} vs "
        f"{ms(b)}{spread('flock')})",
        None if not (a and b) else a <= 1.2 * b)
    for fs in ("glusterfs", "moosefs"):
        r = g(sc, fs, "impls", "libsoftrwlock", "scale", "1024")
        if fs == "glusterfs" or r:
            add(f"1024 readers at once across two {dict(glusterfs='GlusterFS', moosefs='MooseFS')[fs]} "
                "clients: all hold within 2 s",
                scale_cell(r) if r else "not run",
                None if not r or r.get("skipped") or r.get("failed") else
                (r["all_hold"] is not None and r["all_hold"] <= 2))
    for fs in sc:
        rt, lo, hi = sys_ratio(g(sc, fs, "impls", "libsoftrwlock", "scale"))
        if lo or fs == "local":
            r4, _, hi4 = sys_ratio(g(sc, fs, "impls", "libsoftrwlock", "scale"), 16, 4096)
            add(f"file syscalls per reader at 1024 at most 2x those at 16 ({fs})",
                "-" if rt is None else f"{rt:.1f}x ({lo:.1f} at 16, {hi:.1f} at 1024"
                + (f"; {hi4:.1f} at 4096, {r4:.1f}x" if r4 else "") + ")",
                None if rt is None else rt <= 2)
    F = results.get("fs", {})
    M = g(F, "moosefs", "impls") or {}
    a = g(M, "libsoftrwlock", "mix", "rate")
    b = g(M, "filelock-3.32.7", "mix", "rate")
    add("MooseFS, default client caches: 90/10 (8 processes) at least 3x filelock 3.32.7",
        "not run" if not M else ("-" if not (a and b) else f"{a / b:.1f}x ({fmt(a)} vs {fmt(b)} grants/s)"),
        None if not (a and b) else a >= 3 * b)
    h = g(M, "libsoftrwlock", "writers", "handoffx_median")
    add("MooseFS: cross-client handoff median (4 writers) under 50 ms",
        "not run" if not M else ms(h), None if h is None else h < 0.05)
    G = g(F, "glusterfs") or {}
    fl, rate = G.get("floor"), g(G, "impls", "libsoftrwlock", "rate_r")
    if fl and "link_cycle_us" in fl and rate:
        floor = 1e6 / (fl["link_cycle_us"] + fl["listing_us"])
        add("GlusterFS uncontended read cycles at least 80% of the floor (rewrite + link + "
            "unlink + one listing)", f"{100 * rate / floor:.0f}% ({fmt(rate)} vs {fmt(floor)}/s)",
            rate >= 0.8 * floor)
    else:
        add("GlusterFS uncontended read cycles at least 80% of the floor", "not run", None)
    return "| goal | measured | |\n| --- | --- | --- |\n" + "\n".join(rows) + "\n"


def render(results):
    m = results["meta"]
    cfg = m["config"]
    head = [
        f"Run: `{m['command']}` on {m['date']}, git {m['git']}, {m['minutes']:.1f} min"
        f"{' (GlusterFS only: the local section is kept from an earlier run)' if m.get('netfs_only') else ''}.",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['mem_gib']} GiB, Linux {m['kernel']}, "
        f"Python {m['python']}. Load average at start {' '.join(m['load_start'])}, "
        f"at end {' '.join(m['load_end'])} (other builds and tests ran on this machine at "
        "the same time: numbers are noisy, compare columns of one run).",
        f"Lock settings for every implementation: heartbeat {m['hb']:g} s, stale threshold "
        f"{m['stale']:g} s, poll interval {m['poll']:g} s. Scenario sizes: {cfg['writers']} writers "
        f"for {cfg['writers_s']:g} s; 1 writer + {cfg['mixed_readers']} readers locally "
        f"({cfg.get('netfs_mixed_readers', cfg['mixed_readers'])} on a network filesystem) for {cfg['mixed_s']:g} s "
        f"(readers hold 0-2 ms, think 0-2 ms; the writer thinks 0-20 ms); readers at once: each may "
        f"wait {cfg['burst_timeout']:g} s ({cfg['netfs_burst_timeout']:g} s on a network filesystem); "
        f"{cfg['waiters']} waiters for {cfg['waiters_s']:g} s.",
        "Syscalls of the bursts: strace -f -c of the whole group, run with acquire minus run "
        "without; the Python bursts are counted locally at 64 only (strace of hundreds of Python "
        "processes takes minutes; their counts barely depend on the filesystem). On a network "
        "filesystem flock runs scenarios 1, 3 and 8 only: its locks are served by the file "
        "server, scenarios 3 and 8 show whether they exclude across the two clients (with O_DIRECT "
        "counter I/O). Scenario 8 (90/10: "
        f"{cfg.get('mix_procs', 8)} processes, each operation a write with probability "
        f"{cfg.get('mix_write_pct', 10)}%, hold and think 0-5 ms, {cfg.get('mix_s', 10):g} s) runs on "
        "network filesystems only.",
        "",
    ]
    return "\n".join(head) + "\n" + tables(results) + "\n#### Goals (issue 5)\n\n" + goals(results)


if __name__ == "__main__":
    main()
