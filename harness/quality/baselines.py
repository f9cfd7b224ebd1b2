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
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.run.config import RunConfig
from harness.run.devices import device_kind, path_slug
from harness.files import atomic_write_json
from harness.run.result import RunResult
from harness.run.run_identity import task_spec_sha256
from harness.tasks.metrics import DIRECTIONS, MetricRegistry, builtin_metrics

BASELINE_SCHEMA = 2  # 2: precision is part of a measured baseline's identity
PUBLISHED_SCHEMA = 1
PUBLISHED_FILE = "published.json"


MIN_SEEDS = 2
_TOO_FEW_SEEDS = (f"a measured baseline needs at least {MIN_SEEDS} seeds (5 or more recommended) to know its spread: with one, "
                  "the gate's band would be its floor alone, however noisy training is")
FIX = "restore it from git or re-record it (`harness record-baseline`)"


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

    def identity_parts(self) -> dict[str, Any]:
        """The parts of the run identity a run must share with this baseline
        (:meth:`harness.run.run_identity.RunIdentity.baseline_parts`). A baseline recorded before the
        world size and the task spec were written down was single-process; its task spec is unknown (None)."""
        return {"data_sha256": self.data_sha256, "precision": self.precision,
                "weights_sha256": self.model_provenance.get("weights_sha256"),
                "architecture_sha256": self.model_provenance.get("architecture_sha256"),
                "world_size": self.provenance.get("world_size", 1),
                "task_spec_sha256": self.provenance.get("task_spec_sha256")}

    def seed_cpu(self, seed: int) -> str | None:
        """The CPU model ``seed`` was recorded on (``provenance.seed_cpus``), or None where not recorded.

        Bit-for-bit reproduction of a seed holds on that CPU model; elsewhere only to rounding.
        """
        cpus = self.provenance.get("seed_cpus")
        if not isinstance(cpus, list) or len(cpus) != len(self.seeds) or seed not in self.seeds:
            return None
        return cpus[self.seeds.index(seed)]

    def to_json(self, metrics: MetricRegistry | None = None) -> dict[str, Any]:
        """The file's contents; each metric's ``better`` is written from ``metrics`` (default: the built-ins)."""
        metrics = builtin_metrics() if metrics is None else metrics
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
            "metrics": {name: stats.to_json() | {"better": _direction(name, metrics)} for name, stats in self.metrics.items()},
            "recipe_config": self.recipe_config,
            "data_sha256": self.data_sha256,
            "model_provenance": self.model_provenance,
            "provenance": self.provenance,
        }

    @classmethod
    def from_json(cls, data: Any, path: Path, metrics: MetricRegistry | None = None) -> MeasuredBaseline:
        """The baseline ``data`` (a parsed file) holds, every field the gate reads checked first, so a
        tampered file is refused here, naming ``path`` and the fix, never mid-gate after a fine-tune.
        Each metric's values are checked against its spec in ``metrics`` (default: the built-ins): its
        direction and its bounds."""
        if not isinstance(data, dict):
            raise BaselineError(f"{path}: expected a JSON object, got {_json_type(data)}; {FIX}")
        schema = data.get("schema")
        if type(schema) is not int or schema != BASELINE_SCHEMA or data.get("kind") != "measured":
            raise BaselineError(
                f"{path}: schema {schema!r} / kind {data.get('kind')!r}; expected a measured baseline of schema "
                f"{BASELINE_SCHEMA} (an integer). Re-record it with --harness-force-regen (pytest) or `harness record-baseline`."
            )
        _check_fields(path, data)
        registry = builtin_metrics() if metrics is None else metrics
        try:
            baseline = cls(
                task=data["task"],
                split=data["split"],
                model=data["model"],
                recipe=data["recipe"],
                device_kind=data["device_kind"],
                precision=data["precision"],
                metrics={name: _metric_stats(path, name, entry, registry) for name, entry in data["metrics"].items()},
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
        except (AttributeError, KeyError, OverflowError, TypeError, ValueError) as error:  # a case the checks above missed
            raise BaselineError(f"{path}: corrupt baseline ({type(error).__name__}: {error}); {FIX}") from error
        return baseline


def _direction(metric: str, metrics: MetricRegistry) -> str:
    """Which way ``metric`` is better, written beside its values for readers of the file (the gate asks the registry)."""
    return metrics.spec(metric).direction if metric in metrics else "higher"


# Per-seed lists in a baseline's provenance: each holds one entry per seed, in the order of ``seeds``,
# a CPU model's name (or null where it was not read) or a number of seconds or samples a second.
PER_SEED_PROVENANCE = {"seed_cpus": "text", "train_seconds": "number", "samples_per_second": "number"}
# The model checksums the gate compares a run's with: each a sha256, or null where it does not apply.
MODEL_CHECKSUMS = ("weights_sha256", "architecture_sha256", "definition_sha256")
_TEXT_FIELDS = ("task", "split", "model", "recipe", "device_kind", "precision", "data_sha256")
_OBJECT_FIELDS = ("metrics", "recipe_config", "model_provenance")
# transformers.set_seed seeds numpy's legacy generator, which takes 0 <= seed < 2**32 (torch takes more).
SEED_LIMIT = 2**32


def _is_number(value: Any) -> bool:
    """Whether ``value`` was a JSON number: ``true`` and ``"0.625"`` are not, though ``float()`` takes both."""
    return type(value) in (int, float)


def _is_text(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


# (the top-level fields, the JSON type each must be, that type in a message): what _check_fields checks first.
_FIELD_TYPES = (
    (_TEXT_FIELDS, str, "a string"),
    (_OBJECT_FIELDS, dict, "an object"),
    (("seeds",), list, "a list"),
)


def _check_fields(path: Path, data: dict[str, Any]) -> None:
    """Refuse a field the gate reads that is missing or of another JSON type, naming each one.

    Read later, such a field fails far from the file: ``provenance: null`` is an AttributeError in
    the gate, after minutes of fine-tuning, and ``versions: "torch transformers"`` a TypeError.
    """
    missing = [key for key in ("seeds", *_TEXT_FIELDS, *_OBJECT_FIELDS) if key not in data]
    if missing:
        raise BaselineError(f"{path}: corrupt baseline, missing {', '.join(map(repr, missing))}; {FIX}")
    wrong = [f"{key!r} is {_json_type(data[key])}, not {expected}"
             for keys, kind, expected in _FIELD_TYPES for key in keys if not isinstance(data[key], kind)]
    wrong += _model_provenance_problems(data["model_provenance"])
    wrong += _provenance_problems(data.get("provenance", {}))
    wrong += _metric_entry_problems(data["metrics"])
    if wrong:
        raise BaselineError(f"{path}: corrupt baseline: {'; '.join(wrong)}; {FIX}")


def _model_provenance_problems(model: Any) -> list[str]:
    """The model checksums the gate compares a run's with, each a string or null: any other type
    would compare unequal to every run's and refuse them all for the wrong reason."""
    if not isinstance(model, dict):
        return []  # _FIELD_TYPES names it
    return [f"model_provenance.{key} is {_json_type(model[key])}, not a string or null"
            for key in MODEL_CHECKSUMS if key in model and not _is_text(model[key])]


def _provenance_problems(provenance: Any) -> list[str]:
    """What the gate reads from ``provenance``: an object, of library versions, a world size, a
    task spec checksum and per-seed lists, each of the JSON type the gate uses it as."""
    if not isinstance(provenance, dict):
        return [f"'provenance' is {_json_type(provenance)}, not an object"]
    return [*_versions_problems(provenance.get("versions", {})), *_identity_problems(provenance),
            *_per_seed_type_problems(provenance)]


def _versions_problems(versions: Any) -> list[str]:
    """The library versions, compared with a run's: an object of strings, null where not installed."""
    if isinstance(versions, dict) and all(_is_text(version) for version in versions.values()):
        return []
    found = (_json_type(versions) if not isinstance(versions, dict) else "an object holding "
             + ", ".join(sorted({_json_type(v) for v in versions.values() if not _is_text(v)})))
    return [f"provenance.versions must be an object of library versions, each a string (or null where "
            f"the library is not installed), got {found}"]


def _identity_problems(provenance: dict[str, Any]) -> list[str]:
    """The parts of the run identity a run must match that only the provenance holds: the number
    of training processes and the task spec's checksum (absent in baselines older than them)."""
    wrong = []
    world_size = provenance.get("world_size", 1)
    if type(world_size) is not int or world_size < 1:
        wrong.append(f"provenance.world_size is {world_size!r}, not a whole number of processes >= 1")
    if not _is_text(provenance.get("task_spec_sha256")):
        wrong.append(f"provenance.task_spec_sha256 is {_json_type(provenance['task_spec_sha256'])}, not a string or null")
    return wrong


def _per_seed_type_problems(provenance: dict[str, Any]) -> list[str]:
    """Each per-seed list's entries of their kind (CPU names text, timings numbers); their length
    is checked against the seeds later, by _check_consistency."""
    wrong = []
    for key, kind in PER_SEED_PROVENANCE.items():
        values, valid = provenance.get(key), _is_text if kind == "text" else _is_number
        if isinstance(values, list) and not all(valid(value) for value in values):
            wrong.append(f"provenance.{key} holds {', '.join(sorted({_json_type(v) for v in values if not valid(v)}))}, "
                         f"where each entry is a {'string or null' if kind == 'text' else 'number'}")
    return wrong


def _metric_entry_problems(metrics: Any) -> list[str]:
    """Each metric an object holding its per-seed ``values`` as a list, the one thing the gate reads."""
    if not isinstance(metrics, dict):
        return []  # _FIELD_TYPES names it
    wrong = []
    for name, entry in metrics.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("values"), list):
            found = (_json_type(entry) if not isinstance(entry, dict) else
                     f"'values' {_json_type(entry['values'])}" if "values" in entry else "no 'values'")
            wrong.append(f"metric {name!r} must be an object holding its per-seed 'values' as a list, got {found}")
    return wrong


def _metric_stats(path: Path, metric: str, entry: dict[str, Any], registry: MetricRegistry) -> MetricStats:
    """One metric's per-seed values, each a JSON number, and its ``better`` (when written) the registry's direction."""
    bad = [value for value in entry["values"] if not _is_number(value)]
    if bad:
        raise BaselineError(f"{path}: metric {metric!r} has per-seed values that are not JSON numbers ({bad[0]!r}"
                            f"{f' and {len(bad) - 1} more' if len(bad) > 1 else ''}); each is a number such as 0.625, "
                            f"not a string or a boolean; {FIX}")
    if "better" in entry:
        # Only written for readers (the gate asks the registry), so a file that disagrees was edited by hand.
        better = entry["better"]
        allowed = (registry.spec(metric).direction,) if metric in registry else DIRECTIONS
        if better not in allowed:
            raise BaselineError(f"{path}: metric {metric!r} says better is {better!r}, but {metric} is better "
                                f"{' or '.join(allowed)} (the metric registry, which the gate follows): the file was "
                                f"edited, or holds another metric under this name; {FIX}")
    if metric in registry:
        spec = registry.spec(metric)
        outside = [value for value in entry["values"] if math.isfinite(value) and not spec.holds(value)]
        if outside:
            low, high = (("-inf", "inf")[i] if b is None else f"{b:g}" for i, b in enumerate(spec.bounds))
            raise BaselineError(f"{path}: metric {metric!r} has per-seed values outside [{low}, {high}], the values "
                                f"{metric} can take ({outside[0]!r}{f' and {len(outside) - 1} more' if len(outside) > 1 else ''}): "
                                f"they were not measured by it; {FIX}")
    return MetricStats(tuple(float(value) for value in entry["values"]))


def _check_consistency(path: Path, baseline: MeasuredBaseline) -> None:
    """Refuse a baseline whose parts do not describe one set of seeds.

    The gate's stated error rates hold for the number of seeds it believes it has: seeds 42-47
    pasted five times would be gated as "30 seeds" with a power six seeds cannot give, and a
    metric with more values than seeds, or a NaN among them, would be summarised into a spread
    nobody measured (or crash the gate later, far from the file that caused it). One seed has no
    spread at all, and values so far apart that their spread overflows give a band of ±inf that
    every run passes.
    """
    seeds = baseline.seeds
    _check_seeds(path, seeds)
    if not baseline.metrics:
        raise BaselineError(f"{path}: no metrics; {FIX}")
    for metric, stats in baseline.metrics.items():
        _check_metric_values(path, metric, stats, seeds)
    _check_per_seed_lengths(path, baseline.provenance, seeds)


def _check_seeds(path: Path, seeds: Sequence[Any]) -> None:
    """The seeds: integers ``set_seed`` accepts, at least MIN_SEEDS of them, each once, since the
    gate's error rates are computed for that many distinct runs."""
    if not seeds or any(type(seed) is not int for seed in seeds):
        raise BaselineError(f"{path}: 'seeds' must be a non-empty list of integers, got {list(seeds)!r}; {FIX}")
    outside = [seed for seed in seeds if not 0 <= seed < SEED_LIMIT]
    if outside:
        raise BaselineError(f"{path}: seeds {outside} are outside 0..2**32 - 1, the seeds `transformers.set_seed` "
                            f"accepts, so no run can have used them; {FIX}")
    if len(seeds) < MIN_SEEDS:
        raise BaselineError(f"{path}: holds {len(seeds)} seed; {_TOO_FEW_SEEDS}; {FIX}")
    repeated = sorted(seed for seed, count in Counter(seeds).items() if count > 1)
    if repeated:
        raise BaselineError(f"{path}: seeds {repeated} appear more than once among its {len(seeds)} seeds; a baseline holds "
                            f"each seed once (a repeated seed is the same run counted twice, which overstates what the "
                            f"baseline knows); {FIX}")


def _check_metric_values(path: Path, metric: str, stats: MetricStats, seeds: Sequence[int]) -> None:
    """One finite value per seed, whose mean and spread are finite too: otherwise the band the
    gate draws around them is NaN or ±inf, and means nothing."""
    if len(stats.values) != len(seeds):
        raise BaselineError(f"{path}: metric {metric!r} has {len(stats.values)} per-seed values for {len(seeds)} seeds; "
                            f"each seed needs exactly one value, in the order of 'seeds'; {FIX}")
    bad = [seed for seed, value in zip(seeds, stats.values) if not math.isfinite(value)]
    if bad:
        raise BaselineError(f"{path}: metric {metric!r} is not a finite number for seeds {bad}; a NaN or infinite value "
                            f"has no mean or spread to gate against; {FIX}")
    try:
        summary = (stats.mean, stats.std, max(stats.values) - min(stats.values))
    except OverflowError:
        summary = (math.inf,)
    if not all(math.isfinite(value) for value in summary):
        raise BaselineError(f"{path}: metric {metric!r} has values {min(stats.values)!r}..{max(stats.values)!r}, whose "
                            f"mean or spread overflows a float: the band around them would be ±inf and every run "
                            f"would pass; {FIX}")


def _check_per_seed_lengths(path: Path, provenance: dict[str, Any], seeds: Sequence[int]) -> None:
    """Each per-seed provenance list holds one entry per seed, so entry i describes seed i."""
    for key in PER_SEED_PROVENANCE:
        values = provenance.get(key)
        if values is not None and (not isinstance(values, list) or len(values) != len(seeds)):
            found = f"{len(values)} entries" if isinstance(values, list) else _json_type(values)
            raise BaselineError(f"{path}: provenance.{key} has {found} for {len(seeds)} seeds; it holds one entry per seed, "
                                f"in the order of 'seeds'; {FIX}")


def _check_summary(path: Path, metric: str, stored: dict[str, Any], stats: MetricStats) -> None:
    """The gate uses the per-seed values; a hand-edited summary would be silently ignored, so it must agree."""
    for summary, value in stats.to_json().items():
        if summary == "values" or summary not in stored:
            continue
        if not _is_number(stored[summary]):
            raise BaselineError(f"{path}: {metric} {summary} {stored[summary]!r} is not a JSON number; the gate uses the "
                                f"per-seed values, not the summary; {FIX}")
        if not math.isclose(stored[summary], value, rel_tol=1e-9, abs_tol=1e-12):
            raise BaselineError(
                f"{path}: {metric} {summary} {stored[summary]!r} disagrees with its per-seed values {list(stats.values)} "
                f"({value}); the gate uses the values, not the summary; {FIX}"
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
    if len(results) < MIN_SEEDS:
        raise BaselineError(_TOO_FEW_SEEDS)
    _check_runs_comparable(config, results)
    _check_runs_usable(results)
    first = results[0].provenance
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
        provenance=_baseline_provenance(config, results, split),
    )


def _check_runs_comparable(config: RunConfig, results: Sequence[RunResult]) -> None:
    """Refuse runs that differ in more than their seed (faults, data, precision): their spread would
    not be the seed-to-seed noise the gate's band is made of."""
    first = results[0].provenance
    for result in results:
        if result.config.faults:
            raise BaselineError(f"seed {result.provenance['seed']} was run with deliberate faults {list(result.config.faults)}; "
                                "a baseline is never recorded from a faulted run")
        if result.provenance["data"]["sha256"] != first["data"]["sha256"]:
            raise BaselineError("the runs were measured on different data; record each data set separately")
        if result.provenance.get("precision") != config.precision:
            raise BaselineError(f"seed {result.provenance['seed']} ran in {result.provenance.get('precision')}, "
                                f"the baseline is for {config.precision}; record each precision separately")


def _check_runs_usable(results: Sequence[RunResult]) -> None:
    """Refuse a seed run twice (counted twice, it overstates what the baseline knows) and a run
    whose metrics diverged to NaN or infinity (it has no mean or spread to summarise)."""
    seeds = [r.provenance["seed"] for r in results]
    if len(set(seeds)) != len(seeds):
        raise BaselineError(f"seeds {sorted({s for s in seeds if seeds.count(s) > 1})} were run more than once; a baseline holds each seed once")
    for result in results:
        bad = sorted(name for name, value in result.metrics.items() if not math.isfinite(float(value)))
        if bad:
            raise BaselineError(f"seed {result.provenance['seed']} gave non-finite {', '.join(bad)} "
                                f"({', '.join(f'{name}={result.metrics[name]}' for name in bad)}); a baseline cannot be "
                                "summarised from it: find why that run diverged (learning rate, precision) before recording")


def _baseline_provenance(config: RunConfig, results: Sequence[RunResult], split: str | None) -> dict[str, Any]:
    """Where the baseline was measured (the first run's machine, libraries and data), what a run must
    match to be gated against it, and what each seed ran on and how fast."""
    first = results[0].provenance
    return {
        "versions": first["versions"],
        "device": first["device"],
        "git": first["git"],
        "harness_source_sha256": first.get("harness_source_sha256"),
        "created": first["created"],
        "data": first["data"],
        "precision": first.get("precision"),
        # The parts of the run identity a run must match (harness.run.run_identity.BASELINE_MATCHES) that
        # the fields above do not hold; a baseline recorded before them is of one process and any spec.
        "world_size": config.world_size,
        "task_spec_sha256": task_spec_sha256(config.task.to_dict()),
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
    }


def _read_json(path: Path, fix: str = FIX) -> Any:
    """``path``'s JSON, refusing what ``json.loads`` lets through or fails on without naming the file:
    a key written twice in one object (JSON keeps the last silently, so the file says two things),
    nesting deeper than the parser can follow (a RecursionError) and bytes that are not UTF-8."""

    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        repeated = sorted(key for key, count in Counter(key for key, _ in pairs).items() if count > 1)
        if repeated:
            raise BaselineError(f"{path}: key {', '.join(map(repr, repeated))} appears more than once in one object; JSON "
                                f"keeps only the last, silently, so the file says two things; {fix}")
        return dict(pairs)

    try:
        return json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=unique_keys)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BaselineError(f"{path}: not valid JSON ({error}); {fix}") from error
    except RecursionError as error:
        raise BaselineError(f"{path}: not valid JSON (nested deeper than the JSON parser can read); {fix}") from error


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
    """The ``baselines/`` folder: read, write (atomically), and find the obtained-file beside each.

    ``metrics`` is the metric registry the files are read and written with (default: the built-ins):
    a project's own metric is checked against its own direction and bounds.
    """

    root: Path
    metrics: MetricRegistry = field(default_factory=builtin_metrics, compare=False, repr=False)

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
        return MeasuredBaseline.from_json(_read_json(path), path, self.metrics)

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
        return atomic_write_json(self.path(baseline.name), baseline.to_json(self.metrics))

    def write_obtained(self, name: str, tag: str, obtained: dict[str, Any]) -> Path:
        return atomic_write_json(self.obtained_path(name, tag), obtained)

    def clear_obtained(self, name: str, tag: str) -> None:
        self.obtained_path(name, tag).unlink(missing_ok=True)

    def published(self) -> list[PublishedReference]:
        path = self.root / PUBLISHED_FILE
        if not path.is_file():
            return []
        data = _read_json(path, fix="restore it from git")
        try:
            if (not isinstance(data, dict) or type(data.get("schema")) is not int or data["schema"] != PUBLISHED_SCHEMA
                    or data.get("kind") != "published"):
                raise BaselineError(f"{path}: expected kind 'published' of schema {PUBLISHED_SCHEMA}")
            return [PublishedReference(**ref) for ref in data["references"]]
        except (KeyError, TypeError) as error:
            raise BaselineError(f"{path}: corrupt published references ({error}); restore it from git") from error
