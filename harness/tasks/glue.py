"""The nine GLUE tasks, with the Hub's ``nyu-mll/glue`` schema.

Column names, label names and their order are those of the Hub dataset, whose features were
defined by the ``glue.py`` loading script in huggingface/datasets (``datasets/glue/glue.py``:
each ``GlueConfig``'s ``text_features`` and ``label_classes``; STS-B has no classes, so its label
is a ``float32``). The label order matters: class id ``i`` is ``label_names[i]``, so a model trained
on the Hub data and one trained on local GLUE files agree only if this order is the Hub's.
Metrics are GLUE's own per task (Wang et al., 2019, table 1; the ``glue`` metric in ``evaluate``
computes the same names).
"""

from __future__ import annotations

from harness.tasks.spec import TaskSpec

HUB_DATASET = "nyu-mll/glue"

COLA = TaskSpec(
    name="cola",
    text_columns=("sentence",),
    num_labels=2,
    label_names=("unacceptable", "acceptable"),
    metrics=("matthews_correlation",),
    hub=(HUB_DATASET, "cola"),
    description="CoLA: is a single English sentence grammatically acceptable?",
)
SST2 = TaskSpec(
    name="sst2",
    text_columns=("sentence",),
    num_labels=2,
    label_names=("negative", "positive"),
    metrics=("accuracy",),
    hub=(HUB_DATASET, "sst2"),
    description="SST-2: is a movie-review sentence's sentiment negative or positive?",
)
MRPC = TaskSpec(
    name="mrpc",
    text_columns=("sentence1", "sentence2"),
    num_labels=2,
    label_names=("not_equivalent", "equivalent"),
    metrics=("accuracy", "f1"),
    hub=(HUB_DATASET, "mrpc"),
    description="MRPC: do two news sentences say the same thing (paraphrase)?",
)
QQP = TaskSpec(
    name="qqp",
    text_columns=("question1", "question2"),
    num_labels=2,
    label_names=("not_duplicate", "duplicate"),
    metrics=("accuracy", "f1"),
    hub=(HUB_DATASET, "qqp"),
    description="QQP: do two Quora questions ask the same thing?",
)
STSB = TaskSpec(
    name="stsb",
    text_columns=("sentence1", "sentence2"),
    num_labels=1,
    label_names=(),
    metrics=("pearson", "spearmanr"),
    hub=(HUB_DATASET, "stsb"),
    description="STS-B: how similar are two sentences, as a score from 0 to 5 (regression)?",
)
MNLI = TaskSpec(
    name="mnli",
    text_columns=("premise", "hypothesis"),
    num_labels=3,
    label_names=("entailment", "neutral", "contradiction"),
    metrics=("accuracy",),
    # MNLI is scored twice: on genres seen in training (matched) and on unseen ones (mismatched).
    evaluation_splits=("validation_matched", "validation_mismatched"),
    hub=(HUB_DATASET, "mnli"),
    description="MNLI: does a premise entail, contradict or say nothing about a hypothesis?",
)
QNLI = TaskSpec(
    name="qnli",
    text_columns=("question", "sentence"),
    num_labels=2,
    label_names=("entailment", "not_entailment"),
    metrics=("accuracy",),
    hub=(HUB_DATASET, "qnli"),
    description="QNLI: does a Wikipedia sentence contain the answer to a question?",
)
RTE = TaskSpec(
    name="rte",
    text_columns=("sentence1", "sentence2"),
    num_labels=2,
    label_names=("entailment", "not_entailment"),
    metrics=("accuracy",),
    hub=(HUB_DATASET, "rte"),
    description="RTE: does the first sentence entail the second?",
)
WNLI = TaskSpec(
    name="wnli",
    text_columns=("sentence1", "sentence2"),
    num_labels=2,
    # The reverse of RTE's order: in GLUE's WNLI files 1 means entailment.
    label_names=("not_entailment", "entailment"),
    metrics=("accuracy",),
    hub=(HUB_DATASET, "wnli"),
    description="WNLI: is a sentence with its pronoun replaced entailed by the original (Winograd schemas)?",
)

# In GLUE's own order (the benchmark paper's table 1).
GLUE_TASKS: tuple[TaskSpec, ...] = (COLA, SST2, MRPC, QQP, STSB, MNLI, QNLI, RTE, WNLI)
