"""How much a deliberate fault really lowers the metrics: measured over seeds, not assumed.

A graded fault (``label-noise-N``) is only a yardstick for the gate's power if its effect is known.
:func:`measure_fault` fine-tunes the faulted config on the seeds the sequential gate itself would
run, in its order (the config's seed, then the seeds after the baseline's), keeping each finished
seed in a ledger beside the baselines (``baselines/faults/<baseline>--<fault>.json``), so a
measurement is resumable like a baseline recording. Training is deterministic for a config and
seed, so these are exactly the values a gate run with the fault would see; :func:`gate_replay`
applies the gate's sequential design to them in that order.

The effect on each metric is the difference of means against the baseline's seeds with a Welch
95% interval (unequal variances: a fault may change the spread as well as the mean).
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scipy import stats

from harness.run.config import RunConfig
from harness.quality.baselines import MeasuredBaseline
from harness.quality.seed_ledger import SeedLedger, run_seeds
from harness.quality.sequential_check import candidate_seeds, run_sequential
from harness.quality.sequential_gate import SequentialDesign
from harness.run.result import RunResult
from harness.tables import markdown_table


def fault_ledger_path(baselines_dir: Path, baseline_name: str, faults: tuple[str, ...]) -> Path:
    return Path(baselines_dir) / "faults" / f"{baseline_name}--{'+'.join(faults)}.json"


def gate_seeds(config: RunConfig, baseline: MeasuredBaseline, count: int) -> list[int]:
    """The first ``count`` seeds a sequential gate run of ``config`` would fine-tune."""
    return list(itertools.islice(candidate_seeds(config, baseline), count))


def measure_fault(config: RunConfig, fine_tune: Callable[[RunConfig], RunResult], baseline: MeasuredBaseline, *,
                  seeds: int, ledger: SeedLedger, hub_offline: bool = False,
                  progress: Callable[[str], None] | None = None) -> list[RunResult]:
    """The faulted config's results on the gate's first ``seeds`` seeds; finished seeds are kept in
    ``ledger`` and never trained again, and a ledger of other settings is refused before anything
    trains (``hub_offline``: how the model and data are found for that check)."""
    if not config.faults:
        raise ValueError("measure_fault needs a config with a fault (e.g. faults=('label-noise-10',))")
    wanted = gate_seeds(config, baseline, seeds)
    return run_seeds(config, fine_tune, wanted, ledger, hub_offline=hub_offline, label=f" with {'+'.join(config.faults)}",
                     progress=progress)


@dataclass(frozen=True)
class MetricEffect:
    metric: str
    faulted: tuple[float, ...]
    reference: tuple[float, ...]

    @property
    def effect(self) -> float:
        return statistics.fmean(self.faulted) - statistics.fmean(self.reference)

    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """Welch's interval for the difference of means (a point when neither side varies, as on a
        model that learns nothing)."""
        if len(set(self.faulted)) == 1 and len(set(self.reference)) == 1:
            return self.effect, self.effect
        test = stats.ttest_ind(self.faulted, self.reference, equal_var=False)
        ci = test.confidence_interval(confidence)
        return float(ci.low), float(ci.high)


def fault_effects(results: list[RunResult], baseline: MeasuredBaseline, metrics: tuple[str, ...]) -> list[MetricEffect]:
    return [MetricEffect(m, tuple(r.metrics[m] for r in results), tuple(baseline.metrics[m].values))
            for m in metrics if m in baseline.metrics]


class MoreRunsNeeded(LookupError):
    """The gate asked for a seed the measurement does not hold yet."""


def gate_replay(results: list[RunResult], config: RunConfig, designs: dict[str, SequentialDesign],
                baseline: MeasuredBaseline) -> tuple[str, int]:
    """What the sequential gate (:func:`~harness.quality.sequential_check.run_sequential`, the real
    check's loop) decides when its fine-tunes return these measured runs: (``"fail"``, ``"pass"`` or
    ``"undecided"``, runs used). Undecided means the gate would need a seed not measured yet."""
    by_seed = {int(r.provenance["seed"]): r for r in results}

    def measured(candidate: RunConfig) -> RunResult:
        if candidate.seed not in by_seed:
            raise MoreRunsNeeded(candidate.seed)
        return by_seed[candidate.seed]

    try:
        run = run_sequential(results[0], config, designs, measured, baseline)
    except MoreRunsNeeded:
        return "undecided", len(results)
    return ("pass" if run.passed else "fail"), len(run.results)


def effect_markdown(name: str, faults: tuple[str, ...], effects: list[MetricEffect], *, replay: tuple[str, int] | None) -> str:
    rows = []
    for e in effects:
        low, high = e.interval()
        rows.append([e.metric, f"{statistics.fmean(e.reference):.4f} ({len(e.reference)} seeds)",
                     f"{statistics.fmean(e.faulted):.4f} ({len(e.faulted)} seeds)",
                     f"{e.effect * 100:+.2f}", f"[{low * 100:+.2f}, {high * 100:+.2f}]"])
    lines = [f"# Fault {'+'.join(faults)} against {name}", "",
             markdown_table(["metric", "baseline mean", "with the fault", "effect (points)", "95% CI (Welch)"], rows)]
    if replay is not None:
        verdict, runs = replay
        lines += ["", f"The sequential gate, given these runs in the order it would fine-tune them: **{verdict}** after {runs} run(s)."]
    return "\n".join(lines) + "\n"
