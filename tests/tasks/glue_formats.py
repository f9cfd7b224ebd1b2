"""GLUE as the tests know it, written down apart from ``harness.tasks``: the Hub schema of each task
and a writer for each task's files in GLUE's own format.

The facts come from the Hub loading script (huggingface/datasets ``datasets/glue/glue.py``:
``text_features``, ``label_classes``, ``_generate_examples``) and the files GLUE distributes; the
writer lays rows out field by field, so a reader that trusts the wrong column or header fails here.
Every sentence the tests write is invented.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from datasets import ClassLabel, Features, Value


@dataclass(frozen=True)
class HubSchema:
    text_columns: tuple[str, ...]
    label_names: tuple[str, ...] | None  # None: a float32 score


HUB_SCHEMAS = {
    "cola": HubSchema(("sentence",), ("unacceptable", "acceptable")),
    "sst2": HubSchema(("sentence",), ("negative", "positive")),
    "mrpc": HubSchema(("sentence1", "sentence2"), ("not_equivalent", "equivalent")),
    "qqp": HubSchema(("question1", "question2"), ("not_duplicate", "duplicate")),
    "stsb": HubSchema(("sentence1", "sentence2"), None),
    "mnli": HubSchema(("premise", "hypothesis"), ("entailment", "neutral", "contradiction")),
    "qnli": HubSchema(("question", "sentence"), ("entailment", "not_entailment")),
    "rte": HubSchema(("sentence1", "sentence2"), ("entailment", "not_entailment")),
    "wnli": HubSchema(("sentence1", "sentence2"), ("not_entailment", "entailment")),
}
TASK_NAMES = tuple(HUB_SCHEMAS)


def hub_features(task: str) -> Features:
    schema = HUB_SCHEMAS[task]
    features = {column: Value("string") for column in schema.text_columns}
    features["label"] = Value("float32") if schema.label_names is None else ClassLabel(names=list(schema.label_names))
    features["idx"] = Value("int32")
    return Features(features)


Row = tuple[tuple[str, ...], str]  # (texts, the label as the file writes it)


@dataclass(frozen=True)
class GlueWriter:
    """One task's files as GLUE ships them: which files, their headers, and how a row is laid out."""

    folder: str
    files: dict[str, str]  # split -> file name
    headers: dict[str, list[str]] | None  # file name -> header; None: no header (CoLA)
    lay_out: Callable[[int, tuple[str, ...], str, str], list[str]]  # (n, texts, label, file) -> fields
    # The label as written in the file -> the Hub's class name (or, for STS-B, sample scores -> floats).
    label_meanings: dict[str, str | float]

    def header(self, file: str) -> list[str] | None:
        return None if self.headers is None else self.headers[file]

    def line(self, n: int, texts: tuple[str, ...], label: str, file: str) -> str:
        return "\t".join(self.lay_out(n, texts, label, file))

    def write_file(
        self, path: Path, rows: Sequence[Row], *, bom: bool = False, newline: str = "\n", header: list[str] | None = None
    ) -> Path:
        header = self.header(path.name) if header is None else header
        lines = ([] if header is None else ["\t".join(header)]) + [
            self.line(n, texts, label, path.name) for n, (texts, label) in enumerate(rows)
        ]
        path.write_bytes((("\ufeff" if bom else "") + "".join(line + newline for line in lines)).encode("utf-8"))
        return path

    def write_folder(self, folder: Path, rows: dict[str, Sequence[Row]], **options) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for split, file in self.files.items():
            self.write_file(folder / file, rows[split], **options)
        return folder


