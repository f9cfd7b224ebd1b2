"""Reading a task from the user's own files: every format round trip, the column mapping, labels as
names or ids, and every way a file can be wrong, each named with its file, row and fix.

Files are written here, row by row, with the standard library (csv, json) and pandas (Parquet) into
pytest's temp folders; every text is invented.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.tasks import TaskSpec, builtin_tasks
from harness.tasks.text_files import DataError
from harness.tasks.user_files import file_columns, fingerprint, read_user_files

REVIEWS = TaskSpec(name="reviews", text_columns=("text",), num_labels=3, label_names=("bad", "ok", "good"),
                   metrics=("accuracy",))
SCORES = TaskSpec(name="similarity", text_columns=("a", "b"), num_labels=1, label_names=(), metrics=("pearson",))
ROWS = [
    {"review": 'Loved it, "truly"', "stars": "good"},
    {"review": "Meh.\nTwo lines, one row", "stars": "ok"},
    {"review": "Broke on day one", "stars": "bad"},
]


def write_csv(path: Path, rows: list[dict], *, delimiter: str = ",", encoding: str = "utf-8") -> Path:
    with open(path, "w", newline="", encoding=encoding) as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["review", "stars"], delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def read(task: TaskSpec, path: Path, **options):
    return read_user_files(task, {"validation": path}, **options)["validation"]


def error_of(task: TaskSpec, path: Path, **options) -> str:
    with pytest.raises(DataError) as error:
        read(task, path, **options)
    return str(error.value)


MAPPING = {"text": "review", "label": "stars"}


# --- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".json", ".jsonl", ".parquet"])
def test_every_format_reads_into_the_tasks_schema(tmp_path, suffix):
    path = tmp_path / f"dev{suffix}"
    if suffix in (".csv", ".tsv"):
        write_csv(path, ROWS, delimiter="\t" if suffix == ".tsv" else ",")
    elif suffix == ".json":
        path.write_text(json.dumps(ROWS), encoding="utf-8")
    elif suffix == ".jsonl":
        write_jsonl(path, ROWS)
    else:
        pd.DataFrame(ROWS).to_parquet(path)
    dataset = read(REVIEWS, path, columns=MAPPING)
    assert list(dataset.features) == ["text", "label", "idx"]
    assert dataset.features["label"].names == ["bad", "ok", "good"]
    assert dataset["text"] == [row["review"] for row in ROWS]
    assert dataset["label"] == [2, 1, 0]
    assert dataset["idx"] == [0, 1, 2]


def test_labels_may_be_ids_written_as_numbers_or_text(tmp_path):
    rows = [{"review": "x", "stars": value} for value in (0, "1", 2.0, " 2 ")]
    assert read(REVIEWS, write_jsonl(tmp_path / "dev.jsonl", rows), columns=MAPPING)["label"] == [0, 1, 2, 2]


def test_a_label_name_wins_over_an_id_when_names_are_numerals(tmp_path):
    """Star ratings named "1".."3" are classes 0..2: the file's "1" is the class named "1"."""
    stars = TaskSpec(name="stars", text_columns=("text",), num_labels=3, label_names=("1", "2", "3"), metrics=("accuracy",))
    path = write_csv(tmp_path / "dev.csv", [{"text": "x", "label": value} for value in ("1", "3", "2")])
    assert read(stars, path)["label"] == [0, 2, 1]


def test_a_regression_label_is_a_float_score(tmp_path):
    path = write_csv(tmp_path / "dev.csv", [{"a": "x", "b": "y", "label": value} for value in ("3.8", "0", "5.0")])
    dataset = read(SCORES, path)
    assert dataset.features["label"].dtype == "float32"
    np.testing.assert_allclose(dataset["label"], [3.8, 0.0, 5.0], rtol=1e-6)


def test_csv_fields_stay_text_exactly_as_written(tmp_path):
    """pandas would read "007" as 7 and "NA" as a missing value; a text column keeps what the user wrote."""
    path = write_csv(tmp_path / "dev.csv", [{"text": "007", "label": "bad"}, {"text": "NA", "label": "good"}])
    assert read(REVIEWS, path)["text"] == ["007", "NA"]


def test_columns_not_named_in_the_mapping_are_read_by_the_tasks_name(tmp_path):
    path = write_csv(tmp_path / "dev.csv", [{"id": "7", "text": "fine", "stars": "ok"}])
    assert read(REVIEWS, path, columns={"label": "stars"})["text"] == ["fine"]
    assert file_columns(REVIEWS, {"label": "stars"}) == {"text": "text", "label": "stars"}


def test_each_split_reads_its_own_file(tmp_path):
    mnli = builtin_tasks().get("mnli")
    files = {}
    for n, split in enumerate(("train", "validation_matched", "validation_mismatched")):
        rows = [{"premise": f"{split} p", "hypothesis": "h", "label": label} for label in ("entailment", "neutral", "contradiction")[: n + 1]]
        files[split] = write_csv(tmp_path / f"{split}.csv", rows)
    splits = read_user_files(mnli, files)
    assert {split: splits[split].num_rows for split in splits} == {"train": 1, "validation_matched": 2, "validation_mismatched": 3}


