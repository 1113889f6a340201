#!/usr/bin/env python3
"""plot.py RESULTS.json OUT.png: distributions (CDF) of the handoff latency in the 4-writer
scenario (one writer's release to the next writer's grant) and of the writer's wait with 1 writer
+ N readers, per implementation, one column per filesystem."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

res = json.load(open(sys.argv[1]))
fss = list(res["fs"])
fig, axes = plt.subplots(2, len(fss), figsize=(6.5 * len(fss), 8.5), squeeze=False)
colors = {"libsoftrwlock": "tab:blue", "filelock-4.2.11": "tab:red",
          "filelock-3.32.7": "tab:orange", "flock": "tab:gray"}
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
                    color=colors.get(impl), label=f"{impl} (n={n})")
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
fig.savefig(sys.argv[2], dpi=110)