TRAIN_DEV = {"train": "train.tsv", "validation": "dev.tsv"}
MNLI_FILES = {
    "train": "train.tsv",
    "validation_matched": "dev_matched.tsv",
    "validation_mismatched": "dev_mismatched.tsv",
}
MNLI_HEAD = [
    "index", "promptID", "pairID", "genre", "sentence1_binary_parse", "sentence2_binary_parse",
    "sentence1_parse", "sentence2_parse", "sentence1", "sentence2",
]
MNLI_TRAIN_HEADER = [*MNLI_HEAD, "label1", "gold_label"]
MNLI_DEV_HEADER = [*MNLI_HEAD, "label1", "label2", "label3", "label4", "label5", "gold_label"]
INDEX_PAIR_HEADER = ["index", "sentence1", "sentence2", "label"]


def _same(header: list[str], files: dict[str, str] = TRAIN_DEV) -> dict[str, list[str]]:
    return {file: header for file in files.values()}


def _mnli_row(n: int, texts: tuple[str, ...], label: str, file: str) -> list[str]:
    parses = ["( ( The x ) y )", "( z )", "(ROOT (S (NP The x) (VP y)))", "(ROOT (NP z))"]
    # An annotator who disagrees with the gold label, so a reader of the wrong column is caught.
    dissent = "neutral" if label != "neutral" else "entailment"
    annotators = [dissent] if file == "train.tsv" else [dissent, label, dissent, label, label]
    return [str(n), f"{n}1", f"{n}1e", "fiction", *parses, *texts, *annotators, label]


WRITERS = {
    # No header; four fields: source code, label, the author's original mark, sentence.
    "cola": GlueWriter(
        "CoLA", TRAIN_DEV, None,
        lambda n, t, label, f: [f"src{n % 3}", label, "" if label == "1" else "*", t[0]],
        {"0": "unacceptable", "1": "acceptable"},
    ),
    "sst2": GlueWriter(
        "SST-2", TRAIN_DEV, _same(["sentence", "label"]),
        lambda n, t, label, f: [t[0], label],
        {"0": "negative", "1": "positive"},
    ),
    "mrpc": GlueWriter(
        "MRPC", TRAIN_DEV, _same(["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"]),
        lambda n, t, label, f: [label, str(1000 + n), str(2000 + n), t[0], t[1]],
        {"0": "not_equivalent", "1": "equivalent"},
    ),
    "qqp": GlueWriter(
        "QQP", TRAIN_DEV, _same(["id", "qid1", "qid2", "question1", "question2", "is_duplicate"]),
        lambda n, t, label, f: [str(n), str(2 * n + 1), str(2 * n + 2), t[0], t[1], label],
        {"0": "not_duplicate", "1": "duplicate"},
    ),
    "stsb": GlueWriter(
        "STS-B", TRAIN_DEV,
        _same(["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2", "score"]),
        lambda n, t, label, f: [f"{n:04d}", "main-news", "headlines", "2015", f"{n:04d}", "none", "none", t[0], t[1], label],
        {"0.000": 0.0, "3.800": 3.8, "5.000": 5.0, "2.5": 2.5},
    ),
    "mnli": GlueWriter(
        "MNLI", MNLI_FILES,
        {"train.tsv": MNLI_TRAIN_HEADER, "dev_matched.tsv": MNLI_DEV_HEADER, "dev_mismatched.tsv": MNLI_DEV_HEADER},
        _mnli_row,
        {"entailment": "entailment", "neutral": "neutral", "contradiction": "contradiction"},
    ),
    "qnli": GlueWriter(
        "QNLI", TRAIN_DEV, _same(["index", "question", "sentence", "label"]),
        lambda n, t, label, f: [str(n), t[0], t[1], label],
        {"entailment": "entailment", "not_entailment": "not_entailment"},
    ),
    "rte": GlueWriter(
        "RTE", TRAIN_DEV, _same(INDEX_PAIR_HEADER),
        lambda n, t, label, f: [str(n), t[0], t[1], label],
        {"entailment": "entailment", "not_entailment": "not_entailment"},
    ),
    "wnli": GlueWriter(
        "WNLI", TRAIN_DEV, _same(INDEX_PAIR_HEADER),
        lambda n, t, label, f: [str(n), t[0], t[1], label],
        {"0": "not_entailment", "1": "entailment"},
    ),
}
