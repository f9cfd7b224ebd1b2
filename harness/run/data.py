"""A task's splits as a ``datasets.DatasetDict`` with the task's schema, from wherever they are.

Three sources give the same thing, train plus the task's evaluation splits with its text columns,
its label (class ids, or float scores) and ``idx``: a local folder in GLUE's own file formats
(:func:`harness.tasks.glue_files.read_glue_folder`), the user's own files, CSV, JSON or Parquet
(:func:`harness.tasks.user_files.read_user_files`), and the Hub (the task's ``hub`` dataset), the
default for tasks that have one. Whichever it is, the sha256 of what was read travels with every
result and keys the run cache, so two numbers are only compared when they were measured on the
same data.

Before anything trains, each evaluation split is checked against the task's metrics: a split on
which a metric has no value (F1 without a positive example, Matthews correlation of one class, a
correlation of constant scores) is an error naming the split, its file and the fix, instead of a
0.0 that a gate would compare with a baseline as if it were a score. So is a split in which every
row's text is empty.

What loads and may still not measure what it seems to is said once, after loading, with counts
(:func:`data_warnings`): evaluation rows whose texts also appear in train, rows repeated within an
evaluation split, a training split too small to fine-tune on, and the few empty texts that GLUE's
own files hold. Each is a :class:`DataWarning` when the data loads, and travels with the result
(``RunResult.data_warnings``) into the gate's report; none changes the data or its fingerprint.

:class:`MrpcSource` is the same reader for GLUE MRPC (``MrpcSource(data_dir).load()``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from datasets import Dataset, DatasetDict

from harness.checksums import sha256_file, sha256_json
from harness.settings import DATA_DIR_VAR
from harness.tasks.glue import MRPC
from harness.tasks.glue_files import fingerprint as glue_fingerprint
from harness.tasks.glue_files import glue_files, hub_features, read_glue_folder
from harness.tasks.metrics import MetricRegistry, MetricUndefinedError, builtin_metrics
from harness.tasks.spec import TaskError, TaskSpec
from harness.tasks.text_files import DataError
from harness.tasks.user_files import fingerprint as files_fingerprint
from harness.tasks.user_files import read_user_files

if TYPE_CHECKING:
    from harness.run.config import RunConfig

__all__ = ["DataError", "DataSource", "DataWarning", "MrpcSource", "check_evaluation_labels", "check_texts",
           "data_warnings"]

# Fewer training rows than this per class (a regression task counts as two) draw a warning; see
# :func:`data_warnings` for why this many.
SMALL_TRAIN_ROWS_PER_CLASS = 8
# How many row numbers a warning lists before it says "and N more".
_ROWS_SHOWN = 5


class DataWarning(UserWarning):
    """The data loaded, but may not measure what it seems to; the message gives the counts and the fix."""


def _point_at_data(task: TaskSpec) -> str:
    """How to give a task's data, in every place the harness takes it."""
    try:
        folder = f"a local folder with {task.name}'s GLUE files ({', '.join(glue_files(task).values())}): pass data_dir=..., " \
                 f"--harness-data-dir=... (pytest), --data-dir ... (CLI) or set {DATA_DIR_VAR}; or "
    except TaskError:
        folder = ""
    splits = ",".join(f"{split}={split}.csv" for split in ("train", *task.evaluation_splits))
    return f"point the harness at {folder}your own files: data_files=... or --data-files {splits}"


