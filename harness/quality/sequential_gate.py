"""A sequential quality gate: run candidate seeds one at a time until the evidence decides.

Why: one candidate run against a 5-seed band (``mean - max(3 sigma, 0.01)``) lets a real 2-point
F1 drop through about four times in five, because one run carries the whole seed-to-seed noise
(sigma of about 0.93 points). Running a fixed five candidates would fix that but cost five
fine-tunes every time. A sequential test stops as soon as the runs so far are convincing either
way, so an unchanged recipe usually passes after two or three runs, and its error rates are still
stated and met.

The procedure (all parameters live in :class:`SequentialGateParameters`):

* After candidate run ``k`` the gate answers REGRESSION, NO_REGRESSION or CONTINUE, the three
  answers of Chromium Catapult's Pinpoint bisect (``dashboard/pinpoint/models/compare``:
  DIFFERENT, SAME, UNKNOWN = "collect more data"), and the idea behind Wald's (1945) sequential
  probability ratio test ("Sequential tests of statistical hypotheses", Ann. Math. Statist. 16,
  117-186). At the cap ``K`` it must pass or fail.
* The statistic is a two-sample comparison of the candidate runs with the reference seeds, as in
  MLPerf's RCP checker (mlcommons/logging, ``mlperf_logging/rcp_checker/rcp_checker.py``: a
  one-sided, equal-variance t-test of the submission runs against the reference runs, turned at
  design time into a "minimum acceptable mean" by a search). Here, with ``n`` reference seeds of
  mean ``r`` and standard deviation ``s`` (ddof=1), ``k`` candidate runs of mean ``c_k`` and the
  worsening ``w_k = r - c_k`` (``c_k - r`` for a lower-is-better metric)::

      T_k = (w_k - margin) / (s * sqrt(1/n + 1/k))

  ``s`` comes from the reference alone (not pooled with the candidates, unlike MLPerf), so every
  boundary is a fixed threshold on the candidate mean, known before the first candidate run.
* Boundaries come from a group-sequential design with one look per run (Jennison & Turnbull 2000,
  "Group Sequential Methods with Applications to Clinical Trials", ch. 4 one-sided tests with early
  stopping for H0, ch. 7 error spending): the fail boundary spends alpha over the looks with the
  Lan & DeMets (1983, Biometrika 70, 659-663) error-spending approach, the pass boundary spends
  beta = 1 - power in the same way (Pampallona, Tsiatis & Kim 2001, Drug Inf. J. 35, 1113-1121),
  both through the Hwang, Shih & DeCani (1990, Stat. Med. 9, 1439-1445) family
  ``spent(t) = total * (1 - exp(-gamma t)) / (1 - exp(-gamma))`` at information fraction
  ``t_k = I_k / I_K`` with ``I_k = 1 / (1/n + 1/k)``. ``max_runs`` is a cap: the design ends at
  the first look by which it already has the power asked for, and there both boundaries meet.
* The looks share the reference mean and ``s``, so their increments are not independent and the
  textbook recursive integration does not apply as is. The boundaries are therefore calibrated by
  Monte Carlo (seeded, deterministic) under the normal model, drawing everything that is random:
  the reference mean's error, the candidate runs, and ``s / sigma`` from its exact distribution
  ``sqrt(chi2_{n-1} / (n-1))``. Under "worsening = margin" ``T_k`` is pivotal (its law does not
  depend on the unknown mean or sigma), so the false-alarm rate is exact up to Monte Carlo error,
  as a t quantile would be; with ``K = 1`` the fail boundary *is* the one-sided t quantile.
* The fail boundary ignores the pass boundary ("non-binding futility"): it depends only on ``n``,
  ``K``, alpha and the spending function, never on ``s``, so the false-alarm rate holds whatever
  the pass boundary does, even if someone overrides a pass and keeps running. It makes the gate
  conservative (about 0.7% instead of 1% at the defaults). Calibration targets
  ``alpha - 2 * MC s.e.`` so that Monte Carlo error does not push the real rate over alpha.
* Power depends on the true sigma, which the reference only estimates. The pass boundaries and the
  power check average over sigma's uncertainty: sigma is drawn as ``s * sqrt((n-1) / chi2_{n-1})``
  (its distribution given ``s`` under the reference prior 1/sigma), which is "expected power" or
  assurance (O'Hagan, Stevens & Campbell 2005, Pharm. Stat. 4, 187-201). This asks for a little
  more than plugging in ``s`` would; a plug-in t power would be optimistic when ``s`` is low.

What the error rates mean: they are over repeated baselines *and* candidate runs, as for any
t-test. For one fixed baseline the false-alarm rate is somewhat above or below alpha depending on
how lucky the reference draw was; 30 or more reference seeds keep that spread small. Redrawing the
reference until a design succeeds (or gives a smaller ``K``) would select a low ``s`` and is not
covered.

What they rest on: the normal model. A one-sided comparison of a few candidate runs is sensitive
to skew, and seed-to-seed metrics can have a long bad tail (the odd seed that collapses). With 30
reference seeds whose skewness is -0.6, resampling them gives a false-alarm rate near 1.5%, not
0.7%. ``simulate(design, 0.0, mode="resample")`` shows this for the real reference; run it before
trusting the stated alpha.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from harness.run.config import ConfigError
from harness.tables import markdown_table

REGRESSION, NO_REGRESSION, CONTINUE = "REGRESSION", "NO_REGRESSION", "CONTINUE"
DIRECTIONS = ("higher", "lower")
SIMULATION_MODES = ("normal", "resample")
# Searches for the seeds or runs a design would need stop here and say "more than this".
MAX_RUNS_LIMIT = 50
MAX_SEEDS_SEARCHED = 100_000
# Quantiles of sigma's distribution averaged over in the closed-form power bound below.
_SIGMA_GRID_POINTS = 64


class DesignError(ValueError):
    """The reference cannot support the requested error rates; says how many seeds or runs would."""

    def __init__(self, message: str, *, seeds_needed: int | None, runs_needed: int | None) -> None:
        super().__init__(message)
        self.seeds_needed = seeds_needed
        self.runs_needed = runs_needed


@dataclass(frozen=True)
class SequentialGateParameters:
    """Every number the sequential gate's error rates depend on, in one place.

    ``effect`` and ``margin`` are worsenings in the metric's own units (a fall for ``higher``, a
    rise for ``lower``): the gate fails at most ``alpha`` of the time when the true worsening is at
    most ``margin``, and at least ``power`` of the time when it is ``effect`` or more.
    """

    alpha: float = 0.01
    power: float = 0.95
    effect: float = 0.02
    margin: float = 0.0
    # A cap: the design stops at the first look with enough power. At the n = 30 and
    # sd = 0.0093 that is look 7; the cap of 8 still designs for a reference sd up to about 0.0102
    # (10% noisier). A higher cap designs for noisier references but spends alpha later, which
    # costs about 0.05 expected runs per extra look.
    max_runs: int = 8
    direction: str = "higher"
    # Hwang-Shih-DeCani gammas: -2 spends alpha late (one odd seed cannot fail a recipe on its own);
    # -1 spends beta a little sooner, so unchanged recipes pass early.
    alpha_spending_gamma: float = -2.0
    beta_spending_gamma: float = -1.0
    calibration_draws: int = 100_000
    calibration_seed: int = 0

    def __post_init__(self) -> None:
        _require(_is_real(self.alpha) and 0 < self.alpha < 0.5, f"alpha must be in (0, 0.5), got {self.alpha!r}")
        _require(_is_real(self.power) and 0.5 < self.power < 1, f"power must be in (0.5, 1), got {self.power!r}")
        _require(
            _is_real(self.effect) and math.isfinite(self.effect) and self.effect > 0,
            f"effect (the worsening to detect, in the metric's units) must be a finite number > 0, "
            f"got {self.effect!r}",
        )
        _require(
            _is_real(self.margin) and 0 <= self.margin < self.effect,
            f"margin must be in [0, effect) = [0, {self.effect!r}), got {self.margin!r}",
        )
        _require(
            _is_int(self.max_runs) and 1 <= self.max_runs <= MAX_RUNS_LIMIT,
            f"max_runs must be an integer in [1, {MAX_RUNS_LIMIT}], got {self.max_runs!r}",
        )
        _require(self.direction in DIRECTIONS, f"direction must be one of {DIRECTIONS}, got {self.direction!r}")
        for name in ("alpha_spending_gamma", "beta_spending_gamma"):
            value = getattr(self, name)
            _require(_is_real(value) and math.isfinite(value), f"{name} must be a finite number, got {value!r}")
        minimum_draws = max(10_000, math.ceil(100 / self.alpha))
        _require(
            _is_int(self.calibration_draws) and self.calibration_draws >= minimum_draws,
            f"calibration_draws must be an integer >= {minimum_draws} (>= 100 / alpha false alarms to "
            f"calibrate on), got {self.calibration_draws!r}",
        )
        _require(
            _is_int(self.calibration_seed) and self.calibration_seed >= 0,
            f"calibration_seed must be an integer >= 0, got {self.calibration_seed!r}",
        )

    @property
    def calibrated_alpha(self) -> float:
        """The alpha the Monte Carlo calibration aims at: two standard errors inside ``alpha``."""
        return self.alpha - 2 * math.sqrt(self.alpha * (1 - self.alpha) / self.calibration_draws)


@dataclass(frozen=True)
class Look:
    """The decision rule after ``runs`` candidate runs, standardized and in the metric's units.

    Fail when ``T >= fail_boundary``, pass when ``T <= pass_boundary``, else run another seed. The
    thresholds are the same rule on the candidate mean: for a higher-is-better metric fail when the
    mean is at or below ``fail_threshold`` and pass when it is at or above ``pass_threshold``
    (reversed for lower-is-better). An infinite boundary means that answer is not possible yet.
    """

    runs: int
    fail_boundary: float
    pass_boundary: float
    fail_threshold: float
    pass_threshold: float
    alpha_spent: float
    beta_spent: float


@dataclass(frozen=True)
class SequentialDesign:
    """A designed gate for one metric: its reference, its boundaries and what it can detect."""

    parameters: SequentialGateParameters
    metric: str
    reference_values: tuple[float, ...]
    reference_mean: float
    reference_sd: float
    looks: tuple[Look, ...]
    power_at_effect: float
    detectable_worsening: float

    @property
    def n_reference(self) -> int:
        return len(self.reference_values)

    @property
    def max_runs(self) -> int:
        """Runs at which the gate must decide (below ``parameters.max_runs`` if it needs fewer)."""
        return len(self.looks)

    def standard_error(self, runs: int) -> float:
        """Standard error of ``reference mean - candidate mean`` after ``runs`` candidate runs."""
        return self.reference_sd * math.sqrt(1 / self.n_reference + 1 / runs)

    def worsening(self, candidate_mean: float) -> float:
        """How much worse the candidate mean is than the reference mean (negative: better)."""
        difference = self.reference_mean - candidate_mean
        return difference if self.parameters.direction == "higher" else -difference

    def explain(self) -> str:
        """What the gate promises, then the boundary at every look, in the metric's units."""
        p = self.parameters
        better, worse = ("higher", "fall") if p.direction == "higher" else ("lower", "rise")
        fail_op, pass_op = ("<=", ">=") if p.direction == "higher" else (">=", "<=")
        head = (
            f"Sequential gate for {self.metric} ({better} is better): reference mean {_fmt(self.reference_mean)}, "
            f"sd {_fmt(self.reference_sd)} over {self.n_reference} seeds. It fails a recipe whose true {worse} "
            f"is at most {_fmt(p.margin)} no more than {p.alpha:.2%} of the time, and detects a {worse} of "
            f">= {_fmt(self.detectable_worsening)} with {p.power:.0%} probability within {self.max_runs} "
            f"candidate runs (power {self.power_at_effect:.3f} at {_fmt(p.effect)})."
        )
        rows = [
            [
                look.runs,
                _fmt_threshold(look.fail_threshold),
                _fmt_threshold(look.pass_threshold),
                _fmt_threshold(look.fail_boundary),
                _fmt_threshold(look.pass_boundary),
            ]
            for look in self.looks
        ]
        headers = ["runs", f"fail if mean {fail_op}", f"pass if mean {pass_op}", "fail if T >=", "pass if T <="]
        return head + "\n\n" + markdown_table(headers, rows)


