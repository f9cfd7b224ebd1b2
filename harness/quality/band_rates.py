"""The one-run band check's error rates on a given baseline, by simulation.

Why: the band (``mean - max(sigmas x std, floor)``) has no designed error rates, so a team that
names ``procedure = "band"`` must at least see what it buys on its own baseline. The simulation
applies the policy's own band rule (:meth:`GatePolicy.margin`), so it cannot describe another band.

Each trial resamples the baseline's seeds whole (a seed's metrics move together, as they do): ``n``
reference seeds, whose mean and sd set the band, and one candidate run; the deviations from the
mean are scaled by sqrt(n / (n - 1)) so the pool's variance is the sample variance. With 5 seeds the
pool is small and the rates are rough; they are what the recorded seeds say, not a guarantee.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.quality.baselines import MeasuredBaseline
from harness.quality.gate import GatePolicy
from harness.quality.sequential_calibration import resampling_deviations

BAND_TRIALS = 20_000


@dataclass(frozen=True)
class BandRates:
    """P(fail) of an unchanged recipe, and per metric P(fail) at a worsening of its ``effect``."""

    trials: int
    false_alarm: float
    power: dict[str, tuple[float, float]]  # metric -> (effect, P(fail))

    def sentence(self) -> str:
        caught = "; ".join(f"a {effect * 100:.2g}-point drop of {metric} {p:.0%}" for metric, (effect, p) in self.power.items())
        return (f"the band's simulated rates on this baseline ({self.trials} resampled trials): it fails an unchanged "
                f"recipe {self.false_alarm:.1%} of the time and catches {caught}, after one run")


def band_rates(baseline: MeasuredBaseline, policy: GatePolicy, *, trials: int = BAND_TRIALS, seed: int = 0) -> BandRates | None:
    """The band's rates for ``policy``'s gated metrics on ``baseline``; None when it has fewer than 2 seeds."""
    metrics = [m for m in policy.metrics if m in baseline.metrics]
    if not metrics or len(baseline.metrics[metrics[0]].values) < 2:
        return None
    sign = np.array([1.0 if policy.direction(m) == "higher" else -1.0 for m in metrics])
    goodness = np.column_stack([np.asarray(baseline.metrics[m].values, dtype=float) for m in metrics]) * sign
    n = goodness.shape[0]
    pool = goodness.mean(axis=0) + resampling_deviations(goodness)
    rng = np.random.default_rng(seed)
    reference = pool[rng.integers(0, n, size=(trials, n))]
    candidate = pool[rng.integers(0, n, size=trials)]
    lowest = reference.mean(axis=1) - policy.margin(reference.std(axis=1, ddof=1))  # trials x metrics, oriented
    effects = {m: policy.sequential_parameters(m).effect for m in metrics}

    def fail_rate(shift: np.ndarray) -> float:
        return float(np.mean(np.any(candidate - shift < lowest, axis=1)))

    power = {m: (effects[m], fail_rate(np.eye(len(metrics))[j] * effects[m])) for j, m in enumerate(metrics)}
    return BandRates(trials, fail_rate(np.zeros(len(metrics))), power)
