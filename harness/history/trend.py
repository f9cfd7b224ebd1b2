"""The trend over the last commits, read from a history store: per quality check and baseline, the
verdicts and metric means commit by commit against the baseline's means; per throughput case and
machine, samples/s commit by commit with the steps :func:`~harness.history.change_points.detect_change_points`
finds. ``harness history`` prints :func:`trend_markdown` and draws :func:`~harness.history.chart.write_history_chart`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass

from harness.history.change_points import ChangePoint, detect_change_points
from harness.history.series import DEFAULT_LAST_COMMITS, QUALITY, THROUGHPUT, QualitySeries, ThroughputSeries
from harness.history.store import HistoryStore
from harness.tables import markdown_table

COMMIT_DIGITS = 10  # a commit as the trend shows it


@dataclass(frozen=True)
class ThroughputTrend:
    """One throughput case on one machine, with the steps detected in it."""

    series: ThroughputSeries
    change_points: tuple[ChangePoint, ...]


@dataclass(frozen=True)
class Trend:
    """Every series of a store, each cut to its last ``last_commits`` commits."""

    quality: tuple[QualitySeries, ...]
    throughput: tuple[ThroughputTrend, ...]
    last_commits: int

    @property
    def empty(self) -> bool:
        return not self.quality and not self.throughput

    @classmethod
    def of(cls, store: HistoryStore, *, last_commits: int = DEFAULT_LAST_COMMITS) -> Trend:
        keys = store.series_keys()
        quality = [series for key in keys if key.kind == QUALITY
                   for series in store.quality_series(key.name, key.split, last_commits=last_commits)]
        throughput = [ThroughputTrend(series, detect_change_points(series.samples_per_s, series.commits))
                      for key in keys if key.kind == THROUGHPUT
                      for series in store.throughput_series(key.name, key.split, last_commits=last_commits)]
        recent = _recent_commits([*quality, *(item.series for item in throughput)], last_commits)
        return cls(tuple(series for series in quality if _active(series, recent)),
                   tuple(item for item in throughput if _active(item.series, recent)), last_commits)


def _recent_commits(series: Sequence, count: int) -> set[str]:
    """The store's last ``count`` commits overall. Each series is already cut to its own last
    ``count``, which hold every one of these that it has, so its points are enough to find them."""
    points = sorted((point for one in series for point in one.points), key=lambda point: point.time)
    recent: list[str] = []
    for point in reversed(points):
        if point.commit not in recent:
            recent.append(point.commit)
        if len(recent) == count:
            break
    return set(recent)


def _active(series, recent: set[str]) -> bool:
    """A series with a point among the last commits: a retired baseline or a machine gone from CI
    leaves the trend instead of drawing a panel for ever."""
    return any(point.commit in recent for point in series.points)


def short_commit(commit: str) -> str:
    return commit[:COMMIT_DIGITS]


def short_time(time: str) -> str:
    """A stored UTC time to the minute: ``2026-05-01 07:35``."""
    return _dt.datetime.fromisoformat(time).strftime("%Y-%m-%d %H:%M")


def trend_markdown(trend: Trend, *, chart: str | None = None, written: str | None = None) -> str:
    """The trend as Markdown, fit for a pull-request comment or ``$GITHUB_STEP_SUMMARY`` (without
    ``chart``, which a step summary cannot show)."""
    written = written or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    lines = ["# History", "", f"The last {trend.last_commits} commits of each series; written {written}.", ""]
    if chart:
        lines += [f"![Quality and throughput per commit]({chart})", ""]
    if trend.quality:
        lines += ["## Quality", ""]
        for series in trend.quality:
            lines += quality_section(series)
    if trend.throughput:
        lines += ["## Throughput", ""]
        for item in trend.throughput:
            lines += throughput_section(item)
    return "\n".join(lines)


def quality_section(series: QualitySeries) -> list[str]:
    """A check's trend against one baseline: a row per session, each metric's mean and its delta."""
    latest = series.points[-1].record
    metrics = list(dict.fromkeys(metric for point in series.points for metric in point.record.means))
    baseline = latest.baseline_means
    said = ", ".join(f"{metric} {baseline[metric]:.4f}" for metric in metrics if metric in baseline) or "not recorded"
    headers = ["commit", "time (UTC)", "verdict", "runs",
               *(f"{m} (baseline {baseline[m]:.4f})" if m in baseline else m for m in metrics)]
    rows = [[short_commit(p.commit), short_time(p.time), p.record.verdict, p.record.runs_used,
             *(_mean_cell(p.record.means.get(m), baseline.get(m)) for m in metrics)] for p in series.points]
    return [f"### {series.check}", "",
            f"Baseline `{latest.baseline}` ({series.baseline_identity}); baseline means: {said}.", "",
            markdown_table(headers, rows), ""]


def _mean_cell(mean: float | None, baseline: float | None) -> str:
    if mean is None:
        return "-"
    return f"{mean:.4f}" if baseline is None else f"{mean:.4f} ({mean - baseline:+.4f})"


def throughput_section(item: ThroughputTrend) -> list[str]:
    """A case's samples/s per session on one machine, the first run of each detected step marked."""
    series, changes = item.series, {change.index: change for change in item.change_points}
    rows = [[short_commit(p.commit), short_time(p.time), f"{p.record.samples_per_s:.4g}",
             f"{p.record.samples_per_s_iqr:.3g}", p.record.rounds, ", ".join(p.record.faults),
             _change_cell(changes.get(index))]
            for index, p in enumerate(series.points)]
    found = ([f"- {change.sentence()}" for change in item.change_points] if item.change_points
             else [f"- no change point in {len(series.points)} run(s)" + (" (too few to detect one)"
                                                                           if len(series.points) < 4 else "")])
    return [f"### {series.case} on {series.machine_key}", "",
            markdown_table(["commit", "time (UTC)", "samples/s", "IQR", "rounds", "planted fault", "change point"], rows), "",
            *found, ""]


def _change_cell(change: ChangePoint | None) -> str:
    if change is None:
        return ""
    return f"{'slower' if change.slowdown else 'faster'} {abs(change.relative_change):.1%} from here"


def trend_commits(points: Sequence) -> list[str]:
    """The commits of ``points`` in order of first appearance (a re-run adds no new commit)."""
    return list(dict.fromkeys(point.commit for point in points))