@dataclass(frozen=True, kw_only=True)
class DataSource:
    """Where a task's data comes from: a GLUE folder (``data_dir``), files (``data_files``), else the Hub.

    ``data_files`` holds (split, path) pairs, ``columns`` (task column, file column) pairs; see
    :class:`harness.run.config.RunConfig`, which :meth:`for_config` reads them from. ``metrics`` is the
    registry the task's metrics are found in, to check each evaluation split has a value for them
    (default: the built-ins).
    """

    task: TaskSpec
    data_dir: Path | None = None
    data_files: tuple[tuple[str, Path], ...] = ()
    columns: tuple[tuple[str, str], ...] = ()
    hub_offline: bool = False
    metrics: MetricRegistry | None = field(default=None, compare=False, repr=False)

    @classmethod
    def for_config(cls, config: RunConfig, *, hub_offline: bool = False, metrics: MetricRegistry | None = None) -> DataSource:
        return cls(task=config.task, data_dir=config.data_dir, data_files=config.data_files, columns=config.columns,
                   hub_offline=hub_offline, metrics=metrics)

    def load(self, *, cache_dir: str | Path | None = None) -> DatasetDict:
        """Train and the task's evaluation splits, checked; ``cache_dir`` is where ``datasets`` may
        write while reading user files (default: a temporary folder, removed afterwards)."""
        return self.load_with_warnings(cache_dir=cache_dir)[0]

    def load_with_warnings(self, *, cache_dir: str | Path | None = None) -> tuple[DatasetDict, tuple[str, ...]]:
        """:meth:`load`, and what :func:`data_warnings` says of the splits, each also issued as a :class:`DataWarning`."""
        if self.data_files:
            splits = read_user_files(self.task, dict(self.data_files), columns=dict(self.columns), cache_dir=cache_dir)
        elif self.data_dir is not None:
            splits = read_glue_folder(self.task, self._folder())
        else:
            splits = self._load_from_hub()
        check_texts(self.task, splits, self.where)
        check_evaluation_labels(self.task, splits, self.where, self.metrics)
        found = data_warnings(self.task, splits, self.where)
        for message in found:
            warnings.warn(message, DataWarning, stacklevel=2)
        return splits, found

    def fingerprint(self) -> dict:
        """sha256 of each source file, and one over all of them: results carry this."""
        if self.data_files:
            return files_fingerprint(self.task, dict(self.data_files), dict(self.columns))
        if self.data_dir is not None:
            return glue_fingerprint(self.task, self._folder())
        dataset = self._load_from_hub()
        files = {Path(f["filename"]).name: sha256_file(f["filename"]) for split in dataset for f in dataset[split].cache_files}
        return {"source": f"hub:{self._hub_name()}", "files": files, "sha256": sha256_json(files)}

    def where(self, split: str) -> str:
        """The file (or Hub dataset) a split was read from, for messages."""
        if self.data_files:
            return str(dict(self.data_files)[split])
        if self.data_dir is not None:
            return str(self.data_dir / glue_files(self.task)[split])
        return f"hub:{self._hub_name()} ({split} split)"

    def _folder(self) -> Path:
        assert self.data_dir is not None
        try:
            glue_files(self.task)
        except TaskError as error:
            raise DataError(f"{error}; give task {self.task.name!r}'s files with data_files (--data-files "
                            "train=...,validation=...) instead of a data folder") from None
        if not self.data_dir.is_dir():
            problem = "is a file, not a folder" if self.data_dir.exists() else "does not exist"
            raise DataError(f"data folder {self.data_dir} {problem}; {_point_at_data(self.task)}")
        return self.data_dir

    def _hub_name(self) -> str:
        if self.task.hub is None:
            raise DataError(f"task {self.task.name!r} has no Hub dataset and no data was given; {_point_at_data(self.task)}")
        path, config = self.task.hub
        return f"{path}/{config}" if config else path

    def _load_from_hub(self) -> DatasetDict:
        name = self._hub_name()
        if self.hub_offline:
            raise DataError(f"the Hugging Face Hub is offline (HF_HUB_OFFLINE) and no local data was given; "
                            f"{_point_at_data(self.task)}")
        from datasets import load_dataset

        path, config = self.task.hub
        try:
            dataset = load_dataset(path, config)
        except Exception as error:  # the Hub raises many types for "unreachable"
            raise DataError(f"could not load {name} from the Hub ({error}); {_point_at_data(self.task)}") from error
        splits = ("train", *self.task.evaluation_splits)
        missing = [split for split in splits if split not in dataset]
        if missing:
            raise DataError(f"{name} on the Hub has the splits {list(dataset)}, not {missing}; task {self.task.name!r} "
                            f"needs {list(splits)}: fix its evaluation_splits, or give its files with --data-files")
        features = hub_features(self.task)
        try:
            return DatasetDict({split: dataset[split].select_columns(list(features)).cast(features) for split in splits})
        except (ValueError, KeyError, TypeError) as error:
            raise DataError(f"{name} on the Hub does not have task {self.task.name!r}'s columns and labels "
                            f"({error}); its columns are {dataset[splits[0]].column_names}") from error


