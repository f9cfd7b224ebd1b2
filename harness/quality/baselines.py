"""Baselines as data with provenance: readable JSON files in ``baselines/``, one per
(task, model, recipe, split, device kind, precision), plus the published references shown as context.

Precision is part of the name because it changes results: a bf16 run is never gated against an
fp32 baseline. Deliberate faults are not: a faulted run is gated against the clean baseline (that is
how a fault proves the gate can fail), and a baseline is never recorded from a faulted config.

Measured baselines gate: several seeds of one config, with their mean, spread and per-seed
values, and the versions, device, data and model checksums they were measured with.
Published references (papers, the course) never gate: they were measured on another split, model
or setup, and are shown beside a run with that caveat.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.config import RunConfig
from harness.devices import device_kind, path_slug
from harness.files import atomic_write_json
from harness.result import RunResult
from harness.tasks.metrics import builtin_metrics

BASELINE_SCHEMA = 2  # 2: precision is part of a measured baseline's identity
PUBLISHED_SCHEMA = 1
PUBLISHED_FILE = "published.json"


class BaselineError(ValueError):
    """A baseline file is missing, corrupt or of another schema; the message says how to fix it."""


@dataclass(frozen=True)
class MetricStats:
    values: tuple[float, ...]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def std(self) -> float:
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "mean": self.mean,
            "std": self.std,
            "min": min(self.values),
            "max": max(self.values),
            "n": len(self.values),
            "values": list(self.values),
        }


@dataclass(frozen=True)
class MeasuredBaseline:
    task: str
    split: str
    model: str
    recipe: str
    device_kind: str
    precision: str
    metrics: dict[str, MetricStats]
    seeds: tuple[int, ...]
    recipe_config: dict[str, Any]
    data_sha256: str
    model_provenance: dict[str, Any]
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return baseline_name(self.task, self.recipe, self.model, self.split, self.device_kind, self.precision)

    def seed_cpu(self, seed: int) -> str | None:
        """The CPU model ``seed`` was recorded on (``provenance.seed_cpus``), or None where not recorded.

        Bit-for-bit reproduction of a seed holds on that CPU model; elsewhere only to rounding.
        """
        cpus = self.provenance.get("seed_cpus")
        if not isinstance(cpus, list) or len(cpus) != len(self.seeds) or seed not in self.seeds:
            return None
        return cpus[self.seeds.index(seed)]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": BASELINE_SCHEMA,
            "kind": "measured",
            "task": self.task,
            "split": self.split,
            "model": self.model,
            "recipe": self.recipe,
            "device_kind": self.device_kind,
            "precision": self.precision,
            "seeds": list(self.seeds),
            "metrics": {name: stats.to_json() | {"better": _direction(name)} for name, stats in self.metrics.items()},
            "recipe_config": self.recipe_config,
            "data_sha256": self.data_sha256,
            "model_provenance": self.model_provenance,
            "provenance": self.provenance,
        }

    @classmethod
    def from_json(cls, data: Any, path: Path) -> MeasuredBaseline:
        if not isinstance(data, dict):
            raise BaselineError(f"{path}: expected a JSON object, got {type(data).__name__}; restore it from git or re-record it")
        if data.get("schema") != BASELINE_SCHEMA or data.get("kind") != "measured":
            raise BaselineError(
                f"{path}: schema {data.get('schema')!r} / kind {data.get('kind')!r}; expected a measured baseline of "
                f"schema {BASELINE_SCHEMA}. Re-record it with --harness-force-regen (pytest) or `harness record-baseline`."
            )
        try:
            baseline = cls(
                task=data["task"],
                split=data["split"],
                model=data["model"],
                recipe=data["recipe"],
                device_kind=data["device_kind"],
                precision=data["precision"],
                metrics={k: MetricStats(tuple(float(x) for x in v["values"])) for k, v in data["metrics"].items()},
                seeds=tuple(data["seeds"]),
                recipe_config=data["recipe_config"],
                data_sha256=data["data_sha256"],
                model_provenance=data["model_provenance"],
                provenance=data.get("provenance", {}),
            )
            _check_consistency(path, baseline)
            for metric, stats in baseline.metrics.items():
                _check_summary(path, metric, data["metrics"][metric], stats)
        except BaselineError:
            raise
        except (KeyError, TypeError, ValueError) as error:
            raise BaselineError(f"{path}: corrupt baseline ({type(error).__name__}: {error}); restore it from git or re-record it") from error
        return baseline


def _direction(metric: str) -> str:
    """Which way ``metric`` is better, written beside its values for readers of the file (the gate asks the registry)."""
    metrics = builtin_metrics()
    return metrics.spec(metric).direction if metric in metrics else "higher"


# Per-seed lists in a baseline's provenance: each holds one entry per seed, in the order of ``seeds``.
PER_SEED_PROVENANCE = ("seed_cpus", "train_seconds", "samples_per_second")


def _check_consistency(path: Path, baseline: MeasuredBaseline) -> None:
    """Refuse a baseline whose parts do not describe one set of seeds.

    The gate's stated error rates hold for the number of seeds it believes it has: seeds 42-47
    pasted five times would be gated as "30 seeds" with a power six seeds cannot give, and a
    metric with more values than seeds, or a NaN among them, would be summarised into a spread
    nobody measured (or crash the gate later, far from the file that caused it).
    """
    fix = "restore it from git or re-record it (`harness record-baseline`)"
    seeds = baseline.seeds
    if not seeds or any(isinstance(seed, bool) or not isinstance(seed, int) for seed in seeds):
        raise BaselineError(f"{path}: 'seeds' must be a non-empty list of integers, got {list(seeds)!r}; {fix}")
    repeated = sorted({seed for seed in seeds if seeds.count(seed) > 1})
    if repeated:
        raise BaselineError(f"{path}: seeds {repeated} appear more than once among its {len(seeds)} seeds; a baseline holds "
                            f"each seed once (a repeated seed is the same run counted twice, which overstates what the "
                            f"baseline knows); {fix}")
    if not baseline.metrics:
        raise BaselineError(f"{path}: no metrics; {fix}")
    for metric, stats in baseline.metrics.items():
        if len(stats.values) != len(seeds):
            raise BaselineError(f"{path}: metric {metric!r} has {len(stats.values)} per-seed values for {len(seeds)} seeds; "
                                f"each seed needs exactly one value, in the order of 'seeds'; {fix}")
        bad = [seed for seed, value in zip(seeds, stats.values) if not math.isfinite(value)]
        if bad:
            raise BaselineError(f"{path}: metric {metric!r} is not a finite number for seeds {bad}; a NaN or infinite value "
                                f"has no mean or spread to gate against; {fix}")
    for key in PER_SEED_PROVENANCE:
        values = baseline.provenance.get(key)
        if values is not None and (not isinstance(values, list) or len(values) != len(seeds)):
            found = f"{len(values)} entries" if isinstance(values, list) else type(values).__name__
            raise BaselineError(f"{path}: provenance.{key} has {found} for {len(seeds)} seeds; it holds one entry per seed, "
                                f"in the order of 'seeds'; {fix}")


def _check_summary(path: Path, metric: str, stored: dict[str, Any], stats: MetricStats) -> None:
    """The gate uses the per-seed values; a hand-edited summary would be silently ignored, so it must agree."""
    if not stats.values:
        raise BaselineError(f"{path}: metric {metric!r} has no per-seed values; re-record it")
    for summary, value in stats.to_json().items():
        if summary == "values" or summary not in stored:
            continue
        try:
            agrees = math.isclose(float(stored[summary]), value, rel_tol=1e-9, abs_tol=1e-12)
        except (TypeError, ValueError):
            agrees = False
        if not agrees:
            raise BaselineError(
                f"{path}: {metric} {summary} {stored[summary]!r} disagrees with its per-seed values {list(stats.values)} "
                f"({value}); the gate uses the values, so edit them (not the summary) or re-record it"
            )


def baseline_name(task: str, recipe: str, model: str, split: str, device_kind: str, precision: str) -> str:
    return f"{task}--{recipe}--{path_slug(model)}--{split}--{device_kind}-{precision}"


def check_recordable(config: RunConfig) -> None:
    """Refuse, before anything trains, to record a baseline from a deliberately broken config."""
    if config.faults:
        raise BaselineError(
            f"refusing to record a baseline from a config with deliberate faults ({', '.join(config.faults)}): "
            "a baseline must describe the unbroken recipe; drop the fault(s) and record again"
        )


def measured_from_runs(config: RunConfig, results: Sequence[RunResult], split: str | None = None) -> MeasuredBaseline:
    """A measured baseline from runs of one config that differ only in their seed, on ``split``
    (default: the task's first evaluation split, the one a fine-tune is scored on)."""
    check_recordable(config)
    if len(results) < 2:
        raise BaselineError("a measured baseline needs at least 2 seeds (5 or more recommended) to know its spread")
    first = results[0].provenance
    for result in results:
        if result.config.get("faults"):
            raise BaselineError(f"seed {result.provenance['seed']} was run with deliberate faults {result.config['faults']}; "
                                "a baseline is never recorded from a faulted run")
        if result.provenance["data"]["sha256"] != first["data"]["sha256"]:
            raise BaselineError("the runs were measured on different data; record each data set separately")
        if result.provenance.get("precision") != config.precision:
            raise BaselineError(f"seed {result.provenance['seed']} ran in {result.provenance.get('precision')}, "
                                f"the baseline is for {config.precision}; record each precision separately")
    seeds = [r.provenance["seed"] for r in results]
    if len(set(seeds)) != len(seeds):
        raise BaselineError(f"seeds {sorted({s for s in seeds if seeds.count(s) > 1})} were run more than once; a baseline holds each seed once")
    for result in results:
        bad = sorted(name for name, value in result.metrics.items() if not math.isfinite(float(value)))
        if bad:
            raise BaselineError(f"seed {result.provenance['seed']} gave non-finite {', '.join(bad)} "
                                f"({', '.join(f'{name}={result.metrics[name]}' for name in bad)}); a baseline cannot be "
                                "summarised from it: find why that run diverged (learning rate, precision) before recording")
    metrics = {name: MetricStats(tuple(r.metrics[name] for r in results)) for name in results[0].metrics}
    return MeasuredBaseline(
        task=config.task.name,
        split=split or config.task.evaluation_splits[0],
        model=config.model_spec,
        recipe=config.recipe.name,
        device_kind=device_kind(first["device"]["device"]),
        precision=config.precision,
        metrics=metrics,
        seeds=tuple(r.provenance["seed"] for r in results),
        recipe_config=config.identity()["recipe"],
        data_sha256=first["data"]["sha256"],
        model_provenance=first["model"],
        provenance={
            "versions": first["versions"],
            "device": first["device"],
            "git": first["git"],
            "harness_source_sha256": first.get("harness_source_sha256"),
            "created": first["created"],
            "data": first["data"],
            "precision": first.get("precision"),
            "recorded_with": f"harness (fine-tune per seed, {split or config.task.evaluation_splits[0]} split)",
            # What reproduction of a seed (the gate's one-run fast path) was observed under; seed_cpus has each seed's CPU.
            "exactness": {
                "torch": first["versions"].get("torch"),
                "transformers": first["versions"].get("transformers"),
                "precision": config.precision,
                "cpu_capability": sorted({r.provenance["device"].get("cpu_capability") or "unknown" for r in results}),
                "torch_threads": sorted({r.provenance["device"].get("torch_threads") for r in results}),
            },
            # Per seed, like the timings: bit-for-bit reproduction of a seed needs its CPU model.
            "seed_cpus": [r.provenance["device"].get("cpu") for r in results],
            "train_seconds": [r.throughput.train_seconds for r in results],
            "samples_per_second": [r.throughput.samples_per_second for r in results],
        },
    )


@dataclass(frozen=True)
class PublishedReference:
    name: str
    task: str
    split: str
    model: str
    metrics: dict[str, float]
    source: str
    note: str = ""


@dataclass(frozen=True)
class BaselineStore:
    """The ``baselines/`` folder: read, write (atomically), and find the obtained-file beside each."""

    root: Path

    def path(self, name: str) -> Path:
        return self.root / f"{name}.json"

    def obtained_path(self, name: str, tag: str) -> Path:
        """Where a failing check of one config leaves its values: one file per config (``tag``), so a
        passing check of another config sharing the baseline never deletes a failure's evidence."""
        return self.root / f"{name}.{tag}.obtained.json"

    def load(self, name: str) -> MeasuredBaseline | None:
        path = self.path(name)
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise BaselineError(f"{path}: not valid JSON ({error}); restore it from git or re-record it") from error
        return MeasuredBaseline.from_json(data, path)

    def partial_path(self, name: str) -> Path:
        """The seeds of a recording still in progress (see :mod:`harness.quality.seed_ledger`)."""
        return self.root / f"{name}.partial.json"

    def load_for_replacement(self, name: str) -> tuple[MeasuredBaseline | None, str | None]:
        """The baseline a regeneration is about to replace, and a note when it cannot be read.

        An unreadable old file is exactly what regeneration exists to fix, so it must not stop it:
        it is reported, shown as having no old values in the diff, and overwritten.
        """
        try:
            return self.load(name), None
        except BaselineError as error:
            return None, f"the old baseline could not be read and is replaced: {error}"

    def save(self, baseline: MeasuredBaseline) -> Path:
        return atomic_write_json(self.path(baseline.name), baseline.to_json())

    def write_obtained(self, name: str, tag: str, obtained: dict[str, Any]) -> Path:
        return atomic_write_json(self.obtained_path(name, tag), obtained)

    def clear_obtained(self, name: str, tag: str) -> None:
        self.obtained_path(name, tag).unlink(missing_ok=True)

    def published(self) -> list[PublishedReference]:
        path = self.root / PUBLISHED_FILE
        if not path.is_file():
            return []
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict) or data.get("schema") != PUBLISHED_SCHEMA or data.get("kind") != "published":
                raise BaselineError(f"{path}: expected kind 'published' of schema {PUBLISHED_SCHEMA}")
            return [PublishedReference(**ref) for ref in data["references"]]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise BaselineError(f"{path}: corrupt published references ({error}); restore it from git") from error
