"""A project's own metrics, declared in its ``pyproject.toml`` and gated like the built-ins.

::

    [tool.harness.metrics.error_rate]
    function = "my_metrics:error_rate"   # module:callable, fn(predictions, references) -> float
    better = "lower"                     # "higher" or "lower": which way the gate calls better
    kind = "label"                       # "label": predicted classes; "score": real-valued outputs
    applies_to = "classification"        # optional: classification, binary, regression or any
    bounds = [0.0, 1.0]                  # optional: the values it can take (inf for an open end)
    description = "fraction of rows predicted wrongly"

The module is imported from the folder holding ``pyproject.toml`` (or anywhere on ``sys.path``), so
a metric lives beside the project that gates it. A task then lists the metric by name in its
``metrics``; the gate reads its direction, the baselines check their values against its bounds.
"""

from __future__ import annotations

import importlib
import math
import sys
from pathlib import Path
from typing import Any

from harness.run.config import ConfigError
from harness.tasks.metrics import APPLIES_TO, DIRECTIONS, KINDS, MetricFunction, MetricRegistry, MetricSpec

METRIC_KEYS = ("function", "better", "kind", "applies_to", "bounds", "description")
# The keys whose value is one of a few words, and those words.
_CHOICES = {"better": DIRECTIONS, "kind": KINDS, "applies_to": APPLIES_TO}


def metric_from_table(name: str, table: Any, where: str, *, root: Path, taken: MetricRegistry) -> MetricSpec:
    """A :class:`~harness.tasks.metrics.MetricSpec` (with its function) from its TOML table; every
    mistake is a ConfigError naming ``where``, the key and the fix."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table: {', '.join(METRIC_KEYS)}")
    unknown = sorted(set(table) - set(METRIC_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; valid keys: {', '.join(METRIC_KEYS)}")
    if name in taken:
        raise ConfigError(f"{where}: {name!r} is already a metric (known metrics: {', '.join(taken.names())}); give "
                          "yours another name")
    for key in ("function", "better"):
        if key not in table:
            raise ConfigError(f"{where}: `{key}` is required ({_REQUIRED[key]})")
    for key, choices in _CHOICES.items():
        if key in table and table[key] not in choices:
            raise ConfigError(f"{where}: {key} must be one of {', '.join(map(repr, choices))}, got {table[key]!r}")
    if not isinstance(table.get("description", ""), str):
        raise ConfigError(f"{where}: description must be a string, got {table['description']!r}")
    try:
        return MetricSpec(name, table["better"], table.get("kind", "label"), table.get("description", ""),
                          table.get("applies_to"), _bounds(table.get("bounds"), where),
                          function=_import_function(table["function"], root, where))
    except ValueError as error:
        raise ConfigError(f"{where}: {error}") from error


_REQUIRED = {
    "function": 'the callable that computes it, as "package.module:callable", importable from the project folder',
    "better": 'which way is better: "higher" or "lower"',
}


def _bounds(value: Any, where: str) -> tuple[float | None, float | None]:
    """``[low, high]`` as the spec's bounds, an infinite end open (None); absent: open at both ends."""
    if value is None:
        return (None, None)
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(end, (int, float)) and not isinstance(end, bool) and not math.isnan(end) for end in value)):
        raise ConfigError(f"{where}: bounds must be [low, high], two numbers (inf or -inf for an open end), got {value!r}")
    low, high = value
    return (None if math.isinf(low) else float(low), None if math.isinf(high) else float(high))


def _import_function(path: Any, root: Path, where: str) -> MetricFunction:
    """The callable ``"package.module:callable"`` names, imported with ``root`` on the import path."""
    module_name, _, attribute = path.partition(":") if isinstance(path, str) else ("", "", "")
    if not module_name or not attribute:
        raise ConfigError(f"{where}: function must be \"package.module:callable\" (e.g. \"my_metrics:error_rate\"), "
                          f"got {path!r}")
    module = _import_module(module_name, root, where)
    function: Any = module
    for part in attribute.split("."):
        function = getattr(function, part, None)
    if not callable(function):
        found = "nothing" if function is None else type(function).__name__
        raise ConfigError(f"{where}: function {path!r}: module {module_name!r} has no callable {attribute!r} (found "
                          f"{found}); define def {attribute.split('.')[-1]}(predictions, references) -> float there")
    return function


def _import_module(name: str, root: Path, where: str) -> Any:
    """Import ``name`` from ``root`` (added to ``sys.path`` while importing, when not already on it)."""
    added = str(root) not in sys.path
    if added:
        sys.path.insert(0, str(root))
    try:
        return importlib.import_module(name)
    except Exception as error:  # an import runs the module's code: any failure is the module's to fix
        raise ConfigError(f"{where}: function: cannot import module {name!r} from {root} ({type(error).__name__}: "
                          f"{error}); put {name.replace('.', '/')}.py in the project folder, or install it") from error
    finally:
        if added:
            sys.path.remove(str(root))

