"""Hypothesis strategies for the harness's property tests, all in one module.

Conventions (hypothesis' ``api-style`` guide): names are plural nouns, bounds are keyword-only,
parameters that vary take strategies rather than values, and every random choice is drawn from
hypothesis so that a failure shrinks to a minimal example and replays from its seed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from harness.history.records import Boundary, Machine, QualityRecord, RunMetrics, SessionRecord, ThroughputRecord

MRPC_LABELS = (0, 1)
MODEL_MAX_LENGTH = 512
# RecipeConfig rejects anything shorter: below 8 there is no room for [CLS] a [SEP] b [SEP].
MIN_TRUNCATION_LENGTH = 8
# Written literally in raw text, these are matched as special tokens before normalisation (so
# "a [SEP] b" holds three SEPs). MRPC's sentences never contain them; generated text must not either.
BERT_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
# Newswire-like words (MRPC is news), with the punctuation, digits, accents, CJK and emoji that
# exercise the normaliser and the WordPiece splitter.
NEWS_WORDS = (
    "the", "a", "said", "shares", "of", "company", "on", "Tuesday", "percent", "million", "$", "2.5",
    "U.S.", "officials", "Amrozi", "accused", "his", "brother", "whom", "he", "called", '"', "the",
    "witness", ",", "deliberately", "distorting", "evidence", ".", "Yucaipa", "owned", "Dominick's",
    "1997", "--", "don't", "café", "naïve", "Zürich", "北京", "東京", "😀", "—", "(", ")", "year-earlier",
    "unbelievably", "electroencephalography",
)


# --- metrics --------------------------------------------------------------------------------


def logit_dtypes() -> st.SearchStrategy[np.dtype]:
    """The float dtypes a Trainer hands to compute_metrics (fp16 and fp32 runs, fp64 from numpy)."""
    return st.sampled_from([np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)])


@st.composite
def logit_arrays(
    draw,
    *,
    dtypes: st.SearchStrategy[np.dtype] | None = None,
    min_rows: int = 1,
    max_rows: int = 32,
    num_labels: int = 2,
) -> np.ndarray:
    """Finite logits of shape (n, num_labels), any magnitude the dtype can hold, ties included."""
    dtype = draw(logit_dtypes() if dtypes is None else dtypes)
    rows = draw(st.integers(min_value=min_rows, max_value=max_rows))
    elements = hnp.from_dtype(dtype, allow_nan=False, allow_infinity=False)
    return draw(hnp.arrays(dtype, (rows, num_labels), elements=elements))


def label_dtypes() -> st.SearchStrategy[np.dtype]:
    return st.sampled_from([np.dtype(np.int64), np.dtype(np.int32), np.dtype(np.uint8)])


def label_arrays(
    *,
    min_size: int = 1,
    max_size: int = 32,
    dtypes: st.SearchStrategy[np.dtype] | None = None,
    elements: st.SearchStrategy[int] | None = None,
) -> st.SearchStrategy[np.ndarray]:
    """1-d label arrays; MRPC's labels (0 or 1) unless ``elements`` says otherwise."""
    return hnp.arrays(
        label_dtypes() if dtypes is None else dtypes,
        st.integers(min_value=min_size, max_value=max_size),
        elements=st.sampled_from(MRPC_LABELS) if elements is None else elements,
    )


class ScoredBatch(NamedTuple):
    """What a Trainer would pass to compute_metrics, before it is wrapped in any container."""

    logits: np.ndarray
    labels: np.ndarray


@st.composite
def scored_batches(draw, *, logits: st.SearchStrategy[np.ndarray] | None = None) -> ScoredBatch:
    """Logits with MRPC labels of the same length."""
    drawn = draw(logit_arrays() if logits is None else logits)
    rows = drawn.shape[0]
    return ScoredBatch(drawn, draw(label_arrays(min_size=rows, max_size=rows)))


class EvalCase(NamedTuple):
    """A wrapped ``eval_pred`` and the plain arrays it holds, for computing the reference."""

    eval_pred: Any
    logits: np.ndarray
    labels: np.ndarray