def check_evaluation_labels(task: TaskSpec, splits: DatasetDict, where: Callable[[str], str],
                            metrics: MetricRegistry | None = None) -> None:
    """Refuse, before training, an evaluation split on which one of the task's metrics has no value.

    A metric's value on the labels themselves (a perfect prediction) is defined exactly when it is
    defined for any prediction of a metric that needs something of the labels (a positive example,
    two classes, varying scores), so each metric is tried on (labels, labels). ``metrics`` is the
    registry the task's metrics are found in (default: the built-ins).
    """
    metrics = builtin_metrics() if metrics is None else metrics
    for split in task.evaluation_splits:
        labels = np.asarray(splits[split][task.label_column])
        for name in task.metrics:
            if name not in metrics:
                continue  # not the harness's to check: TaskMetrics names it when the Trainer is set up
            try:
                metrics.function(name)(labels, labels)
            except MetricUndefinedError as error:
                raise DataError(
                    f"{where(split)}: task {task.name!r} scores its {split} split with {name}, which has no value on "
                    f"these {len(labels)} rows: {error.reason}. {error.fix}; or declare the task without {name}"
                ) from None


def check_texts(task: TaskSpec, splits: DatasetDict, where: Callable[[str], str]) -> None:
    """Refuse a split in which every row's text (one of a pair's, or the only one) is empty or whitespace.

    The user's files refuse each empty text as they are read; GLUE's folders and the Hub are read as
    published, and GLUE's own files hold a few (QQP's train.tsv has two rows whose question2 is
    empty, huggingface/datasets#277), which :func:`data_warnings` names. A split of nothing but
    empty texts is no such quirk: it is the wrong file or the wrong column.
    """
    for split, dataset in splits.items():
        for column in task.text_columns:
            texts = dataset[column]
            if len(texts) and not any(text.strip() for text in texts):
                raise DataError(
                    f"{where(split)}: every one of the {split} split's {len(texts)} rows has an empty {column!r}; "
                    "is this the right file, and does its text sit in the column the task reads?"
                )


def data_warnings(task: TaskSpec, splits: DatasetDict, where: Callable[[str], str]) -> tuple[str, ...]:
    """What the loaded splits hold that a score would hide, one message each, with counts and the fix.

    - an evaluation split's rows whose texts (a pair's two together) also appear in train: a score
      on them measures recall of training examples, not generalisation;
    - rows of an evaluation split that repeat an earlier row's texts: each copy is scored again, so
      those examples weigh more in every metric (and a copy with another label cannot be right);
    - a training split with fewer than ``SMALL_TRAIN_ROWS_PER_CLASS`` (8) rows per class. Fine-tuning
      on a few dozen examples already varies across seeds by more than most recipe changes (Dodge et
      al. 2020, arXiv:2002.06305; Zhang et al. 2021, arXiv:2006.05987), and Gao et al. 2021
      (arXiv:2012.15723) found plain fine-tuning at 16 examples per class far below, and far noisier
      than, the full sets. Half of that, less than one default Trainer batch (8) per class, is no
      deliberate few-shot study but a truncated file or the wrong one, and a run on it measures its
      seed more than its recipe;
    - empty texts that were read (GLUE's folders and the Hub; the user's files refuse them).

    Texts are compared ignoring case and runs of whitespace, so a copy re-saved by a spreadsheet
    still counts. Rows are numbered from 1 in split order (a file's rows, its header not counted).
    """
    found = _empty_texts(task, splits, where)
    if "train" not in splits:
        return tuple(found)
    found += _small_train(task, splits["train"], where)
    trained = set(_text_keys(task, splits["train"]))
    for split in (split for split in task.evaluation_splits if split in splits):
        dataset = splits[split]
        keys = _text_keys(task, dataset)
        rows = len(keys)
        seen = sum(key in trained for key in keys)
        if seen:
            found.append(
                f"{split}: {seen} of {rows} rows ({seen / rows:.1%}) also appear in train (the same "
                f"{_texts(task)}, ignoring case and spacing): a score on them measures recall of training examples, "
                f"not generalisation; drop them from {where(split)} or from {where('train')}"
            )
        first_label: dict[tuple[str, ...], object] = {}
        repeats = relabelled = 0
        for key, label in zip(keys, dataset[task.label_column]):
            if key in first_label:
                repeats += 1
                relabelled += label != first_label[key]
            else:
                first_label[key] = label
        if repeats:
            other = f", {relabelled} of them with another {'score' if task.is_regression else 'label'}" if relabelled else ""
            found.append(
                f"{split}: {repeats} of {rows} rows ({repeats / rows:.1%}) repeat the {_texts(task)} of an earlier row "
                f"of the split{other}: each copy is scored again, so those examples weigh more in every metric; "
                f"drop the copies from {where(split)}"
            )
    return tuple(found)


