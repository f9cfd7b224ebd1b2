"""Reading GLUE's own files: every task's format round trip, and every way a file can be wrong.

Files are written field by field by ``tests.tasks.glue_formats`` (GLUE's layouts, set down apart
from the reader) into pytest's temp folders; expected values are the rows that were written.
Only MRPC's real files are read, when present, against a naive parse of their bytes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.run.data import DataError, MrpcSource
from harness.tasks import builtin_tasks, read_glue_folder
from harness.tasks.glue_files import fingerprint, glue_files, hub_features, read_glue_file
from harness.tasks.spec import TaskError, TaskSpec
from tests.strategies import labelled_text_rows, tsv_texts
from tests.tasks.glue_formats import HUB_SCHEMAS, TASK_NAMES, WRITERS, Row
from tests.tasks.glue_formats import hub_features as expected_features

TASKS = builtin_tasks()
HEADER_TASKS = tuple(name for name in TASK_NAMES if WRITERS[name].headers is not None)
REAL_MRPC = Path(__file__).resolve().parents[3] / "shared" / "data" / "glue" / "MRPC"
SMOKE_MRPC = Path(__file__).resolve().parents[1] / "data" / "mrpc-smoke"


def example_rows(task: str, split: str) -> list[Row]:
    """Two invented rows per label value, one opening a quote it never closes: small, covering every label."""
    width = len(HUB_SCHEMAS[task].text_columns)
    rows = []
    for n, label in enumerate(WRITERS[task].label_meanings):
        rows.append((tuple(f'"{split} row {n}.0 opens a quote, part {i}' for i in range(width)), label))
        rows.append((tuple(f'{split} row {n}.1 says "this" in part {i}' for i in range(width)), label))
    return rows


def write_task(folder: Path, task: str, **options) -> dict[str, list[Row]]:
    rows = {split: example_rows(task, split) for split in WRITERS[task].files}
    WRITERS[task].write_folder(folder, rows, **options)
    return rows


def assert_read_back(dataset, task: str, rows: list[Row]) -> None:
    """``dataset`` holds exactly ``rows``: texts verbatim, labels as GLUE means them, idx in file order."""
    schema, meanings = HUB_SCHEMAS[task], WRITERS[task].label_meanings
    assert dataset.num_rows == len(rows)
    for i, column in enumerate(schema.text_columns):
        assert dataset[column] == [texts[i] for texts, _ in rows]
    if schema.label_names is None:
        expected = [np.float32(float(label)) for _, label in rows]
        assert [np.float32(value) for value in dataset["label"]] == expected
    else:
        label_feature = dataset.features["label"]
        names = [label_feature.int2str(value) for value in dataset["label"]]
        assert names == [meanings[label] for _, label in rows]
    assert dataset["idx"] == list(range(len(rows)))


def write_split_file(folder: Path, task: str, file: str, content: bytes) -> Path:
    """A valid folder for ``task`` with one file's bytes replaced."""
    write_task(folder, task)
    path = folder / file
    path.write_bytes(content)
    return path


def valid_lines(task: str, file: str, count: int = 2) -> list[str]:
    """A file's header (if it has one) and ``count`` valid rows, as text lines."""
    writer = WRITERS[task]
    header = writer.header(file)
    rows = example_rows(task, "x")[:count]
    return ([] if header is None else ["\t".join(header)]) + [writer.line(n, t, label, file) for n, (t, label) in enumerate(rows)]


def encode(lines: list[str]) -> bytes:
    return "".join(line + "\n" for line in lines).encode("utf-8")


def read_error(task: str, folder: Path) -> str:
    with pytest.raises(DataError) as error:
        read_glue_folder(TASKS.get(task), folder)
    return str(error.value)


def eval_file(task: str) -> str:
    """The last evaluation file: errors must be found in every split, not only in train."""
    return list(WRITERS[task].files.values())[-1]


# --- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("task", TASK_NAMES)
def test_every_task_reads_back_what_was_written(tmp_path, task):
    rows = write_task(tmp_path, task)
    splits = read_glue_folder(TASKS.get(task), tmp_path)
    assert list(splits) == list(WRITERS[task].files)
    for split, dataset in splits.items():
        assert dataset.features == expected_features(task)
        assert dataset.column_names == [*HUB_SCHEMAS[task].text_columns, "label", "idx"]
        assert_read_back(dataset, task, rows[split])