@dataclass(frozen=True)
class SequentialDecision:
    """The answer after the candidate runs so far, with the numbers that produced it."""

    verdict: str
    runs: int
    max_runs: int
    values: tuple[float, ...]
    candidate_mean: float
    worsening: float
    statistic: float
    look: Look
    sentence: str

    def __post_init__(self) -> None:
        if self.verdict not in (REGRESSION, NO_REGRESSION, CONTINUE):
            raise ValueError(f"unknown verdict {self.verdict!r}")
        if self.verdict == CONTINUE and self.runs >= self.max_runs:
            raise ValueError(f"a sequential gate must decide by run {self.max_runs}; it cannot continue")


@dataclass(frozen=True)
class OperatingCharacteristics:
    """How a design behaves at one true shift, estimated by simulation (with Monte Carlo s.e.)."""

    shift: float
    mode: str
    trials: int
    fail_rate: float
    fail_rate_se: float
    expected_runs: float
    expected_runs_se: float
    worst_case_runs: int


def design_gate(
    reference: Sequence[float],
    parameters: SequentialGateParameters | None = None,
    *,
    metric: str = "metric",
) -> SequentialDesign:
    """Calibrate the gate's boundaries for these reference seeds; raise DesignError if it cannot work.

    >>> import numpy as np
    >>> f1 = 0.86 + 0.0093 * np.random.default_rng(0).standard_normal(30)
    >>> design = design_gate(f1, metric="f1")
    >>> design.power_at_effect >= 0.95 and design.detectable_worsening <= 0.02
    True
    >>> decide(design, [0.80]).verdict, decide(design, [0.87]).verdict, decide(design, [0.85]).verdict
    ('REGRESSION', 'NO_REGRESSION', 'CONTINUE')
    """
    values = _finite_values(reference, "reference values")
    if values.size < 2:
        raise DesignError(
            f"need at least 2 reference values to estimate the noise of {metric}, got {values.size}",
            seeds_needed=None,
            runs_needed=None,
        )
    mean, sd = float(values.mean()), float(values.std(ddof=1))
    if not sd > 0:
        raise DesignError(
            f"the {values.size} reference values of {metric} are all equal, so their noise cannot be estimated; "
            "record reference runs with distinct seeds",
            seeds_needed=None,
            runs_needed=None,
        )
    p = parameters or SequentialGateParameters()
    n, cap = values.size, p.max_runs
    shift = (p.effect - p.margin) / sd
    calibration = _calibrate(n, cap, shift, p)
    power = calibration.power(shift)
    if power < p.power:
        raise _design_error(metric, n, sd, power, shift, p)
    sign = -1.0 if p.direction == "higher" else 1.0
    looks = []
    for k, (a, b, a_spent, b_spent) in enumerate(
        zip(calibration.fail, calibration.passing, calibration.alpha_spent, calibration.beta_spent), start=1
    ):
        se = sd * math.sqrt(1 / n + 1 / k)
        looks.append(
            Look(
                runs=k,
                fail_boundary=float(a),
                pass_boundary=float(b),
                fail_threshold=mean + sign * (p.margin + a * se),
                pass_threshold=mean + sign * (p.margin + b * se),
                alpha_spent=float(a_spent),
                beta_spent=float(b_spent),
            )
        )
    return SequentialDesign(
        parameters=p,
        metric=metric,
        reference_values=tuple(float(v) for v in values),
        reference_mean=mean,
        reference_sd=sd,
        looks=tuple(looks),
        power_at_effect=power,
        detectable_worsening=p.margin + sd * calibration.shift_detected(p.power),
    )


