"""GLUE MRPC as a ``datasets.DatasetDict`` with exactly the Hub's ``glue/mrpc`` schema.

Two sources give the same thing: the Hub (``nyu-mll/glue``, config ``mrpc``), the default for
users who have it, and a local GLUE-format folder (``train.tsv``, ``dev.tsv``) for machines that do
not. Either way the files' sha256 travel with every result, so two numbers are only compared when
they were measured on the same data.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

from harness.checksums import sha256_file, sha256_json
from harness.settings import DATA_DIR_VAR

HUB_DATASET = "nyu-mll/glue"
HUB_CONFIG = "mrpc"
LABEL_NAMES = ("not_equivalent", "equivalent")
MRPC_FEATURES = Features(
    {
        "sentence1": Value("string"),
        "sentence2": Value("string"),
        "label": ClassLabel(names=list(LABEL_NAMES)),
        "idx": Value("int32"),
    }
)
# GLUE names the validation split's file dev.tsv.
SPLIT_FILES = {"train": "train.tsv", "validation": "dev.tsv"}
GLUE_HEADER = ("Quality", "#1 ID", "#2 ID", "#1 String", "#2 String")

_POINT_AT_LOCAL = (
    f"point the harness at a local GLUE-format MRPC folder (train.tsv, dev.tsv): pass "
    f"data_dir=..., --harness-data-dir=... (pytest), --data-dir ... (CLI) or set {DATA_DIR_VAR}"
)


class DataError(ValueError):
    """The data could not be loaded; the message names the file, the problem and the fix."""


def read_glue_tsv(path: str | Path) -> Dataset:
    """Read one GLUE MRPC TSV into a Dataset with the Hub schema.

    GLUE ships these files with a UTF-8 byte-order mark and sentences holding unbalanced double
    quotes, so they are read with ``utf-8-sig`` and quoting off: with quoting on, a stray quote
    swallows the tabs and newlines after it and rows silently merge.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; {_POINT_AT_LOCAL}")
    columns: dict[str, list] = {"sentence1": [], "sentence2": [], "label": [], "idx": []}
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(rows, None)
        if header is None:
            raise DataError(f"{path}: the file is empty; expected a GLUE MRPC header {GLUE_HEADER}")
        if tuple(h.strip() for h in header) != GLUE_HEADER:
            raise DataError(
                f"{path}: header is {header!r}, expected the GLUE MRPC header {list(GLUE_HEADER)} "
                "(tab-separated); is this the right file?"
            )
        for line_no, row in enumerate(rows, start=2):
            if not row:
                continue
            if len(row) != len(GLUE_HEADER):
                raise DataError(
                    f"{path}, line {line_no}: {len(row)} tab-separated fields, expected "
                    f"{len(GLUE_HEADER)}; the file is malformed (was it saved with quoting or "
                    "with tabs inside a sentence?)"
                )
            quality = row[0].strip()
            if quality not in ("0", "1"):
                raise DataError(f"{path}, line {line_no}: label {quality!r} is not 0 or 1")
            columns["label"].append(int(quality))
            columns["sentence1"].append(row[3])
            columns["sentence2"].append(row[4])
            columns["idx"].append(len(columns["idx"]))
    if not columns["idx"]:
        raise DataError(f"{path}: header but no rows")
    return Dataset.from_dict(columns, features=MRPC_FEATURES)


@dataclass(frozen=True)
class MrpcSource:
    """Where MRPC comes from: a local GLUE folder, or the Hub when ``data_dir`` is None."""

    data_dir: Path | None = None
    hub_offline: bool = False

    def load(self) -> DatasetDict:
        if self.data_dir is not None:
            return DatasetDict({split: read_glue_tsv(self._file(split)) for split in SPLIT_FILES})
        return self._load_from_hub()

    def fingerprint(self) -> dict:
        """sha256 of each source file, and one over all of them: results carry this."""
        if self.data_dir is not None:
            files = {SPLIT_FILES[s]: sha256_file(self._file(s)) for s in SPLIT_FILES}
            where = f"local:{self.data_dir.resolve()}"
        else:
            dataset = self._load_from_hub()
            files = {
                Path(f["filename"]).name: sha256_file(f["filename"])
                for split in SPLIT_FILES
                for f in dataset[split].cache_files
            }
            where = f"hub:{HUB_DATASET}/{HUB_CONFIG}"
        return {"source": where, "files": files, "sha256": sha256_json(files)}

    def _file(self, split: str) -> Path:
        assert self.data_dir is not None
        if not self.data_dir.is_dir():
            raise DataError(f"data folder {self.data_dir} does not exist; {_POINT_AT_LOCAL}")
        return self.data_dir / SPLIT_FILES[split]

    def _load_from_hub(self) -> DatasetDict:
        if self.hub_offline:
            raise DataError(f"the Hugging Face Hub is offline (HF_HUB_OFFLINE) and no local data was given; {_POINT_AT_LOCAL}")
        from datasets import load_dataset

        try:
            dataset = load_dataset(HUB_DATASET, HUB_CONFIG)
        except Exception as error:  # the Hub raises many types for "unreachable"
            raise DataError(f"could not load {HUB_DATASET}/{HUB_CONFIG} from the Hub ({error}); {_POINT_AT_LOCAL}") from error
        return DatasetDict({split: dataset[split].cast(MRPC_FEATURES) for split in SPLIT_FILES})


def load_mrpc(data_dir: str | Path | None = None, *, hub_offline: bool = False) -> DatasetDict:
    """Load MRPC's train and validation splits.

    >>> splits = load_mrpc("../shared/data/glue/MRPC")  # doctest: +SKIP
    >>> splits["train"].num_rows, splits["validation"].num_rows  # doctest: +SKIP
    (3668, 408)
    """
    return MrpcSource(Path(data_dir) if data_dir else None, hub_offline).load()
