"""What the history store keeps of one ``pytest benchmarks`` session: where and on what it ran, and
per quality check and per throughput case what it measured and decided.

Records are frozen and validated when built, so nothing half-formed reaches the store: a NaN or an
empty name would otherwise surface weeks later as a gap in a trend or a series nobody can find.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


def _require_name(value: object, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")


def _require_finite(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")


def _require_count(value: object, what: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum}, got {value!r}")


def _finite_metrics(metrics: Mapping[str, float], what: str) -> dict[str, float]:
    for name, value in metrics.items():
        _require_name(name, f"a metric name in {what}")
        _require_finite(value, f"{what}[{name!r}]")
    return {name: float(value) for name, value in metrics.items()}


def _set(record: object, name: str, value: object) -> None:
    object.__setattr__(record, name, value)  # normalising a field of a frozen dataclass in __post_init__


@dataclass(frozen=True)
class Machine:
    """Where a session ran. Throughput is only comparable on one machine, so its ``key`` splits series."""

    cpu_model: str
    gpu: str | None
    cores: int

    def __post_init__(self) -> None:
        _require_name(self.cpu_model, "cpu_model")
        if self.gpu is not None:
            _require_name(self.gpu, "gpu (None when there is none)")
        _require_count(self.cores, "cores", 1)

    @property
    def key(self) -> str:
        """A readable, stable name: the same hardware always gives the same key, whitespace aside.

        >>> Machine("AMD EPYC 7763", None, 16).key
        'AMD EPYC 7763 | 16 cores | no GPU'
        """
        cpu = " ".join(self.cpu_model.split())
        gpu = " ".join(self.gpu.split()) if self.gpu else "no GPU"
        return f"{cpu} | {self.cores} cores | {gpu}"


@dataclass(frozen=True)
class RunMetrics:
    """One fine-tune's metrics, by the seed that trained it."""

    seed: int
    metrics: dict[str, float]

    def __post_init__(self) -> None:
        _require_count(self.seed, "seed", 0)
        if not self.metrics:
            raise ValueError(f"seed {self.seed} has no metrics")
        _set(self, "metrics", _finite_metrics(self.metrics, f"seed {self.seed}'s metrics"))


@dataclass(frozen=True)
class Boundary:
    """A metric's thresholds at the gate's last look, in the metric's units. None where that verdict
    was not reachable at that look (the gate's boundary was infinite)."""

    fail_at: float | None
    pass_at: float | None

    def __post_init__(self) -> None:
        for name in ("fail_at", "pass_at"):
            value = getattr(self, name)
            if value is not None:
                _require_finite(value, f"{name} (None where not reachable)")
                _set(self, name, float(value))


@dataclass(frozen=True)
class QualityRecord:
    """One quality check's verdict, the fine-tunes behind it, and the boundaries it was held to.

    ``baseline_identity`` is what a quality series is split by: numbers compared against two different
    baselines are two different questions, never one trend. ``baseline_means`` holds the baseline's mean
    of each gated metric (empty where the check had no baseline), so a trend reads against it.
    """

    check: str
    baseline: str
    baseline_identity: str
    run_identity: str
    verdict: str
    runs_used: int
    runs: tuple[RunMetrics, ...]
    boundaries: dict[str, Boundary]
    means: dict[str, float]
    baseline_means: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _require_name(self.check, "check")
        for name in ("baseline", "baseline_identity", "run_identity", "verdict"):
            _require_name(getattr(self, name), f"{self.check!r}: {name}")
        _set(self, "runs", tuple(self.runs))
        if any(not isinstance(run, RunMetrics) for run in self.runs):
            raise ValueError(f"{self.check!r}: runs must be RunMetrics")
        seeds = [run.seed for run in self.runs]
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"{self.check!r}: a seed appears twice in runs {seeds}")
        _require_count(self.runs_used, f"{self.check!r}: runs_used", 1)
        if self.runs_used > len(self.runs):
            raise ValueError(f"{self.check!r}: runs_used {self.runs_used} exceeds the {len(self.runs)} runs recorded")
        for metric, boundary in self.boundaries.items():
            _require_name(metric, f"{self.check!r}: a metric name in boundaries")
            if not isinstance(boundary, Boundary):
                raise ValueError(f"{self.check!r}: boundaries[{metric!r}] must be a Boundary")
        _set(self, "boundaries", dict(self.boundaries))
        _set(self, "means", _finite_metrics(self.means, f"{self.check!r}: means"))
        _set(self, "baseline_means", _finite_metrics(self.baseline_means, f"{self.check!r}: baseline_means"))