def decide(design: SequentialDesign, candidate_values: Sequence[float]) -> SequentialDecision:
    """The gate's answer after the candidate runs so far (in run order, in the metric's units).

    Every look from the first is replayed, so runs made after the gate had already decided do not
    change its answer (they are reported as ignored).
    """
    values = _finite_values(candidate_values, "candidate values")
    if values.size == 0:
        raise ValueError("decide needs at least one candidate run")
    if values.size > design.max_runs:
        raise ValueError(f"the design decides by run {design.max_runs}; got {values.size} candidate values")
    for k in range(1, values.size + 1):
        look = design.looks[k - 1]
        mean = float(values[:k].mean())
        worsening = design.worsening(mean)
        statistic = (worsening - design.parameters.margin) / design.standard_error(k)
        if k == design.max_runs:
            verdict = REGRESSION if statistic >= look.fail_boundary else NO_REGRESSION
        elif statistic >= look.fail_boundary:
            verdict = REGRESSION
        elif statistic <= look.pass_boundary:
            verdict = NO_REGRESSION
        else:
            verdict = CONTINUE
        if verdict != CONTINUE or k == values.size:
            used = tuple(float(v) for v in values[:k])
            sentence = _sentence(design, verdict, look, mean, worsening, ignored=values.size - k)
            return SequentialDecision(verdict, k, design.max_runs, used, mean, worsening, statistic, look, sentence)
    raise AssertionError("unreachable: the loop returns at its last iteration")


