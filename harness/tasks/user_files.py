"""A task read from the user's own files: CSV (or TSV), JSON, JSON Lines or Parquet, one file per split.

Files go through ``datasets``' packaged builders (``load_dataset("csv" | "json" | "parquet",
data_files=...)``), never a hand-written parser, into a cache folder the caller names (a temporary
one by default: never ``~/.cache``). Their columns are then mapped onto the task's (``columns``:
task column -> file column; a task column not named there is read from the file column of the same
name) and checked row by row, so the result has exactly the task's schema
(:func:`~harness.tasks.glue_files.hub_features`): its text columns, its label (a class id, or a
float for a regression task) and ``idx``, each split's row number in file order.

A class label may be written as the class's name (``"positive"``) or its id (``1``, ``"1"``,
``1.0``); when a task's names are themselves numerals, a value is read as a name first. Every
problem is a :class:`~harness.tasks.text_files.DataError` naming the file, the row where there is
one (counted from 1 in file order, the header not counted) and the fix: a missing column, an
unknown label, an empty (or whitespace-only) text, a split without rows, a file that does not
parse, a file that is not UTF-8, and a mapping that cannot describe a task: the label column read
as a text (the model would read its answer, and score 1.0), or both texts of a pair read from one
column. The mapping is checked before any file is opened.
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from datasets import Dataset, DatasetDict, Features, Value

from harness.checksums import sha256_file, sha256_json
from harness.tasks.glue_files import hub_features
from harness.tasks.spec import ROW_INDEX_COLUMN, TaskSpec
from harness.tasks.text_files import DataError, check_utf8

# File suffix -> (datasets' packaged builder, what the format is called in messages).
FORMATS = {
    ".csv": ("csv", "CSV"),
    ".tsv": ("csv", "TSV"),
    ".json": ("json", "JSON"),
    ".jsonl": ("json", "JSON Lines"),
    ".parquet": ("parquet", "Parquet"),
}
_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def file_columns(task: TaskSpec, columns: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each of the task's columns (text columns, then the label) -> the file column it is read from.

    >>> from harness.tasks.glue import SST2
    >>> file_columns(SST2, {"sentence": "review"})
    {'sentence': 'review', 'label': 'label'}
    """
    columns = dict(columns or {})
    return {column: columns.get(column, column) for column in (*task.text_columns, task.label_column)}


def read_user_files(
    task: TaskSpec, files: Mapping[str, str | Path], *, columns: Mapping[str, str] | None = None,
    cache_dir: str | Path | None = None,
) -> DatasetDict:
    """Read each split's file (split -> path) into a ``DatasetDict`` with the task's schema.

    ``cache_dir`` is where ``datasets`` writes its Arrow files while reading; by default a
    temporary folder, removed afterwards (the result is held in memory).

    >>> from harness.tasks.glue import SST2
    >>> splits = read_user_files(SST2, {"train": "train.csv", "validation": "dev.csv"},
    ...                          columns={"sentence": "review"})  # doctest: +SKIP
    """
    mapping = _checked_columns(task, columns, files)
    features = hub_features(task)
    if cache_dir is None:
        with tempfile.TemporaryDirectory(prefix="harness-datasets-") as scratch:
            return read_user_files(task, files, columns=columns, cache_dir=scratch)
    return DatasetDict(
        {split: _read_split(task, Path(path), mapping, features, Path(cache_dir)) for split, path in files.items()}
    )


def fingerprint(task: TaskSpec, files: Mapping[str, str | Path], columns: Mapping[str, str] | None = None) -> dict:
    """sha256 of each split's file and of the column mapping, and one over all of them: results carry this.

    The mapping is part of the data: the same files read through another mapping are other data.
    """
    mapping = _checked_columns(task, columns, files)
    paths = {split: Path(path) for split, path in files.items()}
    for split, path in paths.items():
        _check_exists(split, path)
    hashes = {f"{split}:{path.name}": sha256_file(path) for split, path in paths.items()}
    return {
        "source": "files:" + ", ".join(f"{split}={path.resolve()}" for split, path in paths.items()),
        "files": hashes,
        "columns": mapping,
        "sha256": sha256_json({"files": hashes, "columns": mapping}),
    }


