"""What a team says about its gate in its own ``pyproject.toml``, read and validated in one place.

    [tool.harness.gate]
    procedure = "auto"        # "auto", "sequential" or "band"
    alpha = 0.01              # false alarms on an unchanged recipe, at most (split over the metrics)
    power = 0.95              # probability of catching a drop of `effect`
    max_runs = 8              # candidate runs at most
    metrics = ["accuracy", "f1"]

    [tool.harness.gate.effects]   # the drop each metric's gate must catch, in the metric's units
    f1 = 0.02

    [tool.harness.gate.margins]   # practical margins: fail only if the metric fell by more than this
    f1 = 0.005                    # half an F1 point

    [tool.harness.recipes.my-recipe]   # a recipe of the team's own: a built-in with changes
    base = "minilm-cpu"
    learning_rate = 5e-5
    training_args = { lr_scheduler_type = "cosine" }   # any other TrainingArguments field

    [tool.harness.tasks.reviews]       # a task of the team's own (a TaskSpec)
    text_columns = ["text"]            # one text, or two for a pair
    label_names = ["bad", "ok", "good"]  # class-id order; leave out (and set num_labels = 1) for a score
    metrics = ["accuracy"]

    [tool.harness.cases.reviews-smoke]  # a fine-tune the project gates (see harness.cases)
    task = "reviews"
    data_files = { train = "data/train.csv", validation = "data/dev.csv" }
    recipe = "smoke"

A typo must not silently fall back to a default: an unknown key or a value of the wrong kind is an
error that names the valid keys or the valid range, before anything trains.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from harness.tasks.metrics import TaskMetrics, builtin_metrics
from harness.cases import CASE_KEYS, CaseRegistry, build_case
from harness.config import ConfigError, RecipeRegistry, RunConfig, builtin_recipes
from harness.quality.gate import GatePolicy
from harness.tasks.registry import TaskRegistry, builtin_tasks
from harness.tasks.spec import TaskError, TaskSpec

GATE_KEYS = {"procedure": str, "alpha": float, "power": float, "max_runs": int, "metrics": list, "sigmas": float,
             "floor": float, "effects": dict, "margins": dict, "bootstrap_samples": int, "confidence": float,
             "reproduction_tolerance": float}


def read_gate_policy(pyproject: Path, **defaults: Any) -> GatePolicy:
    """The gate policy ``[tool.harness.gate]`` in ``pyproject`` describes (``defaults`` under it);
    a missing file or section is the documented defaults."""
    section = _gate_section(pyproject)
    values: dict[str, Any] = dict(defaults)
    for key, value in section.items():
        if key not in GATE_KEYS:
            raise ConfigError(f"{pyproject}: unknown key {key!r} in [tool.harness.gate]; valid keys: {', '.join(GATE_KEYS)}")
        values[key] = _typed(pyproject, key, value, GATE_KEYS[key])
    for key in ("effects", "margins"):
        if key in values and isinstance(values[key], dict):
            values[key] = tuple(sorted(values[key].items()))
    if "metrics" in values:
        if len(set(values["metrics"])) != len(values["metrics"]):
            raise ConfigError(f"{pyproject}: [tool.harness.gate] metrics {list(values['metrics'])} repeat a metric; name "
                              "each once (the false-alarm rate alpha is split over them)")
        values["metrics"] = tuple(values["metrics"])
    try:
        return GatePolicy(**values)
    except ConfigError as error:
        raise ConfigError(f"{pyproject}: [tool.harness.gate]: {error}") from error


def read_recipes(pyproject: Path) -> RecipeRegistry:
    """The built-in recipes plus the team's ``[tool.harness.recipes.NAME]`` tables, each a ``base``
    recipe with changed fields; a name may not shadow a built-in."""
    recipes = builtin_recipes()
    for name, table in _harness_section(pyproject, "recipes").items():
        where = f"{pyproject}: [tool.harness.recipes.{name}]"
        if not isinstance(table, dict):
            raise ConfigError(f"{where} must be a table with a `base` recipe and the fields to change")
        changes = dict(table)
        base = changes.pop("base", None)
        if not isinstance(base, str):
            raise ConfigError(f"{where}: `base` (the recipe it starts from) is required; known recipes: {', '.join(recipes.names())}")
        try:
            recipes.derive(name, base=base, **changes)
        except (ConfigError, TypeError) as error:
            raise ConfigError(f"{where}: {error}") from error
    return recipes


TASK_KEYS = ("text_columns", "label_names", "num_labels", "metrics", "evaluation_splits", "label_column", "description")


def read_tasks(pyproject: Path) -> TaskRegistry:
    """The built-in tasks plus the team's ``[tool.harness.tasks.NAME]`` tables, each a
    :class:`~harness.tasks.spec.TaskSpec`'s fields; a name may not shadow a built-in."""
    tasks = builtin_tasks()
    for name, table in _harness_section(pyproject, "tasks").items():
        tasks.register(task_from_table(name, table, f"{pyproject}: [tool.harness.tasks.{name}]", taken=tasks))
    return tasks