@st.composite
def eval_predictions(draw, *, batches: st.SearchStrategy[ScoredBatch] | None = None) -> EvalCase:
    """A batch in each shape the Trainer (or a user) may hand over.

    The logits come as an array or a tensor, bare or as the first element of a model output
    (``(logits, hidden)``, a ``SequenceClassifierOutput`` with or without a loss); the labels as an
    array, a tensor, a column or a list; the pair as a tuple or an ``EvalPrediction``.
    """
    import torch
    from transformers import EvalPrediction
    from transformers.modeling_outputs import SequenceClassifierOutput

    logits, labels = draw(scored_batches() if batches is None else batches)
    rows = logits.shape[0]
    as_tensor = draw(st.booleans())
    raw = torch.from_numpy(logits.copy()) if as_tensor else logits
    wrap = draw(st.sampled_from(["bare", "with-hidden", "model-output", "model-output-with-loss"]))
    if wrap == "bare":
        predictions = raw
    elif wrap == "with-hidden":
        hidden = np.zeros((rows, 3, 4), dtype=logits.dtype)
        predictions = (raw, torch.from_numpy(hidden) if as_tensor else hidden)
    else:
        loss = torch.tensor(0.5) if wrap == "model-output-with-loss" else None
        predictions = SequenceClassifierOutput(loss=loss, logits=raw)
    label_form = draw(st.sampled_from(["array", "tensor", "column", "list"]))
    wrapped_labels = {
        "array": lambda: labels,
        "tensor": lambda: torch.from_numpy(labels.astype(np.int64)),
        "column": lambda: labels.reshape(-1, 1),
        "list": lambda: labels.tolist(),
    }[label_form]()
    if draw(st.booleans()):
        eval_pred = EvalPrediction(predictions=predictions, label_ids=wrapped_labels)
    else:
        eval_pred = (predictions, wrapped_labels)
    return EvalCase(eval_pred, logits, labels)


class ShiftedLogits(NamedTuple):
    logits: np.ndarray
    shifted: np.ndarray


@st.composite
def exactly_shifted_logits(
    draw,
    *,
    dtypes: st.SearchStrategy[np.dtype] | None = None,
    min_rows: int = 1,
    max_rows: int = 32,
    num_labels: int = 2,
) -> ShiftedLogits:
    """Logits and the same logits plus a per-row constant, where every sum is exact in the dtype.

    Adding a constant in float arithmetic rounds, and rounding can merge two distinct logits into a
    tie and so move the argmax: a property would then blame the metric for the addition's error.
    Instead every logit and every constant is an integer multiple ``k * 2**e`` of one grid step
    with ``|k| <= 2**(p - 1)`` (``p``: the dtype's significand bits), so each sum is ``m * 2**e``
    with ``|m| <= 2**p``, which the dtype holds exactly. ``e`` runs from the smallest subnormal to
    where ``2**p`` steps still stay finite, so the grid reaches every magnitude the dtype has.
    """
    dtype = draw(logit_dtypes() if dtypes is None else dtypes)
    info = np.finfo(dtype)
    bits = info.nmant + 1
    half = 2 ** (bits - 1)
    step = draw(st.integers(min_value=info.minexp - info.nmant, max_value=info.maxexp - bits - 1))
    rows = draw(st.integers(min_value=min_rows, max_value=max_rows))
    multiples = st.integers(min_value=-half, max_value=half)
    logits = draw(hnp.arrays(np.int64, (rows, num_labels), elements=multiples))
    shifts = draw(hnp.arrays(np.int64, (rows, 1), elements=multiples))

    def on_grid(k: np.ndarray) -> np.ndarray:
        return np.ldexp(k.astype(np.float64), step).astype(dtype)

    return ShiftedLogits(on_grid(logits), on_grid(logits) + on_grid(shifts))


# --- collation --------------------------------------------------------------------------------