@pytest.mark.parametrize("task", TASK_NAMES)
def test_features_are_the_hub_schema(task):
    """Label order included: ClassLabel equality compares the names in order."""
    features = hub_features(TASKS.get(task))
    assert features == expected_features(task)
    assert list(features) == [*HUB_SCHEMAS[task].text_columns, "label", "idx"]
    assert features["idx"].dtype == "int32"


@pytest.mark.parametrize(
    ("task", "raw", "name"),
    [
        ("cola", "0", "unacceptable"), ("cola", "1", "acceptable"),
        ("sst2", "0", "negative"), ("sst2", "1", "positive"),
        ("mrpc", "0", "not_equivalent"), ("mrpc", "1", "equivalent"),
        ("qqp", "0", "not_duplicate"), ("qqp", "1", "duplicate"),
        ("mnli", "entailment", "entailment"), ("mnli", "neutral", "neutral"),
        ("mnli", "contradiction", "contradiction"),
        ("qnli", "entailment", "entailment"), ("qnli", "not_entailment", "not_entailment"),
        ("rte", "entailment", "entailment"), ("rte", "not_entailment", "not_entailment"),
        ("wnli", "0", "not_entailment"), ("wnli", "1", "entailment"),
    ],
)
def test_a_label_value_means_what_glue_means(tmp_path, task, raw, name):
    """Each value a GLUE file writes maps to the Hub's class of the same meaning (WNLI's 1 is entailment)."""
    writer = WRITERS[task]
    writer.write_folder(tmp_path, {split: [(("a", "b")[: len(HUB_SCHEMAS[task].text_columns)], raw)] for split in writer.files})
    for dataset in read_glue_folder(TASKS.get(task), tmp_path).values():
        assert dataset.features["label"].int2str(dataset[0]["label"]) == name
        assert dataset[0]["label"] == HUB_SCHEMAS[task].label_names.index(name)


def test_mnli_reads_the_gold_label_not_an_annotators(tmp_path):
    """MNLI's files hold annotators' labels before gold_label; the writer makes some of them dissent."""
    writer = WRITERS["mnli"]
    writer.write_folder(tmp_path, {split: [(("p", "h"), "contradiction")] for split in writer.files})
    splits = read_glue_folder(TASKS.get("mnli"), tmp_path)
    assert [splits[split][0]["label"] for split in splits] == [2, 2, 2]


def test_columns_are_found_by_header_name_not_position(tmp_path):
    """GLUE fixes the header names, not where each column sits: a reordered header still reads right."""
    header = ["label", "index", "sentence2", "sentence1"]
    for file in ("train.tsv", "dev.tsv"):
        (tmp_path / file).write_text("\t".join(header) + "\nentailment\t0\tsecond\tfirst\n", encoding="utf-8")
    dataset = read_glue_folder(TASKS.get("rte"), tmp_path)["train"]
    assert (dataset[0]["sentence1"], dataset[0]["sentence2"], dataset[0]["label"]) == ("first", "second", 0)


@pytest.mark.parametrize("task", TASK_NAMES)
def test_bom_and_crlf_read_the_same(tmp_path, task):
    """MRPC's files open with a byte-order mark and may end lines in CRLF: neither may leak into a field."""
    write_task(tmp_path / "plain", task)
    write_task(tmp_path / "bom", task, bom=True, newline="\r\n")
    assert (tmp_path / "bom" / "train.tsv").read_bytes().startswith(b"\xef\xbb\xbf")
    plain = read_glue_folder(TASKS.get(task), tmp_path / "plain")
    marked = read_glue_folder(TASKS.get(task), tmp_path / "bom")
    for split in plain:
        assert marked[split].to_dict() == plain[split].to_dict()


@pytest.mark.parametrize("task", TASK_NAMES)
def test_blank_lines_are_not_rows_and_idx_stays_dense(tmp_path, task):
    lines = valid_lines(task, "train.tsv")
    path = write_split_file(tmp_path, task, "train.tsv", encode(lines[:-1] + ["", lines[-1], ""]))
    assert path.read_bytes().count(b"\n\n") == 2
    dataset = read_glue_folder(TASKS.get(task), tmp_path)["train"]
    assert dataset["idx"] == [0, 1]


