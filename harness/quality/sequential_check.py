"""The sequential quality check: candidate seeds, one at a time, until every gated metric decides.

The first candidate run is the config's own seed, which the baseline normally holds: on unchanged
code it reproduces that seed (bit for bit on the CPU model that recorded it, to rounding on
another) and the gate passes after one run (see
:func:`harness.quality.gate.reproduced_seed`). Any other first run enters the sequential test of
:mod:`harness.quality.sequential_gate`, one design per gated metric (each with its own direction and its
own noise estimate from the baseline's seeds, their fail boundaries calibrated together so alpha is
the whole check's). After every run: any
metric at REGRESSION fails the check; all at NO_REGRESSION pass it; otherwise the next seed runs.
Further seeds come after the baseline's, so they are new draws, not repeats of reference runs.
"""

from __future__ import annotations

import math

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from harness.quality.baselines import MeasuredBaseline
from harness.run.config import RunConfig
from harness.quality.gate import FAIL, LOSS, PASS, GatePolicy, GateReport
from harness.run.result import RunResult
from harness.quality.sequential_gate import (
    CONTINUE,
    NO_REGRESSION,
    REGRESSION,
    DesignError,
    SequentialDecision,
    SequentialDesign,
    decide,
    design_gates,
    simulate_runs,
)


@dataclass(frozen=True)
class GateDesigns:
    """The calibrated designs of a check's gated metrics and, when the cap had to grow, why."""

    designs: dict[str, SequentialDesign]
    note: str | None = None


def designs_for(baseline: MeasuredBaseline, policy: GatePolicy) -> GateDesigns:
    """The gated metrics' designs, calibrated together (one fail boundary per look: alpha is the
    whole check's). When the rates do not fit ``policy.max_runs`` the cap grows to the runs they need,
    up to ``policy.max_runs_limit``, and the note says so; beyond that (or when no cap would do) it
    raises :class:`DesignError` naming the seeds or runs that would."""
    policy = policy.with_default_metrics([metric for metric in baseline.metrics if metric != LOSS])
    metrics = [metric for metric in policy.metrics if metric in baseline.metrics]

    def design(max_runs: int) -> dict[str, SequentialDesign]:
        return design_gates({m: baseline.metrics[m].values for m in metrics},
                            {m: policy.sequential_parameters(m, max_runs=max_runs) for m in metrics})

    try:
        return GateDesigns(design(policy.max_runs))
    except DesignError as error:
        needed = error.runs_needed
        if needed is None or needed > policy.max_runs_limit:
            limit = (f"they need max_runs={needed}, beyond max_runs_limit={policy.max_runs_limit}"
                     if needed is not None else "no cap would do")
            raise DesignError(f"{error} ({limit}: raise max_runs_limit in [tool.harness.gate], or record more seeds)",
                              seeds_needed=error.seeds_needed, runs_needed=needed) from error
        note = (f"the requested rates need up to {needed} candidate runs on this baseline, more than max_runs="
                f"{policy.max_runs}: the cap grew to {needed} (max_runs_limit {policy.max_runs_limit}); set max_runs = "
                f"{needed} in [tool.harness.gate] to say so, or record more seeds"
                + (f" ({error.seeds_needed} would keep the cap at {policy.max_runs})" if error.seeds_needed else ""))
        return GateDesigns(design(needed), note)


BASELINE_SPREAD = "the baseline's"  # whose spread a verdict compares the candidates' with


def candidate_seeds(config: RunConfig, baseline: MeasuredBaseline) -> Iterator[int]:
    """The config's own seed first, then seeds after the baseline's highest."""
    yield config.seed
    seed = max(max(baseline.seeds), config.seed)
    while True:
        seed += 1
        yield seed


@dataclass(frozen=True)
class SequentialRun:
    results: tuple[RunResult, ...]
    decisions: dict[str, SequentialDecision]

    @property
    def passed(self) -> bool:
        return all(d.verdict == NO_REGRESSION for d in self.decisions.values())


def run_sequential(first: RunResult, config: RunConfig, designs: dict[str, SequentialDesign],
                   fine_tune: Callable[[RunConfig], RunResult], baseline: MeasuredBaseline) -> SequentialRun:
    """Run candidate seeds after ``first`` until the designs decide (at most the largest cap)."""
    seeds = candidate_seeds(config, baseline)
    next(seeds)  # the first run's
    results = [first]
    while True:
        decisions = {m: decide(design, [r.metrics[m] for r in results][: design.max_runs]) for m, design in designs.items()}
        verdicts = {d.verdict for d in decisions.values()}
        if REGRESSION in verdicts or CONTINUE not in verdicts:
            return SequentialRun(tuple(results), decisions)
        result = fine_tune(config.replace(seed=next(seeds)))
        diverged = {m: result.metrics[m] for m in designs if not math.isfinite(float(result.metrics[m]))}
        if diverged:
            raise ValueError(f"candidate seed {result.provenance['seed']} gave {diverged}: not numbers (a diverged "
                             "fine-tune?), so the sequential gate cannot average them; the check fails")
        results.append(result)


