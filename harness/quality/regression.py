"""One flow for every quality check, as pytest-regressions has: fine-tune (cached), compare with
the stored baseline, and on a mismatch leave ``*.obtained.json`` beside it.

Regeneration is explicit and never passes: with ``force_regen`` the baseline is re-measured from
several seeds, written, its diff against the old one shown, and the check still fails, so nobody
loosens a baseline by accident. It replaces an unreadable old baseline (saying so) instead of
stopping on it, never records from a config with deliberate faults, and refuses to let two
different configs of one session overwrite each other's baseline.

The baseline is read and validated before anything trains: a corrupt file costs seconds, not a
fine-tune.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from harness.quality.baselines import (
    BaselineStore,
    MeasuredBaseline,
    baseline_name,
    check_recordable,
    measured_from_runs,
)
from harness.run.config import DEFAULT_TASK, RunConfig
from harness.run.devices import device_kind
from harness.quality.gate import GatePolicy, GateReport, check_run
from harness.run.provenance import resolve_device
from harness.run.result import RunResult
from harness.quality.seed_ledger import SeedLedger, run_seeds
from harness.quality.procedures import Procedure, choose_procedure
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


def name_for(config: RunConfig, split: str | None = None) -> str:
    """The baseline's name for ``config``, on ``split`` (default: the task's first evaluation split)."""
    return baseline_name(
        config.task.name, config.recipe.name, config.model_spec, split or config.task.evaluation_splits[0], device_kind(resolve_device(config.device)), config.precision
    )


def record_command(config: RunConfig, seeds: int | None = None, *, case: str | None = None) -> str:
    """The ``harness record-baseline`` command that records ``config``'s baseline, for messages.

    A case is recorded by its name; the default task needs no ``--task``; any other task names its
    task and its data, since those are what the baseline is measured on.
    """
    parts = ["harness record-baseline", f"--case {case}" if case else f"--recipe {config.recipe.name}"]
    if case is None and config.task.name != DEFAULT_TASK:
        parts.append(f"--task {config.task.name}")
        if config.data_files:
            parts.append("--data-files " + ",".join(f"{split}={path}" for split, path in config.data_files))
        if config.columns:
            parts.append("--columns " + ",".join(f"{column}={name}" for column, name in config.columns))
        elif config.data_dir is not None:
            parts.append(f"--data-dir {config.data_dir}")
    if config.precision != "fp32":
        parts.append(f"--precision {config.precision}")  # part of the baseline's name: without it the fp32 one is recorded
    if seeds is not None:
        parts.append(f"--seeds {seeds}")
    return " ".join(parts)


def record_baseline(
    config: RunConfig,
    fine_tune: FineTune,
    *,
    seeds: int = DEFAULT_BASELINE_SEEDS,
    ledger: SeedLedger | None = None,
    hub_offline: bool = False,
    progress: Callable[[str], None] | None = None,
) -> MeasuredBaseline:
    """Fine-tune ``config`` from ``seeds`` consecutive seeds (starting at its own) and summarise.

    With a ``ledger``, every finished seed is saved as it lands and seeds already in it are not
    trained again: a recording killed after seed 17 continues from seed 18 when run again, and one
    whose settings changed meanwhile is refused before anything trains (``hub_offline``: how the
    model and data are found for that check). ``progress`` receives one line per seed, with the
    time left at the pace of the seeds so far.
    """
    check_recordable(config)
    wanted = [config.seed + offset for offset in range(seeds)]
    return measured_from_runs(config, run_seeds(config, fine_tune, wanted, ledger, hub_offline=hub_offline, progress=progress))


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
        "config": result.config.to_dict(),
        "provenance": result.provenance,
        "gate": report.to_json(),
    }


@dataclass(frozen=True)
class GatePlan:
    """One gate, resolved once: the config (its device and precision concrete, as a session builds it),
    the policy resolved for the config's task, the baseline's name and the project's case it came
    from. Everything below takes these as they are; nothing re-resolves them."""

    config: RunConfig
    policy: GatePolicy
    baseline: str
    case: str | None = None

    @classmethod
    def of(cls, config: RunConfig, policy: GatePolicy = GatePolicy(), *, case: str | None = None) -> GatePlan:
        """``policy`` resolved for ``config``'s task (its metrics, or an error naming them, before anything trains)."""
        return cls(config, policy.for_task(config.task), name_for(config), case)

    def record_command(self, seeds: int | None = None) -> str:
        return record_command(self.config, seeds, case=self.case)


def procedure_for(plan: GatePlan, baseline: MeasuredBaseline | None, store: BaselineStore) -> Procedure:
    """The procedure ``plan``'s gate runs against ``baseline`` (see :func:`choose_procedure`)."""
    return choose_procedure(baseline, plan.policy, store.path(plan.baseline), plan.config, record_command=plan.record_command)


def perform_quality_check(
    config: RunConfig | GatePlan,
    *,
    fine_tune: FineTune,
    store: BaselineStore,
    policy: GatePolicy = GatePolicy(),
    force_regen: bool = False,
    seeds: int = DEFAULT_BASELINE_SEEDS,
    regenerated: dict[str, MeasuredBaseline] | None = None,
    case: str | None = None,
    run_started: float | None = None,
) -> QualityOutcome:
    """Fine-tune ``config`` and gate it against its baseline (``force_regen``: re-measure it first).

    ``config`` is a :class:`GatePlan`, or a config that ``policy`` and ``case`` make one.
    ``regenerated`` is the session's record of the baselines it has already re-measured: a second
    check of the same recipe reuses that baseline instead of measuring it again, and a check of a
    different recipe that maps to the same baseline file is refused rather than overwriting it.
    ``case`` names the project's case ``config`` was built from, so messages say how to record it.
    ``run_started``: when the whole run began (see :func:`_regenerate`).
    """
    plan = config if isinstance(config, GatePlan) else GatePlan.of(config, policy, case=case)
    regenerated = {} if regenerated is None else regenerated
    if force_regen:
        return _regenerate(plan, fine_tune=fine_tune, store=store, seeds=seeds, regenerated=regenerated, run_started=run_started)
    old = store.load(plan.baseline)  # fail fast: a corrupt baseline is reported before minutes of training
    procedure = procedure_for(plan, old, store)  # and so is one too small for the gate
    result = fine_tune(plan.config)
    return _gate(plan, result, old, store=store, seeds=seeds, procedure=procedure, fine_tune=fine_tune)