@pytest.mark.parametrize("task", TASK_NAMES)
def test_unbalanced_quotes_do_not_merge_rows(tmp_path, task):
    """A quote opened in one row and closed rows later: quoting on would make one row of three."""
    width = len(HUB_SCHEMAS[task].text_columns)
    label = next(iter(WRITERS[task].label_meanings))
    texts = [('"Never,',) * width, ("plain",) * width, ('he said."',) * width]
    rows = [(t, label) for t in texts]
    WRITERS[task].write_folder(tmp_path, {split: rows for split in WRITERS[task].files})
    for dataset in read_glue_folder(TASKS.get(task), tmp_path).values():
        assert_read_back(dataset, task, rows)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(task=st.sampled_from(TASK_NAMES), data=st.data())
def test_any_rows_in_a_tasks_format_read_back_identically(tmp_path_factory, task, data):
    """Whatever text a field can hold (quotes, spaces, any Unicode but tabs and line ends) comes back verbatim."""
    writer = WRITERS[task]
    if HUB_SCHEMAS[task].label_names is None:
        labels = st.floats(min_value=0, max_value=5).map(repr)
    else:
        labels = st.sampled_from(list(writer.label_meanings))
    rows_strategy = labelled_text_rows(columns=len(HUB_SCHEMAS[task].text_columns), labels=labels, texts=tsv_texts())
    rows = {split: data.draw(rows_strategy, label=split) for split in writer.files}
    bom = data.draw(st.booleans(), label="bom")
    newline = data.draw(st.sampled_from(["\n", "\r\n"]), label="newline")
    folder = writer.write_folder(tmp_path_factory.mktemp(task), rows, bom=bom, newline=newline)
    splits = read_glue_folder(TASKS.get(task), folder)
    for split, dataset in splits.items():
        if HUB_SCHEMAS[task].label_names is None:
            assert [np.float32(v) for v in dataset["label"]] == [np.float32(float(label)) for _, label in rows[split]]
            for i, column in enumerate(HUB_SCHEMAS[task].text_columns):
                assert dataset[column] == [texts[i] for texts, _ in rows[split]]
            assert dataset["idx"] == list(range(len(rows[split])))
        else:
            assert_read_back(dataset, task, rows[split])


@pytest.mark.parametrize(("task", "padded"), [("mrpc", " 1 "), ("cola", "1 "), ("qnli", " entailment"), ("stsb", " 2.5 ")])
def test_labels_are_read_without_surrounding_spaces(tmp_path, task, padded):
    """harness.run.data strips MRPC's Quality field; every task's label is read the same way."""
    writer = WRITERS[task]
    texts = ("a", "b")[: len(HUB_SCHEMAS[task].text_columns)]
    writer.write_folder(tmp_path / "padded", {split: [(texts, padded)] for split in writer.files})
    writer.write_folder(tmp_path / "plain", {split: [(texts, padded.strip())] for split in writer.files})
    padded_splits = read_glue_folder(TASKS.get(task), tmp_path / "padded")
    plain_splits = read_glue_folder(TASKS.get(task), tmp_path / "plain")
    assert padded_splits["train"]["label"] == plain_splits["train"]["label"]


@pytest.mark.parametrize("task", TASK_NAMES)
def test_glue_files_names_each_splits_file(task):
    assert glue_files(TASKS.get(task)) == WRITERS[task].files


def test_glue_files_is_a_copy():
    """Callers may edit what they are given without changing the next caller's answer."""
    glue_files(TASKS.get("mrpc"))["train"] = "elsewhere.tsv"
    assert glue_files(TASKS.get("mrpc"))["train"] == "train.tsv"


# --- MRPC: as the harness has always read it ---------------------------------------------------


def naive_rows(path: Path) -> list[list[str]]:
    """Data rows by the plainest reading: BOM off, split on newlines and tabs, nothing else."""
    lines = path.read_bytes().decode("utf-8").removeprefix("\ufeff").split("\n")
    return [line.removesuffix("\r").split("\t") for line in lines[1:] if line.strip()]


