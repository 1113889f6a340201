#!/usr/bin/env python3
"""plot.py RESULTS.json OUT.png: distributions (CDF) of the handoff latency in the 4-writer
scenario (one writer's release to the next writer's grant) and of the writer's wait with 1 writer
+ N readers, per implementation, one column per filesystem.

plot.py --scale RESULTS.json OUT.png: the scale curve, one panel per filesystem: readers released
together (log scale) against the time until the last one holds (solid) and, released together
again, until the last one has released (dashed)."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"libsoftrwlock": "tab:blue", "filelock-4.2.11": "tab:red",
          "filelock-3.32.7": "tab:orange", "flock": "tab:gray"}


def handoff(res, out):
    fss = list(res["fs"])
    fig, axes = plt.subplots(2, len(fss), figsize=(6.5 * len(fss), 8.5), squeeze=False)
    for col, fs in enumerate(fss):
        for row, (key, field, title) in enumerate((
                ("writers", "handoff", "4 writers: handoff latency (release -> next grant)"),
                ("mixed", "waits", "1 writer + N readers: writer wait (request -> grant)"))):
            ax = axes[row][col]
            for impl, r in res["fs"][fs]["impls"].items():
                xs = sorted(x for x in ((r.get(key) or {}).get(field) or []) if x > 0)
                if not xs:
                    continue
                n = len(xs)
                ax.step(xs, [(i + 1) / n for i in range(n)], where="post",
                        color=COLORS.get(impl), label=f"{impl} (n={n})")
            ax.set_xscale("log")
            ax.set_ylim(0, 1.01)
            ax.grid(True, which="both", alpha=0.3)
            ax.set_xlabel("seconds (log scale)")
            ax.set_ylabel("fraction <= x")
            ax.set_title(f"{fs}: {title}", fontsize=9)
            ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(f"libsoftrwlock vs filelock vs flock, {res['meta']['date']}, "
                 f"poll {res['meta']['poll']:g} s", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def scale(res, out):
    fss = list(res.get("scale", {}))
    if not fss:
        sys.exit("plot.py: no scale curve in the results")
    fig, axes = plt.subplots(1, len(fss), figsize=(6.5 * len(fss), 6.8), squeeze=False)
    for col, fs in enumerate(fss):
        ax = axes[0][col]
        info = res["scale"][fs]["info"]
        for impl, r in res["scale"][fs]["impls"].items():
            pts = sorted((int(n), v) for n, v in (r.get("scale") or {}).items())
            hold = [(n, v["all_hold"]) for n, v in pts if v.get("all_hold")]
            rel = [(n, v["all_released"]) for n, v in pts if v.get("all_released")]
            if hold:
                ax.plot(*zip(*hold), marker="o", color=COLORS.get(impl), label=f"{impl}: all hold")
            if rel:
                ax.plot(*zip(*rel), marker="x", ls="--", color=COLORS.get(impl),
                        label=f"{impl}: all released")
            # sizes at which not all held within the limit: a marker at the limit
            over = [(n, v["limit"]) for n, v in pts if "limit" in v and v.get("all_hold") is None]
            if over:
                ax.plot(*zip(*over), marker="^", ls="none", ms=9, color=COLORS.get(impl),
                        label=f"{impl}: not all held by the limit")
        sizes = sorted({int(n) for r in res["scale"][fs]["impls"].values() for n in r.get("scale", {})})
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.minorticks_off()
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.set_xlabel("readers released together (log scale)")
        ax.set_ylabel("seconds (log scale)")
        ax.set_title(f"{fs} ({info.get('fstype', '?')}), git {info.get('git', '?')}, "
                     f"{info.get('date', '?')}", fontsize=9)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    fig.suptitle("N readers released together on one lock:\ntime until the last holds (solid), "
                 "then until the last has released (dashed)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    if sys.argv[1] == "--scale":
        scale(json.load(open(sys.argv[2])), sys.argv[3])
    else:
        handoff(json.load(open(sys.argv[1])), sys.argv[2])
