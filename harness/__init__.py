"""harness: fine-tune Hugging Face models with the Trainer, and catch regressions in quality and speed."""

from harness.config import RECIPES, ConfigError, Recipe, RunConfig
from harness.data import DataError, DataSource, MrpcSource, load_mrpc
from harness.metrics import MrpcMetrics, compute_metrics
from harness.models import ModelError, ResolvedModel, resolve_model
from harness.result import RunResult, TrainingThroughput

__version__ = "0.1.0"

__all__ = [
    "RECIPES",
    "ConfigError",
    "DataError",
    "DataSource",
    "ModelError",
    "MrpcMetrics",
    "MrpcSource",
    "Recipe",
    "ResolvedModel",
    "RunConfig",
    "RunResult",
    "TrainingThroughput",
    "compute_metrics",
    "load_mrpc",
    "resolve_model",
]
