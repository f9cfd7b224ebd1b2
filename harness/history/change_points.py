"""Change points in a throughput series: at which commit speed stepped, by how much, how sure.

The detection is ruptures' PELT (Killick, Fearnhead and Eckley 2012, JASA 107, 1590-1598; Truong,
Oudre and Vayatis 2020, Signal Processing 167, 107299): the exact segmentation of the series into
constant means that minimises the squared error plus a penalty per change. It runs on log samples/s,
so a step is a relative change and the noise is the series' coefficient of variation (CV), whatever
the machine's speed.

The parameters, in one place:

* penalty per change = :data:`PENALTY_FACTOR` x sigma^2 x log(n), the BIC form (sigma^2 log n) made
  stricter, because sigma is estimated from the series itself: the root mean square of successive
  differences over sqrt(2), leaving out the largest difference (which a step would inflate), floored
  at :data:`MIN_CV`. The factor was chosen by simulation (:func:`simulate_detection`) so that pure
  noise rarely shows a change at the shortest series we expect (10 runs);
* every segment holds at least :data:`MIN_SEGMENT` runs, but the first and the last change may then
  move one run outwards (:func:`_at_the_ends`): a slowdown that only the newest run shows is put on
  the newest commit, not on the innocent one before it;
* each change's size is the ratio of the geometric means after and before, minus one, with Welch's
  t interval at :data:`CONFIDENCE` for the difference of the two segments' mean log samples/s (the
  same interval :mod:`harness.quality.noise_study` uses), mapped back to a ratio. It is computed on
  the segments the detection chose, so it is somewhat optimistic for steps near the noise.

Measured by :func:`simulate_detection` (normal noise, the step half-way, 2000 trials per row, seed 0;
the whole table is in ``docs/measurements/2026-12-06-change-point-detection.md``): at a CV of 2%,
pure noise shows a change in 3.0% of series of 10 runs, 0.2% of 20 and 0.1% of 30; over 10 runs a
20% slowdown is found at its run in 100% of series, a 10% one in 98.4% and a 5% one in 47.0% (over
30 runs: 100%, 99.3%, 76.0%). The rates depend on the step in units of the CV: at a CV of 3%, a 10%
slowdown over 10 runs is found at its run in 80.2%. The size's interval held the planted size in
94-96% of the steps found at their run (88-93% for 5% steps at a CV of 3%, which are found only when
the noise happens to enlarge them).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import ruptures
from scipy import stats

from harness.tables import markdown_table

PENALTY_FACTOR = 8.0  # x sigma^2 log(n): false alarms over 10 runs at 8 about 3%, at 6 about 6%
MIN_SEGMENT = 2  # runs on each side of a change
MIN_CV = 0.001  # no benchmark is steadier; keeps the penalty > 0 for a series of identical values
CONFIDENCE = 0.95  # the level of every size interval


@dataclass(frozen=True)
class ChangePoint:
    """A step in a series: ``index`` is the first run after it (``commit`` that run's commit)."""

    index: int
    commit: str | None
    before: float  # geometric mean samples/s of the segment before the step
    after: float  # and of the segment after it
    relative_change: float  # after / before - 1: negative for a slowdown
    interval: tuple[float, float]  # CONFIDENCE interval of relative_change

    @property
    def slowdown(self) -> bool:
        return self.relative_change < 0

    def sentence(self) -> str:
        """The change in words, for a trend report or a pull-request comment.

        >>> ChangePoint(5, "abc123", 100.0, 80.0, -0.2, (-0.23, -0.17)).sentence()
        'slower by 20.0% (95% interval 17.0% to 23.0%) from run 6 (abc123): 100 -> 80 samples/s'

        Runs are counted from 1 for people (``index`` counts from 0), commits cut to 12 digits.
        """
        where = f"run {self.index + 1}" + (f" ({self.commit[:12]})" if self.commit else "")
        low, high = (-self.interval[1], -self.interval[0]) if self.slowdown else self.interval
        return (f"{'slower' if self.slowdown else 'faster'} by {abs(self.relative_change) * 100:.1f}% "
                f"({CONFIDENCE:.0%} interval {low * 100:.1f}% to {high * 100:.1f}%) from {where}: "
                f"{self.before:.4g} -> {self.after:.4g} samples/s")


def detect_change_points(samples_per_s: Sequence[float], commits: Sequence[str] | None = None, *,
                         penalty_factor: float = PENALTY_FACTOR) -> tuple[ChangePoint, ...]:
    """The steps in a series of samples/s (oldest first), each with its size and interval.

    >>> series = [100, 101, 99, 100, 102, 80, 81, 79, 80, 80]
    >>> [(c.index, round(c.relative_change, 2)) for c in detect_change_points(series)]
    [(5, -0.2)]
    """
    values = _log_values(samples_per_s)
    if commits is not None and len(commits) != values.size:
        raise ValueError(f"{len(commits)} commits for {values.size} values")
    if values.size < 2 * MIN_SEGMENT:
        return ()
    penalty = penalty_factor * noise_sd(values) ** 2 * math.log(values.size)
    ends = ruptures.Pelt(model="l2", min_size=MIN_SEGMENT, jump=1).fit(values).predict(pen=penalty)
    bounds = _at_the_ends([0, *ends], values)  # ruptures gives each segment's end, the last being the series' length
    return tuple(_change(values, bounds[i - 1], bounds[i], bounds[i + 1], commits) for i in range(1, len(bounds) - 1))


def _at_the_ends(bounds: list[int], values: np.ndarray) -> list[int]:
    """Move a change next to either end of the series by one run where that fits better.

    Why: PELT keeps :data:`MIN_SEGMENT` runs per segment, so a slowdown that only the newest run
    shows is placed one run early, on an innocent commit, with the last two runs as its segment
    (and a slow first run, say a cold cache, one run late). The newest commit is the one a pull
    request asks about, so the first and last boundaries may move one run outwards when that leaves
    less squared error on their two segments; inside the series nothing moves.
    """
    bounds = list(bounds)
    for position, outer in ((1, 0), (len(bounds) - 2, len(bounds) - 1)):
        if not 0 < position < len(bounds) - 1:
            continue
        start, index, end = bounds[position - 1], bounds[position], bounds[position + 1]
        step = -1 if outer == 0 else 1
        moved = index + step
        if start < moved < end and _squared_error(values, start, moved, end) < _squared_error(values, start, index, end):
            bounds[position] = moved
    return bounds


def _squared_error(values: np.ndarray, start: int, index: int, end: int) -> float:
    return float(sum(((part - part.mean()) ** 2).sum() for part in (values[start:index], values[index:end])))


def noise_sd(log_values: np.ndarray) -> float:
    """The run-to-run sd of log samples/s (about the CV), robust to one step: from successive
    differences, leaving out the largest, floored at :data:`MIN_CV`."""
    squared = np.sort(np.diff(log_values) ** 2)[:-1]
    return max(math.sqrt(float(squared.mean()) / 2), MIN_CV)


def _log_values(samples_per_s: Sequence[float]) -> np.ndarray:
    values = np.asarray(samples_per_s, dtype=float)
    if values.ndim != 1 or not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"samples/s must be a sequence of finite numbers > 0, got {samples_per_s!r}")
    return np.log(values)


