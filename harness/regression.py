"""One flow for every quality check, as pytest-regressions has: fine-tune (cached), compare with
the stored baseline, and on a mismatch leave ``*.obtained.json`` beside it.

Regeneration is explicit and never passes: with ``force_regen`` the baseline is re-measured from
several seeds, written, its diff against the old one shown, and the check still fails, so nobody
loosens a baseline by accident.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.baselines import BaselineStore, MeasuredBaseline, baseline_name, device_kind, measured_from_runs
from harness.config import RunConfig
from harness.gate import GatePolicy, GateReport, check_run
from harness.provenance import resolve_device
from harness.result import RunResult
from harness.tables import markdown_table

FineTune = Callable[[RunConfig], RunResult]
DEFAULT_BASELINE_SEEDS = 5


@dataclass(frozen=True)
class QualityOutcome:
    result: RunResult
    report: GateReport
    baseline_path: str
    message: str  # what to tell the user beyond the table (how to record, what was regenerated)
    regenerated: bool = False  # a regenerated baseline fails its run on purpose, whatever the verdict

    @property
    def passed(self) -> bool:
        return self.report.passed and not self.regenerated


def name_for(config: RunConfig, split: str = "validation") -> str:
    return baseline_name(config.task, config.recipe.name, config.model_spec, split, device_kind(resolve_device(config.device)))


def record_baseline(config: RunConfig, fine_tune: FineTune, *, seeds: int = DEFAULT_BASELINE_SEEDS) -> MeasuredBaseline:
    """Fine-tune ``config`` from ``seeds`` consecutive seeds (starting at its own) and summarise."""
    results = [fine_tune(config.replace(seed=config.seed + offset)) for offset in range(seeds)]
    return measured_from_runs(config, results)


def baseline_diff(old: MeasuredBaseline | None, new: MeasuredBaseline) -> str:
    rows = []
    for metric, stats in new.metrics.items():
        before = old.metrics.get(metric) if old else None
        rows.append([
            metric,
            "-" if before is None else f"{before.mean:.4f} ± {before.std:.4f}",
            f"{stats.mean:.4f} ± {stats.std:.4f}",
            "-" if before is None else f"{stats.mean - before.mean:+.4f}",
        ])
    return markdown_table(["metric", "old baseline", "new baseline", "change"], rows)


def obtained_record(result: RunResult, report: GateReport) -> dict:
    return {
        "kind": "obtained",
        "metrics": result.metrics,
        "config": result.config,
        "provenance": result.provenance,
        "gate": report.to_json(),
    }


def perform_quality_check(
    config: RunConfig,
    *,
    fine_tune: FineTune,
    store: BaselineStore,
    policy: GatePolicy = GatePolicy(),
    force_regen: bool = False,
    seeds: int = DEFAULT_BASELINE_SEEDS,
) -> QualityOutcome:
    name = name_for(config)
    result = fine_tune(config)
    old = store.load(name)
    if force_regen:
        new = record_baseline(config, fine_tune, seeds=seeds)
        path = store.save(new)
        store.clear_obtained(name)
        report = check_run(result, new, name=name, policy=policy, published=tuple(store.published()))
        message = (
            f"REGENERATED {path} from seeds {list(new.seeds)}; this run fails on purpose. "
            f"Review the diff, commit the file, and re-run without --harness-force-regen.\n{baseline_diff(old, new)}"
        )
        return QualityOutcome(result, report, str(path), message, regenerated=True)
    report = check_run(result, old, name=name, policy=policy, published=tuple(store.published()))
    message = ""
    if old is None:
        message = (
            f"no baseline at {store.path(name)}. Record one from {seeds} seeds with "
            f"`pytest --harness-force-regen` or `harness record-baseline --recipe {config.recipe.name} --seeds {seeds}`, "
            "review it, and commit it."
        )
    if report.passed:
        store.clear_obtained(name)
    else:
        obtained = store.write_obtained(name, obtained_record(result, report))
        message = (message + "\n" if message else "") + f"obtained values written to {obtained}"
    return QualityOutcome(result, report, str(store.path(name)), message)
