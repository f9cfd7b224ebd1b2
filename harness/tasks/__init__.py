"""Tasks: what a fine-tune reads, predicts and is scored on, described as data and found by name.

A task is a frozen, validated :class:`~harness.tasks.spec.TaskSpec` (columns, labels, metric names,
evaluation splits, Hub source); a :class:`~harness.tasks.registry.TaskRegistry` holds specs by name,
and :func:`~harness.tasks.registry.builtin_tasks` gives a fresh one with the nine GLUE tasks
(:mod:`~harness.tasks.glue`). :mod:`~harness.tasks.glue_files` reads a task from a local folder in
GLUE's own file formats into a ``DatasetDict`` with the Hub's schema (``read_glue_folder``, with
``glue_files`` for the file names and ``fingerprint`` for their sha256);
:mod:`~harness.tasks.user_files` reads it from a user's CSV, JSON or Parquet files with a column
mapping (``read_user_files``), and both raise :class:`~harness.tasks.text_files.DataError` naming the
file, the row and the fix. :mod:`~harness.tasks.metrics` computes every task's metrics (a registry
with each metric's direction, and ``TaskMetrics`` for the Trainer), and
:mod:`~harness.tasks.bootstrap` their confidence intervals.
"""

from harness.tasks.glue import GLUE_TASKS
from harness.tasks.glue_files import read_glue_folder
from harness.tasks.registry import TaskRegistry, builtin_tasks
from harness.tasks.spec import TaskError, TaskSpec

__all__ = ["GLUE_TASKS", "TaskError", "TaskRegistry", "TaskSpec", "builtin_tasks", "read_glue_folder"]