def _change(values: np.ndarray, start: int, index: int, end: int, commits: Sequence[str] | None) -> ChangePoint:
    before, after = values[start:index], values[index:end]
    difference = float(after.mean() - before.mean())
    if np.ptp(before) == 0 and np.ptp(after) == 0:
        low = high = difference
    elif min(before.size, after.size) == 1:  # one run on a side: its spread is the other side's
        other = before if after.size == 1 else after
        half = stats.t.ppf((1 + CONFIDENCE) / 2, other.size - 1) * other.std(ddof=1) * math.sqrt(1 + 1 / other.size)
        low, high = difference - half, difference + half
    else:
        with warnings.catch_warnings():  # nearly identical runs: scipy warns of precision loss, the interval stands
            warnings.simplefilter("ignore", RuntimeWarning)
            interval = stats.ttest_ind(after, before, equal_var=False).confidence_interval(CONFIDENCE)
        low, high = float(interval.low), float(interval.high)
    return ChangePoint(index, commits[index] if commits is not None else None, math.exp(before.mean()),
                       math.exp(after.mean()), math.expm1(difference), (math.expm1(low), math.expm1(high)))


@dataclass(frozen=True)
class DetectionRates:
    """How often the detection fires on simulated series with a known ``step`` (0: pure noise).

    ``alarm``: series with any change reported (for ``step`` 0, the false-alarm rate); ``exact`` and
    ``within_one``: series with a change reported at ``step_at`` or within one run of it; ``coverage``:
    of the exact ones, how often the interval held the planted size (None when there were none).
    """

    length: int
    cv: float
    step: float
    step_at: int
    trials: int
    alarm: float
    exact: float
    within_one: float
    coverage: float | None