def sequential_report(report: GateReport, run: SequentialRun, designs: dict[str, SequentialDesign]) -> GateReport:
    """The single-run report turned into the sequential verdict: one row per metric, and per metric
    the runs used (k of K), each run's value, the boundaries at the deciding look, the decision and
    what the gate can detect."""
    checks, entries = [], []
    for check in report.checks:
        decision, design = run.decisions.get(check.metric), designs.get(check.metric)
        if decision is None:
            checks.append(check)
            continue
        low, high = sorted((decision.fail_threshold, decision.pass_threshold))
        checks.append(replace(check, measured=decision.candidate_mean, baseline_mean=design.reference_mean,
                              baseline_std=design.reference_sd, band_low=low, band_high=high,
                              verdict=FAIL if decision.verdict == REGRESSION else PASS))
        entries.append(_entry(check.metric, decision, design, run))
    notes = report.notes + (
        f"sequential gate: {len(run.results)} run(s), seeds {[r.provenance['seed'] for r in run.results]}",
    )
    return replace(report, checks=tuple(checks), sequential=tuple(entries), notes=notes)


def _entry(metric: str, decision: SequentialDecision, design: SequentialDesign, run: SequentialRun) -> dict[str, Any]:
    p = design.parameters
    unit = 100.0  # accuracy and F1 are reported in points
    seeds = [r.provenance["seed"] for r in run.results[: decision.runs]]
    values = ", ".join(f"{v:.4f}" for v in decision.values)
    spread = " (at the candidates' own spread)" if decision.runs > 1 else ""
    summary = (
        f"{metric}: {decision.verdict} after {decision.runs} of at most {design.max_runs} runs "
        f"(seeds {seeds}: {values}; mean {decision.candidate_mean:.4f} against the baseline's "
        f"{design.reference_mean:.4f} ± {design.reference_sd:.4f} over {design.n_reference} seeds). "
        f"At run {decision.runs} it fails at or beyond {decision.fail_threshold:.4f} and passes at or beyond "
        f"{decision.pass_threshold:.4f}{spread}. This gate detects a drop of >= {design.detectable_worsening * unit:.2f} "
        f"points with {p.power:.0%} probability; the check fails an unchanged recipe {p.false_alarms(BASELINE_SPREAD)}"
        + (f" (practical margin {p.margin * unit:.2f} points)." if p.margin else ".")
    )
    return {
        "metric": metric,
        "verdict": decision.verdict,
        "runs": decision.runs,
        "max_runs": design.max_runs,
        "seeds": seeds,
        "values": list(decision.values),
        "candidate_mean": decision.candidate_mean,
        "reference_mean": design.reference_mean,
        "reference_sd": design.reference_sd,
        "reference_seeds": design.n_reference,
        "reference_values": list(design.reference_values),
        "fail_threshold": decision.fail_threshold,
        "pass_threshold": decision.pass_threshold,
        "looks": [{"runs": look.runs, "fail_threshold": look.fail_threshold, "pass_threshold": look.pass_threshold}
                  for look in design.looks],
        "alpha": p.alpha,
        "spread_ratio": p.spread_ratio,
        "variance_prior_runs": p.variance_prior_runs,
        "guarantee": p.guarantee,
        "power": p.power,
        "effect": p.effect,
        "margin": p.margin,
        "detectable_drop": design.detectable_worsening,
        "sentence": decision.sentence,
        "summary": summary,
    }


@dataclass(frozen=True)
class CheckCharacteristics:
    """How the whole check (every gated metric, stopping rule and all) behaves at one true change."""

    shifts: dict[str, float]
    mode: str
    trials: int
    fail_rate: float
    fail_rate_se: float
    expected_runs: float
    worst_case_runs: int
    sd_ratio: float = 1.0


def simulate_check(designs: dict[str, SequentialDesign], shifts: dict[str, float], *, mode: str = "resample",
                   trials: int = 20_000, seed: int = 0, sd_ratio: float = 1.0) -> CheckCharacteristics:
    """The whole multi-metric check run ``trials`` times at true changes ``shifts`` (metric units,
    candidate minus reference; -0.02 is a 2-point drop of a higher-is-better metric), summarised.
    The simulation itself is :func:`harness.quality.sequential_gate.simulate_runs`, the one simulator."""
    failed, used = simulate_runs(designs, shifts, mode=mode, trials=trials, seed=seed, sd_ratio=sd_ratio)
    rate = float(failed.mean())
    return CheckCharacteristics(dict(shifts), mode, trials, rate, float(np.sqrt(rate * (1 - rate) / trials)),
                                float(used.mean()), int(used.max()), float(sd_ratio))
