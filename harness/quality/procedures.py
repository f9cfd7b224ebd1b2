"""How a quality check decides, as one object per procedure, chosen in one place.

A check's flow (:func:`harness.quality.regression.perform_quality_check`) takes its procedure as
pytest-regressions' check flow takes its comparison. Each procedure says which candidate seeds it
may ask for, in order, and decides on the results:

- :class:`SequentialProcedure`: the config's own seed first (on unchanged code it reproduces the
  baseline's seed, and one run decides), then fresh seeds after the baseline's, until every gated
  metric decides, at most the designs' cap; error rates stated (:mod:`harness.quality.sequential_gate`).
- :class:`BandProcedure`: one run against ``mean - max(sigmas x std, floor)``; no stated error rates.

:class:`ReproductionProcedure`: one run that passes only by reproducing a baseline seed (unchanged
  code); any other run fails, naming the seeds the sequential gate needs.

:func:`choose_procedure` is the only place that decides which one a gate runs: ``band`` only when
asked for by name (its verdict prints its simulated rates on the baseline) or when there is no
baseline (the check fails after one run); otherwise the sequential gate, its cap grown to what the
rates need up to ``max_runs_limit`` (a :class:`GateWarning` says so before anything trains). On a
baseline too small for it, an explicit ``sequential`` is an error naming the seeds it needs, before
anything trains, and ``auto`` is the reproduction check: never a silent fall back to the band. The gate and the
runs trained ahead of it (:mod:`harness.quality.seeds_ahead`) both ask the chosen procedure, so they
cannot disagree about which seeds a gate will fine-tune.
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.run.config import RunConfig
from harness.quality.baselines import BaselineError, MeasuredBaseline
from harness.quality.band_rates import band_rates
from harness.quality.gate import REPRODUCED, GatePolicy, GateReport
from harness.quality.sequential_check import candidate_seeds, designs_for, run_sequential, sequential_report
from harness.quality.sequential_gate import DesignError, SequentialDesign
from harness.run.result import RunResult

FineTune = Callable[[RunConfig], RunResult]


class GateWarning(UserWarning):
    """The gate runs otherwise than configured (a grown cap): said before anything trains."""


class _OneRun:
    """What the one-run procedures share: they fine-tune the config's own seed and nothing more."""

    @property
    def max_runs(self) -> int:
        return 1

    def seeds(self, config: RunConfig, baseline: MeasuredBaseline | None) -> tuple[int, ...]:
        """The one seed it fine-tunes: the config's own."""
        return (config.seed,)

    def why_not(self, config: RunConfig, run: int) -> str:
        """Why it never asks for candidate run ``run`` (> 1)."""
        return f"{self.why_one_run()}, so it trains only its first seed ({config.seed})"

    def why_one_run(self) -> str:
        raise NotImplementedError


def _decided_by_first(first: GateReport) -> bool:
    """A first run that reproduces a baseline seed, or cannot be gated (its problems say why), decides alone."""
    return bool(first.problems) or any(check.verdict == REPRODUCED for check in first.checks)


@dataclass(frozen=True)
class BandProcedure(_OneRun):
    """One run, against the band; ``reason``: why this gate is the band check (for messages)."""

    reason: str = "procedure 'band'"
    note: str | None = None  # said beside the verdict: the band's simulated rates on this baseline

    def why_one_run(self) -> str:
        return f"the gate is the one-run band check here ({self.reason})"

    def decide(self, first: GateReport, result: RunResult, config: RunConfig, *, fine_tune: FineTune | None,
               baseline: MeasuredBaseline | None) -> GateReport:
        """The band check's report is the first run's."""
        return first


@dataclass(frozen=True)
class SequentialProcedure:
    """Candidate seeds until every gated metric decides, one calibrated design per metric."""

    designs: dict[str, SequentialDesign]
    note: str | None = None

    @property
    def max_runs(self) -> int:
        return max(design.max_runs for design in self.designs.values())

    def seeds(self, config: RunConfig, baseline: MeasuredBaseline | None) -> tuple[int, ...]:
        """Every seed it may fine-tune, in order: the config's own, then seeds after the baseline's."""
        return tuple(itertools.islice(candidate_seeds(config, baseline), self.max_runs))

    def why_not(self, config: RunConfig, run: int) -> str:
        cap = self.max_runs
        return f"the gate decides within {cap} run{'s' if cap > 1 else ''}, so it never asks for run {run}"

    def decide(self, first: GateReport, result: RunResult, config: RunConfig, *, fine_tune: FineTune | None,
               baseline: MeasuredBaseline | None) -> GateReport:
        """One run decides when it reproduces a baseline seed or cannot be gated (its problems say why);
        otherwise more seeds run until the designs decide."""
        if _decided_by_first(first):
            return first
        if fine_tune is None or baseline is None:
            raise ValueError("the sequential procedure needs the fine-tune and the baseline to run more seeds")
        return sequential_report(first, run_sequential(result, config, self.designs, fine_tune, baseline), self.designs)


@dataclass(frozen=True)
class ReproductionProcedure(_OneRun):
    """One run, which passes only if it reproduces a baseline seed: what ``auto`` can still decide on a
    baseline too small for the sequential gate. ``problem``: why any other run fails, and the fix."""

    problem: str
    note: str | None = None

    def why_one_run(self) -> str:
        return "the baseline is too small for the sequential gate"

    def decide(self, first: GateReport, result: RunResult, config: RunConfig, *, fine_tune: FineTune | None,
               baseline: MeasuredBaseline | None) -> GateReport:
        """Reproduced: the first run's pass. Otherwise a problem, so the check fails, saying why."""
        if _decided_by_first(first):
            return first
        return dataclasses.replace(first, problems=first.problems + (self.problem,))


Procedure = BandProcedure | SequentialProcedure | ReproductionProcedure


def choose_procedure(baseline: MeasuredBaseline | None, policy: GatePolicy, path: Path | str, config: RunConfig, *,
                     record_command: Callable[[int | None], str]) -> Procedure:
    """The procedure a gate of ``config`` runs against ``baseline`` under ``policy`` (resolved for the
    task); ``record_command(seeds)`` is the command that records a baseline of that many seeds."""
    if baseline is None:
        return BandProcedure(reason=f"no baseline at {path}")
    if policy.procedure == "band":
        rates = band_rates(baseline, policy.with_default_metrics([m for m in baseline.metrics if m != "loss"]))
        return BandProcedure(note=None if rates is None else rates.sentence() + " (procedure 'band': no designed rates)")
    try:
        chosen = designs_for(baseline, policy)
    except DesignError as error:
        fix = f"record a larger baseline: `{record_command(error.seeds_needed)}`"
        if policy.procedure == "sequential":
            raise BaselineError(f"{path}: too few seeds for the sequential gate: {error}; {fix}") from error
        return ReproductionProcedure(
            problem=(f"the run did not reproduce a baseline seed, and the sequential gate cannot run on this baseline "
                     f"({error}), so the check cannot tell a regression from noise: {fix}, or name procedure = \"band\" "
                     "in [tool.harness.gate] for the one-run band, whose simulated rates its verdict prints"),
            note="this baseline is too small for the sequential gate: only a run that reproduces a baseline seed passes")
    if chosen.note:
        warnings.warn(GateWarning(f"{path}: {chosen.note}"), stacklevel=2)
    return SequentialProcedure(chosen.designs, note=chosen.note)