def _checked_columns(task: TaskSpec, columns: Mapping[str, str] | None, files: Mapping[str, str | Path]) -> dict[str, str]:
    """:func:`file_columns`, refused when two of the task's columns would be read from one file column.

    The label read as a text hands the model its answer (a fine-tune then scores 1.0 and measures
    nothing); a pair's two texts read from one column make every pair a text and itself.
    """
    mapping = file_columns(task, columns)
    readers: dict[str, list[str]] = {}
    for column, name in mapping.items():
        readers.setdefault(name, []).append(column)
    for name, shared in readers.items():
        if len(shared) < 2:
            continue
        given = ",".join(f"{column}={file_column}" for column, file_column in mapping.items())
        where = ", ".join(dict.fromkeys(str(path) for path in files.values()))
        if task.label_column in shared:
            text = next(column for column in shared if column != task.label_column)
            problem = (f"the task's text column {text!r} and its label column {task.label_column!r} are both read from "
                       f"file column {name!r}: the model would read its own answer (and score 1.0)")
            fix = f"map {text!r} onto the column that holds the text: --columns {text}=<text column>"
        else:
            problem = (f"both of the pair's text columns {shared[0]!r} and {shared[1]!r} are read from file column "
                       f"{name!r}: every example would be a text and itself")
            fix = f"map each onto its own column: --columns {shared[0]}=<first text>,{shared[1]}=<second text>"
        raise DataError(f"{where}: columns {given} cannot describe task {task.name!r}: {problem}; {fix} "
                        "(columns = {...} in a case)")
    return mapping


# --- reading one split ------------------------------------------------------------------------


def _read_split(task: TaskSpec, path: Path, mapping: dict[str, str], features: Features, cache_dir: Path) -> Dataset:
    raw = _load(task, path, mapping, cache_dir)
    if any(name not in raw.column_names for name in mapping.values()):
        raise DataError(_missing_columns(task, path, mapping, raw.column_names))
    if raw.num_rows == 0:
        raise DataError(_no_rows(path))
    out: dict[str, list] = {name: [] for name in features}
    decode = _label_decoder(task, path, mapping[task.label_column])
    for row, record in enumerate(raw.select_columns(list(dict.fromkeys(mapping.values()))), start=1):
        for column in task.text_columns:
            out[column].append(_text(path, row, mapping[column], record[mapping[column]]))
        out[task.label_column].append(decode(record[mapping[task.label_column]], row))
        out[ROW_INDEX_COLUMN].append(row - 1)
    return Dataset.from_dict(out, features=features)


def _load(task: TaskSpec, path: Path, mapping: dict[str, str], cache_dir: Path) -> Dataset:
    from datasets import load_dataset

    builder, kind = _format(path)
    _check_exists(None, path)
    options: dict[str, Any] = {}
    if builder in ("csv", "json"):
        check_utf8(path)
    if builder == "csv":
        # Every column as text, exactly as written: a label column of 0/1 is parsed here, not
        # guessed by pandas, and "NA" or an empty field stays a string instead of becoming NaN.
        header = _csv_header(task, path, kind, mapping)
        options = {"sep": _separator(kind), "keep_default_na": False, "na_filter": False,
                   "features": Features({name: Value("string") for name in header})}
    elif builder == "json" and not _has_json_rows(path, kind):
        raise DataError(_no_rows(path))
    elif builder == "parquet":
        _check_parquet_rows(path)
    try:
        return load_dataset(builder, data_files=str(path), split="train", cache_dir=str(cache_dir), **options)
    except Exception as error:  # the builders raise pandas', pyarrow's and their own errors, wrapped
        where = _json_line_problem(path, kind) if builder == "json" else None
        raise DataError(
            f"{where or path}: not readable as {kind} ({_root_cause(error)}); check that it is a {kind} file "
            f"({_format_hint(kind)}), or give it the suffix of the format it is in ({', '.join(FORMATS)})"
        ) from error


def _separator(kind: str) -> str:
    return "\t" if kind == "TSV" else ","


def _csv_header(task: TaskSpec, path: Path, kind: str, mapping: dict[str, str]) -> list[str]:
    """The file's column names, read by pandas from the header and first row; checked before the whole file is."""
    import pandas as pd

    try:
        head = pd.read_csv(path, sep=_separator(kind), nrows=1, dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty; a {kind} file needs a header row naming its columns, then one row "
                        "per example") from None
    except (ValueError, pd.errors.ParserError) as error:
        raise DataError(f"{path}: not readable as {kind} ({error}); {_format_hint(kind)}") from error
    header = [str(name) for name in head.columns]
    if any(name not in header for name in mapping.values()):
        raise DataError(_missing_columns(task, path, mapping, header))
    if head.empty:
        raise DataError(_no_rows(path))
    return header


def _has_json_rows(path: Path, kind: str) -> bool:
    """Whether a JSON file holds anything but whitespace (or, for a JSON array, more than ``[]``)."""
    with open(path, encoding="utf-8-sig") as handle:
        if kind == "JSON Lines":
            return any(line.strip() for line in handle)
        text = handle.read().strip()
    return bool(text) and text.replace(" ", "").replace("\n", "") != "[]"