def _gate(plan: GatePlan, result: RunResult, baseline: MeasuredBaseline | None, *, store: BaselineStore, seeds: int,
          prefix: str = "", procedure: Procedure | None = None, fine_tune: FineTune | None = None) -> QualityOutcome:
    name = plan.baseline
    report = check_run(result, baseline, name=name, policy=plan.policy, published=tuple(store.published()))
    if procedure is not None:
        report = procedure.decide(report, result, plan.config, fine_tune=fine_tune, baseline=baseline)
        if procedure.note:
            report = dataclasses.replace(report, notes=report.notes + (procedure.note,))
    messages = [prefix] if prefix else []
    # What the data check found when the splits loaded (overlap with training, duplicated rows, a tiny
    # training split): it does not change the verdict, but a reader of the verdict must see it.
    messages += [f"data warning: {warning}" for warning in result.data_warnings]
    if baseline is None:
        messages.append(
            f"no baseline at {store.path(name)}. Record one from {seeds} seeds with "
            f"`pytest --harness-force-regen` or `{plan.record_command(seeds)}`, "
            "review it, and commit it."
        )
    if report.passed:
        store.clear_obtained(name, plan.config.short_id)
    else:
        obtained = store.write_obtained(name, plan.config.short_id, obtained_record(result, report))
        messages.append(f"obtained values written to {obtained}")
    return QualityOutcome(result, report, str(store.path(name)), "\n".join(messages))


def _regenerate(plan: GatePlan, *, fine_tune: FineTune, store: BaselineStore, seeds: int,
                regenerated: dict[str, MeasuredBaseline], run_started: float | None = None) -> QualityOutcome:
    """Re-measure the baseline, under the lock ``record-baseline`` holds, so two writers never race.

    ``regenerated`` holds what this process re-measured; ``run_started`` (when this run began, the
    same for every xdist worker) finds what another process of the run wrote since, so a second
    config that maps to the same file is refused across workers as it is within one."""
    config, name = plan.config, plan.baseline
    if config.faults:
        old = store.load(name)
        refusal = (
            f"NOT REGENERATED {store.path(name)}: this config injects deliberate faults ({', '.join(config.faults)}), "
            "and a baseline is never recorded from a faulted config; gated against the existing baseline instead."
        )
        return _gate(plan, fine_tune(config), old, store=store, seeds=seeds, prefix=refusal)
    with SeedLedger.recording(store.partial_path(name), wait=True):  # one writer of a baseline at a time, across processes
        if name not in regenerated and run_started is not None:
            earlier = _written_since(store, name, run_started)
            if earlier is not None:  # another process of this run (an xdist worker) re-measured it already
                regenerated[name] = earlier
        return _regenerate_locked(plan, fine_tune=fine_tune, store=store, seeds=seeds, regenerated=regenerated)


def _written_since(store: BaselineStore, name: str, started: float) -> MeasuredBaseline | None:
    path = store.path(name)
    if not path.is_file() or path.stat().st_mtime < started:
        return None
    return store.load_for_replacement(name)[0]


def _regenerate_locked(plan: GatePlan, *, fine_tune: FineTune, store: BaselineStore, seeds: int,
                       regenerated: dict[str, MeasuredBaseline]) -> QualityOutcome:
    config, name, policy = plan.config, plan.baseline, plan.policy
    if name in regenerated:
        new = regenerated[name]
        recipe = config.recipe_record()
        if new.recipe_config != recipe:
            # Two recipes sharing one baseline file would each overwrite the other: last writer wins.
            changed = sorted(k for k in new.recipe_config if new.recipe_config.get(k) != recipe.get(k))
            refusal = (
                f"NOT REGENERATED {store.path(name)}: this run already re-measured it from a config whose recipe "
                f"differs in {', '.join(changed)}; one baseline file cannot describe both. Give the variant its own recipe name."
            )
            return _gate(plan, fine_tune(config), new, store=store, seeds=seeds, prefix=refusal)
        result = fine_tune(config)
        report = check_run(result, new, name=name, policy=policy, published=tuple(store.published()))
        message = f"REGENERATED {store.path(name)} earlier in this run from seeds {list(new.seeds)}; this run fails on purpose."
        return QualityOutcome(result, report, str(store.path(name)), message, regenerated=True)
    old, unreadable = store.load_for_replacement(name)
    result = fine_tune(config)
    new = record_baseline(config, fine_tune, seeds=seeds)
    path = store.save(new)
    regenerated[name] = new
    store.clear_obtained(name, config.short_id)
    report = check_run(result, new, name=name, policy=policy, published=tuple(store.published()))
    message = (
        f"REGENERATED {path} from seeds {list(new.seeds)}; this run fails on purpose. "
        f"Review the diff, commit the file, and re-run without --harness-force-regen."
        + (f"\nnote: {unreadable}" if unreadable else "")
        + f"\n{baseline_diff(old, new)}"
    )
    return QualityOutcome(result, report, str(path), message, regenerated=True)
