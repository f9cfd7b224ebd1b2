"""GLUE's tasks read from a local folder, as GLUE itself distributes each one.

A task's folder is what the original ``download_glue_data.py`` leaves in ``glue_data/<Task>/``
(``train.tsv``, ``dev.tsv``; MNLI's ``dev_matched.tsv`` and ``dev_mismatched.tsv``), which is also
what the Hub's ``nyu-mll/glue`` was built from (huggingface/datasets, ``datasets/glue/glue.py``,
``_generate_examples``). The result is a ``DatasetDict`` with the Hub's schema, so a model trained on
local files and one trained on the Hub's data see the same columns, label ids and row indices.

Every file is read as tab-separated UTF-8 (``utf-8-sig``: MRPC's files open with a byte-order mark)
with quoting off: GLUE sentences hold unbalanced double quotes, and with quoting on a stray quote
swallows the tabs and newlines after it, silently merging rows. That is GLUE's own script's reading
too (``csv.QUOTE_NONE``); the formats differ per task, so each is described below as data and
read by one reader. Where a file has a header, columns are found by name.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

from harness.checksums import sha256_file, sha256_json
from harness.tasks.spec import ROW_INDEX_COLUMN, TaskError, TaskSpec
from harness.tasks.text_files import DataError, not_utf8_message

# How a file writes its labels: class ids ("0", "1", ...), class names ("entailment", ...), or a
# regression score (a decimal number).
IDS, NAMES, SCORES = "ids", "names", "scores"
_TRAIN_AND_DEV = {"train": "train.tsv", "validation": "dev.tsv"}
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


@dataclass(frozen=True)
class GlueFormat:
    """How GLUE distributes one task's files: names, header, where each column is, how labels are written.

    ``columns`` maps each Hub column (the task's text columns and label column) to the file's
    column: a header name, or a position in files without a header (CoLA). ``headers`` gives GLUE's
    header per file, shown when a header is wrong; the reader itself needs only the named columns,
    so a file with further or reordered columns still reads by name.
    """

    folder: str
    files: dict[str, str]
    columns: dict[str, str | int]
    labels: str
    headers: dict[str, tuple[str, ...]] | None
    fields: int | None = None
    score_range: tuple[float, float] | None = None


def _header_for_all(files: dict[str, str], header: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return {name: header for name in files.values()}


_MNLI_FILES = {
    "train": "train.tsv",
    "validation_matched": "dev_matched.tsv",
    "validation_mismatched": "dev_mismatched.tsv",
}
_MNLI_HEAD = (
    "index", "promptID", "pairID", "genre", "sentence1_binary_parse", "sentence2_binary_parse",
    "sentence1_parse", "sentence2_parse", "sentence1", "sentence2",
)
_INDEX_PAIR_HEADER = ("index", "sentence1", "sentence2", "label")
MRPC_HEADER = ("Quality", "#1 ID", "#2 ID", "#1 String", "#2 String")

# Keyed by task name: these are GLUE's files, so only GLUE's tasks have them.
_FORMATS: dict[str, GlueFormat] = {
    # CoLA's train.tsv and dev.tsv are GLUE's only files without a header: source code, label,
    # the author's original mark ("*" or empty), sentence.
    "cola": GlueFormat(
        folder="CoLA", files=_TRAIN_AND_DEV, columns={"sentence": 3, "label": 1}, labels=IDS, headers=None, fields=4
    ),
    "sst2": GlueFormat(
        folder="SST-2",
        files=_TRAIN_AND_DEV,
        columns={"sentence": "sentence", "label": "label"},
        labels=IDS,
        headers=_header_for_all(_TRAIN_AND_DEV, ("sentence", "label")),
    ),
    "mrpc": GlueFormat(
        folder="MRPC",
        files=_TRAIN_AND_DEV,
        columns={"sentence1": "#1 String", "sentence2": "#2 String", "label": "Quality"},
        labels=IDS,
        headers=_header_for_all(_TRAIN_AND_DEV, MRPC_HEADER),
    ),
    "qqp": GlueFormat(
        folder="QQP",
        files=_TRAIN_AND_DEV,
        columns={"question1": "question1", "question2": "question2", "label": "is_duplicate"},
        labels=IDS,
        headers=_header_for_all(_TRAIN_AND_DEV, ("id", "qid1", "qid2", "question1", "question2", "is_duplicate")),
    ),
    "stsb": GlueFormat(
        folder="STS-B",
        files=_TRAIN_AND_DEV,
        columns={"sentence1": "sentence1", "sentence2": "sentence2", "label": "score"},
        labels=SCORES,
        headers=_header_for_all(
            _TRAIN_AND_DEV,
            ("index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2", "score"),
        ),
        # STS annotators score similarity from 0 (unrelated) to 5 (equivalent); scores are averages.
        score_range=(0.0, 5.0),
    ),
    # MNLI's dev files carry all five annotators' labels, the train file only the writer's.
    "mnli": GlueFormat(
        folder="MNLI",
        files=_MNLI_FILES,
        columns={"premise": "sentence1", "hypothesis": "sentence2", "label": "gold_label"},
        labels=NAMES,
        headers={
            "train.tsv": (*_MNLI_HEAD, "label1", "gold_label"),
            "dev_matched.tsv": (*_MNLI_HEAD, "label1", "label2", "label3", "label4", "label5", "gold_label"),
            "dev_mismatched.tsv": (*_MNLI_HEAD, "label1", "label2", "label3", "label4", "label5", "gold_label"),
        },
    ),
    "qnli": GlueFormat(
        folder="QNLI",
        files=_TRAIN_AND_DEV,
        columns={"question": "question", "sentence": "sentence", "label": "label"},
        labels=NAMES,
        headers=_header_for_all(_TRAIN_AND_DEV, ("index", "question", "sentence", "label")),
    ),
    "rte": GlueFormat(
        folder="RTE",
        files=_TRAIN_AND_DEV,
        columns={"sentence1": "sentence1", "sentence2": "sentence2", "label": "label"},
        labels=NAMES,
        headers=_header_for_all(_TRAIN_AND_DEV, _INDEX_PAIR_HEADER),
    ),
    "wnli": GlueFormat(
        folder="WNLI",
        files=_TRAIN_AND_DEV,
        columns={"sentence1": "sentence1", "sentence2": "sentence2", "label": "label"},
        labels=IDS,
        headers=_header_for_all(_TRAIN_AND_DEV, _INDEX_PAIR_HEADER),
    ),
}


def glue_files(task: TaskSpec) -> dict[str, str]:
    """Each split's file name in the task's GLUE folder, train first.

    >>> from harness.tasks.glue import MNLI
    >>> glue_files(MNLI)
    {'train': 'train.tsv', 'validation_matched': 'dev_matched.tsv', 'validation_mismatched': 'dev_mismatched.tsv'}
    """
    return dict(glue_format(task).files)


def glue_format(task: TaskSpec) -> GlueFormat:
    """GLUE's file format for ``task``, checked against the task's columns, labels and splits."""
    try:
        fmt = _FORMATS[task.name]
    except KeyError:
        raise TaskError(
            f"task {task.name!r} has no GLUE file format; GLUE's files exist for {', '.join(_FORMATS)}. "
            "Read data of your own with datasets' packaged builders (load_dataset('csv', data_files=...))"
        ) from None
    expected_columns = {*task.text_columns, task.label_column}
    if set(fmt.columns) != expected_columns:
        raise TaskError(
            f"task {task.name!r} has columns {sorted(expected_columns)}, but GLUE's {fmt.folder} files give "
            f"{sorted(fmt.columns)}; a task read from GLUE's files must keep the Hub's column names"
        )
    if (fmt.labels == SCORES) != task.is_regression:
        kind = "a regression score" if fmt.labels == SCORES else "class labels"
        raise TaskError(f"task {task.name!r}: GLUE's {fmt.folder} files hold {kind}, but num_labels is {task.num_labels}")
    splits = ("train", *task.evaluation_splits)
    if tuple(fmt.files) != splits:
        raise TaskError(
            f"task {task.name!r} asks for the splits {list(splits)}, but GLUE's {fmt.folder} folder has "
            f"{list(fmt.files)}; keep the evaluation splits {list(fmt.files)[1:]} to read GLUE's files"
        )
    return fmt


def hub_features(task: TaskSpec) -> Features:
    """The Hub's schema for a task: its text columns, the label (a class or a float32), then ``idx``."""
    features = {column: Value("string") for column in task.text_columns}
    if task.is_regression:
        features[task.label_column] = Value("float32")
    else:
        features[task.label_column] = ClassLabel(names=list(task.label_names))
    features[ROW_INDEX_COLUMN] = Value("int32")
    return Features(features)


def read_glue_folder(task: TaskSpec, folder: str | Path) -> DatasetDict:
    """Read a task's GLUE folder into train plus the task's evaluation splits, with the Hub's schema.

    ``idx`` numbers each split's rows from 0 in file order; blank lines are not rows.

    >>> from harness.tasks.glue import MNLI
    >>> splits = read_glue_folder(MNLI, "glue_data/MNLI")  # doctest: +SKIP
    >>> list(splits)  # doctest: +SKIP
    ['train', 'validation_matched', 'validation_mismatched']
    """
    fmt = glue_format(task)
    features = hub_features(task)
    paths = _split_paths(task, fmt, Path(folder))
    return DatasetDict({split: _read_file(task, fmt, path, features) for split, path in paths.items()})


def read_glue_file(task: TaskSpec, path: str | Path) -> Dataset:
    """Read one of a task's GLUE files (any split's, under any name) into a Dataset with the Hub's schema.

    >>> from harness.tasks.glue import MRPC
    >>> read_glue_file(MRPC, "glue_data/MRPC/dev.tsv").num_rows  # doctest: +SKIP
    408
    """
    path = Path(path)
    fmt = glue_format(task)
    if not path.is_file():
        problem = "is a folder, not a file" if path.is_dir() else "no such file"
        raise DataError(f"{path}: {problem}; expected one of GLUE's {fmt.folder} files ({', '.join(fmt.files.values())})")
    return _read_file(task, fmt, path, hub_features(task))


def fingerprint(task: TaskSpec, folder: str | Path) -> dict:
    """sha256 of each file the task reads from ``folder``, and one over all of them: results carry this.

    For MRPC this is the fingerprint every MRPC result and baseline has carried, so they stay comparable.
    """
    folder = Path(folder)
    paths = _split_paths(task, glue_format(task), folder)
    files = {path.name: sha256_file(path) for path in paths.values()}
    return {"source": f"local:{folder.resolve()}", "files": files, "sha256": sha256_json(files)}


# --- reading ----------------------------------------------------------------------------------


def _split_paths(task: TaskSpec, fmt: GlueFormat, folder: Path) -> dict[str, Path]:
    needs = ", ".join(f"{name} ({split})" for split, name in fmt.files.items())
    where = f"GLUE's {fmt.folder} folder, as download_glue_data.py writes glue_data/{fmt.folder}/"
    if not folder.is_dir():
        problem = "is a file, not a folder" if folder.exists() else "does not exist"
        raise DataError(
            f"GLUE folder {folder} {problem}; the {task.name} task reads {needs} from {where}: "
            "pass the folder that holds them"
        )
    paths = {split: folder / name for split, name in fmt.files.items()}
    missing = [path for path in paths.values() if not path.is_file()]
    if missing:
        nested = folder / fmt.folder
        hint = f"; did you mean {nested}?" if nested.is_dir() else "; is this the right folder?"
        raise DataError(
            f"{', '.join(map(str, missing))}: no such file; the {task.name} task needs {needs} in one folder, "
            f"{where}{hint}"
        )
    return paths


def _read_file(task: TaskSpec, fmt: GlueFormat, path: Path, features: Features) -> Dataset:
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            rows = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            try:
                columns = _parse(task, fmt, path, rows, features)
            except csv.Error as error:
                raise DataError(
                    f"{path}, line {rows.line_num}: not readable as a GLUE TSV ({error}); is this the right file?"
                ) from error
    except UnicodeDecodeError as error:
        raise DataError(not_utf8_message(path, error, why="GLUE's files are UTF-8")) from error
    return Dataset.from_dict(columns, features=features)


def _parse(task: TaskSpec, fmt: GlueFormat, path: Path, rows, features: Features) -> dict[str, list]:
    if fmt.headers is None:
        positions, fields = dict(fmt.columns), fmt.fields
        shape = f"rows of {fields} tab-separated fields and no header"
    else:
        header = next(rows, None)
        if header is None:
            raise DataError(
                f"{path}: the file is empty; expected GLUE's {fmt.folder} header {_expected_header(fmt, path)} "
                "and rows under it"
            )
        positions, fields = _positions(fmt, path, [name.strip() for name in header]), len(header)
        shape = f"{fields} tab-separated fields, one per header column"
    decode = _label_decoder(task, fmt, path)
    columns: dict[str, list] = {name: [] for name in features}
    text_positions = [(column, positions[column]) for column in task.text_columns]
    label_position = positions[task.label_column]
    lines = 0
    for row in rows:
        lines = rows.line_num
        if not row:
            continue
        if len(row) != fields:
            raise DataError(
                f"{path}, line {lines}: {len(row)} tab-separated fields, expected {shape}; the file is malformed "
                "(was it saved with quoting, or with tabs inside a sentence?)"
            )
        for column, position in text_positions:
            columns[column].append(row[position])
        columns[task.label_column].append(decode(row[label_position], lines))
        columns[ROW_INDEX_COLUMN].append(len(columns[ROW_INDEX_COLUMN]))
    if not columns[ROW_INDEX_COLUMN]:
        if fmt.headers is None and lines == 0:
            raise DataError(f"{path}: the file is empty; expected GLUE's {fmt.folder} {shape}")
        raise DataError(
            f"{path}: {'header but ' if fmt.headers else ''}no rows; every split needs at least one example "
            "(was the file truncated?)"
        )
    return columns


def _expected_header(fmt: GlueFormat, path: Path) -> list[str]:
    """GLUE's header for the file: by its name, or (a split's file saved under another name) the train file's."""
    return list(fmt.headers.get(path.name) or next(iter(fmt.headers.values())))


def _positions(fmt: GlueFormat, path: Path, header: list[str]) -> dict[str, int]:
    needed = list(fmt.columns.values())
    missing = [name for name in needed if name not in header]
    repeated = [name for name in needed if header.count(name) > 1]
    if missing or repeated:
        problem = f"lacks {missing}" if missing else f"repeats {repeated}"
        raise DataError(
            f"{path}: header is {header!r}, which {problem}; expected GLUE's {fmt.folder} header "
            f"{_expected_header(fmt, path)} (tab-separated; the columns {needed} are read by name). "
            "Is this the right file?"
        )
    return {column: header.index(name) for column, name in fmt.columns.items()}


def _label_decoder(task: TaskSpec, fmt: GlueFormat, path: Path):
    """A function from a raw label field and its line number to the Hub's label value."""
    if fmt.labels == SCORES:
        low, high = fmt.score_range or (-math.inf, math.inf)

        def score(value: str, line: int) -> float:
            text = value.strip()
            number = float(text) if _DECIMAL.fullmatch(text) else math.nan
            if not math.isfinite(number):
                raise DataError(
                    f"{path}, line {line}: score {value!r} is not a number; GLUE's {fmt.folder} scores are decimals "
                    f"such as 3.800; fix the row, or check that this is the right file"
                )
            if not low <= number <= high:
                raise DataError(
                    f"{path}, line {line}: score {value!r} is outside {low:g} to {high:g}, the range of "
                    f"GLUE's {fmt.folder} scores; fix the row"
                )
            return number

        return score
    raw = [str(i) for i in range(task.num_labels)] if fmt.labels == IDS else list(task.label_names)
    ids = {value: i for i, value in enumerate(raw)}
    meaning = (
        f" ({', '.join(f'{i} = {name}' for i, name in enumerate(task.label_names))})" if fmt.labels == IDS else ""
    )
    no_header = (
        f"; GLUE's {fmt.folder} files have no header row, so line 1 is already an example"
        if fmt.headers is None else ""
    )

    def label(value: str, line: int) -> int:
        try:
            return ids[value.strip()]
        except KeyError:
            hint = no_header if line == 1 else ""
            raise DataError(
                f"{path}, line {line}: label {value!r} is not {_either(raw)}{meaning}; fix the row, or check "
                f"that this is GLUE's {fmt.folder} file{hint}"
            ) from None

    return label


def _either(values: list[str]) -> str:
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"