def test_datasets_writes_only_into_the_cache_folder_it_is_given(tmp_path, monkeypatch):
    path = write_csv(tmp_path / "dev.csv", [{"text": "x", "label": "ok"}])
    read(REVIEWS, path, cache_dir=tmp_path / "given")
    assert any((tmp_path / "given").rglob("*.arrow"))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    assert read(REVIEWS, path)["text"] == ["x"]  # held in memory: its temporary cache is gone
    assert list(scratch.iterdir()) == []


# --- what is wrong, where, and the fix -----------------------------------------------------------


def test_a_missing_column_names_the_file_the_column_and_the_mapping_to_use(tmp_path):
    path = write_csv(tmp_path / "dev.csv", ROWS)
    message = error_of(REVIEWS, path)
    assert str(path) in message
    assert "no column 'text' (the task's text column), 'label' (the task's label column)" in message
    assert "the file's columns are ['review', 'stars']" in message
    assert "--columns text=<column in the file>,label=<column in the file>" in message


def test_a_mapped_column_missing_from_a_json_file_is_named_with_its_task_column(tmp_path):
    path = write_jsonl(tmp_path / "dev.jsonl", ROWS)
    message = error_of(REVIEWS, path, columns={"text": "body", "label": "stars"})
    assert f"{path}: no column 'body' (the task's text column 'text')" in message


@pytest.mark.parametrize(("value", "shown"), [("great", "'great'"), ("3", "'3'"), ("-1", "'-1'"), ("", "''"), ("1.5", "'1.5'")])
def test_an_unknown_label_names_the_row_the_value_and_the_classes(tmp_path, value, shown):
    rows = [{"text": "a", "label": "bad"}, {"text": "b", "label": value}]
    path = write_csv(tmp_path / "dev.csv", rows)
    message = error_of(REVIEWS, path)
    assert f"{path}, row 2: label {shown} in column 'label' is not one of task 'reviews''s 3 classes" in message
    assert "0 or 'bad', 1 or 'ok', 2 or 'good'" in message and "label_names" in message


@pytest.mark.parametrize("value", [True, None, "high"])
def test_a_regression_label_that_is_not_a_number_names_the_row(tmp_path, value):
    path = write_jsonl(tmp_path / "dev.jsonl", [{"a": "x", "b": "y", "label": 1.0}, {"a": "x", "b": "y", "label": value}])
    message = error_of(SCORES, path)
    assert f"{path}, row 2: label {value!r} in column 'label' is not a finite number" in message


def test_a_text_that_is_not_text_names_the_row(tmp_path):
    path = write_jsonl(tmp_path / "dev.jsonl", [{"text": "fine", "label": 1}, {"text": None, "label": 1}])
    assert f"{path}, row 2: column 'text' holds nothing (null), not text" in error_of(REVIEWS, path)


@pytest.mark.parametrize("text", ["", "   ", " \t "], ids=["empty", "spaces", "tab"])
@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_an_empty_or_whitespace_text_is_refused_with_its_row(tmp_path, suffix, text):
    """It was read as an example with no input; the module's docstring always said it is an error."""
    rows = [{"text": "fine", "label": "ok"}, {"text": text, "label": "bad"}]
    path = write_csv(tmp_path / "dev.csv", rows) if suffix == ".csv" else write_jsonl(tmp_path / "dev.jsonl", rows)
    message = error_of(REVIEWS, path)
    assert f"{path}, row 2: column 'text' holds " in message and "every example needs its text" in message


def test_an_evaluation_file_whose_every_text_is_empty_is_refused_at_its_first_row(tmp_path):
    path = write_jsonl(tmp_path / "dev.jsonl", [{"a": "", "b": "", "label": 1.0}] * 3)
    assert f"{path}, row 1: column 'a' holds an empty text" in error_of(SCORES, path)


@pytest.mark.parametrize("read_files", [read_user_files, fingerprint], ids=["read", "fingerprint"])
def test_the_label_mapped_as_the_text_is_refused_before_any_file_is_read(tmp_path, read_files):
    """``--columns text=label`` trained on the answer itself, to accuracy 1.0, without a word."""
    files = {"train": tmp_path / "absent.csv", "validation": tmp_path / "absent.csv"}
    with pytest.raises(DataError) as error:
        read_files(REVIEWS, files, columns={"text": "label"})
    message = str(error.value)
    assert message.startswith(f"{tmp_path / 'absent.csv'}: columns text=label,label=label cannot describe task 'reviews'")
    assert "text column 'text' and its label column 'label' are both read from file column 'label'" in message
    assert "--columns text=<text column>" in message and "no such file" not in message