def task_from_table(name: str, table: Any, where: str, *, taken: TaskRegistry) -> TaskSpec:
    """A task from a TOML table of :class:`~harness.tasks.spec.TaskSpec` fields.

    ``num_labels`` defaults to the number of ``label_names``; a regression task sets
    ``num_labels = 1`` and no names. Metrics are checked against the metric registry for the
    task's number of labels here, so ``f1`` on a three-class task fails when the file is read.
    """
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table of the task's fields: {', '.join(TASK_KEYS)}")
    unknown = sorted(set(table) - set(TASK_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; valid keys: {', '.join(TASK_KEYS)}")
    fields = dict(table)
    fields.setdefault("label_names", [])
    if "num_labels" not in fields:
        if not fields["label_names"]:
            raise ConfigError(f"{where}: give label_names (the classes, in class-id order), or num_labels = 1 "
                              "for a regression task whose label is a score")
        fields["num_labels"] = len(fields["label_names"])
    if name in taken:
        raise ConfigError(f"{where}: task {name!r} already exists; give yours another name (tasks: {', '.join(taken.names())})")
    try:
        spec = TaskSpec(name=name, **fields)
        TaskMetrics(spec.metrics, num_labels=spec.num_labels)  # each metric known, and able to score this task
    except (TaskError, ValueError, TypeError, KeyError) as error:
        raise ConfigError(f"{where}: {error}") from error
    return spec


def read_cases(pyproject: Path, *, tasks: TaskRegistry | None = None, recipes: RecipeRegistry | None = None) -> CaseRegistry:
    """The project's ``[tool.harness.cases.NAME]``, each checked as far as it can be without its data:
    its task, recipe, overrides, data splits and column mapping, and its gate's metrics."""
    tasks = read_tasks(pyproject) if tasks is None else tasks
    recipes = read_recipes(pyproject) if recipes is None else recipes
    cases = []
    for name, table in _harness_section(pyproject, "cases").items():
        where = f"{pyproject}: [tool.harness.cases.{name}]"
        if not isinstance(table, dict):
            raise ConfigError(f"{where} must be a table: {', '.join(CASE_KEYS)}")
        case = build_case(name, table, tasks=tasks, recipes=recipes, root=pyproject.resolve().parent, where=where)
        try:
            RunConfig(recipe=case.recipe, **case.config_changes())
            case.policy(GatePolicy())
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from error
        cases.append(case)
    return CaseRegistry(tuple(cases))


def _gate_section(pyproject: Path) -> dict[str, Any]:
    return _harness_section(pyproject, "gate")


HARNESS_SECTIONS = ("gate", "recipes", "tasks", "cases")


def _harness_section(pyproject: Path, name: str) -> dict[str, Any]:
    if not pyproject.is_file():
        return {}
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{pyproject}: not valid TOML ({error}); fix the file") from error
    harness = data.get("tool", {}).get("harness", {})
    if not isinstance(harness, dict):
        raise ConfigError(f"{pyproject}: [tool.harness] must be a table")
    unknown = sorted(set(harness) - set(HARNESS_SECTIONS))
    if unknown:
        raise ConfigError(f"{pyproject}: unknown key(s) {unknown} in [tool.harness]; valid keys: {', '.join(HARNESS_SECTIONS)}")
    section = harness.get(name, {})
    if not isinstance(section, dict):
        raise ConfigError(f"{pyproject}: [tool.harness.{name}] must be a table")
    return section


def _typed(pyproject: Path, key: str, value: Any, kind: type) -> Any:
    where = f"{pyproject}: [tool.harness.gate] {key}"
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is str and isinstance(value, str):
        return value
    if kind is list and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    if kind is dict and isinstance(value, dict):
        for metric, number in value.items():
            if metric not in builtin_metrics():
                raise ConfigError(f"{where}: unknown metric {metric!r}; valid: {', '.join(builtin_metrics().names())}")
            if not isinstance(number, (int, float)) or isinstance(number, bool) or number < 0:
                raise ConfigError(f"{where}.{metric}: expected a number >= 0 in the metric's units, got {number!r}")
        return {metric: float(number) for metric, number in value.items()}
    expected = {float: "a number", int: "an integer", str: "a string", list: "a list of metric names",
                dict: "a table of metric = number"}[kind]
    raise ConfigError(f"{where}: expected {expected}, got {value!r}")