@dataclass(frozen=True)
class ThroughputRecord:
    """One throughput case: its median samples/s over the timed rounds and their spread (IQR)."""

    case: str
    device: str
    precision: str
    samples_per_s: float
    samples_per_s_iqr: float
    rounds: int
    faults: tuple[str, ...] = ()  # deliberate faults the case ran with: a planted slowdown is marked as one

    def __post_init__(self) -> None:
        _require_name(self.case, "case")
        _set(self, "faults", tuple(self.faults))
        for fault in self.faults:
            _require_name(fault, f"{self.case!r}: a fault")
        for name in ("device", "precision"):
            _require_name(getattr(self, name), f"{self.case!r}: {name}")
        _require_finite(self.samples_per_s, f"{self.case!r}: samples_per_s")
        _require_finite(self.samples_per_s_iqr, f"{self.case!r}: samples_per_s_iqr")
        if self.samples_per_s <= 0 or self.samples_per_s_iqr < 0:
            raise ValueError(f"{self.case!r}: samples_per_s must be > 0 and its IQR >= 0, "
                             f"got {self.samples_per_s} and {self.samples_per_s_iqr}")
        _require_count(self.rounds, f"{self.case!r}: rounds", 1)
        _set(self, "samples_per_s", float(self.samples_per_s))
        _set(self, "samples_per_s_iqr", float(self.samples_per_s_iqr))


def utc_time(moment: str | _dt.datetime) -> str:
    """One spelling of a moment, in UTC, so that times stored as text sort as times.

    >>> utc_time("2026-05-09T09:35:25+02:00")
    '2026-05-09T07:35:25.000000+00:00'
    """
    if isinstance(moment, str):
        try:
            moment = _dt.datetime.fromisoformat(moment[:-1] + "+00:00" if moment.endswith("Z") else moment)
        except ValueError:
            raise ValueError(f"time must be ISO 8601 (e.g. 2026-05-09T07:35:25+00:00), got {moment!r}") from None
    if moment.utcoffset() is None:
        raise ValueError(f"time {moment.isoformat()!r} has no time zone; give it in UTC (+00:00)")
    return moment.astimezone(_dt.timezone.utc).isoformat(timespec="microseconds")


def _unique(names: Sequence[str], what: str) -> None:
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"a session records each {what} once; repeated: {', '.join(repeated)}")


@dataclass(frozen=True)
class SessionRecord:
    """Everything one session recorded, stored together or not at all.

    ``time`` may be given in any zone and is kept as UTC ISO text; ``branch`` is None on a detached
    head. ``versions`` maps each library to its version.
    """

    commit: str
    branch: str | None
    time: str
    machine: Machine
    versions: dict[str, str]
    quality: tuple[QualityRecord, ...] = field(default=())
    throughput: tuple[ThroughputRecord, ...] = field(default=())

    def __post_init__(self) -> None:
        _require_name(self.commit, "commit")
        if self.branch is not None:
            _require_name(self.branch, "branch (None on a detached head)")
        _set(self, "time", utc_time(self.time))
        if not isinstance(self.machine, Machine):
            raise ValueError(f"machine must be a Machine, got {self.machine!r}")
        for library, version in self.versions.items():
            _require_name(library, "a library name in versions")
            _require_name(version, f"versions[{library!r}]")
        _set(self, "versions", dict(self.versions))
        _set(self, "quality", tuple(self.quality))
        _set(self, "throughput", tuple(self.throughput))
        if any(not isinstance(r, QualityRecord) for r in self.quality):
            raise ValueError("quality must hold QualityRecords")
        if any(not isinstance(r, ThroughputRecord) for r in self.throughput):
            raise ValueError("throughput must hold ThroughputRecords")
        _unique([r.check for r in self.quality], "quality check")
        _unique([r.case for r in self.throughput], "throughput case")
