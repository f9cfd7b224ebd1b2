"""``history.png``: the trend as a picture. One panel per quality series (each metric's mean per
session, its baseline mean dashed, the gate's fail boundary dotted) and one per throughput case
(samples/s per commit, one line per machine, each detected step marked where it began).
"""

from __future__ import annotations

import io
from pathlib import Path

from harness.files import atomic_write_bytes
from harness.history.series import QualitySeries
from harness.history.trend import ThroughputTrend, Trend, short_commit, trend_commits

PANEL_WIDTH, PANEL_HEIGHT = 9.0, 3.4
LOG_SCALE_SPREAD = 2.0  # machines this far apart share a panel on a log scale, where a 20% step looks alike on each


def write_history_chart(trend: Trend, path: Path) -> Path:
    """Draw every series of ``trend`` (which must hold one) into ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = list(dict.fromkeys(item.series.case for item in trend.throughput))
    panels = len(trend.quality) + len(cases)
    fig, axes = plt.subplots(panels, 1, figsize=(PANEL_WIDTH, PANEL_HEIGHT * panels), squeeze=False)
    axes = list(axes[:, 0])
    for ax, series in zip(axes, trend.quality):
        _quality_panel(ax, series)
    for ax, case in zip(axes[len(trend.quality):], cases):
        _throughput_panel(ax, case, [item for item in trend.throughput if item.series.case == case])
    fig.suptitle(f"History: the last {trend.last_commits} commits of each series", fontsize=11)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue())


def _quality_panel(ax, series: QualitySeries) -> None:
    x = range(len(series.points))
    baseline = series.points[-1].record.baseline_means
    metrics = list(dict.fromkeys(metric for point in series.points for metric in point.record.means))
    for index, metric in enumerate(metrics):
        colour = f"C{index}"
        ax.plot(x, series.means(metric), marker="o", color=colour, label=f"{metric} (mean of the runs)")
        if metric in baseline:
            ax.axhline(baseline[metric], color=colour, linestyle="--", linewidth=0.9, label=f"{metric} baseline mean")
        fail = [point.record.boundaries.get(metric) for point in series.points]
        values = [b.fail_at if b is not None and b.fail_at is not None else float("nan") for b in fail]
        if any(v == v for v in values):
            ax.step(x, values, where="mid", color=colour, linestyle=":", linewidth=0.9, label=f"{metric} fail at")
    for index, point in enumerate(series.points):
        if point.record.verdict in ("failed", "regenerated"):
            ax.axvspan(index - 0.4, index + 0.4, color="#d62728", alpha=0.08)
    ax.set_xticks(list(x), [short_commit(p.commit)[:7] for p in series.points], rotation=45, fontsize=7)
    ax.set_title(f"{series.check}\nagainst {series.baseline_identity} (red: failed)", fontsize=8)
    ax.legend(fontsize=6, loc="best")
    ax.grid(alpha=0.3)


def _throughput_panel(ax, case: str, items: list[ThroughputTrend]) -> None:
    import matplotlib.ticker

    commits = trend_commits([point for item in items for point in sorted(item.series.points, key=lambda p: p.time)])
    position = {commit: index for index, commit in enumerate(commits)}
    for index, item in enumerate(items):
        colour = f"C{index}"
        xs = [position[point.commit] for point in item.series.points]
        ax.plot(xs, item.series.samples_per_s, marker="o", color=colour, label=item.series.machine_key)
        planted = [(x, point.record.samples_per_s) for x, point in zip(xs, item.series.points) if point.record.faults]
        if planted:
            ax.scatter(*zip(*planted), s=90, facecolors="none", edgecolors="black", linewidths=1, zorder=3,
                       label=f"{item.series.machine_key}: a planted fault ({', '.join(_faults(item))})")
        for change in item.change_points:
            at = xs[change.index]
            ax.axvline(at - 0.5, color=colour, linestyle="--", linewidth=1)
            ax.annotate(f"{change.relative_change:+.1%}", (at - 0.5, change.after), xytext=(4, 4),
                        textcoords="offset points", fontsize=7, color=colour)
    ax.set_xticks(range(len(commits)), [short_commit(c)[:7] for c in commits], rotation=45, fontsize=7)
    ax.set_title(f"{case}: training samples/s per commit (dashed: a detected change point)", fontsize=8)
    rates = [rate for item in items for rate in item.series.samples_per_s]
    log_scale = max(rates) / min(rates) > LOG_SCALE_SPREAD
    if log_scale:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))  # 20, not 2 x 10^1
        ax.yaxis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.set_ylabel("samples / s" + (" (log scale)" if log_scale else ""))
    ax.legend(fontsize=6, loc="best")
    ax.grid(alpha=0.3)


def _faults(item: ThroughputTrend) -> list[str]:
    return sorted({fault for point in item.series.points for fault in point.record.faults})
