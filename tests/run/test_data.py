"""Loading a task's data: MRPC as GLUE ships it, the smoke files, every way a file can be wrong, and
the checks every source shares (evaluation splits a metric cannot score, tasks without a source).

Expected values come from outside the loader: the data README's published counts and sha256s, and
a deliberately naive parse of the raw bytes (split on newlines and tabs, nothing else), which is
what quoting-off reading must agree with. No MRPC text is written here: rows are found by rule.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import warnings
from collections import Counter
from pathlib import Path

import pytest

from harness.run.data import DataError, DataSource, DataWarning, MrpcSource
from harness.settings import DATA_DIR_VAR
from harness.tasks import TaskSpec, builtin_tasks
from harness.tasks.glue import MRPC
from harness.tasks.glue_files import hub_features, read_glue_file
from harness.tasks.metrics import MetricSpec, MetricUndefinedError, builtin_metrics
from tests.tasks.glue_formats import WRITERS

# The data README's published sha256s (checksums, not data).
README_SHA256 = {
    "train.tsv": "122becc469405bc16f9defcb8715d2a4b7ce600e9d9381e6dc42bfdd1494c51d",
    "dev.tsv": "81c8a1a9e1dfe461dd2c1a4f98f43fe18bece44d2bf9e3d0b245b88e5aa5eaf7",
}
HEADER = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String"


def raw_rows(path: Path) -> list[list[str]]:
    """Data rows by the plainest possible reading: no csv module, no quoting rules at all."""
    text = path.read_bytes().decode("utf-8")
    text = text.removeprefix("\ufeff")
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    return [line.split("\t") for line in lines[1:] if line]


def has_unbalanced_quote(text: str) -> bool:
    return text.count('"') % 2 == 1


@pytest.fixture(scope="module")
def mrpc(mrpc_dir: Path):
    return MrpcSource(mrpc_dir).load()


# --- the real GLUE MRPC --------------------------------------------------------------------------


def test_real_mrpc_has_the_published_row_counts(mrpc):
    """Quoting on would merge rows at every stray quote; the counts are the first thing to go."""
    assert mrpc["train"].num_rows == 3668
    assert mrpc["validation"].num_rows == 408


def test_real_mrpc_has_the_published_label_balance(mrpc):
    """A shifted or mis-parsed Quality column changes the balance before it changes anything else."""
    assert Counter(mrpc["train"]["label"]) == {1: 2474, 0: 1194}
    assert Counter(mrpc["validation"]["label"]) == {1: 279, 0: 129}


def test_real_mrpc_schema_is_the_hub_schema(mrpc):
    """Local and Hub data must be interchangeable, so the features must match exactly."""
    for split in ("train", "validation"):
        features = mrpc[split].features
        assert features == hub_features(MRPC)
        assert features["label"].names == ["not_equivalent", "equivalent"]
        assert features["idx"].dtype == "int32"
        assert mrpc[split]["idx"] == list(range(mrpc[split].num_rows))


@pytest.mark.parametrize(("split", "file"), [("train", "train.tsv"), ("validation", "dev.tsv")])
def test_real_mrpc_rows_match_a_naive_parse(mrpc, mrpc_dir, split, file):
    """Every sentence and label equals the raw field between tabs: nothing merged, split or quoted."""
    rows = raw_rows(mrpc_dir / file)
    dataset = mrpc[split]
    assert dataset["sentence1"] == [row[3] for row in rows]
    assert dataset["sentence2"] == [row[4] for row in rows]
    assert dataset["label"] == [int(row[0]) for row in rows]


@pytest.mark.parametrize(("split", "file"), [("train", "train.tsv"), ("validation", "dev.tsv")])
def test_real_mrpc_bom_does_not_leak(mrpc, mrpc_dir, split, file):
    """The files start with a BOM; read as plain UTF-8 it would glue itself to the header or row 1."""
    assert (mrpc_dir / file).read_bytes().startswith(b"\xef\xbb\xbf"), "the README says the files carry a BOM"
    first = mrpc[split][0]
    assert first["label"] in (0, 1)
    assert not any("\ufeff" in s for s in list(mrpc[split]["sentence1"]) + list(mrpc[split]["sentence2"]))
    assert first["sentence1"] == raw_rows(mrpc_dir / file)[0][3]


@pytest.mark.parametrize(("split", "file"), [("train", "train.tsv"), ("validation", "dev.tsv")])
def test_real_mrpc_sentences_with_unbalanced_quotes_survive(mrpc, mrpc_dir, split, file):
    """A stray double quote is where a quoting reader swallows tabs and newlines; those rows must be intact."""
    rows = raw_rows(mrpc_dir / file)
    quoted = [i for i, row in enumerate(rows) if has_unbalanced_quote(row[3]) or has_unbalanced_quote(row[4])]
    assert quoted, "the README says MRPC holds unbalanced double quotes; none were found"
    for i in quoted:
        loaded = mrpc[split][i]
        assert (loaded["sentence1"], loaded["sentence2"]) == (rows[i][3], rows[i][4])
        assert loaded["idx"] == i


def test_real_mrpc_fingerprint_matches_the_published_sha256s(mrpc_dir):
    """Results carry this fingerprint, so it must be the files' own sha256, as published."""
    fingerprint = MrpcSource(mrpc_dir).fingerprint()
    assert fingerprint["files"] == README_SHA256
    assert fingerprint["source"] == f"local:{mrpc_dir.resolve()}"
    assert len(fingerprint["sha256"]) == 64