def simulate_detection(*, length: int, cv: float, step: float = 0.0, step_at: int | None = None,
                       trials: int = 1000, seed: int = 0, penalty_factor: float = PENALTY_FACTOR) -> DetectionRates:
    """Run the detection on ``trials`` seeded series of ``length`` runs: 1000 samples/s with normal
    noise of ``cv``, slowed by ``step`` (0.1: 10% fewer samples/s) from run ``step_at`` on
    (default: half-way)."""
    step_at = _simulated_step_at(length=length, cv=cv, step=step, step_at=step_at, trials=trials)
    rng = np.random.default_rng(seed)
    series = 1000.0 * (1 + cv * rng.standard_normal((trials, length)))
    series[:, step_at:] *= 1 - step
    alarms = exact = near = covered = 0
    for values in series:
        changes = detect_change_points(values, penalty_factor=penalty_factor)
        at_step = [c for c in changes if c.index == step_at]
        alarms += bool(changes)
        exact += bool(at_step)
        near += any(abs(c.index - step_at) <= 1 for c in changes)
        covered += any(c.interval[0] <= -step <= c.interval[1] for c in at_step)
    return DetectionRates(length, cv, step, step_at, trials, alarms / trials, exact / trials, near / trials,
                          covered / exact if exact else None)


def _simulated_step_at(*, length: int, cv: float, step: float, step_at: int | None, trials: int) -> int:
    """Where the simulated step goes, once the simulation's settings are known to make sense."""
    if length < 2 * MIN_SEGMENT or trials < 1 or not 0 <= step < 1 or not 0 < cv < 0.5:
        raise ValueError(f"need length >= {2 * MIN_SEGMENT}, trials >= 1, 0 <= step < 1 and 0 < cv < 0.5; "
                         f"got length={length}, trials={trials}, step={step}, cv={cv}")
    step_at = length // 2 if step_at is None else step_at
    if not 0 < step_at < length:
        raise ValueError(f"step_at must lie inside the series (1..{length - 1}), got {step_at}")
    return step_at


def detection_table(rates: Sequence[DetectionRates]) -> str:
    """Simulated rates as Markdown, one row per setting."""
    return markdown_table(
        ["runs", "CV", "slowdown", "at run", "trials", "any change", "at the run", "within 1 run",
         f"{CONFIDENCE:.0%} interval covers"],
        [[r.length, f"{r.cv:.0%}", f"{r.step:.0%}", r.step_at if r.step else "-", r.trials, f"{r.alarm:.1%}",
          f"{r.exact:.1%}" if r.step else "-", f"{r.within_one:.1%}" if r.step else "-",
          f"{r.coverage:.1%}" if r.step and r.coverage is not None else "-"] for r in rates])
