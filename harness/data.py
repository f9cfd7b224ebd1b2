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
0.0 that a gate would compare with a baseline as if it were a score.

``load_mrpc``, ``MrpcSource`` and ``read_glue_tsv`` are the same reader for GLUE MRPC, kept by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from datasets import Dataset, DatasetDict

from harness.checksums import sha256_file, sha256_json
from harness.settings import DATA_DIR_VAR
from harness.tasks.glue import MRPC
from harness.tasks.glue_files import fingerprint as glue_fingerprint
from harness.tasks.glue_files import glue_files, hub_features, read_glue_file, read_glue_folder
from harness.tasks.metrics import MetricUndefinedError, builtin_metrics
from harness.tasks.spec import TaskError, TaskSpec
from harness.tasks.text_files import DataError
from harness.tasks.user_files import fingerprint as files_fingerprint
from harness.tasks.user_files import read_user_files

if TYPE_CHECKING:
    from harness.config import RunConfig

__all__ = ["DataError", "DataSource", "MrpcSource", "check_evaluation_labels", "load_mrpc", "read_glue_tsv"]


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
    :class:`harness.config.RunConfig`, which :meth:`for_config` reads them from.
    """

    task: TaskSpec
    data_dir: Path | None = None
    data_files: tuple[tuple[str, Path], ...] = ()
    columns: tuple[tuple[str, str], ...] = ()
    hub_offline: bool = False

    @classmethod
    def for_config(cls, config: RunConfig, *, hub_offline: bool = False) -> DataSource:
        return cls(task=config.task, data_dir=config.data_dir, data_files=config.data_files, columns=config.columns,
                   hub_offline=hub_offline)

    def load(self, *, cache_dir: str | Path | None = None) -> DatasetDict:
        """Train and the task's evaluation splits, checked; ``cache_dir`` is where ``datasets`` may
        write while reading user files (default: a temporary folder, removed afterwards)."""
        if self.data_files:
            splits = read_user_files(self.task, dict(self.data_files), columns=dict(self.columns), cache_dir=cache_dir)
        elif self.data_dir is not None:
            splits = read_glue_folder(self.task, self._folder())
        else:
            splits = self._load_from_hub()
        check_evaluation_labels(self.task, splits, self.where)
        return splits

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


def check_evaluation_labels(task: TaskSpec, splits: DatasetDict, where: Callable[[str], str]) -> None:
    """Refuse, before training, an evaluation split on which one of the task's metrics has no value.

    A metric's value on the labels themselves (a perfect prediction) is defined exactly when it is
    defined for any prediction of a metric that needs something of the labels (a positive example,
    two classes, varying scores), so each metric is tried on (labels, labels).
    """
    metrics = builtin_metrics()
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


# --- GLUE MRPC, by its old names -----------------------------------------------------------------

HUB_DATASET, HUB_CONFIG = MRPC.hub
LABEL_NAMES = MRPC.label_names
MRPC_FEATURES = hub_features(MRPC)


class MrpcSource(DataSource):
    """GLUE MRPC from a local GLUE folder, or from the Hub when ``data_dir`` is None."""

    def __init__(self, data_dir: str | Path | None = None, hub_offline: bool = False) -> None:
        super().__init__(task=MRPC, data_dir=Path(data_dir) if data_dir else None, hub_offline=hub_offline)


def read_glue_tsv(path: str | Path) -> Dataset:
    """Read one GLUE MRPC TSV into a Dataset with the Hub schema (see :func:`harness.tasks.glue_files.read_glue_file`)."""
    return read_glue_file(MRPC, path)


def load_mrpc(data_dir: str | Path | None = None, *, hub_offline: bool = False) -> DatasetDict:
    """Load MRPC's train and validation splits.

    >>> splits = load_mrpc("../shared/data/glue/MRPC")  # doctest: +SKIP
    >>> splits["train"].num_rows, splits["validation"].num_rows  # doctest: +SKIP
    (3668, 408)
    """
    return MrpcSource(data_dir, hub_offline).load()