@pytest.mark.parametrize("folder", [REAL_MRPC, SMOKE_MRPC], ids=["real", "smoke"])
def test_mrpc_reads_as_a_naive_parse_of_its_files(folder):
    """MRPC's Quality, #1 String and #2 String columns, verbatim: what every MRPC result was trained on."""
    if not (folder / "train.tsv").is_file() or not (folder / "dev.tsv").is_file():
        pytest.skip(f"GLUE MRPC not found at {folder}")
    splits = read_glue_folder(TASKS.get("mrpc"), folder)
    for split, file in (("train", "train.tsv"), ("validation", "dev.tsv")):
        rows = naive_rows(folder / file)
        assert splits[split].to_dict() == {
            "sentence1": [row[3] for row in rows], "sentence2": [row[4] for row in rows],
            "label": [int(row[0]) for row in rows], "idx": list(range(len(rows))),
        }
    assert fingerprint(TASKS.get("mrpc"), folder) == MrpcSource(folder).fingerprint()


MRPC_HEADER = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String"


@pytest.mark.parametrize(
    ("content", "phrases"),
    [
        (b"", ["empty"]),
        (b"\xef\xbb\xbf", ["empty"]),
        (f"label\tsentence1\tsentence2\n1\ta\tb\n".encode(), ["header", "Quality"]),
        (f"{MRPC_HEADER}\n1\t1\t2\ta\tb\n0\t3\t4\tonly four fields\n".encode(), ["line 3", "4 tab-separated fields"]),
        (f"{MRPC_HEADER}\n1\t1\t2\ta\tb\textra\n".encode(), ["line 2: 6 tab-separated fields"]),
        (f"{MRPC_HEADER}\n1\t1\t2\ta\tb\n2\t3\t4\tc\td\n".encode(), ["line 3", "'2'", "not 0 or 1"]),
        (f"{MRPC_HEADER}\n".encode(), ["no rows"]),
    ],
    ids=["empty", "bom-only", "wrong-header", "short-row", "long-row", "bad-label", "no-rows"],
)
def test_malformed_mrpc_fails_alone_as_in_its_folder(tmp_path, content, phrases):
    """A file read alone (``read_glue_file``) is refused as it is in its folder, with the same facts."""
    path = write_split_file(tmp_path, "mrpc", "train.tsv", content)
    with pytest.raises(DataError) as old:
        read_glue_file(TASKS.get("mrpc"), path)
    new = read_error("mrpc", tmp_path)
    for phrase in phrases:
        assert phrase in str(old.value) and phrase in new
    assert str(path) in new


# --- the folder and its files ------------------------------------------------------------------


@pytest.mark.parametrize("task", TASK_NAMES)
def test_missing_folder_names_it_and_the_files_the_task_needs(tmp_path, task):
    missing = tmp_path / "nowhere"
    message = read_error(task, missing)
    assert str(missing) in message and "does not exist" in message
    assert all(file in message for file in WRITERS[task].files.values())
    assert WRITERS[task].folder in message


