"""GLUE MRPC's ``compute_metrics`` by its old names: a thin wrapper over :mod:`harness.tasks.metrics`.

:class:`MrpcMetrics` is :class:`~harness.tasks.metrics.TaskMetrics` for MRPC (accuracy and F1 of
label 1, two labels), so it checks and scores exactly as every task's metrics do: logits as an
array, a tensor (kept in its dtype; bf16 widened to fp32), a model output or a tuple; predictions
``np.argmax(logits, axis=-1)``, so a tie goes to label 0 ("not_equivalent"); and F1 on rows with no
positive label raises :class:`~harness.tasks.metrics.MetricUndefinedError` instead of reporting 0.0.
``evaluate.load(MRPC_METRIC_PATH, config_name="mrpc")`` loads the same metric as an ``evaluate``
module, offline: GLUE's own metric module (every config), so MRPC is scored by the one reproduction
of GLUE's script the tasks use.
"""

from __future__ import annotations

from typing import Any

from harness.tasks.glue import MRPC
from harness.tasks.metrics import GLUE_METRIC_PATH, MetricInputError, TaskMetrics

MRPC_METRIC_PATH = GLUE_METRIC_PATH

__all__ = ["MRPC_METRIC_PATH", "MetricInputError", "MrpcMetrics", "compute_metrics"]


class MrpcMetrics(TaskMetrics):
    """A Trainer ``compute_metrics`` for MRPC: ``{"accuracy": ..., "f1": ...}``."""

    def __init__(self) -> None:
        super().__init__(MRPC.metrics, num_labels=MRPC.num_labels)


def compute_metrics(eval_pred: Any) -> dict[str, float]:
    """MRPC's accuracy and F1 of ``(logits, labels)`` or an ``EvalPrediction``.

    >>> import numpy as np
    >>> compute_metrics((np.array([[0.1, 2.0], [3.0, -1.0]]), np.array([1, 1])))
    {'accuracy': 0.5, 'f1': 0.6666666666666666}
    >>> import evaluate
    >>> evaluate.load(MRPC_METRIC_PATH, config_name="mrpc").compute(predictions=[1, 0], references=[1, 1])
    {'accuracy': 0.5, 'f1': 0.6666666666666666}
    """
    return MrpcMetrics()(eval_pred)