def simulate(
    design: SequentialDesign,
    shift: float,
    *,
    mode: str = "normal",
    trials: int = 20_000,
    seed: int = 0,
) -> OperatingCharacteristics:
    """Run the whole procedure ``trials`` times at a true ``shift`` (candidate minus reference mean).

    ``shift`` is in the metric's raw units: -0.02 is a 2-point F1 drop, +0.02 a loss rise of 0.02.
    One metric's gate is the multi-metric check of :func:`simulate_runs` with one design, so there
    is one simulator: see it for the two modes.
    """
    if not (_is_real(shift) and math.isfinite(shift)):
        raise ValueError(f"shift must be a finite number, got {shift!r}")
    failed, used = simulate_runs({"metric": design}, {"metric": shift}, mode=mode, trials=trials, seed=seed)
    rate = float(failed.mean())
    return OperatingCharacteristics(
        shift=float(shift),
        mode=mode,
        trials=trials,
        fail_rate=rate,
        fail_rate_se=math.sqrt(rate * (1 - rate) / trials),
        expected_runs=float(used.mean()),
        expected_runs_se=float(used.std(ddof=1) / math.sqrt(trials)),
        worst_case_runs=int(used.max()),
    )


def simulate_runs(designs: dict[str, SequentialDesign], shifts: dict[str, float], *, mode: str = "resample",
                  trials: int = 20_000, seed: int = 0, sd_ratio: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The check over every design (one per metric) run ``trials`` times at true changes ``shifts``
    (metric units, candidate minus reference): which trials failed, and after how many runs each stopped.

    Each trial redraws the reference set as well as the candidates, then re-estimates the reference
    mean and sd and applies the designs' standardized boundaries with the check's stopping rule (fail
    as soon as one metric fails, pass once every metric has passed), because the baseline is itself a
    sample and the false-alarm rate is a statement over baselines too.

    * ``"resample"`` draws whole seeds, so a seed's metrics move together as they really do: the
      recorded seeds, each metric's deviations from its mean scaled by sqrt(n / (n - 1)) so the pool's
      variance is the sample variance, form a pool; the n reference seeds and the candidate runs are
      drawn from it with replacement, the candidates then moved by ``shifts``. This keeps the
      observed shape (skew, heavy tails, ties).
    * ``"normal"`` draws each metric from N(mean, sd) of its design, the metrics correlated as the
      reference seeds' are (their sample correlation).

    ``sd_ratio`` scales the candidates' seed-to-seed spread about the true mean (1.43: fp32 candidates
    against a bf16 baseline): the statistic assumes a change leaves the spread alone, and this
    measures what its rates become when it does not.
    """
    if mode not in SIMULATION_MODES:
        raise ValueError(f"mode must be one of {SIMULATION_MODES}, got {mode!r}")
    if not (_is_int(trials) and trials >= 100):
        raise ValueError(f"trials must be an integer >= 100, got {trials!r}")
    metrics = list(designs)
    n = designs[metrics[0]].n_reference
    if any(d.n_reference != n for d in designs.values()):
        raise ValueError("every metric's design must come from the same reference seeds")
    runs = max(d.max_runs for d in designs.values())
    if not (_is_real(sd_ratio) and 0 < sd_ratio < 100):
        raise ValueError(f"sd_ratio must be a number in (0, 100), got {sd_ratio!r}")
    reference, candidates = _draws(designs, metrics, mode=mode, trials=trials, runs=runs, seed=seed)
    centre = np.array([np.mean(designs[m].reference_values) for m in metrics])  # the draws' true mean
    candidates = centre + (candidates - centre) * sd_ratio + np.array([shifts.get(m, 0.0) for m in metrics])
    ref_mean, ref_sd = reference.mean(axis=1), reference.std(axis=1, ddof=1)  # trials x metrics
    cand_mean = np.cumsum(candidates, axis=1) / np.arange(1, runs + 1)[None, :, None]  # trials x runs x metrics
    return _stopping_rule([designs[m] for m in metrics], ref_mean, ref_sd, cand_mean)


def _draws(designs: dict[str, SequentialDesign], metrics: list[str], *, mode: str, trials: int, runs: int,
           seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Simulated reference seeds (trials x n x metrics) and candidate runs (trials x runs x metrics)."""
    rng = np.random.default_rng(seed)
    n = designs[metrics[0]].n_reference
    pool = np.column_stack([np.asarray(designs[m].reference_values) for m in metrics])  # seeds x metrics
    centre = pool.mean(axis=0)
    if mode == "resample":
        pool = centre + (pool - centre) * np.sqrt(n / (n - 1))
        return pool[rng.integers(0, n, size=(trials, n))], pool[rng.integers(0, n, size=(trials, runs))]
    sd, mix = np.array([designs[m].reference_sd for m in metrics]), _correlation_root(pool)
    return (centre + sd * (rng.standard_normal((trials, n, len(metrics))) @ mix.T),
            centre + sd * (rng.standard_normal((trials, runs, len(metrics))) @ mix.T))