def test_a_file_given_as_the_folder_is_said_to_be_a_file(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("x", encoding="utf-8")
    assert "is a file, not a folder" in read_error("mrpc", path)


@pytest.mark.parametrize("task", TASK_NAMES)
def test_missing_file_names_it_and_the_files_the_task_needs(tmp_path, task):
    write_task(tmp_path, task)
    gone = tmp_path / eval_file(task)
    gone.unlink()
    message = read_error(task, tmp_path)
    assert f"{gone}: no such file" in message
    assert all(file in message for file in WRITERS[task].files.values())


def test_the_glue_root_given_for_a_task_folder_suggests_the_task_folder(tmp_path):
    """Passing glue_data/ instead of glue_data/MNLI/ is the likely slip; the message says so."""
    write_task(tmp_path / "MNLI", "mnli")
    message = read_error("mnli", tmp_path)
    assert f"did you mean {tmp_path / 'MNLI'}?" in message


# --- malformed files -----------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf"], ids=["empty", "bom-only"])
@pytest.mark.parametrize("task", TASK_NAMES)
def test_empty_file_says_what_was_expected(tmp_path, task, content):
    file = eval_file(task)
    path = write_split_file(tmp_path, task, file, content)
    message = read_error(task, tmp_path)
    assert f"{path}: the file is empty" in message
    header = WRITERS[task].header(file)
    assert (header[-1] if header else "no header") in message


@pytest.mark.parametrize("task", HEADER_TASKS)
def test_wrong_header_shows_the_expected_one(tmp_path, task):
    file = eval_file(task)
    lines = valid_lines(task, file)
    header = WRITERS[task].header(file)
    wrong = ",".join(header)  # a CSV export of the same columns is not a GLUE file
    path = write_split_file(tmp_path, task, file, encode([wrong, *lines[1:]]))
    message = read_error(task, tmp_path)
    assert f"{path}: header is" in message
    assert str(header) in message and "right file" in message


@pytest.mark.parametrize("task", HEADER_TASKS)
def test_header_missing_the_label_column_is_a_wrong_header(tmp_path, task):
    file = eval_file(task)
    lines = valid_lines(task, file)
    label_column = {"mrpc": "Quality", "qqp": "is_duplicate", "stsb": "score", "mnli": "gold_label"}.get(task, "label")
    renamed = lines[0].replace(label_column, "target")
    write_split_file(tmp_path, task, file, encode([renamed, *lines[1:]]))
    message = read_error(task, tmp_path)
    assert f"lacks ['{label_column}']" in message


@pytest.mark.parametrize("task", TASK_NAMES)
@pytest.mark.parametrize("change", ["drop", "add"])
def test_wrong_field_count_names_the_line(tmp_path, task, change):
    file = eval_file(task)
    lines = valid_lines(task, file)
    fields = lines[-1].split("\t")
    broken = fields[:-1] if change == "drop" else [*fields, "extra"]
    path = write_split_file(tmp_path, task, file, encode([*lines[:-1], "\t".join(broken)]))
    message = read_error(task, tmp_path)
    assert f"{path}, line {len(lines)}: {len(broken)} tab-separated fields" in message
    assert "quoting" in message


@pytest.mark.parametrize("task", [name for name in TASK_NAMES if HUB_SCHEMAS[name].label_names])
@pytest.mark.parametrize("bad", ["2", "-1", "", "maybe", "Entailment", "1.0"])
def test_unknown_label_names_the_line_and_the_valid_values(tmp_path, task, bad):
    writer, file = WRITERS[task], eval_file(task)
    lines = valid_lines(task, file)
    width = len(HUB_SCHEMAS[task].text_columns)
    lines.append(writer.line(7, ("a", "b")[:width], bad, file))
    path = write_split_file(tmp_path, task, file, encode(lines))
    message = read_error(task, tmp_path)
    assert f"{path}, line {len(lines)}: label {bad!r} is not" in message
    assert all(value in message for value in writer.label_meanings)
    assert "fix the row" in message


def test_cola_file_with_a_header_is_told_cola_has_none(tmp_path):
    """CoLA's train and dev files are GLUE's only ones without a header; adding one is the likely slip."""
    lines = ["source\tlabel\tmark\tsentence", *valid_lines("cola", "train.tsv")]
    path = write_split_file(tmp_path, "cola", "train.tsv", encode(lines))
    message = read_error("cola", tmp_path)
    assert f"{path}, line 1: label 'label'" in message and "no header row" in message


@pytest.mark.parametrize("score", ["abc", "", "nan", "inf", "1_0", "3,5", "0x1"])
def test_score_that_is_not_a_number_names_the_line(tmp_path, score):
    lines = valid_lines("stsb", "dev.tsv")
    lines.append(WRITERS["stsb"].line(9, ("a", "b"), score, "dev.tsv"))
    path = write_split_file(tmp_path, "stsb", "dev.tsv", encode(lines))
    message = read_error("stsb", tmp_path)
    assert f"{path}, line {len(lines)}: score {score!r} is not a number" in message


@pytest.mark.parametrize("score", ["5.001", "-0.5", "1e3"])
def test_score_outside_zero_to_five_names_the_line(tmp_path, score):
    lines = valid_lines("stsb", "train.tsv")
    lines.append(WRITERS["stsb"].line(9, ("a", "b"), score, "train.tsv"))
    path = write_split_file(tmp_path, "stsb", "train.tsv", encode(lines))
    assert f"{path}, line {len(lines)}: score {score!r} is outside 0 to 5" in read_error("stsb", tmp_path)


@pytest.mark.parametrize("score", ["0", "5", " 2.5 ", "+1", ".5", "4.", "2e0"])
def test_scores_in_decimal_notation_are_read(tmp_path, score):
    lines = valid_lines("stsb", "train.tsv", count=0)
    lines.append(WRITERS["stsb"].line(0, ("a", "b"), score, "train.tsv"))
    write_split_file(tmp_path, "stsb", "train.tsv", encode(lines))
    assert read_glue_folder(TASKS.get("stsb"), tmp_path)["train"][0]["label"] == pytest.approx(float(score))


@pytest.mark.parametrize("task", TASK_NAMES)
def test_file_that_is_not_utf8_names_the_line_and_how_to_convert(tmp_path, task):
    file = eval_file(task)
    lines = valid_lines(task, file, count=3)
    content = encode(lines).replace("row 1.0".encode(), "café".encode("latin-1"))
    assert content != encode(lines)
    path = write_split_file(tmp_path, task, file, content)
    line = len(lines)  # the third row is the file's last line
    message = read_error(task, tmp_path)
    assert f"{path}, line {line}: the file is not UTF-8 text" in message
    assert f"iconv -f latin1 -t utf-8 {file}" in message


def test_utf16_file_is_not_utf8(tmp_path):
    """A spreadsheet's "Unicode text" export is UTF-16; it fails on its first bytes."""
    path = write_split_file(tmp_path, "sst2", "train.tsv", "\n".join(valid_lines("sst2", "train.tsv")).encode("utf-16"))
    assert f"{path}, line 1: the file is not UTF-8 text" in read_error("sst2", tmp_path)


@pytest.mark.parametrize("task", HEADER_TASKS)
def test_header_without_rows_is_a_split_with_no_rows(tmp_path, task):
    file = eval_file(task)
    path = write_split_file(tmp_path, task, file, encode(valid_lines(task, file, count=0) + [""]))
    assert f"{path}: header but no rows" in read_error(task, tmp_path)


def test_cola_file_of_blank_lines_has_no_rows(tmp_path):
    path = write_split_file(tmp_path, "cola", "dev.tsv", b"\n\n")
    message = read_error("cola", tmp_path)
    assert f"{path}: no rows" in message and "at least one example" in message


# --- tasks that are not GLUE's files -----------------------------------------------------------


def test_a_task_of_ones_own_has_no_glue_format(tmp_path):
    spec = TaskSpec(name="reviews", text_columns=("text",), num_labels=2, label_names=("bad", "good"), metrics=("accuracy",))
    with pytest.raises(TaskError) as error:
        read_glue_folder(spec, tmp_path)
    message = str(error.value)
    assert "'reviews' has no GLUE file format" in message and "mrpc" in message and "load_dataset" in message


@pytest.mark.parametrize(
    ("changes", "phrase"),
    [
        ({"text_columns": ("premise", "claim")}, "keep the Hub's column names"),
        ({"label_column": "target"}, "keep the Hub's column names"),
        ({"evaluation_splits": ("validation",)}, "keep the evaluation splits"),
        ({"num_labels": 1, "label_names": ()}, "hold class labels"),
    ],
)
def test_a_glue_task_changed_away_from_glues_files_is_refused(changes, phrase):
    import dataclasses

    spec = dataclasses.replace(TASKS.get("mnli"), **changes)
    with pytest.raises(TaskError, match=phrase):
        glue_files(spec)


# --- fingerprint --------------------------------------------------------------------------------


@pytest.mark.parametrize("task", TASK_NAMES)
def test_fingerprint_is_each_files_sha256(tmp_path, task):
    write_task(tmp_path, task)
    result = fingerprint(TASKS.get(task), tmp_path)
    expected = {file: hashlib.sha256((tmp_path / file).read_bytes()).hexdigest() for file in WRITERS[task].files.values()}
    assert result["files"] == expected
    assert result["source"] == f"local:{tmp_path.resolve()}"
    assert len(result["sha256"]) == 64


def test_fingerprint_changes_when_a_file_does(tmp_path):
    write_task(tmp_path, "rte")
    before = fingerprint(TASKS.get("rte"), tmp_path)["sha256"]
    with open(tmp_path / "dev.tsv", "a", encoding="utf-8") as handle:
        handle.write("99\tone more\tpair\tentailment\n")
    assert fingerprint(TASKS.get("rte"), tmp_path)["sha256"] != before


def test_fingerprint_of_a_missing_file_is_a_data_error(tmp_path):
    write_task(tmp_path, "qnli")
    (tmp_path / "train.tsv").unlink()
    with pytest.raises(DataError, match="no such file"):
        fingerprint(TASKS.get("qnli"), tmp_path)
