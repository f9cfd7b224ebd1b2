"""Series read back from the history: one quality check against one baseline, or one throughput
case on one machine, point by point in the order the sessions ran.

A series never mixes what is not comparable: samples/s from two machines, or verdicts against two
baselines, are two series, each with its own key (:class:`SeriesKey`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

import numpy as np

from harness.history.records import QualityRecord, ThroughputRecord

QUALITY = "quality"
THROUGHPUT = "throughput"
DEFAULT_LAST_COMMITS = 20  # how many commits of each series a trend shows unless told

RecordT = TypeVar("RecordT", QualityRecord, ThroughputRecord)


@dataclass(frozen=True)
class Point(Generic[RecordT]):
    """One session's record in a series, with the commit and moment it belongs to."""

    commit: str
    branch: str | None
    time: str
    machine_key: str
    record: RecordT


@dataclass(frozen=True)
class QualitySeries:
    """One check's records against one baseline identity, oldest first."""

    check: str
    baseline_identity: str
    points: tuple[Point[QualityRecord], ...]

    @property
    def commits(self) -> tuple[str, ...]:
        return tuple(point.commit for point in self.points)

    def means(self, metric: str) -> np.ndarray:
        """The metric's mean over each point's runs used (NaN where a point did not record it)."""
        return np.array([point.record.means.get(metric, np.nan) for point in self.points], dtype=float)


@dataclass(frozen=True)
class ThroughputSeries:
    """One case's records on one machine, oldest first."""

    case: str
    machine_key: str
    points: tuple[Point[ThroughputRecord], ...]

    @property
    def commits(self) -> tuple[str, ...]:
        return tuple(point.commit for point in self.points)

    @property
    def samples_per_s(self) -> np.ndarray:
        return np.array([point.record.samples_per_s for point in self.points], dtype=float)


@dataclass(frozen=True)
class SeriesKey:
    """What names a series: its kind, the check or case, and what it is split by (the baseline
    identity for quality, the machine key for throughput)."""

    kind: Literal["quality", "throughput"]
    name: str
    split: str
    points: int


def last_commits(points: Sequence[Point], count: int | None) -> tuple[Point, ...]:
    """The points of the ``count`` commits recorded most recently (all points when None).

    A commit measured twice keeps both points: a re-run is more data about that commit, not a
    newer commit. ``points`` are oldest first, and so is the answer.
    """
    if count is None:
        return tuple(points)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"last_commits must be a positive integer or None, got {count!r}")
    latest: dict[str, int] = {}
    for index, point in enumerate(points):
        latest[point.commit] = index
    kept = set(sorted(latest, key=latest.__getitem__)[-count:])
    return tuple(point for point in points if point.commit in kept)
