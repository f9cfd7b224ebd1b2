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

import math
from pathlib import Path
from typing import Any

from harness.run.config import ConfigError, refuse_unknown_keys
from harness.tasks.metrics import APPLIES_TO, DIRECTIONS, KINDS, MetricRegistry, MetricSpec, import_source

METRIC_KEYS = ("function", "better", "kind", "applies_to", "bounds", "description")
# The keys whose value is one of a few words, and those words.
_CHOICES = {"better": DIRECTIONS, "kind": KINDS, "applies_to": APPLIES_TO}


def metric_from_table(name: str, table: Any, where: str, *, root: Path, taken: MetricRegistry) -> MetricSpec:
    """A :class:`~harness.tasks.metrics.MetricSpec` (with its function) from its TOML table; every
    mistake is a ConfigError naming ``where``, the key and the fix."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table: {', '.join(METRIC_KEYS)}")
    refuse_unknown_keys(table, METRIC_KEYS, where)
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
        function, sha256 = import_source(table["function"], root)
        return MetricSpec(name, table["better"], table.get("kind", "label"), table.get("description", ""),
                          table.get("applies_to"), _bounds(table.get("bounds"), where), function=function,
                          source=table["function"], source_sha256=sha256)
    except ConfigError:
        raise
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
