"""The check's error rates for the baseline a team actually has, not averaged over baselines.

Why: the rates the sequential gate is calibrated to (alpha, power) are averages over repeated
baselines as well as candidate runs. A team has one committed baseline, and its false-alarm rate is
fixed but unknown: a reference mean that landed high, or an sd that landed low, makes unchanged
recipes fail more often than alpha for as long as that baseline stays (issue 21: with 30 seeds the
90th percentile over baselines was 1.26% at alpha 1%). What can be said about *this* baseline is a
statement over what its seeds leave unknown, the true mean and spread.

So: the reference stays the committed one (its mean and sd enter every decision as they are), and
the truth it was drawn from is drawn from its posterior under the standard noninformative prior
(normal-inverse-Wishart: ``Sigma ~ InvWishart(n - 1, (n - 1) S)``, ``mu ~ N(mean, Sigma / n)``;
one metric reduces to ``sigma**2 ~ (n - 1) s**2 / chi2_{n-1}``, the draw the pass boundaries
average over). For each drawn truth the check runs ``trials`` times on candidate runs from it; the
spread of those per-truth rates over the truths is the uncertainty about this baseline's rate, and
its 90th percentile is a bound that holds with 90% (posterior) probability. Two ways to draw the
candidates, as everywhere in the gate: normal with the truth's covariance, or the baseline's own
seeds resampled whole (their skew and ties), each metric's deviations scaled by the truth's sd over
the sample's. Monte Carlo noise in each per-truth rate (``trials`` runs) widens the spread of the
rates a little, so the percentile errs high: the bound is conservative by about that noise.

Power "at the pessimistic sigma" is the same check at a true worsening of ``effect`` with sigma
held at the upper end of its interval (``sigma_upper = s * sqrt((n - 1) / chi2_{n-1, 0.05})``,
the 95% one-sided bound) and the mean still drawn: the detection the team can count on if its
seeds happened to come out calm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from harness.quality.sequential_calibration import (
    BOUND_CONFIDENCE,
    posterior_truths,
    resampling_deviations,
    running_moments,
)
from harness.quality.sequential_gate import SIMULATION_MODES, SequentialDesign, stopping_rule


@dataclass(frozen=True)
class BaselineRates:
    """The check's failure rate at one true change for the committed baseline, over its truth's posterior.

    ``per_truth``: the failure rate at each drawn truth (``trials`` runs each); ``mean`` averages
    them (the rate to expect for this baseline), ``bound`` is their ``confidence`` quantile.
    """

    shifts: dict[str, float]
    mode: str
    sd_ratio: float
    trials: int
    per_truth: np.ndarray
    expected_runs: float
    worst_case_runs: int
    confidence: float = BOUND_CONFIDENCE

    @property
    def mean(self) -> float:
        return float(self.per_truth.mean())

    @property
    def bound(self) -> float:
        return float(np.quantile(self.per_truth, self.confidence))

    @property
    def monte_carlo_se(self) -> float:
        """Binomial noise of one truth's rate at the mean rate: how much of the spread is simulation."""
        return math.sqrt(self.mean * (1 - self.mean) / self.trials)


def baseline_rates(designs: dict[str, SequentialDesign], shifts: dict[str, float], *, mode: str = "normal",
                   sd_ratio: float = 1.0, truths: int = 200, trials: int = 4_000, seed: int = 0,
                   pessimistic_sigma: bool = False) -> BaselineRates:
    """The check's failure rate for these designs' own (committed) reference, at true changes
    ``shifts`` (metric units, candidate minus the true mean) and candidates ``sd_ratio`` times as
    spread as the truth, over ``truths`` draws of the truth (see the module docstring).

    ``pessimistic_sigma``: every metric's true sd at its 95% upper bound instead of drawn (power
    at the pessimistic sigma); the mean is still drawn, and the correlation is the sample's.
    """
    if mode not in SIMULATION_MODES:
        raise ValueError(f"mode must be one of {SIMULATION_MODES}, got {mode!r}")
    if not (isinstance(truths, int) and truths >= 10 and isinstance(trials, int) and trials >= 100):
        raise ValueError(f"truths must be an integer >= 10 and trials >= 100, got {truths!r} and {trials!r}")
    if not (isinstance(sd_ratio, (int, float)) and 0 < sd_ratio < 100):
        raise ValueError(f"sd_ratio must be a number in (0, 100), got {sd_ratio!r}")
    metrics = list(designs)
    ordered = [designs[m] for m in metrics]
    pool = np.column_stack([np.asarray(d.reference_values) for d in ordered])  # seeds x metrics, committed
    n, m = pool.shape
    if any(d.n_reference != n for d in ordered):
        raise ValueError("every metric's design must come from the same reference seeds")
    runs = max(d.max_runs for d in ordered)
    rng = np.random.default_rng(seed)
    mean, sample_cov = pool.mean(axis=0), np.atleast_2d(np.cov(pool, rowvar=False))
    true_mean, true_cov = posterior_truths(mean, sample_cov, n, truths, rng, pessimistic_sigma)
    shift = np.array([shifts.get(metric, 0.0) for metric in metrics])
    ref_mean = np.broadcast_to(mean, (trials, m))
    ref_sd = np.broadcast_to(np.sqrt(np.diag(sample_cov)), (trials, m))
    if mode == "resample":  # the seeds' own shape, per metric scaled to the truth's sd
        deviations = resampling_deviations(pool) / np.sqrt(np.diag(sample_cov))
    per_truth, runs_used = np.empty(truths), []
    for t in range(truths):
        if mode == "normal":
            root = np.linalg.cholesky(true_cov[t] + 1e-18 * np.eye(m))
            noise = rng.standard_normal((trials, runs, m)) @ root.T
        else:
            noise = deviations[rng.integers(0, n, size=(trials, runs))] * np.sqrt(np.diag(true_cov[t]))
        candidates = true_mean[t] + shift + sd_ratio * noise
        cand_mean, cand_var = running_moments(candidates, axis=1)
        failed, used = stopping_rule(ordered, ref_mean, ref_sd, cand_mean, cand_var)
        per_truth[t] = failed.mean()
        runs_used.append(used)
    used = np.concatenate(runs_used)
    return BaselineRates(dict(shifts), mode, float(sd_ratio), trials, per_truth, float(used.mean()), int(used.max()))
