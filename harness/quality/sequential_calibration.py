"""The sequential gate's statistic, and its boundaries calibrated by simulation.

Why a module of its own: the statistic is computed in three places (a decision on real runs, the
calibration paths, and the operating-characteristics simulator), and if they disagreed the stated
error rates would describe another gate. :func:`statistic` is the one definition all three call.

The statistic after ``k`` candidate runs, with the reference's ``n`` seeds of mean ``r`` and sd
``s``, the candidates' mean ``c_k`` and sd ``s_k``, and the worsening ``w_k`` (``r - c_k`` for a
higher-is-better metric)::

    v_k = (nu0 * s**2 + (k - 1) * s_k**2) / (nu0 + k - 1)        # the candidates' variance
    T_k = (w_k - margin) / sqrt(s**2 / n + v_k / k)

``v_k`` is the candidates' own variance moderated towards the reference's with ``nu0`` prior runs'
weight (Smyth 2004, "Linear models and empirical Bayes methods for assessing differential
expression in microarray experiments", Stat. Appl. Genet. Mol. Biol. 3(1), art. 3: the moderated
t). A Welch statistic (``nu0 = 0``) would track a changed spread at once, but with two or three
candidate runs its variance estimate has one or two degrees of freedom and its tails are so heavy
that the boundaries must sit far out; the reference's spread alone (``nu0 = inf``, the gate before
issue 21) is calm but assumes a change leaves the spread as it was, and a candidate 1.5 times as
noisy then fails an unchanged recipe 5.7% of the time instead of 1%. The moderated variance starts
at the reference's and moves to the candidates' own as runs accrue.

The statistic is not pivotal in the spread ratio, so the fail boundaries are calibrated for the
worst case over a range of candidate/reference sd ratios ``[1/b, b]`` (at its ends and at 1; the
false-alarm rate rises with the ratio, so the ends bind), and, per look, for the worst of two
models of the noise: normal draws with the metrics correlated as the reference seeds are (at the
90% lower confidence bound of each correlation: less correlated metrics fail together less and so
more often in all, Slepian 1962), and resampling the reference's own seeds whole, which keeps
their skew, tails and ties. The gated metrics share one standardized fail boundary per look, set
on the largest of their statistics, so the check's false-alarm rate is alpha for all of them
together, with their correlation, instead of a Bonferroni split of it.

The pass boundaries are calibrated per metric under the normal model at ratio 1, with sigma drawn
from its distribution given the reference's ``s`` (expected power, as before): power is promised
for a change that leaves the spread alone; a noisier candidate is harder to tell apart, which
``harness simulate-gate`` measures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

# A 90% lower confidence bound on each correlation (Fisher's z): see the module docstring.
CORRELATION_CONFIDENCE = 0.90
# The posterior probability with which a bound on the committed baseline's own false-alarm rate
# holds (``guarantee = "this-baseline"``, and the bound ``harness simulate-gate`` reports).
BOUND_CONFIDENCE = 0.90
# What the sd is held at for "power at the pessimistic sigma": its one-sided upper confidence bound.
PESSIMISTIC_SIGMA_CONFIDENCE = 0.95
# The committed baseline's truths drawn, and candidate paths per truth, when calibrating to its bound.
BOUND_TRUTHS = 1_000
BOUND_PATHS = 1_000


def standard_error(reference_sd: np.ndarray, candidate_var: np.ndarray, runs: np.ndarray | int, n: int,
                   prior_runs: float) -> np.ndarray:
    """The denominator of T after ``runs`` candidate runs (arrays broadcast).

    ``candidate_var`` is the candidates' sample variance (ddof 1; any value where ``runs`` is 1,
    where it has no weight). ``prior_runs`` = inf uses the reference's variance alone.
    """
    runs = np.asarray(runs, dtype=float)
    reference_var = np.asarray(reference_sd, dtype=float) ** 2
    if math.isinf(prior_runs):
        variance = reference_var * np.ones_like(runs)
    else:
        weight = np.maximum(runs - 1, 0)
        variance = (prior_runs * reference_var + weight * np.where(weight > 0, candidate_var, 0.0)) / (prior_runs + weight)
    return np.sqrt(reference_var / n + variance / runs)


def statistic(worsening: np.ndarray, reference_sd: np.ndarray, candidate_var: np.ndarray, runs: np.ndarray | int,
              n: int, prior_runs: float) -> np.ndarray:
    """T for a worsening beyond the margin (see :func:`standard_error` for the rest)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(worsening, dtype=float) / standard_error(reference_sd, candidate_var, runs, n, prior_runs)