@st.composite
def token_id_batches(
    draw,
    *,
    ids: st.SearchStrategy[int],
    lengths: st.SearchStrategy[int] | None = None,
    min_size: int = 1,
    max_size: int = 8,
    token_type_ids: st.SearchStrategy[bool] | None = None,
    attention_masks: st.SearchStrategy[bool] | None = None,
    labels: st.SearchStrategy[bool] | None = None,
) -> list[dict[str, Any]]:
    """Unpadded features as ``tokenize_texts`` leaves them (lists of ints), ready for a collator.

    ``token_type_ids``, ``attention_masks`` and ``labels`` decide per batch whether those columns
    are present. Lengths default to 1..512 (the model maximum); arrays are drawn with a fill value,
    so a 512-token row costs hypothesis a handful of choices, not 512.
    """
    lengths = st.integers(min_value=1, max_value=MODEL_MAX_LENGTH) if lengths is None else lengths
    size = draw(st.integers(min_value=min_size, max_value=max_size))
    with_types = draw(st.booleans() if token_type_ids is None else token_type_ids)
    with_mask = draw(st.booleans() if attention_masks is None else attention_masks)
    with_labels = draw(st.booleans() if labels is None else labels)
    features = []
    for _ in range(size):
        length = draw(lengths)
        feature: dict[str, Any] = {"input_ids": draw(hnp.arrays(np.int64, length, elements=ids)).tolist()}
        if with_types:
            feature["token_type_ids"] = draw(hnp.arrays(np.int64, length, elements=st.sampled_from((0, 1)))).tolist()
        if with_mask:
            feature["attention_mask"] = [1] * length
        if with_labels:
            feature["label"] = draw(st.sampled_from(MRPC_LABELS))
        features.append(feature)
    return features


def pad_multiples() -> st.SearchStrategy[int | None]:
    """``pad_to_multiple_of`` values: none, the usual tensor-core multiples, or anything small."""
    return st.one_of(st.none(), st.sampled_from([8, 64]), st.integers(min_value=1, max_value=24))


def padding_sides() -> st.SearchStrategy[str]:
    return st.sampled_from(["right", "left"])


# --- pair tokenization ------------------------------------------------------------------------


def words() -> st.SearchStrategy[str]:
    """Single words: mostly newswire, sometimes arbitrary Unicode (controls and emoji included).

    Text is any Unicode the tokenizer accepts (surrogates are not text and cannot be encoded);
    whitespace- or control-only "words" vanish in the normaliser, which is one way empty
    sentences arise.
    """
    text = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12)
    return st.one_of(st.sampled_from(NEWS_WORDS), text)


def sentences(
    *, vocabulary: st.SearchStrategy[str] | None = None, min_words: int = 0, max_words: int = 40
) -> st.SearchStrategy[str]:
    """Space-joined words, never holding a literal special token (see ``BERT_SPECIAL_TOKENS``).

    ``min_words=0`` allows the empty sentence: the pipeline's batched tokenizer call still gives
    it its own segment (``[CLS] a [SEP] [SEP]``), so it is a valid MRPC row, not an error.
    """
    return st.lists(words() if vocabulary is None else vocabulary, min_size=min_words, max_size=max_words).map(
        " ".join
    ).filter(lambda sentence: not any(token in sentence for token in BERT_SPECIAL_TOKENS))