def _json_line_problem(path: Path, kind: str) -> str | None:
    """``"<path>, line N"`` where the JSON stops parsing, for the message: pyarrow's errors give a byte offset."""
    with open(path, encoding="utf-8-sig") as handle:
        if kind == "JSON Lines":
            for number, line in enumerate(handle, start=1):
                try:
                    if line.strip():
                        json.loads(line)
                except ValueError:
                    return f"{path}, line {number}"
            return None
        try:
            json.load(handle)
        except json.JSONDecodeError as error:
            return f"{path}, line {error.lineno}"
    return None


def _check_parquet_rows(path: Path) -> None:
    import pyarrow.parquet as pq

    try:
        rows = pq.ParquetFile(path).metadata.num_rows
    except Exception as error:  # pyarrow's ArrowInvalid, OSError, ...: not a Parquet file
        raise DataError(f"{path}: not readable as Parquet ({type(error).__name__}: {error}); "
                        f"{_format_hint('Parquet')}") from error
    if rows == 0:
        raise DataError(_no_rows(path))


def _no_rows(path: Path) -> str:
    return f"{path}: no rows; every split needs at least one example (was the file truncated?)"


def _format(path: Path) -> tuple[str, str]:
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise DataError(
            f"{path}: cannot tell the file's format from its suffix {path.suffix or '(none)'!r}; the harness reads "
            f"{', '.join(f'{suffix} ({kind})' for suffix, (_, kind) in FORMATS.items())}: rename the file, or "
            "convert it to one of them"
        ) from None


def _check_exists(split: str | None, path: Path) -> None:
    if not path.is_file():
        what = f"the {split} split's file " if split else ""
        problem = "is a folder, not a file" if path.is_dir() else "no such file"
        raise DataError(f"{what}{path}: {problem}; give each split's file, e.g. --data-files train=train.csv,validation=dev.csv")


def _format_hint(kind: str) -> str:
    return {
        "CSV": "comma-separated, a header row first, fields holding commas, quotes or newlines quoted with \"",
        "TSV": "tab-separated, a header row first",
        "JSON": "a JSON array of objects, or one object per line",
        "JSON Lines": "one JSON object per line, each with the same keys",
        "Parquet": "a Parquet file as pandas' to_parquet or pyarrow write it",
    }[kind]


def _root_cause(error: BaseException) -> str:
    """The innermost error's message: the builders wrap the parser's (which names the line) in their own."""
    seen = set()
    while (error.__cause__ or error.__context__) is not None and id(error) not in seen:
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return f"{type(error).__name__}: {error}"


def _role(task: TaskSpec, column: str) -> str:
    return "label column" if column == task.label_column else "text column"


def _missing_columns(task: TaskSpec, path: Path, mapping: dict[str, str], found: list[str]) -> str:
    missing = [(column, name) for column, name in mapping.items() if name not in found]
    described = ", ".join(
        f"{name!r} (the task's {_role(task, column)}{'' if name == column else f' {column!r}'})" for column, name in missing
    )
    example = ",".join(f"{column}=<column in the file>" for column, _ in missing)
    return (
        f"{path}: no column {described}; the file's columns are {found}. Map the task's columns onto the file's "
        f"with --columns {example} (columns = {{...}} in a case), or rename the file's columns"
    )


def _text(path: Path, row: int, column: str, value: Any) -> str:
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, str):
        found = "an empty text" if not value else f"only whitespace ({value!r})"
    else:
        found = f"{'nothing (null)' if value is None else f'{value!r} ({type(value).__name__})'}, not text"
    raise DataError(f"{path}, row {row}: column {column!r} holds {found}; every example needs its text: "
                    "fix the row, or drop it")


def _label_decoder(task: TaskSpec, path: Path, column: str):
    """A function from a raw label value and its row to the task's label (a class id, or a float score)."""
    if task.is_regression:

        def score(value: Any, row: int) -> float:
            number = _number(value)
            if number is None or not math.isfinite(number):
                raise DataError(
                    f"{path}, row {row}: label {value!r} in column {column!r} is not a finite number; task "
                    f"{task.name!r} is a regression task, so each label is a score such as 3.8: fix the row"
                )
            return number

        return score
    names = {name: i for i, name in enumerate(task.label_names)}
    valid = ", ".join(f"{i} or {name!r}" for i, name in enumerate(task.label_names))

    def label(value: Any, row: int) -> int:
        if isinstance(value, str) and value.strip() in names:
            return names[value.strip()]
        number = None if isinstance(value, bool) else _number(value)
        if number is not None and number.is_integer() and 0 <= number < task.num_labels:
            return int(number)
        raise DataError(
            f"{path}, row {row}: label {value!r} in column {column!r} is not one of task {task.name!r}'s "
            f"{task.num_labels} classes ({valid}); fix the row, or declare the task with the label names your "
            "file uses (label_names, in class-id order)"
        )

    return label


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if _INTEGER.fullmatch(text) or _DECIMAL.fullmatch(text):
            return float(text)
    return None