def running_moments(candidates: np.ndarray, axis: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative mean and sample variance (ddof 1; 0 for the first) along ``axis``, one per prefix."""
    k = np.arange(1, candidates.shape[axis] + 1, dtype=float)
    k = k.reshape([-1 if i == axis else 1 for i in range(candidates.ndim)])
    centre = np.take(candidates, [0], axis=axis)  # shift first: sums of squares of small deviations stay exact
    shifted = candidates - centre
    mean = np.cumsum(shifted, axis=axis) / k
    squares = np.cumsum(shifted**2, axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = np.where(k > 1, np.maximum(squares - k * mean**2, 0.0) / np.maximum(k - 1, 1), 0.0)
    return mean + centre, variance


def spending(fraction: np.ndarray, total: float, gamma: float) -> np.ndarray:
    """Hwang, Shih & DeCani (1990) error spent by information fraction ``fraction``."""
    if gamma == 0:
        return total * fraction
    return total * (1 - np.exp(-gamma * fraction)) / (1 - np.exp(-gamma))


def information_fraction(n: int, runs: int) -> np.ndarray:
    k = np.arange(1, runs + 1)
    information = 1 / (1 / n + 1 / k)
    return information / information[-1]


def resampling_deviations(values: np.ndarray) -> np.ndarray:
    """The seeds' deviations from their mean (seeds x metrics), scaled by sqrt(n / (n - 1)) so that
    drawing whole seeds from them with replacement has the sample variance: the pool of every
    resampling simulation (calibration, operating characteristics, the band's rates)."""
    n = values.shape[0]
    return (values - values.mean(axis=0)) * math.sqrt(n / (n - 1))


def sample_correlation(values: np.ndarray) -> np.ndarray:
    """The metrics' correlation over the seeds (seeds x metrics); a metric that never varied is
    uncorrelated with the rest."""
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = np.atleast_2d(np.corrcoef(values, rowvar=False))
    corr = np.where(np.isfinite(corr), corr, 0.0)
    np.fill_diagonal(corr, 1.0)
    return corr


def conservative_correlation(goodness: np.ndarray) -> np.ndarray:
    """The metrics' correlation over the reference seeds (seeds x metrics, each oriented so higher is
    better), each pair moved to its 90% lower confidence bound (Fisher's z), as a valid matrix."""
    n, m = goodness.shape
    corr = sample_correlation(goodness)
    if n > 3 and m > 1:
        z = np.arctanh(np.clip(corr, -0.999999, 0.999999)) - stats.norm.ppf(CORRELATION_CONFIDENCE) / math.sqrt(n - 3)
        corr = np.tanh(z)
    np.fill_diagonal(corr, 1.0)
    return corr


def correlation_root(corr: np.ndarray) -> np.ndarray:
    """``A`` with ``A @ A.T == corr`` (eigh, not cholesky: r = 1 exactly is singular, and allowed)."""
    values, vectors = np.linalg.eigh(corr)
    return vectors * np.sqrt(np.clip(values, 0.0, None))


@dataclass(frozen=True)
class NullDraws:
    """One noise model's simulated reference and candidate summaries at no change, centred at 0.

    ``reference_mean``/``reference_sd``: paths x metrics; ``candidate_mean``/``candidate_var``: paths
    x runs x metrics at candidate/reference sd ratio 1 (a ratio ``r`` scales them by ``r`` and ``r**2``).
    """

    n: int
    reference_mean: np.ndarray
    reference_sd: np.ndarray
    candidate_mean: np.ndarray
    candidate_var: np.ndarray

    def standard_errors(self, ratio: float, prior_runs: float) -> np.ndarray:
        k = np.arange(1, self.candidate_mean.shape[1] + 1)[None, :, None]
        return standard_error(self.reference_sd[:, None, :], ratio**2 * self.candidate_var, k, self.n, prior_runs)

    def statistics(self, ratio: float, prior_runs: float) -> np.ndarray:
        """T at every look (paths x runs x metrics) for candidates ``ratio`` times as spread."""
        worsening = self.reference_mean[:, None, :] - ratio * self.candidate_mean
        with np.errstate(divide="ignore", invalid="ignore"):
            return worsening / self.standard_errors(ratio, prior_runs)


def normal_draws(corr: np.ndarray, n: int, runs: int, draws: int, rng: np.random.Generator) -> NullDraws:
    """Unit-variance normal seeds, the metrics correlated by ``corr``.

    The reference enters only through its mean and sd, so those are drawn directly (the mean from
    N(0, corr / n), the sums of squares from Wishart(n - 1, corr) by Bartlett's decomposition)
    instead of as ``n`` seeds each: the searches for the seeds a design would need try references
    of thousands of seeds, and ``draws x n`` seeds would not fit in memory.
    """
    root, m = correlation_root(corr), corr.shape[0]
    reference_mean = rng.standard_normal((draws, m)) @ root.T / math.sqrt(n)
    bartlett = np.zeros((draws, m, m))
    rows, cols = np.tril_indices(m, -1)
    # A_ii**2 ~ chi2(n - 1 - i), A_ij ~ N(0, 1) below: A @ A.T ~ Wishart(n - 1, I); with fewer
    # degrees of freedom than metrics only the first n - 1 columns are non-zero (a singular Wishart)
    bartlett[:, rows, cols] = rng.standard_normal((draws, rows.size)) * (cols < n - 1)
    for i in range(min(m, n - 1)):
        bartlett[:, i, i] = np.sqrt(rng.chisquare(n - 1 - i, size=draws))
    spread = root @ bartlett  # (root A)(root A).T ~ Wishart(n - 1, corr)
    reference_sd = np.sqrt(np.einsum("dij,dij->di", spread, spread) / (n - 1))
    candidates = rng.standard_normal((draws, runs, m)) @ root.T
    mean, variance = running_moments(candidates, axis=1)
    return NullDraws(n, reference_mean, reference_sd, mean, variance)


def resampled_draws(goodness: np.ndarray, runs: int, draws: int, rng: np.random.Generator) -> NullDraws:
    """Whole seeds drawn with replacement from the reference (seeds x metrics), deviations from the
    mean scaled by sqrt(n / (n - 1)) so the pool's variance is the sample variance."""
    n = goodness.shape[0]
    pool = resampling_deviations(goodness)
    return _summarise(pool[rng.integers(0, n, size=(draws, n))], pool[rng.integers(0, n, size=(draws, runs))])


def _summarise(reference: np.ndarray, candidates: np.ndarray) -> NullDraws:
    mean, variance = running_moments(candidates, axis=1)
    return NullDraws(reference.shape[1], reference.mean(axis=1), reference.std(axis=1, ddof=1), mean, variance)


def fail_boundaries(null_sets: list[np.ndarray], alpha_spent: np.ndarray) -> np.ndarray:
    """One standardized fail boundary per look such that on every set of null paths (paths x looks:
    the largest of the metrics' statistics) the share failed by look ``k`` is at most ``alpha_spent[k]``.

    The boundaries ignore the pass boundaries (non-binding futility), so the false-alarm rate holds
    whatever the pass boundaries do. A path with no defined statistic (a resampled reference of one
    repeated seed and candidates that agree) never fails.
    """
    looks = alpha_spent.size
    sets = [np.where(np.isnan(s), -np.inf, s) for s in null_sets]
    boundary = np.full(looks, np.inf)
    alive = [np.ones(s.shape[0], dtype=bool) for s in sets]
    failed = [0] * len(sets)
    for i in range(looks):
        candidates = []
        for j, paths in enumerate(sets):
            target = math.floor(alpha_spent[i] * paths.shape[0]) - failed[j]
            if target > 0:
                values = np.where(alive[j], paths[:, i], -np.inf)
                candidates.append(np.partition(values, values.size - target)[values.size - target])
        if candidates:
            boundary[i] = max(max(candidates), np.nextafter(-np.inf, 0))
        for j, paths in enumerate(sets):
            crossed = alive[j] & (paths[:, i] >= boundary[i])
            failed[j] += int(crossed.sum())
            alive[j] &= ~crossed
    return boundary


@dataclass(frozen=True)
class PassCalibration:
    """One metric's pass boundaries, its last look, and what its paths say about power."""

    passing: np.ndarray
    fail_shifts: np.ndarray  # per path, the smallest shift (in reference sds) at which it fails

    @property
    def looks(self) -> int:
        return self.passing.size

    def power(self, shift: float) -> float:
        return float(np.mean(self.fail_shifts <= shift))

    def shift_detected(self, power: float) -> float:
        rank = math.ceil(power * self.fail_shifts.size) - 1
        return float(np.partition(self.fail_shifts, rank)[rank])


def pass_boundaries(null: np.ndarray, scale: np.ndarray, fail: np.ndarray, shift: float, power: float,
                    beta_spent: np.ndarray) -> PassCalibration:
    """Pass boundaries spending beta at ``shift``, for one metric's paths (paths x looks): at a true
    worsening beyond the margin of ``u`` reference sds, a path's statistic is ``null + u * scale``.

    The design ends at the first look by which it has caught ``power`` of the paths at ``shift``:
    there the two boundaries meet. Ending early only removes chances to fail, so the false-alarm
    rate stays within alpha, and it saves the runs the cap would otherwise allow.
    """
    draws, runs = null.shape
    alternative = null + shift * scale
    passing = np.full(runs, -np.inf)
    alive = np.ones(draws, dtype=bool)
    passed, caught, looks = 0, 0, runs
    for i in range(runs - 1):
        crossing = int((alive & (alternative[:, i] >= fail[i])).sum())
        if (caught + crossing) / draws >= power:  # enough power already: this look is the last
            looks = i + 1
            break
        caught += crossing
        target = math.floor(beta_spent[i] * draws) - passed
        if target > 0:
            values = alternative[alive & (alternative[:, i] < fail[i]), i]
            if target >= values.size:  # passing everything short of failing spends less than beta
                looks = i + 1
                break
            passing[i] = np.partition(values, target - 1)[target - 1]
            passed += int((alive & (alternative[:, i] <= passing[i])).sum())
        alive &= (alternative[:, i] > passing[i]) & (alternative[:, i] < fail[i])
    passing[looks - 1] = fail[looks - 1]
    passing = passing[:looks]
    return PassCalibration(passing, _fail_shifts(null[:, :looks], scale[:, :looks], fail[:looks], passing))


def _fail_shifts(null: np.ndarray, scale: np.ndarray, fail: np.ndarray, passing: np.ndarray) -> np.ndarray:
    """Per path, the smallest shift that makes it fail: every statistic rises with the shift, so it
    fails by look k once it crosses ``fail[k]`` there and stayed above ``passing`` at every look before."""
    with np.errstate(invalid="ignore", divide="ignore"):
        to_fail = (fail[None, :] - null) / scale
        to_stay = (passing[None, :] - null) / scale
    stayed = np.hstack([np.full((null.shape[0], 1), -np.inf), np.maximum.accumulate(to_stay, axis=1)[:, :-1]])
    return np.nan_to_num(np.maximum(to_fail, stayed).min(axis=1), nan=np.inf)


def posterior_truths(mean: np.ndarray, cov: np.ndarray, n: int, truths: int, rng: np.random.Generator,
                     pessimistic_sigma: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``truths`` draws of the true (mu, Sigma) given ``n`` seeds of this mean and covariance, under
    the noninformative prior (normal-inverse-Wishart: ``Sigma ~ InvWishart(n - 1, (n - 1) S)``,
    ``mu ~ N(mean, Sigma / n)``; for one metric ``sigma**2 ~ (n - 1) s**2 / chi2_{n-1}``).

    ``pessimistic_sigma``: Sigma held at the covariance scaled by each sd's 95% upper bound instead
    of drawn (the mean is still drawn)."""
    m = mean.size
    if m >= n - 1:
        raise ValueError(f"{n} seeds cannot inform a {m}-metric covariance; record more seeds")
    if pessimistic_sigma:
        upper = math.sqrt((n - 1) / stats.chi2.ppf(1 - PESSIMISTIC_SIGMA_CONFIDENCE, n - 1))
        covs = np.broadcast_to(cov * upper**2, (truths, m, m)).copy()
    else:
        draws = stats.invwishart(df=n - 1, scale=(n - 1) * cov).rvs(size=truths, random_state=rng)
        covs = np.asarray(draws, dtype=float).reshape(truths, m, m)
    roots = np.linalg.cholesky(covs / n + 1e-18 * np.eye(m))
    means = mean + np.einsum("tij,tj->ti", roots, rng.standard_normal((truths, m)))
    return means, covs


def baseline_bound_offset(goodness: np.ndarray, fail: np.ndarray, ratios: tuple[float, ...], prior_runs: float,
                          alpha: float, rng: np.random.Generator, *, on_seeds: bool = True,
                          truths: int = BOUND_TRUTHS, paths: int = BOUND_PATHS, chunk: int = 100) -> float:
    """How far (>= 0) to raise the fail boundaries ``fail`` so that, for *this* reference (seeds x
    metrics, higher is better), the check's false-alarm rate is at most ``alpha`` with
    :data:`BOUND_CONFIDENCE` posterior probability, at every spread ratio and under both noise models.

    Why: boundaries calibrated over fresh baselines hold alpha on average; one committed baseline
    whose mean landed high or whose sd landed low fails unchanged recipes more often for as long as
    it stays. Here the reference is held at the committed seeds, the truth they came from is drawn
    from its posterior (:func:`posterior_truths`), and candidates are drawn from each truth. A path
    fails for an offset ``c`` when its largest statistic crosses ``fail + c`` at some look (pass
    boundaries ignored, as in :func:`fail_boundaries`), so each truth's rate is at most alpha once
    ``c`` reaches an order statistic of its paths' excesses, and the bound holds once ``c`` reaches
    the :data:`BOUND_CONFIDENCE` quantile of those over the truths. Binomial noise in each truth's
    rate (``paths`` runs) makes the offset err high, i.e. safe.
    """
    n, m = goodness.shape
    mean, cov = goodness.mean(axis=0), np.atleast_2d(np.cov(goodness, rowvar=False))
    true_mean, true_cov = posterior_truths(mean, cov, n, truths, rng)
    per_truth = np.concatenate([
        _truths_excess(goodness, fail, true_mean[start:start + chunk], true_cov[start:start + chunk], ratios, prior_runs,
                       alpha, rng, on_seeds=on_seeds, paths=paths)
        for start in range(0, truths, chunk)], axis=1)  # (models x ratios) x truths
    offsets = [float(np.nextafter(np.quantile(row, BOUND_CONFIDENCE, method="higher"), np.inf)) for row in per_truth]
    return max(0.0, *offsets)


def _truths_excess(goodness: np.ndarray, fail: np.ndarray, true_mean: np.ndarray, true_cov: np.ndarray,
                   ratios: tuple[float, ...], prior_runs: float, alpha: float, rng: np.random.Generator, *,
                   on_seeds: bool, paths: int) -> np.ndarray:
    """Per (noise model, ratio) and truth, the offset that brings that truth's rate within alpha."""
    n, m = goodness.shape
    runs, truths = fail.size, true_mean.shape[0]
    mean, reference_sd = goodness.mean(axis=0), goodness.std(axis=0, ddof=1)
    noises = [np.einsum("tprj,tij->tpri", rng.standard_normal((truths, paths, runs, m)),
                        np.linalg.cholesky(true_cov + 1e-18 * np.eye(m)))]
    if on_seeds:  # the seeds' own shape, each metric scaled to the truth's sd
        true_sd = np.sqrt(np.diagonal(true_cov, axis1=1, axis2=2))
        deviations = resampling_deviations(goodness) / reference_sd
        noises.append(deviations[rng.integers(0, n, size=(truths, paths, runs))] * true_sd[:, None, None, :])
    allowed = math.floor(alpha * paths)  # failing paths a truth may have
    k = np.arange(1, runs + 1)[None, None, :, None]
    rows = []
    for noise in noises:
        for ratio in ratios:
            cand_mean, cand_var = running_moments(true_mean[:, None, None, :] + ratio * noise, axis=2)
            with np.errstate(divide="ignore", invalid="ignore"):
                t = (mean - cand_mean) / standard_error(reference_sd, cand_var, k, n, prior_runs)
            excess = np.nanmax(np.fmax.reduce(t, axis=3) - fail, axis=2)  # truths x paths
            rows.append(np.partition(excess, paths - 1 - allowed, axis=1)[:, paths - 1 - allowed])
    return np.array(rows)
