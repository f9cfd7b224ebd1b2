"""harness: fine-tune Hugging Face models with the Trainer, and catch regressions in quality and speed.

The verbs and the types they take and return, importable from here::

    from harness import RunConfig, BaselineStore, fine_tune, perform_quality_check, record_baseline

    config = RunConfig.from_recipe("smoke", data_dir="tests/data/mrpc-smoke", device="cpu")
    result = fine_tune(config)                                   # a RunResult: metrics, provenance, throughput
    baseline = record_baseline(config, fine_tune, seeds=5)       # a MeasuredBaseline of seeds 42-46
    BaselineStore("baselines").save(baseline)
    outcome = perform_quality_check(config, fine_tune=fine_tune, store=BaselineStore("baselines"))
    print(outcome.report.table())                                # metric, baseline, measured, band, verdict

Names are imported on first use (``import harness`` does not import torch, transformers or
datasets), so the package stays cheap to import for the CLI and the pytest plugin.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> the module that defines it. One place, so a module that moves changes one line.
_EXPORTS = {
    # verbs
    "fine_tune": "harness.run.training",
    "record_baseline": "harness.quality.regression",
    "perform_quality_check": "harness.quality.regression",
    "check_run": "harness.quality.gate",
    "resolve_model": "harness.run.models",
    # a run: what it is, and what it gives back
    "RECIPES": "harness.run.config",
    "Recipe": "harness.run.config",
    "RunConfig": "harness.run.config",
    "TaskSpec": "harness.tasks.spec",
    "RunResult": "harness.run.result",
    "TrainingThroughput": "harness.run.result",
    "DataSource": "harness.run.data",
    "MrpcSource": "harness.run.data",
    "TaskMetrics": "harness.tasks.metrics",
    "MetricSpec": "harness.tasks.metrics",
    "MetricRegistry": "harness.tasks.metrics",
    "ResolvedModel": "harness.run.models",
    "Settings": "harness.settings",
    # the gate and its baselines
    "GatePolicy": "harness.quality.gate",
    "GateReport": "harness.quality.gate",
    "QualityOutcome": "harness.quality.regression",
    "MeasuredBaseline": "harness.quality.baselines",
    "BaselineStore": "harness.quality.baselines",
    "HarnessSession": "harness.session",
    # errors a user can meet, each naming the fix
    "ConfigError": "harness.run.config",
    "DataError": "harness.run.data",
    "ModelError": "harness.run.models",
    "TaskError": "harness.tasks.spec",
    "BaselineError": "harness.quality.baselines",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:  # an AttributeError lets `from harness import run` import the sub-package
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from harness.run.config import RECIPES, ConfigError, Recipe, RunConfig
    from harness.run.data import DataError, DataSource, MrpcSource
    from harness.run.models import ModelError, ResolvedModel, resolve_model
    from harness.quality.baselines import BaselineError, BaselineStore, MeasuredBaseline
    from harness.quality.gate import GatePolicy, GateReport, check_run
    from harness.quality.regression import QualityOutcome, perform_quality_check, record_baseline
    from harness.run.result import RunResult, TrainingThroughput
    from harness.session import HarnessSession
    from harness.settings import Settings
    from harness.tasks.metrics import MetricRegistry, MetricSpec, TaskMetrics
    from harness.tasks.spec import TaskError, TaskSpec
    from harness.run.training import fine_tune
