"""The sequential check's operating characteristics on a grid, as a report for people.

Why one function: ``harness simulate-gate`` and the dated measurements in ``docs/`` must show the
same numbers from the same definitions, so the grid (true change x candidate/baseline sd ratio x
noise model) and both of its views live here:

* **fresh baselines**: every trial redraws the reference seeds as well as the candidates
  (:func:`harness.quality.sequential_gate.simulate_runs`): the rate the gate is calibrated to, an
  average over the baselines a team might have recorded;
* **this baseline**: the committed reference held fixed, its truth drawn from its posterior
  (:func:`harness.quality.baseline_rates.baseline_rates`): the mean rate for the baseline a team
  has, and a bound on it that holds with 90% probability.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.quality.baseline_rates import baseline_rates
from harness.quality.sequential_calibration import BOUND_CONFIDENCE, PESSIMISTIC_SIGMA_CONFIDENCE
from harness.quality.sequential_check import simulate_check
from harness.quality.sequential_gate import SequentialDesign
from harness.tables import markdown_table

CHANGES_POINTS = (0, -1, -2, -3)
SD_RATIOS = (0.7, 1.0, 1.3, 1.5)
MODES = ("resample", "normal")


@dataclass(frozen=True)
class GridRow:
    change: str
    sd_ratio: float
    mode: str
    fail_rate: float
    fail_rate_se: float
    expected_runs: float
    worst_case_runs: int
    baseline_fail_rate: float
    baseline_fail_bound: float

    def cells(self) -> list[str]:
        return [self.change, f"{self.sd_ratio:g}", self.mode, f"{self.fail_rate:.2%} ± {self.fail_rate_se:.2%}",
                f"{self.expected_runs:.2f}", str(self.worst_case_runs), f"{self.baseline_fail_rate:.2%}",
                f"{self.baseline_fail_bound:.2%}"]


def operating_grid(designs: dict[str, SequentialDesign], *, trials: int = 20_000, truths: int = 200,
                   truth_trials: int = 4_000, changes: tuple[int, ...] = CHANGES_POINTS,
                   sd_ratios: tuple[float, ...] = SD_RATIOS, progress=None) -> list[GridRow]:
    """Every metric moved by each change (points: 0.01 in the metric's units, worse for its
    direction) at each sd ratio, under both noise models, in both views."""
    rows = []
    for points in changes:
        shifts = {m: _worse(d, points) for m, d in designs.items()}
        for ratio in sd_ratios:
            for mode in MODES:
                fresh = simulate_check(designs, shifts, mode=mode, trials=trials, sd_ratio=ratio)
                this = baseline_rates(designs, shifts, mode=mode, sd_ratio=ratio, truths=truths, trials=truth_trials)
                rows.append(GridRow(f"{points:+d} points", ratio, mode, fresh.fail_rate, fresh.fail_rate_se,
                                    fresh.expected_runs, fresh.worst_case_runs, this.mean, this.bound))
                if progress:
                    progress(rows[-1])
    return rows


def pessimistic_power(designs: dict[str, SequentialDesign], *, truths: int = 200, truth_trials: int = 4_000) -> list[list[str]]:
    """Each metric's power at its own effect (the others unchanged) for the committed baseline: sigma
    drawn from its posterior (the average the design promises) and at its 95% upper bound, and the
    drop the gate catches with the power asked for at that pessimistic sigma."""
    rows = []
    for metric, design in designs.items():
        p = design.parameters
        shift = {metric: -p.effect if p.direction == "higher" else p.effect}
        drawn = baseline_rates(designs, shift, truths=truths, trials=truth_trials)
        upper = baseline_rates(designs, shift, truths=truths, trials=truth_trials, pessimistic_sigma=True)
        caught = pessimistic_detectable(designs, metric, truths=truths, truth_trials=truth_trials)
        rows.append([metric, f"{p.effect * 100:g} points", f"{p.power:.0%}", f"{drawn.mean:.1%}", f"{upper.mean:.1%}",
                     f"{upper.expected_runs:.2f}", f"{caught * 100:.2f} points"])
    return rows


def pessimistic_detectable(designs: dict[str, SequentialDesign], metric: str, *, truths: int = 200,
                           truth_trials: int = 4_000, tolerance: float = 0.0005) -> float:
    """The smallest worsening of ``metric`` (its units; the other metrics unchanged) that the check
    catches with the power asked for when sigma sits at its pessimistic bound, to ``tolerance``.

    Bisection with the same random draws at every worsening (one seed), so the rate it bisects is
    monotone: a larger worsening raises every path's statistic at every look."""
    p = designs[metric].parameters
    sign = -1.0 if p.direction == "higher" else 1.0

    def power(worsening: float) -> float:
        return baseline_rates(designs, {metric: sign * worsening}, truths=truths, trials=truth_trials,
                              pessimistic_sigma=True).mean

    low, high = 0.0, p.effect
    while power(high) < p.power:
        low, high = high, 2 * high
    while high - low > tolerance:
        middle = (low + high) / 2
        low, high = (low, middle) if power(middle) >= p.power else (middle, high)
    return high


def report(name: str, designs: dict[str, SequentialDesign], rows: list[GridRow], power_rows: list[list[str]], *,
           trials: int, truths: int, truth_trials: int) -> str:
    first = next(iter(designs.values())).parameters
    n = next(iter(designs.values())).n_reference
    lines = [f"# Sequential gate: {name}", "",
             f"{n} reference seeds; alpha {first.alpha:g} for the {len(designs)} metric(s) together, calibrated for "
             f"candidate/baseline seed-sd ratios {1 / first.spread_ratio:.2g}-{first.spread_ratio:g}, alpha {first.guarantee_scope}; power {first.power:g}; "
             f"cap {max(d.max_runs for d in designs.values())} candidate runs.", ""]
    lines += [design.explain() + "\n" for design in designs.values()]
    lines += [f"Operating characteristics: every gated metric moved by the change (points of the metric, worse), "
              f"the candidates' seed sd `sd ratio` times the truth's. *Fresh baselines*: {trials} simulated gate runs "
              "a row, each redrawing the reference seeds too (the rate the gate is calibrated to). *This baseline*: "
              f"the committed reference fixed, {truths} truths drawn from its posterior x {truth_trials} runs each; "
              f"the mean rate and its {BOUND_CONFIDENCE:.0%} upper bound (conservative by Monte Carlo noise). "
              "resample: whole seeds drawn from the recorded ones; normal: correlated normal draws.", ""]
    headers = ["true change", "sd ratio", "simulation", "P(fail), fresh baselines", "expected runs", "worst-case runs",
               "P(fail), this baseline", f"{BOUND_CONFIDENCE:.0%} bound, this baseline"]
    lines += [markdown_table(headers, [row.cells() for row in rows]), ""]
    lines += [f"Power for this baseline at each metric's effect (the other metrics unchanged, sd ratio 1, normal), "
              f"sigma drawn from its posterior and at its {PESSIMISTIC_SIGMA_CONFIDENCE:.0%} upper bound:", "",
              markdown_table(["metric", "effect", "power asked", "power, sigma drawn", "power, pessimistic sigma",
                              "expected runs, pessimistic sigma", "drop caught with the power asked, pessimistic sigma"],
                             power_rows), ""]
    return "\n".join(lines)


def _worse(design: SequentialDesign, points: int) -> float:
    """A change of ``points`` (negative: worse) as a shift of the metric in its own units and direction."""
    return points / 100 if design.parameters.direction == "higher" else -points / 100