def test_a_label_mapped_onto_the_text_column_is_the_same_refusal(tmp_path):
    path = write_csv(tmp_path / "dev.csv", ROWS)
    assert "both read from file column 'review'" in error_of(REVIEWS, path, columns={"text": "review", "label": "review"})


def test_a_pairs_two_texts_from_one_column_are_refused(tmp_path):
    path = write_csv(tmp_path / "dev.csv", [{"s": "x", "label": "1.0"}, {"s": "y", "label": "2.0"}])
    message = error_of(SCORES, path, columns={"a": "s", "b": "s"})
    assert f"{path}: columns a=s,b=s,label=label cannot describe task 'similarity'" in message
    assert "both of the pair's text columns 'a' and 'b' are read from file column 's'" in message
    assert "--columns a=<first text>,b=<second text>" in message


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_split_without_rows_is_refused(tmp_path, suffix):
    path = tmp_path / f"dev{suffix}"
    if suffix == ".csv":
        write_csv(path, [])
        path.write_text("text,label\n", encoding="utf-8")
    else:
        path.write_text("", encoding="utf-8")
    message = error_of(REVIEWS, path)
    assert str(path) in message and ("no rows" in message or "empty" in message)


def test_an_empty_csv_says_a_header_was_expected(tmp_path):
    path = tmp_path / "dev.csv"
    path.write_bytes(b"")
    assert f"{path}: the file is empty; a CSV file needs a header row" in error_of(REVIEWS, path)


def test_a_csv_row_with_too_many_fields_does_not_parse_and_the_line_is_named(tmp_path):
    path = tmp_path / "dev.csv"
    path.write_text("text,label\nfine,good\nnot, quoted, at all,bad\n", encoding="utf-8")
    message = error_of(REVIEWS, path)
    assert f"{path}: not readable as CSV" in message and "line 3" in message and "quoted" in message


def test_a_json_file_that_does_not_parse_is_named(tmp_path):
    path = tmp_path / "dev.jsonl"
    path.write_text('{"text": "fine", "label": 1}\n{"text": "broken", "label": \n', encoding="utf-8")
    message = error_of(REVIEWS, path)
    assert f"{path}, line 2: not readable as JSON Lines" in message and "one JSON object per line" in message


def test_a_parquet_file_of_random_bytes_does_not_parse(tmp_path):
    path = tmp_path / "dev.parquet"
    path.write_bytes(np.random.default_rng(0).bytes(512))
    assert f"{path}: not readable as Parquet" in error_of(REVIEWS, path)


def test_a_latin1_csv_names_the_line_and_how_to_convert_it(tmp_path):
    """Saved from a spreadsheet as Latin-1, it used to end in a raw UnicodeDecodeError."""
    path = write_csv(tmp_path / "dev.csv", [{"text": "fine", "label": "ok"}, {"text": "café au lait", "label": "good"}],
                     encoding="latin-1")
    message = error_of(REVIEWS, path)
    assert f"{path}, line 3: the file is not UTF-8 text" in message
    assert "iconv -f latin1 -t utf-8 dev.csv" in message


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
def test_a_file_of_random_bytes_is_not_text(tmp_path, suffix):
    path = tmp_path / f"dev{suffix}"
    path.write_bytes(np.random.default_rng(1).bytes(4096))
    message = error_of(REVIEWS, path)
    assert str(path) in message and "UTF-8" in message and "line " in message


@pytest.mark.parametrize(("name", "phrase"), [("dev.xlsx", "'.xlsx'"), ("dev", "'(none)'")])
def test_a_file_of_unknown_format_lists_the_formats_read(tmp_path, name, phrase):
    path = tmp_path / name
    path.write_text("text,label\n", encoding="utf-8")
    message = error_of(REVIEWS, path)
    assert phrase in message and ".csv (CSV)" in message and ".parquet (Parquet)" in message


def test_a_missing_file_is_named_with_how_to_give_files(tmp_path):
    message = error_of(REVIEWS, tmp_path / "nowhere.csv")
    assert f"{tmp_path / 'nowhere.csv'}: no such file" in message and "--data-files" in message


# --- fingerprint ---------------------------------------------------------------------------------


def test_the_fingerprint_covers_each_file_and_the_column_mapping(tmp_path):
    files = {"train": write_csv(tmp_path / "train.csv", ROWS), "validation": write_csv(tmp_path / "dev.csv", ROWS[:2])}
    first = fingerprint(REVIEWS, files, MAPPING)
    assert set(first["files"]) == {"train:train.csv", "validation:dev.csv"}
    assert first["columns"] == MAPPING and len(first["sha256"]) == 64
    assert fingerprint(REVIEWS, files, {"text": "stars", "label": "review"})["sha256"] != first["sha256"]
    write_csv(files["validation"], ROWS[:1])
    assert fingerprint(REVIEWS, files, MAPPING)["sha256"] != first["sha256"]


def test_the_fingerprint_of_a_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="the train split's file"):
        fingerprint(REVIEWS, {"train": tmp_path / "gone.csv"})