def sentence_pairs(*, texts: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[tuple[str, str]]:
    """An MRPC row's ``(sentence1, sentence2)``."""
    side = sentences() if texts is None else texts
    return st.tuples(side, side)


def truncation_lengths(
    *, min_value: int = MIN_TRUNCATION_LENGTH, max_value: int = MODEL_MAX_LENGTH
) -> st.SearchStrategy[int | None]:
    """A recipe's ``max_length``: None (the tokenizer's model maximum) or a bound RecipeConfig accepts."""
    return st.one_of(st.none(), st.integers(min_value=min_value, max_value=max_value))


# --- GLUE files -------------------------------------------------------------------------------

# What one field of a GLUE TSV cannot hold: the tab between fields and the line ends between rows.
TSV_SEPARATORS = ("\t", "\n", "\r")


def tsv_texts(*, min_size: int = 0, max_size: int = 30) -> st.SearchStrategy[str]:
    """Text one field of a GLUE TSV can hold: any Unicode but tabs and line ends.

    Double and single quotes are drawn often, and so unbalanced as often as not: a stray ``"`` is
    where a reader with quoting on swallows the tabs and newlines after it and merges rows.
    """
    characters = st.one_of(
        st.sampled_from(['"', "'", " ", '""']),
        st.characters(exclude_categories=("Cs",), exclude_characters=TSV_SEPARATORS),
    )
    return st.lists(characters, min_size=min_size, max_size=max_size).map("".join)


@st.composite
def labelled_text_rows(
    draw,
    *,
    columns: int,
    labels: st.SearchStrategy[str],
    texts: st.SearchStrategy[str] | None = None,
    min_size: int = 1,
    max_size: int = 12,
) -> list[tuple[tuple[str, ...], str]]:
    """Rows of ``columns`` texts and a label as a file writes it, e.g. ``(("a", "b"), "1")``."""
    text = tsv_texts() if texts is None else texts
    row = st.tuples(st.tuples(*[text] * columns), labels)
    return draw(st.lists(row, min_size=min_size, max_size=max_size))


# --- metrics for every GLUE task --------------------------------------------------------------

# STS-B's labels sit on a coarse grid, so ties (which Spearman ranks share) are common; quarters
# are exact in float32 and float64, so a drawn label survives the float32 GLUE scores in.
SCORE_GRID = tuple(step / 4 for step in range(21))


def class_counts(*, min_value: int = 2, max_value: int = 5) -> st.SearchStrategy[int]:
    """A classification task's ``num_labels``: 2 (MRPC, CoLA, ...), 3 (MNLI) or more."""
    return st.integers(min_value=min_value, max_value=max_value)


class LabelPair(NamedTuple):
    """Predicted and reference class labels of the same length."""

    predictions: np.ndarray
    references: np.ndarray


@st.composite
def label_pairs(
    draw,
    *,
    num_labels: st.SearchStrategy[int] | None = None,
    min_size: int = 1,
    max_size: int = 32,
) -> LabelPair:
    """Class labels 0..k-1 for predictions and references (k from ``num_labels``, 2 to 5 by default).

    Each row's prediction is drawn as "copy the reference" or any class, so agreement runs from
    none to all, and single-class columns (where F1 and MCC are undefined) come up often.
    """
    k = draw(class_counts() if num_labels is None else num_labels)
    references = draw(label_arrays(min_size=min_size, max_size=max_size, elements=st.integers(min_value=0, max_value=k - 1)))
    copied = draw(hnp.arrays(np.bool_, len(references), elements=st.booleans()))
    others = draw(label_arrays(min_size=len(references), max_size=len(references), dtypes=st.just(references.dtype),
                               elements=st.integers(min_value=0, max_value=k - 1)))
    return LabelPair(np.where(copied, references, others), references)


class ClassificationBatch(NamedTuple):
    """What a k-class model hands to compute_metrics: logits (n, k) and labels 0..k-1."""

    logits: np.ndarray
    labels: np.ndarray
    num_labels: int


@st.composite
def classification_batches(
    draw,
    *,
    num_labels: st.SearchStrategy[int] | None = None,
    dtypes: st.SearchStrategy[np.dtype] | None = None,
    min_rows: int = 1,
    max_rows: int = 32,
) -> ClassificationBatch:
    """Finite k-class logits (any magnitude, ties included) with labels of the same length."""
    k = draw(class_counts() if num_labels is None else num_labels)
    logits = draw(logit_arrays(dtypes=dtypes, min_rows=min_rows, max_rows=max_rows, num_labels=k))
    rows = logits.shape[0]
    labels = draw(label_arrays(min_size=rows, max_size=rows, elements=st.integers(min_value=0, max_value=k - 1)))
    return ClassificationBatch(logits, labels, k)


def score_dtypes() -> st.SearchStrategy[np.dtype]:
    """Regression outputs and labels: float32 from a model, float64 from numpy or a CSV."""
    return st.sampled_from([np.dtype(np.float32), np.dtype(np.float64)])


def score_arrays(
    *,
    min_size: int = 1,
    max_size: int = 32,
    dtypes: st.SearchStrategy[np.dtype] | None = None,
    elements: st.SearchStrategy[float] | None = None,
) -> st.SearchStrategy[np.ndarray]:
    """1-d finite scores: STS-B-like grid values (ties) mixed with any float32 of modest size."""
    default = st.one_of(st.sampled_from(SCORE_GRID), st.floats(min_value=-1e4, max_value=1e4, width=32))
    return hnp.arrays(
        score_dtypes() if dtypes is None else dtypes,
        st.integers(min_value=min_size, max_value=max_size),
        elements=default if elements is None else elements,
    )


class RegressionBatch(NamedTuple):
    """What a regression model (num_labels=1) hands to compute_metrics: scores and float labels."""

    scores: np.ndarray
    labels: np.ndarray


@st.composite
def regression_batches(
    draw,
    *,
    min_rows: int = 1,
    max_rows: int = 32,
    scores: st.SearchStrategy[np.ndarray] | None = None,
) -> RegressionBatch:
    """Predicted scores (n,) and labels (n,) on STS-B's 0-5 grid, drawn independently."""
    predicted = draw(score_arrays(min_size=min_rows, max_size=max_rows) if scores is None else scores)
    rows = len(predicted)
    labels = draw(score_arrays(min_size=rows, max_size=rows, elements=st.sampled_from(SCORE_GRID)))
    return RegressionBatch(predicted, labels)


# --- history --------------------------------------------------------------------------------


def record_names(*, max_size: int = 20) -> st.SearchStrategy[str]:
    """Check, case, commit and library names: any text with something besides whitespace."""
    return st.text(min_size=1, max_size=max_size).filter(str.strip)


def finite_floats() -> st.SearchStrategy[float]:
    return st.floats(allow_nan=False, allow_infinity=False)


def machines() -> st.SearchStrategy[Machine]:
    return st.builds(Machine, record_names(), st.none() | record_names(), st.integers(min_value=1, max_value=1024))


@st.composite
def quality_records(draw, *, check: st.SearchStrategy[str] | None = None, max_runs: int = 4) -> QualityRecord:
    seeds = draw(st.lists(st.integers(min_value=0, max_value=2**31), min_size=1, max_size=max_runs, unique=True))
    metrics = st.dictionaries(record_names(), finite_floats(), min_size=1, max_size=3)
    runs = tuple(RunMetrics(seed, draw(metrics)) for seed in seeds)
    boundary = st.builds(Boundary, st.none() | finite_floats(), st.none() | finite_floats())
    return QualityRecord(
        draw(record_names() if check is None else check), draw(record_names()), draw(record_names()),
        draw(record_names()), draw(record_names()), draw(st.integers(min_value=1, max_value=len(runs))), runs,
        draw(st.dictionaries(record_names(), boundary, max_size=3)), draw(metrics),
        draw(st.dictionaries(record_names(), finite_floats(), max_size=3)),
    )


def throughput_records(*, case: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[ThroughputRecord]:
    positive = st.floats(min_value=0.0, exclude_min=True, allow_infinity=False)
    return st.builds(ThroughputRecord, record_names() if case is None else case, record_names(), record_names(),
                     positive, st.floats(min_value=0.0, allow_infinity=False), st.integers(min_value=1, max_value=100),
                     faults=st.lists(record_names(), max_size=2).map(tuple))


@st.composite
def session_records(draw, *, max_records: int = 3) -> SessionRecord:
    """A session of any shape: each check and case named once, times in any zone from 2000 to 2100."""
    checks = draw(st.lists(record_names(), max_size=max_records, unique=True))
    cases = draw(st.lists(record_names(), max_size=max_records, unique=True))
    moment = draw(st.datetimes(min_value=dt.datetime(2000, 1, 2), max_value=dt.datetime(2099, 12, 30),
                               timezones=st.sampled_from([dt.timezone.utc, dt.timezone(dt.timedelta(hours=-7))])))
    return SessionRecord(
        draw(record_names()), draw(st.none() | record_names()), moment.isoformat(), draw(machines()),
        draw(st.dictionaries(record_names(), record_names(), max_size=3)),
        tuple(draw(quality_records(check=st.just(name))) for name in checks),
        tuple(draw(throughput_records(case=st.just(name))) for name in cases),
    )
