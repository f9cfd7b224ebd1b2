"""Cases: the fine-tunes a project gates, declared as data in its ``pyproject.toml``.

A case names what to fine-tune and how it is judged: a task (a name, or the task's fields inline),
its data (a GLUE folder or files with a column mapping; paths relative to the ``pyproject.toml``),
a model, a recipe and the recipe fields it changes, and the gate's metrics, effects and margins::

    [tool.harness.cases.reviews]
    task = "reviews"                                  # or task = { text_columns = [...], label_names = [...], metrics = [...] }
    data_files = { train = "data/train.csv", validation = "data/dev.csv" }
    columns = { text = "review", label = "verdict" }  # task column = column in the files
    recipe = "smoke"
    model = "arch:bert-tiny"                          # default: the recipe's; a folder is relative to pyproject.toml
    overrides = { epochs = 3.0, training_args = { lr_scheduler_type = "cosine" } }
    metrics = ["accuracy"]                            # default: the task's
    margins = { accuracy = 0.01 }

Each case is its own recipe, named after the case (the base recipe with the case's overrides), so
each case has its own baseline file (``<task>--<case>--<model>--<split>--<device>-<precision>``)
and two cases on one recipe never share one (which is why a case's name keeps to the rule in
:mod:`harness.names`). ``pytest benchmarks`` gates each case against it (the plugin parametrizes the
``harness_case`` fixture over the project's cases), ``harness cases`` lists them and
``harness record-baseline --case NAME`` records one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.run.config import ConfigError, Recipe, RecipeRegistry, refuse_unknown_keys
from harness.run.models import ModelError, local_model_dir
from harness.names import path_name_problem
from harness.quality.gate import GatePolicy
from harness.registry import Registry
from harness.tasks.registry import TaskRegistry
from harness.tasks.metrics import MetricRegistry, TaskMetrics
from harness.tasks.spec import TaskError, TaskSpec

CASE_KEYS = ("task", "recipe", "model", "data_dir", "data_files", "columns", "overrides", "metrics", "effects", "margins",
             "description")


@dataclass(frozen=True)
class Case:
    """One declared fine-tune and how its gate judges it; :meth:`config_changes` and :meth:`policy` give both."""

    name: str
    task: TaskSpec
    recipe: Recipe  # the base recipe with the case's overrides, named after the case
    base_recipe: str = ""
    overrides: tuple[tuple[str, Any], ...] = ()
    model: str | None = None
    data_dir: Path | None = None
    data_files: tuple[tuple[str, Path], ...] = ()
    columns: tuple[tuple[str, str], ...] = ()
    metrics: tuple[str, ...] = ()
    effects: tuple[tuple[str, float], ...] = ()
    margins: tuple[tuple[str, float], ...] = ()
    description: str = ""
    model_root: Path | None = None  # the folder a relative model folder is read from (pyproject.toml's)

    def __post_init__(self) -> None:
        problem = path_name_problem(self.name)
        if problem:
            raise ConfigError(f"case name {problem}")
        if len(set(self.metrics)) != len(self.metrics):
            raise ConfigError(f"case {self.name!r}: metrics {list(self.metrics)} repeat a metric; name each once "
                              "(the gate's false-alarm rate is split over them)")

    def config_changes(self) -> dict[str, Any]:
        """The :meth:`harness.session.HarnessSession.config` keywords that build this case's run: every
        data key it was given, so RunConfig refuses a combination that cannot work rather than one being dropped."""
        changes: dict[str, Any] = {"task": self.task}
        if self.model is not None:
            changes["model"] = self.model
            if self.model_root is not None:
                changes["model_root"] = self.model_root
        if self.data_files:
            changes["data_files"] = self.data_files
        if self.columns:
            changes["columns"] = self.columns
        if self.data_dir is not None:
            changes["data_dir"] = self.data_dir
        return changes

    def policy(self, base: GatePolicy) -> GatePolicy:
        """``base`` (the project's gate) with this case's metrics, effects and margins on top, resolved for its task."""
        changes: dict[str, Any] = {}
        if self.metrics:
            changes["metrics"] = self.metrics
        for field in ("effects", "margins"):
            if getattr(self, field):
                changes[field] = tuple(sorted({**dict(getattr(base, field)), **dict(getattr(self, field))}.items()))
        try:
            return dataclasses.replace(base, **changes).for_task(self.task)
        except ConfigError as error:
            raise ConfigError(f"case {self.name!r}: {error}") from error

    def __str__(self) -> str:
        return self.name


class CaseRegistry(Registry[Case]):
    """A project's cases by name, in the order its ``pyproject.toml`` declares them (a :class:`harness.registry.Registry`)."""

    kind = "case"
    item_type = Case
    error = ConfigError
    path_names = True
    hint = " (declare one under [tool.harness.cases.NAME] in pyproject.toml)"


def build_case(name: str, table: Mapping[str, Any], *, tasks: TaskRegistry, recipes: RecipeRegistry, root: Path,
               where: str, metrics: MetricRegistry | None = None) -> Case:
    """A :class:`Case` from its table in ``pyproject.toml``; every mistake names the key and the fix.

    ``root`` is the folder relative paths are read from (the one holding ``pyproject.toml``): the
    data's and the model's (see :func:`harness.run.models.local_model_dir`). An inline task's metrics are
    found in ``metrics`` (default: the built-ins).
    """
    _check_case_name(name, table, recipes, where)
    task = _task(name, table.get("task"), tasks, where, metrics)
    base, overrides, recipe = _case_recipe(name, table, recipes, where)
    data_dir, data_files, columns = _case_data(table, root, where)
    metrics = _metric_names(table, where)
    model = _model(root, table.get("model"), where)
    return Case(
        name=name,
        task=task,
        recipe=recipe,
        base_recipe=base,
        overrides=tuple(overrides.items()),
        model=model,
        data_dir=None if data_dir is None else _path(root, data_dir, where, "data_dir"),
        data_files=tuple(data_files.items()),
        columns=tuple(columns.items()),
        metrics=tuple(metrics),
        effects=_numbers(table, "effects", where),
        margins=_numbers(table, "margins", where),
        description=str(table.get("description") or ""),
        model_root=None if model is None else root,
    )


def _check_case_name(name: str, table: Mapping[str, Any], recipes: RecipeRegistry, where: str) -> None:
    """Reject a case whose name cannot name its files, whose table has a key the harness does not
    read (a typo would be silently ignored), or whose name is already a recipe's (the case becomes
    a recipe of that name)."""
    problem = path_name_problem(name)
    if problem:  # first: the name becomes the case's recipe, baseline file and run folders
        raise ConfigError(f"{where}: case name {problem}")
    refuse_unknown_keys(table, CASE_KEYS, where)
    if name in recipes:
        raise ConfigError(f"{where}: a case is a recipe of its own, named after it, and {name!r} is already a recipe; "
                          f"rename the case (recipes: {', '.join(recipes.names())})")


def _case_recipe(name: str, table: Mapping[str, Any], recipes: RecipeRegistry,
                 where: str) -> tuple[str, dict[str, Any], Recipe]:
    """The case's base recipe name, its overrides, and the recipe of the case's own name they make:
    an override that is no Recipe field, or a value the recipe rejects, names the key and the fix."""
    base = table.get("recipe")
    if not isinstance(base, str):
        raise ConfigError(f"{where}: `recipe` (the recipe it fine-tunes with) is required; known recipes: "
                          f"{', '.join(recipes.names())}")
    overrides = _table(table, "overrides", where)
    try:
        recipe = dataclasses.replace(recipes.get(base), name=name,
                                     description=str(table.get("description") or f"case {name}: {base} with {overrides or 'no changes'}"),
                                     **overrides)
    except TypeError as error:
        fields = sorted(f.name for f in dataclasses.fields(Recipe) if f.name not in ("name", "description"))
        raise ConfigError(f"{where}: overrides: {error}; valid fields: {', '.join(fields)}") from error
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from error
    return base, overrides, recipe


def _case_data(table: Mapping[str, Any], root: Path, where: str) -> tuple[Any, dict[str, Path], dict[str, Any]]:
    """The case's data_dir (as written), data_files (resolved from ``root``) and columns: one way to
    give the data, not both, and a column mapping only for files, since a GLUE folder has its own."""
    data_files = {split: _path(root, path, where, f"data_files.{split}") for split, path in _table(table, "data_files", where).items()}
    columns = _table(table, "columns", where)
    data_dir = table.get("data_dir")
    if data_dir is not None and data_files:
        raise ConfigError(f"{where}: give the data as a GLUE folder (data_dir) or as files (data_files), not both")
    if columns and not data_files:
        raise ConfigError(f"{where}: columns maps the task's columns onto the columns of your data_files; a data_dir "
                          "is a GLUE folder, read with the task's own columns: drop columns, or give data_files")
    return data_dir, data_files, columns


def _metric_names(table: Mapping[str, Any], where: str) -> list[str]:
    """The metrics the case gates on: a list of names, each once, since the gate's false-alarm rate
    is split over them and a repeat would spend it twice."""
    metrics = table.get("metrics", [])
    if not isinstance(metrics, list) or not all(isinstance(metric, str) for metric in metrics):
        raise ConfigError(f"{where}: metrics must be a list of metric names, e.g. [\"accuracy\"], got {metrics!r}")
    if len(set(metrics)) != len(metrics):
        raise ConfigError(f"{where}: metrics {metrics} repeat a metric; name each once (the gate's false-alarm rate "
                          "is split over them)")
    return metrics


def _task(case: str, value: Any, tasks: TaskRegistry, where: str, metrics: MetricRegistry | None) -> TaskSpec:
    if isinstance(value, str):
        try:
            return tasks.get(value)
        except ValueError as error:
            raise ConfigError(f"{where}: {error}") from None
    if isinstance(value, dict):
        return task_from_table(case, value, f"{where}.task", taken=tasks, metrics=metrics)
    raise ConfigError(f"{where}: `task` is required: a task's name ({', '.join(tasks.names())}) or an inline table of "
                      "its fields (text_columns, label_names, metrics)")


def _table(table: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = table.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: {key} must be a table (key = value, ...), got {value!r}")
    return dict(value)


def _numbers(table: Mapping[str, Any], key: str, where: str) -> tuple[tuple[str, float], ...]:
    values = _table(table, key, where)
    for metric, number in values.items():
        if isinstance(number, bool) or not isinstance(number, (int, float)) or number < 0:
            raise ConfigError(f"{where}: {key}.{metric} must be a number >= 0 in the metric's units, got {number!r}")
    return tuple(sorted((metric, float(number)) for metric, number in values.items()))


def _model(root: Path, value: Any, where: str) -> str | None:
    """The case's model spec, a folder resolved from ``root`` as its data is; see :func:`harness.run.models.local_model_dir`."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: model must be a model spec (a Hub id, a folder relative to {root}, 'minilm' or "
                          f"'arch:NAME'), got {value!r}")
    try:
        local_model_dir(value.strip(), root)  # a spec that can only be a path must name a folder that is there
    except ModelError as error:
        raise ConfigError(f"{where}: model: {error}") from None
    return value  # as written: the folder is read from root (RunConfig.model_root), and the spec names the baseline


def _path(root: Path, value: Any, where: str, key: str) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: {key} must be a path (relative to {root}), got {value!r}")
    path = Path(value).expanduser()
    return path if path.is_absolute() else root / path


def describe_recipe(case: Case) -> str:
    """``smoke`` or ``smoke + epochs=1.0``: the case's base recipe and what it changes, for listings."""
    return " + ".join([case.base_recipe, *(f"{field}={value}" for field, value in case.overrides)])


# The fields of a task declared in pyproject.toml, by table ([tool.harness.tasks.NAME]) or inline in a case.
TASK_KEYS = ("text_columns", "label_names", "num_labels", "metrics", "evaluation_splits", "label_column", "description")


def task_from_table(name: str, table: Any, where: str, *, taken: TaskRegistry,
                    metrics: MetricRegistry | None = None) -> TaskSpec:
    """A task from a TOML table of :class:`~harness.tasks.spec.TaskSpec` fields.

    ``num_labels`` defaults to the number of ``label_names``; a regression task sets
    ``num_labels = 1`` and no names. Metrics are checked against the metric registry ``metrics``
    (default: the built-ins) for the task's number of labels here, so ``f1`` on a three-class task
    fails when the file is read.
    """
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table of the task's fields: {', '.join(TASK_KEYS)}")
    refuse_unknown_keys(table, TASK_KEYS, where)
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
        TaskMetrics(spec.metrics, num_labels=spec.num_labels, registry=metrics)  # each metric known, and able to score this task
    except (TaskError, ValueError, TypeError, KeyError) as error:
        raise ConfigError(f"{where}: {error}") from error
    return spec
