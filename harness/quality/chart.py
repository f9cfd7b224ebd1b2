"""``quality.png``: what each quality check saw, so a reader can judge a verdict at a glance.

One row of panels per check, one panel per gated metric. Left of the dashed line: the baseline's
seeds (each dot a seed, jittered sideways) with their mean. Right of it, at x = 1, 2, ...: each
candidate run, the running mean of the runs, and the sequential gate's fail and pass thresholds
at every look, so where the running mean crossed a threshold is where the gate decided. A one-run
band check shows its allowed band instead.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.files import atomic_write_bytes

QUALITY_CHART = "quality.png"


def write_quality_chart(records: Sequence[dict[str, Any]], path: Path) -> Path | None:
    """Draw every check in ``records`` (``quality.json``'s entries); None when there is nothing to draw."""
    if not any(any(c.get("baseline_mean") is not None for c in r.get("checks", [])) for r in records):
        return None
    # A check that errored gets a row too, saying so: a chart of the passing checks alone reads as a pass.
    drawable = [r for r in records if r.get("error") or any(c.get("baseline_mean") is not None for c in r.get("checks", []))]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    columns = max(max(len(r["checks"]) for r in drawable), 1)
    fig, axes = plt.subplots(len(drawable), columns, figsize=(5.5 * columns, 3.8 * len(drawable)), squeeze=False)
    for row, record in zip(axes, drawable):
        if record.get("error"):
            _error_panel(row[0], record)
            for ax in row[1:]:
                ax.set_visible(False)
            continue
        sequential = {entry["metric"]: entry for entry in record.get("sequential", [])}
        for ax, check in zip(row, record["checks"]):
            _panel(ax, check, sequential.get(check["metric"]), np)
            ax.set_title(f"{record['name']}\n{check['metric']}: {check['verdict']}", fontsize=8)
        for ax in row[len(record["checks"]):]:
            ax.set_visible(False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue())


def _error_panel(ax, record: dict[str, Any]) -> None:
    import textwrap

    ax.text(0.5, 0.5, textwrap.fill(f"ERROR: {record['error']}", 60)[:600], ha="center", va="center", fontsize=7,
            color="#d62728", transform=ax.transAxes)
    ax.set_title(f"{record['name']}\nFAILED (error): no verdict", fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def _panel(ax, check: dict[str, Any], entry: dict[str, Any] | None, np) -> None:
    if entry is not None:
        reference = np.asarray(entry["reference_values"])
        jitter = np.random.default_rng(0).uniform(-0.25, 0.25, reference.size)
        ax.scatter(-1 + jitter, reference, s=12, color="#7f7f7f", label=f"baseline seeds ({reference.size})")
        ax.hlines(entry["reference_mean"], -1.4, -0.6, color="#404040")
        looks = entry["looks"]
        x = [look["runs"] for look in looks]
        ax.step(x, [look["fail_threshold"] for look in looks], where="mid", color="#d62728", label="fail at or beyond")
        ax.step(x, [look["pass_threshold"] for look in looks], where="mid", color="#2ca02c", label="pass at or beyond")
        runs = np.arange(1, len(entry["values"]) + 1)
        ax.scatter(runs, entry["values"], s=20, color="#1f77b4", zorder=3, label="candidate runs")
        ax.plot(runs, np.cumsum(entry["values"]) / runs, color="#1f77b4", marker="o", markersize=3, label="running mean")
        ax.set_xlim(-1.6, max(x) + 0.5)
        ax.set_xticks([-1] + x, ["baseline"] + [str(k) for k in x], fontsize=7)
        ax.set_xlabel("candidate run", fontsize=8)
    elif check.get("baseline_mean") is None:  # the baseline lacks this metric (a MISMATCH): nothing to draw it against
        ax.scatter([1], [check["measured"]], s=20, color="#1f77b4", zorder=3, label="this run")
        ax.text(-1, check["measured"], "no baseline\nvalue", ha="center", va="center", fontsize=7, color="#d62728")
        ax.set_xlim(-1.6, 1.6)
        ax.set_xticks([-1, 1], ["baseline", "run"], fontsize=7)
    else:
        ax.errorbar([-1], [check["baseline_mean"]], yerr=[[check["baseline_std"] or 0], [check["baseline_std"] or 0]],
                    fmt="o", color="#7f7f7f", label="baseline mean ± seed sd")
        ax.axhspan(check["band_low"], check["band_high"], color="#2ca02c", alpha=0.15, label="allowed band")
        ax.scatter([1], [check["measured"]], s=20, color="#1f77b4", zorder=3, label="this run")
        ax.set_xlim(-1.6, 1.6)
        ax.set_xticks([-1, 1], ["baseline", "run"], fontsize=7)
    ax.axvline(0, color="#bbbbbb", linestyle="--", linewidth=0.8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6, loc="best")
