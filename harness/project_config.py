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

A typo must not silently fall back to a default: an unknown key or a value of the wrong kind is an
error that names the valid keys or the valid range, before anything trains.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from harness.quality.baselines import DIRECTIONS
from harness.config import ConfigError, RecipeRegistry, builtin_recipes
from harness.quality.gate import GatePolicy

GATE_KEYS = {"procedure": str, "alpha": float, "power": float, "max_runs": int, "metrics": list, "sigmas": float,
             "floor": float, "effects": dict, "margins": dict}


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


def _gate_section(pyproject: Path) -> dict[str, Any]:
    return _harness_section(pyproject, "gate")


HARNESS_SECTIONS = ("gate", "recipes")


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
            if metric not in DIRECTIONS:
                raise ConfigError(f"{where}: unknown metric {metric!r}; valid: {', '.join(DIRECTIONS)}")
            if not isinstance(number, (int, float)) or isinstance(number, bool) or number < 0:
                raise ConfigError(f"{where}.{metric}: expected a number >= 0 in the metric's units, got {number!r}")
        return {metric: float(number) for metric, number in value.items()}
    expected = {float: "a number", int: "an integer", str: "a string", list: "a list of metric names",
                dict: "a table of metric = number"}[kind]
    raise ConfigError(f"{where}: expected {expected}, got {value!r}")