def _text_keys(task: TaskSpec, dataset: Dataset) -> list[tuple[str, ...]]:
    columns = [[" ".join(text.split()).casefold() for text in dataset[column]] for column in task.text_columns]
    return list(zip(*columns))


def _texts(task: TaskSpec) -> str:
    return "pair of texts" if len(task.text_columns) == 2 else "text"


def _empty_texts(task: TaskSpec, splits: DatasetDict, where: Callable[[str], str]) -> list[str]:
    found = []
    for split, dataset in splits.items():
        empty = {column: [row for row, text in enumerate(dataset[column], start=1) if not text.strip()]
                 for column in task.text_columns}
        rows = sorted({row for numbers in empty.values() for row in numbers})
        if rows:
            which = "; ".join(f"{column!r} in {_row_list(numbers)}" for column, numbers in empty.items() if numbers)
            found.append(
                f"{split}: {len(rows)} of {dataset.num_rows} rows have an empty text ({which}): the model reads "
                f"nothing there; drop them from {where(split)}"
            )
    return found


def _small_train(task: TaskSpec, train: Dataset, where: Callable[[str], str]) -> list[str]:
    least = SMALL_TRAIN_ROWS_PER_CLASS * max(task.num_labels, 2)
    if train.num_rows >= least:
        return []
    why = ("as for two classes" if task.is_regression
           else f"{SMALL_TRAIN_ROWS_PER_CLASS} for each of {task.num_labels} classes")
    return [
        f"train: {train.num_rows} row{'' if train.num_rows == 1 else 's'}, fewer than {least} ({why}): a fine-tune on "
        f"so few examples measures its seed more than its recipe; is {where('train')} the whole training file?"
    ]


def _row_list(rows: Sequence[int]) -> str:
    shown = ", ".join(map(str, rows[:_ROWS_SHOWN]))
    more = f" and {len(rows) - _ROWS_SHOWN} more" if len(rows) > _ROWS_SHOWN else ""
    return f"row{'' if len(rows) == 1 else 's'} {shown}{more}"


# --- GLUE MRPC ------------------------------------------------------------------------------------


class MrpcSource(DataSource):
    """GLUE MRPC from a local GLUE folder, or from the Hub when ``data_dir`` is None.

    >>> splits = MrpcSource("../shared/data/glue/MRPC").load()  # doctest: +SKIP
    >>> splits["train"].num_rows, splits["validation"].num_rows  # doctest: +SKIP
    (3668, 408)
    """

    def __init__(self, data_dir: str | Path | None = None, hub_offline: bool = False) -> None:
        super().__init__(task=MRPC, data_dir=Path(data_dir) if data_dir else None, hub_offline=hub_offline)