# --- the smoke data ------------------------------------------------------------------------------


def test_smoke_data_loads_with_bom_crlf_and_quotes(smoke_dir):
    """The smoke files carry every trap of the real ones (BOM, CRLF, stray quotes) in 32 rows."""
    raw = (smoke_dir / "train.tsv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    splits = MrpcSource(smoke_dir).load()
    for split, file in (("train", "train.tsv"), ("validation", "dev.tsv")):
        rows = raw_rows(smoke_dir / file)
        assert splits[split].num_rows == len(rows)
        assert splits[split]["sentence1"] == [row[3] for row in rows]
        assert splits[split]["sentence2"] == [row[4] for row in rows]
        assert splits[split]["label"] == [int(row[0]) for row in rows]
        assert not any(s.endswith("\r") for s in splits[split]["sentence2"])
    assert any(has_unbalanced_quote(s) for s in splits["train"]["sentence1"])
    assert any(has_unbalanced_quote(s) for s in splits["validation"]["sentence1"])


def test_smoke_fingerprint_is_the_files_sha256(smoke_dir):
    fingerprint = MrpcSource(smoke_dir).fingerprint()
    expected = {name: hashlib.sha256((smoke_dir / name).read_bytes()).hexdigest() for name in ("train.tsv", "dev.tsv")}
    assert fingerprint["files"] == expected


def test_mrpc_source_takes_a_string_path(smoke_dir):
    """Users pass paths as strings; the loader must not require a Path."""
    assert MrpcSource(str(smoke_dir)).load()["validation"].num_rows == len(raw_rows(smoke_dir / "dev.tsv"))


# --- malformed inputs ----------------------------------------------------------------------------


def write_tsv(path: Path, *rows: str, bom: bool = True) -> Path:
    path.write_text(("\ufeff" if bom else "") + "".join(row + "\n" for row in rows), encoding="utf-8")
    return path


def test_missing_file_names_the_file_and_the_fix(tmp_path):
    write_tsv(tmp_path / "train.tsv", HEADER, "1\t1\t2\ta\tb")
    with pytest.raises(DataError) as error:
        MrpcSource(tmp_path).load()
    message = str(error.value)
    assert str(tmp_path / "dev.tsv") in message
    assert "no such file" in message and "train.tsv (train), dev.tsv (validation)" in message


def test_missing_folder_names_the_folder_and_the_fix(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError) as error:
        MrpcSource(missing).load()
    message = str(error.value)
    assert str(missing) in message and "does not exist" in message and DATA_DIR_VAR in message
    assert "--data-files train=train.csv,validation=validation.csv" in message


def test_fingerprint_of_a_missing_folder_is_a_data_error(tmp_path):
    """The fingerprint is taken after loading, but it must fail as clearly when called alone."""
    with pytest.raises(DataError, match="does not exist"):
        MrpcSource(tmp_path / "nowhere").fingerprint()


def test_wrong_header_is_reported_with_the_expected_one(tmp_path):
    path = write_tsv(tmp_path / "train.tsv", "label\tsentence1\tsentence2", "1\ta\tb")
    with pytest.raises(DataError) as error:
        read_glue_file(MRPC, path)
    message = str(error.value)
    assert str(path) in message and "header" in message and "Quality" in message


def test_comma_separated_header_is_a_wrong_header(tmp_path):
    """A CSV export of the same columns is a different format, not a GLUE file."""
    path = write_tsv(tmp_path / "train.tsv", HEADER.replace("\t", ","), "1,1,2,a,b")
    with pytest.raises(DataError, match="header"):
        read_glue_file(MRPC, path)


def test_wrong_field_count_names_the_line(tmp_path):
    path = write_tsv(tmp_path / "train.tsv", HEADER, "1\t1\t2\ta\tb", "0\t3\t4\tonly four fields")
    with pytest.raises(DataError) as error:
        read_glue_file(MRPC, path)
    message = str(error.value)
    assert str(path) in message and "line 3" in message and "4 tab-separated fields" in message


def test_tab_inside_a_sentence_is_a_field_count_error(tmp_path):
    path = write_tsv(tmp_path / "train.tsv", HEADER, "1\t1\t2\ta\tb\textra")
    with pytest.raises(DataError, match="line 2: 6 tab-separated fields"):
        read_glue_file(MRPC, path)


@pytest.mark.parametrize("label", ["2", "yes", "", "-1"])
def test_bad_label_names_the_line_and_the_value(tmp_path, label):
    path = write_tsv(tmp_path / "train.tsv", HEADER, "1\t1\t2\ta\tb", f"{label}\t3\t4\tc\td")
    with pytest.raises(DataError) as error:
        read_glue_file(MRPC, path)
    message = str(error.value)
    assert str(path) in message and "line 3" in message and repr(label) in message and "not 0 or 1" in message


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf"], ids=["empty", "bom-only"])
def test_empty_file_says_a_header_was_expected(tmp_path, content):
    path = tmp_path / "train.tsv"
    path.write_bytes(content)
    with pytest.raises(DataError) as error:
        read_glue_file(MRPC, path)
    assert str(path) in str(error.value) and "empty" in str(error.value)


def test_header_only_file_has_no_rows(tmp_path):
    path = write_tsv(tmp_path / "train.tsv", HEADER)
    with pytest.raises(DataError) as error:
        read_glue_file(MRPC, path)
    assert str(path) in str(error.value) and "no rows" in str(error.value)


def test_blank_lines_are_skipped_and_idx_stays_dense(tmp_path):
    """A trailing or stray blank line is not a row; idx must still be the row number."""
    path = write_tsv(tmp_path / "train.tsv", HEADER, "1\t1\t2\ta\tb", "", "0\t3\t4\tc\td", "")
    dataset = read_glue_file(MRPC, path)
    assert dataset["idx"] == [0, 1]
    assert dataset["label"] == [1, 0]


def test_file_without_bom_reads_the_same(tmp_path):
    with_bom = read_glue_file(MRPC, write_tsv(tmp_path / "a.tsv", HEADER, '1\t1\t2\t"a\tb"', bom=True))
    without = read_glue_file(MRPC, write_tsv(tmp_path / "b.tsv", HEADER, '1\t1\t2\t"a\tb"', bom=False))
    assert with_bom.to_dict() == without.to_dict() == {
        "sentence1": ['"a'], "sentence2": ['b"'], "label": [1], "idx": [0]
    }


# --- the Hub ------------------------------------------------------------------------------------


def test_hub_while_offline_points_at_local_data():
    """Offline with no data folder, the only useful answer is how to give one."""
    with pytest.raises(DataError) as error:
        MrpcSource(None, hub_offline=True).load()
    message = str(error.value)
    assert "offline" in message and DATA_DIR_VAR in message and "--data-dir" in message


def test_hub_fingerprint_while_offline_is_the_same_data_error():
    with pytest.raises(DataError, match=DATA_DIR_VAR):
        MrpcSource(None, hub_offline=True).fingerprint()


def test_smoke_fingerprint_is_the_one_every_mrpc_smoke_result_has_carried(smoke_dir):
    """Pinned: the cache key and every baseline compare this value, so reading MRPC through the task
    registry must not change it."""
    assert MrpcSource(smoke_dir).fingerprint()["sha256"] == "b36a1585e49b1ef1cdf8cf662ac6c9b1a322f9aa922b3b86c1dabb265a337ea0"
    assert DataSource(task=builtin_tasks().get("mrpc"), data_dir=smoke_dir).fingerprint() == MrpcSource(smoke_dir).fingerprint()


# --- every source: what is checked before training -------------------------------------------------


def write_glue_folder(folder: Path, task: str, labels: dict[str, list[str]]) -> Path:
    """A task's GLUE folder whose splits hold one invented row per label given."""
    width = len(builtin_tasks().get(task).text_columns)
    rows = {split: [(tuple(f"{split} text {n}.{i}" for i in range(width)), label) for n, label in enumerate(values)]
            for split, values in labels.items()}
    return WRITERS[task].write_folder(folder, rows)


@pytest.mark.parametrize(
    ("task", "dev_labels", "phrase"),
    [
        ("mrpc", ["0", "0", "0"], "no positive (label 1)"),
        ("cola", ["1", "1"], "a single class"),
        ("stsb", ["2.5", "2.5"], "constant"),
    ],
)
def test_an_evaluation_split_a_metric_cannot_score_is_refused_before_training(tmp_path, task, dev_labels, phrase):
    """GLUE's metric reports F1 0.0 or Matthews 0.0 here without a word; the harness names the split, file and fix."""
    train = {"mrpc": ["0", "1"], "cola": ["0", "1"], "stsb": ["1.0", "4.0"]}[task]
    folder = write_glue_folder(tmp_path, task, {"train": train, "validation": dev_labels})
    spec = builtin_tasks().get(task)
    with pytest.raises(DataError) as error:
        DataSource(task=spec, data_dir=folder).load()
    message = str(error.value)
    assert str(folder / "dev.tsv") in message and "validation split" in message and phrase in message
    assert f"{len(dev_labels)} rows" in message


def test_a_task_without_a_glue_format_cannot_read_a_data_folder(tmp_path):
    spec = TaskSpec(name="reviews", text_columns=("text",), num_labels=2, label_names=("bad", "good"), metrics=("accuracy",))
    with pytest.raises(DataError) as error:
        DataSource(task=spec, data_dir=tmp_path).load()
    assert "has no GLUE file format" in str(error.value) and "--data-files" in str(error.value)


def test_a_task_without_a_hub_dataset_needs_data(tmp_path):
    spec = TaskSpec(name="reviews", text_columns=("text",), num_labels=2, label_names=("bad", "good"), metrics=("accuracy",))
    for action in (lambda s: s.load(), lambda s: s.fingerprint()):
        with pytest.raises(DataError) as error:
            action(DataSource(task=spec))
        assert "no Hub dataset" in str(error.value) and "--data-files train=train.csv,validation=validation.csv" in str(error.value)


def test_the_hub_while_offline_names_each_tasks_evaluation_splits():
    with pytest.raises(DataError) as error:
        DataSource(task=builtin_tasks().get("mnli"), hub_offline=True).load()
    message = str(error.value)
    assert "offline" in message and "dev_matched.tsv" in message
    assert "train=train.csv,validation_matched=validation_matched.csv,validation_mismatched=" in message


def test_where_names_the_file_each_split_was_read_from(tmp_path, smoke_dir):
    mnli = builtin_tasks().get("mnli")
    assert DataSource(task=mnli, data_dir=tmp_path).where("validation_mismatched") == str(tmp_path / "dev_mismatched.tsv")
    files = DataSource(task=mnli, data_files=(("train", Path("t.csv")), ("validation_matched", Path("m.jsonl"))))
    assert files.where("validation_matched") == "m.jsonl"
    assert DataSource(task=mnli).where("train") == "hub:nyu-mll/glue/mnli (train split)"


# --- what loads but would mislead: refused, or warned about with counts -----------------------------

REVIEWS = TaskSpec(name="reviews", text_columns=("text",), num_labels=2, label_names=("bad", "good"), metrics=("accuracy",))


def write_reviews(path: Path, texts: list[str]) -> Path:
    """A CSV of invented reviews, labels alternating so that every split can be scored."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows((text, ("bad", "good")[n % 2]) for n, text in enumerate(texts))
    return path


def reviews_source(tmp_path: Path, train: list[str], validation: list[str]) -> DataSource:
    files = (("train", write_reviews(tmp_path / "train.csv", train)),
             ("validation", write_reviews(tmp_path / "dev.csv", validation)))
    return DataSource(task=REVIEWS, data_files=files)


def warnings_of(source: DataSource) -> tuple[str, ...]:
    with pytest.warns(DataWarning) as issued:
        _, found = source.load_with_warnings()
    assert [str(warning.message) for warning in issued] == list(found)
    return found


TRAIN_TEXTS = [f"invented review number {n}" for n in range(400)]


def test_real_mrpc_loads_without_a_data_warning(mrpc_dir):
    """Real MRPC: no dev pair appears in train (46 single dev sentences do, never as the same pair),
    no dev pair is repeated, and 3,668 training rows are plenty."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        splits, found = MrpcSource(mrpc_dir).load_with_warnings()
    assert found == () and splits["validation"].num_rows == 408


def test_mrpc_dev_appended_to_train_is_warned_about_as_overlap(tmp_path, mrpc_dir):
    """Copies of the real files in a temporary folder, dev's rows appended to train's: it trained without a word."""
    dev = (mrpc_dir / "dev.tsv").read_bytes()
    (tmp_path / "dev.tsv").write_bytes(dev)
    rows = dev.decode("utf-8-sig").split("\n", 1)[1]
    (tmp_path / "train.tsv").write_bytes((mrpc_dir / "train.tsv").read_bytes().rstrip(b"\r\n") + b"\r\n" + rows.encode())
    (message,) = warnings_of(MrpcSource(tmp_path))
    assert message.startswith("validation: 408 of 408 rows (100.0%) also appear in train (the same pair of texts")
    assert str(tmp_path / "dev.tsv") in message and str(tmp_path / "train.tsv") in message


def test_evaluation_rows_copied_from_train_are_warned_about_with_count_and_share(tmp_path):
    copied = [text.upper() + "  " for text in TRAIN_TEXTS[:32]]  # re-saved copies: case and spacing changed
    validation = copied + [f"a review never trained on, number {n}" for n in range(376)]
    (message,) = warnings_of(reviews_source(tmp_path, TRAIN_TEXTS, validation))
    assert message.startswith("validation: 32 of 408 rows (7.8%) also appear in train")
    assert f"drop them from {tmp_path / 'dev.csv'} or from {tmp_path / 'train.csv'}" in message


def test_duplicated_evaluation_rows_are_warned_about_with_count(tmp_path):
    validation = [f"a review never trained on, number {n}" for n in range(100)]
    validation += validation[:50]  # alternating labels: the 50 copies keep their label (100 is even)
    (message,) = warnings_of(reviews_source(tmp_path, TRAIN_TEXTS, validation))
    assert message.startswith("validation: 50 of 150 rows (33.3%) repeat the text of an earlier row of the split:")
    validation = validation[:100] + [validation[1]]  # row 101 copies row 2, labelled "bad" where row 2 is "good"
    (message,) = warnings_of(reviews_source(tmp_path, TRAIN_TEXTS, validation))
    assert "1 of 101 rows (1.0%)" in message and "1 of them with another label" in message


def test_a_training_split_of_two_rows_is_warned_about(tmp_path):
    (message,) = warnings_of(reviews_source(tmp_path, ["one review", "another review"], ["a third", "a fourth"]))
    assert message.startswith("train: 2 rows, fewer than 16 (8 for each of 2 classes)")
    assert str(tmp_path / "train.csv") in message


def test_a_few_empty_texts_in_a_glue_folder_are_named_in_a_warning(tmp_path):
    """GLUE's folders are read as published (QQP's train.tsv holds two empty questions); the rows are named."""
    rows = [((f"train text {n}", f"its pair {n}"), "01"[n % 2]) for n in range(20)]
    rows[2] = (("train text 2", ""), "0")
    rows[6] = ((" ", "its pair 6"), "0")
    WRITERS["mrpc"].write_folder(tmp_path, {"train": rows, "validation": [(("a", "b"), "0"), (("c", "d"), "1")]})
    (message,) = warnings_of(MrpcSource(tmp_path))
    assert message == (f"train: 2 of 20 rows have an empty text ('sentence1' in row 7; 'sentence2' in row 3): the model "
                       f"reads nothing there; drop them from {tmp_path / 'train.tsv'}")


def test_a_glue_evaluation_file_whose_every_text_is_empty_is_refused(tmp_path):
    train = [((f"train text {n}", f"its pair {n}"), "01"[n % 2]) for n in range(20)]
    WRITERS["mrpc"].write_folder(tmp_path, {"train": train, "validation": [(("a", ""), "0"), (("c", ""), "1")]})
    with pytest.raises(DataError) as error:
        MrpcSource(tmp_path).load()
    assert str(error.value).startswith(f"{tmp_path / 'dev.tsv'}: every one of the validation split's 2 rows has an empty "
                                       "'sentence2'")


def test_an_evaluation_split_is_checked_against_the_sources_metric_registry(smoke_dir):
    """A project's metric is checked on the labels as a built-in is, once the source is given its registry."""

    def never(predictions, references):
        raise MetricUndefinedError("never", "it has no value on any labels", "use another metric")

    metrics = builtin_metrics()
    metrics.register(MetricSpec("never", "higher", "label", "a metric without a value", function=never))
    task = dataclasses.replace(MRPC, metrics=("accuracy", "never"))
    assert DataSource(task=task, data_dir=smoke_dir).load()["validation"].num_rows > 0  # the built-ins leave it to TaskMetrics
    with pytest.raises(DataError, match="scores its validation split with never, which has no value on these"):
        DataSource(task=task, data_dir=smoke_dir, metrics=metrics).load()
