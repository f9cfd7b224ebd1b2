"""What a task is, as data: its columns, labels, metrics and evaluation splits.

A :class:`TaskSpec` is frozen and validated when it is built, so a task that cannot work (three label
names for two labels, a text column called ``idx``) fails where it is written, with the field and
the values it may take, and never halfway through a fine-tune. It holds no behaviour: readers,
metrics and the training loop look a task up and act on what it says.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.names import path_name_problem

# Every dataset the harness builds numbers its rows in this column, as the Hub's GLUE does.
ROW_INDEX_COLUMN = "idx"


class TaskError(ValueError):
    """A task was described or asked for in a way that cannot work; the message names the field and the fix."""


@dataclass(frozen=True, kw_only=True)
class TaskSpec:
    """One task: what the model reads, what it predicts, how it is scored and on which splits.

    ``num_labels`` is the number of classes, or 1 for a regression task whose label is a float
    (the Trainer's convention: one output, mean-squared-error loss). Sequences may be given as
    lists; they are stored as tuples so the spec stays hashable and immutable.

    >>> spec = TaskSpec(name="my-sentiment", text_columns=["review"], num_labels=2,
    ...                 label_names=["bad", "good"], metrics=["accuracy"])
    >>> spec.text_columns, spec.evaluation_splits, spec.is_regression
    (('review',), ('validation',), False)
    >>> TaskSpec(name="x", text_columns=("a",), num_labels=2, label_names=("no",), metrics=("accuracy",))
    Traceback (most recent call last):
    ...
    harness.tasks.spec.TaskError: task 'x': label_names must name each of the 2 labels in label-id order, got 1 name: ('no',)
    """

    name: str
    text_columns: tuple[str, ...]
    num_labels: int
    label_names: tuple[str, ...]
    metrics: tuple[str, ...]
    evaluation_splits: tuple[str, ...] = ("validation",)
    label_column: str = "label"
    hub: tuple[str, str | None] | None = None
    description: str = ""

    def __post_init__(self) -> None:
        _check_name(self.name)
        for field in ("text_columns", "label_names", "metrics", "evaluation_splits"):
            object.__setattr__(self, field, _as_tuple(self.name, field, getattr(self, field)))
        if self.hub is not None:
            object.__setattr__(self, "hub", _as_tuple(self.name, "hub", self.hub))
        self._check_columns()
        self._check_labels()
        self._check_metrics()
        self._check_splits()
        self._check_hub()
        if not isinstance(self.description, str):
            raise self._error(f"description must be a string, got {type(self.description).__name__}")

    @property
    def is_regression(self) -> bool:
        """True when the label is one float (``num_labels == 1``) rather than a class id."""
        return self.num_labels == 1

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain JSON data (lists for tuples); ``TaskSpec(**spec.to_dict())`` rebuilds it.

        This is how a task that is not a built-in travels in a run's identity and to DDP workers.

        >>> spec = TaskSpec(name="t", text_columns=("text",), num_labels=1, label_names=(), metrics=("pearson",))
        >>> TaskSpec(**spec.to_dict()) == spec
        True
        """
        return {
            "name": self.name,
            "text_columns": list(self.text_columns),
            "num_labels": self.num_labels,
            "label_names": list(self.label_names),
            "metrics": list(self.metrics),
            "evaluation_splits": list(self.evaluation_splits),
            "label_column": self.label_column,
            "hub": None if self.hub is None else list(self.hub),
            "description": self.description,
        }

    def _error(self, message: str) -> TaskError:
        return TaskError(f"task {self.name!r}: {message}")

    def _check_columns(self) -> None:
        columns = self.text_columns
        if not 1 <= len(columns) <= 2:
            raise self._error(
                f"text_columns must name 1 column (a single text) or 2 (a pair), got {len(columns)}: {columns}"
            )
        _check_strings(self, "text_columns", columns)
        if len(set(columns)) != len(columns):
            raise self._error(f"text_columns must be two different columns, got {columns}")
        if not isinstance(self.label_column, str) or not self.label_column:
            raise self._error(f"label_column must be a non-empty column name, got {self.label_column!r}")
        if self.label_column in columns:
            raise self._error(f"label_column {self.label_column!r} is also a text column; the label needs its own column")
        for name in (*columns, self.label_column):
            if name == ROW_INDEX_COLUMN:
                raise self._error(
                    f"{ROW_INDEX_COLUMN!r} cannot be a text or label column: every dataset numbers its rows in "
                    f"{ROW_INDEX_COLUMN!r}; rename the column"
                )

    def _check_labels(self) -> None:
        if isinstance(self.num_labels, bool) or not isinstance(self.num_labels, int) or self.num_labels < 1:
            raise self._error(
                f"num_labels must be an integer >= 2 for classification or 1 for regression, got {self.num_labels!r}"
            )
        if self.is_regression:
            if self.label_names:
                raise self._error(
                    f"a regression task (num_labels=1) has a float label and no classes, so label_names must be (), "
                    f"got {self.label_names}"
                )
            return
        if len(self.label_names) != self.num_labels:
            count = len(self.label_names)
            raise self._error(
                f"label_names must name each of the {self.num_labels} labels in label-id order, got {count} "
                f"name{'' if count == 1 else 's'}: {self.label_names}"
            )
        _check_strings(self, "label_names", self.label_names)
        if len(set(self.label_names)) != len(self.label_names):
            raise self._error(f"label_names must be distinct, got {self.label_names}")

    def _check_metrics(self) -> None:
        # Which names exist is the metric registry's business; here a name only has to be a name.
        if not self.metrics:
            raise self._error("metrics must name at least one metric, e.g. ('accuracy',)")
        _check_strings(self, "metrics", self.metrics)
        if len(set(self.metrics)) != len(self.metrics):
            raise self._error(f"metrics must not repeat a name, got {self.metrics}")

    def _check_splits(self) -> None:
        if not self.evaluation_splits:
            raise self._error("evaluation_splits must name at least one split, e.g. ('validation',)")
        _check_strings(self, "evaluation_splits", self.evaluation_splits)
        if len(set(self.evaluation_splits)) != len(self.evaluation_splits):
            raise self._error(f"evaluation_splits must not repeat a split, got {self.evaluation_splits}")
        for split in self.evaluation_splits:
            problem = path_name_problem(split, example="validation")
            if problem:  # a split's name is part of its baseline's file name
                raise self._error(f"evaluation split {problem}")
        if "train" in self.evaluation_splits:
            raise self._error("evaluation_splits must not include 'train': a model is not evaluated on what it was trained on")

    def _check_hub(self) -> None:
        if self.hub is None:
            return
        path, config = self.hub if len(self.hub) == 2 else (None, None)
        if not isinstance(path, str) or not path or not (config is None or (isinstance(config, str) and config)):
            raise self._error(
                f"hub must be None or a (path, config) pair such as ('nyu-mll/glue', 'mrpc') (config may be None), "
                f"got {self.hub!r}"
            )


def _check_name(name: Any) -> None:
    problem = path_name_problem(name, example="my-task")
    if problem:
        raise TaskError(f"task name {problem}")


def _as_tuple(task: str, field: str, value: Any) -> tuple:
    # A bare string is a sequence of characters: ("sentence") instead of ("sentence",) would
    # otherwise pass as eight one-letter columns.
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise TaskError(
            f"task {task!r}: {field} must be a tuple (or list), got {value!r}"
            + (f"; for one item write ({value!r},)" if isinstance(value, str) else "")
        )
    return tuple(value)


def _check_strings(spec: TaskSpec, field: str, values: tuple) -> None:
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise spec._error(f"{field} must hold non-empty strings, got {value!r} in {values}")
