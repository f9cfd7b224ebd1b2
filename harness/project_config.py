"""What a team says about its gate in its own ``pyproject.toml``, read and validated in one place.

The file is parsed once into a :class:`HarnessTable`; each ``read_*`` takes that (or a path, parsed
then). The project-wide settings (``device = "auto"``, ``baselines_dir``, ...) are resolved with the
command line and the environment by :class:`harness.project.Project`.

    [tool.harness.gate]
    procedure = "auto"        # "auto" or "sequential" (the sequential gate), or "band" (one run, by name only)
    alpha = 0.01              # false alarms on an unchanged recipe, at most (all the metrics together)
    power = 0.95              # probability of catching a drop of `effect`
    max_runs = 12             # candidate runs at most ...
    max_runs_limit = 20       # ... unless the rates need more: the cap grows up to this, saying so
    spread_ratio = 1.5        # alpha holds for candidate seed sds 1/1.5 to 1.5 times the baseline's
    guarantee = "average"     # alpha averaged over baselines; "this-baseline": for the committed one, 90% sure
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

    [tool.harness.metrics.error_rate]  # a metric of the team's own, gated like the built-ins
    function = "my_metrics:error_rate"  # module:callable, importable from this file's folder
    better = "lower"                    # which way is better: "higher" or "lower"
    kind = "label"                      # computed from predicted classes ("label") or outputs ("score")
    bounds = [0.0, 1.0]                 # the values it can take (optional; inf for an open end)

    [tool.harness.cases.reviews-smoke]  # a fine-tune the project gates (see harness.cases)
    task = "reviews"
    data_files = { train = "data/train.csv", validation = "data/dev.csv" }
    recipe = "smoke"

A typo must not silently fall back to a default: an unknown key or a value of the wrong kind is an
error that names the valid keys or the valid range, before anything trains.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.cases import CASE_KEYS, CaseRegistry, build_case, task_from_table
from harness.run.config import ConfigError, RecipeRegistry, RunConfig, builtin_recipes, refuse_unknown_keys
from harness.project_metrics import metric_from_table
from harness.quality.gate import GatePolicy
from harness.tasks.metrics import MetricRegistry, builtin_metrics
from harness.tasks.registry import TaskRegistry, builtin_tasks

GATE_KEYS = {"procedure": str, "alpha": float, "power": float, "max_runs": int, "max_runs_limit": int,
             "spread_ratio": float, "variance_prior_runs": float, "guarantee": str, "metrics": list, "sigmas": float,
             "floor": float, "effects": dict, "margins": dict, "bootstrap_samples": int, "confidence": float,
             "reproduction_tolerance": float}


def read_gate_policy(pyproject: Path | HarnessTable, *, metric_registry: MetricRegistry | None = None,
                     **defaults: Any) -> GatePolicy:
    """The gate policy ``[tool.harness.gate]`` in ``pyproject`` describes (``defaults`` under it);
    a missing file or section is the documented defaults. Metric names are those of
    ``metric_registry`` (default: the built-ins plus the file's ``[tool.harness.metrics]``), which
    the policy carries (``defaults`` may hold ``metrics``, the gated metric names, as GatePolicy does)."""
    table = _table(pyproject)
    metrics = read_metrics(table) if metric_registry is None else metric_registry
    section, pyproject = table.section("gate"), table.path
    values: dict[str, Any] = dict(defaults)
    refuse_unknown_keys(section, GATE_KEYS, f"{pyproject}: [tool.harness.gate]")
    for key, value in section.items():
        values[key] = _typed(pyproject, key, value, GATE_KEYS[key], metrics)
    for key in ("effects", "margins"):
        if key in values and isinstance(values[key], dict):
            values[key] = tuple(sorted(values[key].items()))
    if "metrics" in values:
        if len(set(values["metrics"])) != len(values["metrics"]):
            raise ConfigError(f"{pyproject}: [tool.harness.gate] metrics {list(values['metrics'])} repeat a metric; name "
                              "each once (the false-alarm rate alpha is split over them)")
        values["metrics"] = tuple(values["metrics"])
    try:
        return GatePolicy(**values, metric_registry=metrics)
    except ConfigError as error:
        raise ConfigError(f"{pyproject}: [tool.harness.gate]: {error}") from error


def read_recipes(pyproject: Path | HarnessTable) -> RecipeRegistry:
    """The built-in recipes plus the team's ``[tool.harness.recipes.NAME]`` tables, each a ``base``
    recipe with changed fields; a name may not shadow a built-in."""
    recipes, harness = builtin_recipes(), _table(pyproject)
    pyproject = harness.path
    for name, table in harness.section("recipes").items():
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




def read_tasks(pyproject: Path | HarnessTable, *, metrics: MetricRegistry | None = None) -> TaskRegistry:
    """The built-in tasks plus the team's ``[tool.harness.tasks.NAME]`` tables, each a
    :class:`~harness.tasks.spec.TaskSpec`'s fields; a name may not shadow a built-in. A task's
    metrics are those of ``metrics`` (default: the built-ins plus the file's ``[tool.harness.metrics]``)."""
    tasks, harness = builtin_tasks(), _table(pyproject)
    metrics = read_metrics(harness) if metrics is None else metrics
    pyproject = harness.path
    for name, table in harness.section("tasks").items():
        tasks.register(task_from_table(name, table, f"{pyproject}: [tool.harness.tasks.{name}]", taken=tasks,
                                       metrics=metrics))
    return tasks


def read_metrics(pyproject: Path | HarnessTable) -> MetricRegistry:
    """The built-in metrics plus the team's ``[tool.harness.metrics.NAME]`` tables (see
    :func:`harness.project_metrics.metric_from_table`); a name may not shadow a built-in."""
    metrics, harness = builtin_metrics(), _table(pyproject)
    root = harness.path.resolve().parent
    for name, table in harness.section("metrics").items():
        metrics.register(metric_from_table(name, table, f"{harness.path}: [tool.harness.metrics.{name}]", root=root,
                                           taken=metrics))
    return metrics


def read_cases(pyproject: Path | HarnessTable, *, tasks: TaskRegistry | None = None, recipes: RecipeRegistry | None = None,
               metrics: MetricRegistry | None = None) -> CaseRegistry:
    """The project's ``[tool.harness.cases.NAME]``, each checked as far as it can be without its data:
    its task, recipe, overrides, data splits and column mapping, and its gate's metrics."""
    harness = _table(pyproject)
    pyproject = harness.path
    metrics = read_metrics(harness) if metrics is None else metrics
    tasks = read_tasks(harness, metrics=metrics) if tasks is None else tasks
    recipes = read_recipes(harness) if recipes is None else recipes
    cases = []
    for name, table in harness.section("cases").items():
        where = f"{pyproject}: [tool.harness.cases.{name}]"
        if not isinstance(table, dict):
            raise ConfigError(f"{where} must be a table: {', '.join(CASE_KEYS)}")
        case = build_case(name, table, tasks=tasks, recipes=recipes, root=pyproject.resolve().parent, where=where,
                          metrics=metrics)
        try:
            RunConfig(recipe=case.recipe, **case.config_changes())
            case.policy(GatePolicy(metric_registry=metrics))
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from error
        cases.append(case)
    return CaseRegistry(tuple(cases))


HARNESS_SECTIONS = ("gate", "recipes", "metrics", "tasks", "cases")
# [tool.harness] settings of a whole project (see harness.project): each a string.
PROJECT_KEYS = ("data_dir", "cache_dir", "reports_dir", "baselines_dir", "history", "mlflow_tracking_uri", "device",
                "precision")


@dataclass(frozen=True)
class HarnessTable:
    """``[tool.harness]`` of one ``pyproject.toml``, parsed and checked once (an absent file is empty),
    so a session reads the file one time however many sections it needs."""

    path: Path
    table: Mapping[str, Any]

    @classmethod
    def read(cls, pyproject: Path) -> HarnessTable:
        if not pyproject.is_file():
            return cls(pyproject, {})
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"{pyproject}: not valid TOML ({error}); fix the file") from error
        tool = data.get("tool", {})
        if not isinstance(tool, dict):
            raise ConfigError(f"{pyproject}: `tool` must be a table ([tool.harness] lives in it), got {tool!r}")
        harness = tool.get("harness", {})
        if not isinstance(harness, dict):
            raise ConfigError(f"{pyproject}: [tool.harness] must be a table")
        refuse_unknown_keys(harness, (*PROJECT_KEYS, *HARNESS_SECTIONS), f"{pyproject}: [tool.harness]")
        for key in PROJECT_KEYS:
            if key in harness and not (isinstance(harness[key], str) and harness[key]):
                raise ConfigError(f"{pyproject}: [tool.harness] {key}: expected a non-empty string, got {harness[key]!r}")
        for name in HARNESS_SECTIONS:
            if not isinstance(harness.get(name, {}), dict):
                raise ConfigError(f"{pyproject}: [tool.harness.{name}] must be a table")
        return cls(pyproject, harness)

    def section(self, name: str) -> dict[str, Any]:
        return dict(self.table.get(name, {}))

    def top_level(self) -> dict[str, str]:
        """The project settings (:data:`PROJECT_KEYS`) the file sets."""
        return {key: self.table[key] for key in PROJECT_KEYS if key in self.table}


def _table(pyproject: Path | HarnessTable) -> HarnessTable:
    return pyproject if isinstance(pyproject, HarnessTable) else HarnessTable.read(pyproject)


def _is_number(value: Any) -> bool:
    """A TOML integer or float, but not a boolean (Python's bool is an int, TOML's is not)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    """A TOML integer, but not a boolean (Python's bool is an int, TOML's is not)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_name_list(value: Any) -> bool:
    """A TOML array of strings (metric names)."""
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _as_is(where: str, value: Any, metrics: MetricRegistry) -> Any:
    """A value already of the type the gate wants needs no conversion."""
    return value


def _as_float(where: str, value: Any, metrics: MetricRegistry) -> float:
    """A TOML integer where a float is wanted (``1`` for ``1.0``) is the same number."""
    return float(value)


def _metric_table(where: str, value: dict[str, Any], metrics: MetricRegistry) -> dict[str, float]:
    """A table of metric = number: each key must name a metric of ``metrics`` and each value be a
    number >= 0 in that metric's units, or the gate would compare against nothing."""
    for metric, number in value.items():
        if metric not in metrics:
            raise ConfigError(f"{where}: unknown metric {metric!r}; valid: {', '.join(metrics.names())}")
        if not _is_number(number) or number < 0:
            raise ConfigError(f"{where}.{metric}: expected a number >= 0 in the metric's units, got {number!r}")
    return {metric: float(number) for metric, number in value.items()}


# kind -> (accepts the TOML value, converts it (where, value, metrics), what to say when it does not).
_GATE_KINDS: dict[type, tuple[Callable[[Any], bool], Callable[[str, Any, MetricRegistry], Any], str]] = {
    float: (_is_number, _as_float, "a number"),
    int: (_is_integer, _as_is, "an integer"),
    str: (lambda value: isinstance(value, str), _as_is, "a string"),
    list: (_is_name_list, _as_is, "a list of metric names"),
    dict: (lambda value: isinstance(value, dict), _metric_table, "a table of metric = number"),
}


def _typed(pyproject: Path, key: str, value: Any, kind: type, metrics: MetricRegistry) -> Any:
    """One [tool.harness.gate] value, checked against the type the gate wants and converted to it,
    or a ConfigError naming the file and key, so a typo fails at load, not mid-gate."""
    where = f"{pyproject}: [tool.harness.gate] {key}"
    accepts, convert, expected = _GATE_KINDS[kind]
    if accepts(value):
        return convert(where, value, metrics)
    raise ConfigError(f"{where}: expected {expected}, got {value!r}")