def _correlation_root(pool: np.ndarray) -> np.ndarray:
    """A matrix ``A`` with ``A @ A.T`` the metrics' correlation over the reference seeds (seeds x metrics),
    so standard normal draws times ``A.T`` move together as the seeds' metrics did (accuracy and F1 at
    r = 0.97 on MRPC): a simulation that drew them independently would overstate how often two metrics
    disagree, and so the runs a check needs. A metric that never varied is uncorrelated with the rest."""
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = np.atleast_2d(np.corrcoef(pool, rowvar=False))
    corr = np.where(np.isfinite(corr), corr, 0.0)
    np.fill_diagonal(corr, 1.0)
    values, vectors = np.linalg.eigh(corr)  # eigh, not cholesky: r = 1 exactly is singular, and allowed
    return vectors * np.sqrt(np.clip(values, 0.0, None))


def _stopping_rule(designs: list[SequentialDesign], ref_mean: np.ndarray, ref_sd: np.ndarray,
                   cand_mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Apply every design's boundaries look by look: a trial fails when one metric fails, passes
    once every metric has passed (a metric past its own cap has passed at its last look)."""
    trials, runs, _ = cand_mean.shape
    n = designs[0].n_reference
    failed, decided = np.zeros(trials, dtype=bool), np.zeros(trials, dtype=bool)
    used = np.full(trials, runs)
    passed_metric = np.zeros((trials, len(designs)), dtype=bool)
    for k in range(1, runs + 1):
        fails_now = np.zeros(trials, dtype=bool)
        for j, design in enumerate(designs):
            if k > design.max_runs:
                continue
            p = design.parameters
            sign = 1.0 if p.direction == "higher" else -1.0
            worsening = sign * (ref_mean[:, j] - cand_mean[:, k - 1, j])
            with np.errstate(divide="ignore", invalid="ignore"):  # a resampled reference of one repeated seed
                statistic = (worsening - p.margin) / (ref_sd[:, j] * np.sqrt(1 / n + 1 / k))
            look = design.looks[k - 1]
            fails = statistic >= look.fail_boundary
            passes = ~fails if k == design.max_runs else statistic <= look.pass_boundary
            live = ~passed_metric[:, j]
            fails_now |= live & fails
            passed_metric[:, j] |= live & passes & ~fails
        newly_failed = ~decided & fails_now
        newly_passed = ~decided & ~fails_now & passed_metric.all(axis=1)
        failed |= newly_failed
        used[newly_failed | newly_passed] = k
        decided |= newly_failed | newly_passed
    return failed, used


def operating_table(results: Sequence[OperatingCharacteristics]) -> str:
    """A Markdown table of simulated operating characteristics, one row per shift and mode."""
    rows = [
        [
            f"{r.shift:+.4g}",
            r.mode,
            f"{r.fail_rate:.4f} ± {r.fail_rate_se:.4f}",
            f"{r.expected_runs:.2f} ± {r.expected_runs_se:.3f}",
            r.worst_case_runs,
            r.trials,
        ]
        for r in results
    ]
    headers = ["true shift", "mode", "P(fail) ± MC s.e.", "expected runs", "worst-case runs", "trials"]
    return markdown_table(headers, rows)


@dataclass(frozen=True)
class _Calibration:
    """Boundaries found on the calibration paths, and what those paths say about power."""

    fail: np.ndarray
    passing: np.ndarray
    alpha_spent: np.ndarray
    beta_spent: np.ndarray
    # Per simulated path, the smallest standardized worsening-beyond-margin (in units of the
    # observed reference sd) at which that path fails: power(u) is the share at or below u.
    fail_shifts: np.ndarray

    def power(self, shift: float) -> float:
        return float(np.mean(self.fail_shifts <= shift))

    def shift_detected(self, power: float) -> float:
        rank = math.ceil(power * self.fail_shifts.size) - 1
        return float(np.partition(self.fail_shifts, rank)[rank])


def _spending(fraction: np.ndarray, total: float, gamma: float) -> np.ndarray:
    """Hwang, Shih & DeCani (1990) error spent by information fraction ``fraction``."""
    if gamma == 0:
        return total * fraction
    return total * (1 - np.exp(-gamma * fraction)) / (1 - np.exp(-gamma))


def _paths(n: int, runs: int, draws: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Simulated statistics at worsening = margin, and how each moves per unit of true worsening.

    Returns ``(null, scale)``, both of shape (runs, draws): at a true worsening beyond the margin
    of ``u`` observed reference sds, path ``j``'s statistic at look ``k`` is
    ``null[k, j] + u * scale[k, j]``. The chi-square draws go through their quantile function from
    common uniforms, so designs for different ``n`` share random numbers and change smoothly in it.
    """
    rng = np.random.default_rng(seed)
    reference_noise = rng.standard_normal(draws)  # sqrt(n) * (reference mean - mu) / sigma
    sd_quantiles = np.clip(rng.random(draws), 1e-12, 1 - 1e-12)  # -> reference sd / sigma
    sigma_quantiles = np.clip(rng.random(draws), 1e-12, 1 - 1e-12)  # -> sigma / observed sd
    candidate_noise = rng.standard_normal((runs, draws))
    df = n - 1
    sd_ratio = np.sqrt(stats.chi2.ppf(sd_quantiles, df) / df)
    sigma_ratio = np.sqrt(df / stats.chi2.ppf(sigma_quantiles, df))
    k = np.arange(1, runs + 1)[:, None]
    se = sd_ratio * np.sqrt(1 / n + 1 / k)
    null = (reference_noise / math.sqrt(n) - np.cumsum(candidate_noise, axis=0) / k) / se
    return null, 1 / (sigma_ratio * se)


def _calibrate(n: int, runs: int, shift: float, p: SequentialGateParameters) -> _Calibration:
    """Fail boundaries from alpha spending at the margin, pass boundaries from beta spending at ``shift``.

    The design ends at the first look by which it has caught ``power`` of the paths at ``shift``:
    there the two boundaries meet. Ending early only removes chances to fail, so the false-alarm
    rate stays within alpha, and it saves the runs the cap would otherwise allow.
    """
    null, scale = _paths(n, runs, p.calibration_draws, p.calibration_seed)
    draws = p.calibration_draws
    k = np.arange(1, runs + 1)
    information = 1 / (1 / n + 1 / k)
    fraction = information / information[-1]
    alpha_spent = _spending(fraction, p.calibrated_alpha, p.alpha_spending_gamma)
    beta_spent = _spending(fraction, 1 - p.power, p.beta_spending_gamma)

    # Fail boundaries ignore the pass boundaries (non-binding), so they depend on n, K and alpha only.
    fail = np.full(runs, np.inf)
    alive = np.ones(draws, dtype=bool)
    failed = 0
    for i in range(runs):
        target = math.floor(alpha_spent[i] * draws) - failed
        if target > 0:
            values = null[i, alive]
            fail[i] = np.partition(values, values.size - target)[values.size - target]
            crossed = alive & (null[i] >= fail[i])
            failed += int(crossed.sum())
            alive &= ~crossed

    alternative = null + shift * scale
    passing = np.full(runs, -np.inf)
    alive = np.ones(draws, dtype=bool)
    passed, caught, looks = 0, 0, runs
    for i in range(runs - 1):
        crossing = int((alive & (alternative[i] >= fail[i])).sum())
        if (caught + crossing) / draws >= p.power:  # enough power already: this look is the last
            looks = i + 1
            break
        caught += crossing
        target = math.floor(beta_spent[i] * draws) - passed
        if target > 0:
            values = alternative[i, alive & (alternative[i] < fail[i])]
            if target >= values.size:  # passing everything short of failing spends less than beta
                looks = i + 1
                break
            passing[i] = np.partition(values, target - 1)[target - 1]
            passed += int((alive & (alternative[i] <= passing[i])).sum())
        alive &= (alternative[i] > passing[i]) & (alternative[i] < fail[i])
    passing[looks - 1] = fail[looks - 1]
    fail, passing = fail[:looks], passing[:looks]
    return _Calibration(
        fail=fail,
        passing=passing,
        alpha_spent=alpha_spent[:looks],
        beta_spent=beta_spent[:looks],
        fail_shifts=_fail_shifts(null[:looks], scale[:looks], fail, passing),
    )


def _fail_shifts(null: np.ndarray, scale: np.ndarray, fail: np.ndarray, passing: np.ndarray) -> np.ndarray:
    """Per path, the smallest shift that makes it fail: every statistic rises with the shift, so it
    fails by look k once it crosses ``fail[k]`` there and stayed above ``passing`` at every look before."""
    with np.errstate(invalid="ignore"):
        to_fail = (fail[:, None] - null) / scale
        to_stay = (passing[:, None] - null) / scale
    stayed = np.vstack([np.full((1, null.shape[1]), -np.inf), np.maximum.accumulate(to_stay, axis=0)[:-1]])
    return np.maximum(to_fail, stayed).min(axis=0)


def _fixed_sample_power(n: float, runs: float, shift: float, alpha: float) -> float:
    """Power of the one-look t-test with ``runs`` candidates, averaged over sigma like the design.

    No sequential test on the same runs beats it (Neyman-Pearson; the t-test is the most powerful
    scale-invariant test), so it bounds what a design could reach and starts the searches below.
    ``n`` or ``runs`` may be ``math.inf``.
    """
    se = math.sqrt((0 if math.isinf(n) else 1 / n) + (0 if math.isinf(runs) else 1 / runs))
    if math.isinf(n):
        return float(stats.norm.sf(stats.norm.isf(alpha) - shift / se))
    df = n - 1
    quantiles = (np.arange(_SIGMA_GRID_POINTS) + 0.5) / _SIGMA_GRID_POINTS
    sigma_ratio = np.sqrt(df / stats.chi2.ppf(quantiles, df))
    return float(np.mean(stats.nct.sf(stats.t.isf(alpha, df), df, shift / (sigma_ratio * se))))


def _smallest(lowest: int, highest: int, works) -> int | None:
    """Smallest integer in [lowest, highest] for which ``works`` holds, assuming it is monotone."""
    if not works(highest):
        return None
    while lowest < highest:
        middle = (lowest + highest) // 2
        if works(middle):
            highest = middle
        else:
            lowest = middle + 1
    return highest


def _seeds_needed(runs: int, shift: float, p: SequentialGateParameters) -> int | None:
    alpha = p.calibrated_alpha
    if _fixed_sample_power(math.inf, runs, shift, alpha) < p.power:
        return None
    start = _smallest(2, MAX_SEEDS_SEARCHED, lambda n: _fixed_sample_power(n, runs, shift, alpha) >= p.power)
    return _walk_out(start, MAX_SEEDS_SEARCHED, lambda n: _calibrate(n, runs, shift, p).power(shift) >= p.power)


def _runs_needed(n: int, shift: float, p: SequentialGateParameters) -> int | None:
    alpha = p.calibrated_alpha
    start = _smallest(1, MAX_RUNS_LIMIT, lambda k: _fixed_sample_power(n, k, shift, alpha) >= p.power)
    return _walk_out(start, MAX_RUNS_LIMIT, lambda k: _calibrate(n, k, shift, p).power(shift) >= p.power)


def _walk_out(start: int | None, limit: int, works) -> int | None:
    """The smallest value from ``start`` (the fixed-sample bound, close below the answer) at which the
    calibrated design ``works``: walk out geometrically, then bisect back."""
    if start is None:
        return None
    works = functools.cache(works)
    low, high = start, start
    while not works(high):
        if high >= limit:
            return None
        low, high = high + 1, min(2 * high, limit)
    return _smallest(low, high, works)


def _design_error(
    metric: str, n: int, sd: float, power: float, shift: float, p: SequentialGateParameters
) -> DesignError:
    seeds = _seeds_needed(p.max_runs, shift, p)
    runs = _runs_needed(n, shift, p)
    worse = "fall" if p.direction == "higher" else "rise"
    if seeds is None:
        seeds_text = f"No number of reference seeds (up to {MAX_SEEDS_SEARCHED}) is enough with max_runs={p.max_runs}."
    else:
        seeds_text = (
            f"With max_runs={p.max_runs} it needs at least {seeds} reference seeds (if their sd stays {_fmt(sd)})."
        )
    if runs is None:
        runs_text = f"With {n} reference seeds no max_runs up to {MAX_RUNS_LIMIT} is enough."
    else:
        runs_text = f"With {n} reference seeds it needs max_runs={runs} candidate runs."
    message = (
        f"cannot design a sequential gate for {metric}: {n} reference seeds with sd {_fmt(sd)} give power "
        f"{power:.3f} to detect a {worse} of {_fmt(p.effect)} (margin {_fmt(p.margin)}) at alpha={p.alpha} "
        f"within {p.max_runs} candidate runs, below the {p.power} asked for. {seeds_text} {runs_text}"
    )
    return DesignError(message, seeds_needed=seeds, runs_needed=runs)


def _sentence(
    design: SequentialDesign, verdict: str, look: Look, mean: float, worsening: float, *, ignored: int
) -> str:
    p = design.parameters
    higher = p.direction == "higher"
    where = (
        f"after {look.runs} of {design.max_runs} runs the candidate mean {design.metric} {_fmt(mean)} "
        f"(reference {_fmt(design.reference_mean)} over {design.n_reference} seeds, worsening {_fmt(worsening)})"
    )
    if verdict == REGRESSION:
        side = "at or below" if higher else "at or above"
        text = (
            f"REGRESSION: {where} is {side} the fail threshold {_fmt(look.fail_threshold)}; the gate fails a "
            f"recipe that is no more than {_fmt(p.margin)} worse at most {p.alpha:.3g} of the time."
        )
    elif verdict == NO_REGRESSION:
        if look.runs == design.max_runs:
            relation = f"{'above' if higher else 'below'} the final threshold {_fmt(look.fail_threshold)}"
        else:
            side = "at or above" if higher else "at or below"
            relation = f"{side} the pass threshold {_fmt(look.pass_threshold)}"
        text = (
            f"NO REGRESSION: {where} is {relation}; a worsening of {_fmt(p.effect)} would have been caught "
            f"with probability >= {p.power:.3g}."
        )
    else:
        text = (
            f"CONTINUE: {where} lies between the fail threshold {_fmt_threshold(look.fail_threshold)} and the "
            f"pass threshold {_fmt_threshold(look.pass_threshold)}; run another seed."
        )
    if ignored:
        text += f" {ignored} later run(s) were not used: the gate had already decided."
    return text


def _finite_values(values: Sequence[float], what: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"{what} must be a flat sequence of numbers")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what} must all be finite, got {list(array)}")
    return array


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _fmt_threshold(value: float) -> str:
    return "—" if math.isinf(value) else _fmt(value)
