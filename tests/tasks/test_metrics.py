"""``harness.tasks.metrics``: GLUE's values from scikit-learn and scipy, undefined cases named, inputs checked.

Every reference is computed here, independently of the code under test, with the call GLUE's metric
script makes (evaluate-metric/glue, glue.py): ``accuracy_score``, ``f1_score``,
``matthews_corrcoef`` on the labels, ``pearsonr`` and ``spearmanr`` on float32 scores.
"""

from __future__ import annotations

import pickle
import re
import warnings

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from harness.tasks import metrics as m
from harness.tasks.metrics import (
    MetricInputError,
    MetricRegistry,
    MetricSpec,
    MetricUndefinedError,
    TaskMetrics,
    UnknownMetricError,
    builtin_metrics,
    eval_rows,
    per_row_loss,
)
from tests.strategies import (
    ScoredBatch,
    class_counts,
    classification_batches,
    eval_predictions,
    label_arrays,
    label_pairs,
    regression_batches,
    score_arrays,
)

LABEL_METRICS = {"accuracy": m.accuracy, "f1": m.f1, "matthews_correlation": m.matthews_correlation}
SCORE_METRICS = {"pearson": m.pearson, "spearmanr": m.spearmanr}


def strictly(function, *args):
    """Call with every warning raised: a value that only comes with a warning must not pass quietly."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return function(*args)


def glue_correlation(name: str, predictions: np.ndarray, references: np.ndarray) -> float:
    """What GLUE's ``pearson_and_spearman`` gives: the scipy call on float32 inputs (its features are float32)."""
    call = pearsonr if name == "pearson" else spearmanr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's near-constant warning: the value is what GLUE reports
        return float(call(predictions.astype(np.float32), references.astype(np.float32))[0])


# --- functional metrics against their references -------------------------------------------------


@given(pair=label_pairs())
def test_accuracy_matches_sklearn(pair):
    value = strictly(m.accuracy, pair.predictions, pair.references)

    assert value == accuracy_score(pair.references, pair.predictions)
    assert type(value) is float


@given(pair=label_pairs(num_labels=st.just(2)))
def test_f1_matches_sklearn_or_says_it_is_undefined(pair):
    if (pair.references == 1).any():
        assert strictly(m.f1, pair.predictions, pair.references) == f1_score(pair.references, pair.predictions)
    else:
        with pytest.raises(MetricUndefinedError, match=r"^f1 is undefined: the evaluation labels hold no positive \(label 1\) example; F1 needs at least one\."):
            m.f1(pair.predictions, pair.references)


@given(references=label_arrays().filter(lambda labels: labels.any()))
def test_f1_of_a_model_that_predicts_no_positive_is_glues_zero(references):
    # Recall is 0 and precision 0/0: F1 = 2tp / (2tp + fp + fn) = 0 / fn, defined, and GLUE's value.
    predictions = np.zeros_like(references)

    assert strictly(m.f1, predictions, references) == 0.0 == f1_score(references, predictions)


@given(pair=label_pairs())
def test_matthews_correlation_matches_sklearn_or_says_it_is_undefined(pair):
    classes = np.unique(pair.references)
    if classes.size > 1:
        value = strictly(m.matthews_correlation, pair.predictions, pair.references)
        assert value == matthews_corrcoef(pair.references, pair.predictions)
        assert -1.0 <= value <= 1.0
    else:
        with pytest.raises(MetricUndefinedError) as error:
            m.matthews_correlation(pair.predictions, pair.references)
        assert str(error.value).startswith(
            f"matthews_correlation is undefined: the evaluation labels hold a single class (label {classes[0]})"
        )


@given(data=st.data(), pair=label_pairs())
def test_matthews_correlation_of_one_predicted_class_is_glues_zero(data, pair):
    assume(np.unique(pair.references).size > 1)
    predicted = data.draw(st.integers(min_value=0, max_value=int(pair.references.max()) + 1), label="predicted")
    predictions = np.full_like(pair.references, predicted)

    assert strictly(m.matthews_correlation, predictions, pair.references) == 0.0
    assert matthews_corrcoef(pair.references, predictions) == 0.0


@pytest.mark.parametrize("name", sorted(SCORE_METRICS))
@given(batch=regression_batches())
def test_correlations_match_scipy_in_float32_or_say_why_undefined(name, batch):
    predictions32, references32 = batch.scores.astype(np.float32), batch.labels.astype(np.float32)
    function = SCORE_METRICS[name]
    if (references32 == references32[0]).all():
        with pytest.raises(MetricUndefinedError, match=rf"^{name} is undefined: the evaluation labels are constant"):
            function(batch.scores, batch.labels)
    elif (predictions32 == predictions32[0]).all():
        with pytest.raises(MetricUndefinedError, match=rf"^{name} is undefined: the model's predictions are constant"):
            function(batch.scores, batch.labels)
    else:
        value = function(batch.scores, batch.labels)
        assert value == glue_correlation(name, batch.scores, batch.labels)
        assert -1.0 <= value <= 1.0


@pytest.mark.parametrize("name", sorted(SCORE_METRICS))
@given(labels=score_arrays(min_size=2).filter(lambda a: np.unique(a.astype(np.float32)).size > 1))
def test_a_perfect_regression_correlates_one(name, labels):
    assert SCORE_METRICS[name](labels, labels) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("name", sorted(SCORE_METRICS))
def test_correlations_round_scores_to_float32_as_glue_does(name):
    """Predictions that differ only beyond float32's precision are constant to GLUE: NaN there, an error here."""
    predictions = np.array([1.0, 1.0 + 1e-12, 1.0 - 1e-12])
    assert np.unique(predictions).size == 3
    with pytest.raises(MetricUndefinedError, match="the model's predictions are constant"):
        SCORE_METRICS[name](predictions, np.array([0.0, 1.0, 2.0]))


# --- undefined cases, each with its full message -------------------------------------------------


@pytest.mark.parametrize(
    ("function", "predictions", "references", "message"),
    [
        (
            m.f1,
            [1, 0, 1],
            [0, 0, 0],
            "f1 is undefined: the evaluation labels hold no positive (label 1) example; F1 needs at least one. "
            "Evaluate on rows that include positives, or score these rows with accuracy or matthews_correlation.",
        ),
        (
            m.matthews_correlation,
            [0, 1, 2],
            [2, 2, 2],
            "matthews_correlation is undefined: the evaluation labels hold a single class (label 2), so their "
            "variance is 0 and the correlation is 0/0 (GLUE reports 0.0). Evaluate on rows that hold at least two classes.",
        ),
        (
            m.pearson,
            [0.1, 0.7, 0.3],
            [2.5, 2.5, 2.5],
            "pearson is undefined: the evaluation labels are constant (2.5 in all 3 rows), so the correlation is 0/0 "
            "(GLUE reports NaN). Evaluate on rows whose labels vary.",
        ),
        (
            m.spearmanr,
            [0.3],
            [4.0],
            "spearmanr is undefined: the evaluation labels are constant (4 in the only row), so the correlation is "
            "0/0 (GLUE reports NaN). Evaluate on rows whose labels vary.",
        ),
        (
            m.pearson,
            [3.0, 3.0, 3.0],
            [0.0, 1.0, 2.0],
            "pearson is undefined: the model's predictions are constant (3 for all 3 rows), so the correlation is "
            "0/0 (GLUE reports NaN). The model has collapsed to one output: report the run and check its learning "
            "rate, label scale and training length rather than gate on this value.",
        ),
    ],
    ids=["f1-no-positive", "mcc-one-class", "pearson-constant-labels", "spearman-one-row", "pearson-constant-predictions"],
)
def test_undefined_metrics_name_the_metric_the_reason_and_the_fix(function, predictions, references, message):
    with pytest.raises(MetricUndefinedError) as error:
        function(predictions, references)

    assert str(error.value) == message
    assert isinstance(error.value, ValueError)
    assert error.value.metric == function.__name__
    assert str(pickle.loads(pickle.dumps(error.value))) == message  # survives a trip to another process


# --- input validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "predictions", "references", "pattern"),
    [
        (m.accuracy, [0, 1, 1], [0, 1], r"^accuracy: got 3 predictions but 2 references$"),
        (m.accuracy, [], [], r"^accuracy: predictions hold no rows; a metric needs at least one$"),
        (m.f1, [[0.2, 0.8], [0.9, 0.1]], [1, 0], r"must hold one value per row \(1-d\), got shape \(2, 2\) \(for class labels pass np.argmax"),
        (m.matthews_correlation, [0.0, 0.5], [0, 1], r"predictions must be class labels \(whole numbers\), found 0.5 at row 1"),
        (m.accuracy, [0, 1], [1.0, float("nan")], r"references must be class labels \(whole numbers\), found nan at row 1"),
        (m.f1, [0, 2, 1], [0, 1, 1], r"^f1: scores two classes, 0 and 1 \(F1 of label 1\), but found labels \[2\]; use accuracy or matthews_correlation"),
        (m.accuracy, ["a", "b"], [0, 1], r"predictions must be real numbers, got dtype <U1"),
        (m.pearson, [0.1, float("inf")], [1.0, 2.0], r"^pearson: predictions hold NaN or infinite values in 1 of 2 rows \(first: row 1\)$"),
        (m.spearmanr, [1e39, 0.0], [1.0, 2.0], r"^spearmanr: predictions exceed float32's range \(largest magnitude 1e\+39\)"),
        (m.pearson, [0.1, 0.2, 0.3], [1.0, 2.0], r"^pearson: got 3 predictions but 2 references$"),
    ],
    ids=["lengths", "empty", "logits-for-labels", "scores-for-labels", "nan-label", "f1-three-classes",
         "strings", "infinite-score", "beyond-float32", "score-lengths"],
)
def test_inputs_no_metric_can_score_are_rejected_by_name(function, predictions, references, pattern):
    with pytest.raises(MetricInputError, match=pattern):
        function(np.asarray(predictions), np.asarray(references))


def test_whole_valued_float_and_bool_labels_are_class_labels():
    assert m.accuracy(np.array([0.0, 1.0, 1.0]), np.array([False, True, False])) == pytest.approx(2 / 3)


# --- the loss -----------------------------------------------------------------------------------


@given(batch=classification_batches(dtypes=st.sampled_from([np.dtype(np.float32), np.dtype(np.float64)])))
def test_per_row_loss_is_torch_cross_entropy(batch):
    """The loss interval must be over the quantity the Trainer reports as eval_loss."""
    logits = batch.logits.astype(np.float64)
    expected = torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(batch.labels.astype(np.int64)), reduction="none")

    np.testing.assert_allclose(per_row_loss(batch.logits, batch.labels), expected.numpy(), rtol=1e-9, atol=1e-9)


@given(batch=regression_batches(), column=st.booleans())
def test_per_row_loss_of_scores_is_torch_mse(batch, column):
    # The Trainer's loss for num_labels == 1 is MSELoss on the squeezed (n, 1) output.
    scores = batch.scores.reshape(-1, 1) if column else batch.scores
    expected = torch.nn.functional.mse_loss(
        torch.from_numpy(batch.scores.astype(np.float64)), torch.from_numpy(batch.labels.astype(np.float64)), reduction="none"
    )

    np.testing.assert_allclose(per_row_loss(scores, batch.labels), expected.numpy(), rtol=1e-12)
    assert m.loss(scores, batch.labels) == pytest.approx(float(expected.mean()), rel=1e-12)


def test_per_row_loss_rejects_labels_outside_the_logits_classes():
    with pytest.raises(MetricInputError, match=r"labels must be class indices 0..1 \(num_labels=2\), found \[2\]"):
        per_row_loss(np.zeros((2, 2)), np.array([0, 2]))


# --- specs and the registry ----------------------------------------------------------------------


def test_the_builtin_registry_holds_glues_metrics_and_the_loss():
    registry = builtin_metrics()

    assert registry.names() == ("accuracy", "f1", "matthews_correlation", "pearson", "spearmanr", "loss")
    assert {name: (registry.spec(name).direction, registry.spec(name).kind, registry.spec(name).applies_to) for name in registry.names()} == {
        "accuracy": ("higher", "label", "classification"),
        "f1": ("higher", "label", "binary"),
        "matthews_correlation": ("higher", "label", "classification"),
        "pearson": ("higher", "score", "regression"),
        "spearmanr": ("higher", "score", "regression"),
        "loss": ("lower", "score", "any"),
    }
    assert registry.function("matthews_correlation") is m.matthews_correlation
    assert builtin_metrics() is not registry  # a new registry each call: no shared mutable state


@pytest.mark.parametrize(
    ("name", "suggestion"), [("f2", " did you mean 'f1'?"), ("acuracy", " did you mean 'accuracy'?"), ("bleu", "")]
)
def test_an_unknown_metric_names_the_known_ones(name, suggestion):
    with pytest.raises(UnknownMetricError) as error:
        builtin_metrics().spec(name)

    assert str(error.value) == (
        f"unknown metric {name!r};{suggestion} known metrics: accuracy, f1, matthews_correlation, pearson, spearmanr, loss"
    )
    assert isinstance(error.value, KeyError)


def test_a_registered_metric_is_looked_up_and_cannot_be_registered_twice():
    registry = MetricRegistry()
    spec = MetricSpec("error_rate", "lower", "label", "fraction of rows predicted wrongly")
    registry.register(spec, lambda predictions, references: 1 - m.accuracy(predictions, references))

    assert "error_rate" in registry and registry.spec("error_rate") == spec
    assert registry.function("error_rate")([0, 1], [0, 0]) == 0.5
    with pytest.raises(ValueError, match="metric 'error_rate' is already registered"):
        registry.register(spec, m.accuracy)


@pytest.mark.parametrize(
    ("fields", "pattern"),
    [
        (("eval accuracy", "higher", "label", ""), r"a metric name must be an identifier such as 'f1'"),
        (("acc", "up", "label", ""), r"metric 'acc': direction must be 'higher' or 'lower' \(which way is better\), got 'up'"),
        (("acc", "higher", "class", ""), r"metric 'acc': kind must be 'label' \(computed from predicted classes\) or 'score'"),
        (("acc", "higher", "label", "", "regression"), r"a 'label' metric needs predicted classes, so it applies to 'classification' or 'binary'"),
        (("acc", "higher", "score", "", "multiclass"), r"applies_to must be one of classification, binary, regression, any, got 'multiclass'"),
    ],
    ids=["name", "direction", "kind", "label-regression", "applies-to"],
)
def test_a_spec_that_cannot_work_is_rejected_when_written(fields, pattern):
    with pytest.raises(ValueError, match=pattern):
        MetricSpec(*fields)


@given(num_labels=class_counts(max_value=10))
def test_each_spec_supports_the_tasks_it_says(num_labels):
    registry = builtin_metrics()
    supported = {name for name in registry.names() if registry.spec(name).supports(num_labels)}

    expected = {"accuracy", "matthews_correlation", "loss"} | ({"f1"} if num_labels == 2 else set())
    assert supported == expected
    assert {name for name in registry.names() if registry.spec(name).supports(1)} == {"pearson", "spearmanr", "loss"}


@pytest.mark.parametrize(
    ("metrics", "num_labels", "pattern"),
    [
        (("accuracy",), 1, r"metric 'accuracy' scores a classification task \(num_labels >= 2\), not a regression task \(num_labels=1\); metrics for such a task: pearson, spearmanr, loss"),
        (("accuracy", "f1"), 3, r"metric 'f1' scores a two-class task \(num_labels == 2\), not a 3-class task; metrics for such a task: accuracy, matthews_correlation, loss"),
        (("pearson",), 2, r"metric 'pearson' scores a regression task \(num_labels == 1\), not a 2-class task"),
        ("accuracy", 2, r"metrics must be a sequence of names such as \('accuracy',\), not the string 'accuracy'"),
        ((), 2, r"metrics must name at least one metric"),
        (("f1", "accuracy", "f1"), 2, r"metrics must not repeat a name, got \['f1'\] more than once"),
        (("accuracy",), 0, r"num_labels must be a whole number >= 1 \(the number of classes, or 1 for a regression task\), got 0"),
        (("accuracy",), True, r"num_labels must be a whole number >= 1"),
    ],
    ids=["label-metric-on-regression", "f1-on-three-classes", "correlation-on-classes", "a-string", "empty", "repeated", "zero-labels", "bool-labels"],
)
def test_resolve_rejects_metrics_the_task_cannot_use(metrics, num_labels, pattern):
    with pytest.raises(ValueError, match=pattern):
        builtin_metrics().resolve(metrics, num_labels=num_labels)


# --- TaskMetrics as a Trainer compute_metrics ----------------------------------------------------


def reference_scores(metrics: tuple[str, ...], logits: np.ndarray, labels: np.ndarray) -> dict[str, float] | None:
    """sklearn on np.argmax of the raw logits; None where the labels leave a metric undefined."""
    predictions = np.argmax(logits, axis=-1)
    references = labels.astype(np.int64)
    if ("f1" in metrics and not references.any()) or ("matthews_correlation" in metrics and np.unique(references).size < 2):
        return None
    calls = {
        "accuracy": lambda: accuracy_score(references, predictions),
        "f1": lambda: f1_score(references, predictions),
        "matthews_correlation": lambda: matthews_corrcoef(references, predictions),
    }
    return {name: float(calls[name]()) for name in metrics}


@given(data=st.data(), num_labels=class_counts(max_value=4))
def test_task_metrics_score_every_container_as_sklearn_scores_the_argmax(data, num_labels):
    metrics = ("accuracy", "f1", "matthews_correlation") if num_labels == 2 else ("accuracy", "matthews_correlation")
    batches = classification_batches(num_labels=st.just(num_labels)).map(lambda batch: ScoredBatch(batch.logits, batch.labels))
    case = data.draw(eval_predictions(batches=batches), label="case")
    compute_metrics = TaskMetrics(metrics, num_labels=num_labels)
    expected = reference_scores(metrics, case.logits, case.labels)

    if expected is None:
        with pytest.raises(MetricUndefinedError):
            compute_metrics(case.eval_pred)
    else:
        assert strictly(compute_metrics, case.eval_pred) == expected


@given(batch=regression_batches(min_rows=2), form=st.sampled_from(["array", "column", "tensor-column", "model-output", "tuple"]))
def test_task_metrics_score_regression_outputs_as_glue_scores_them(batch, form):
    from transformers import EvalPrediction
    from transformers.modeling_outputs import SequenceClassifierOutput

    column = batch.scores.reshape(-1, 1)
    outputs = {
        "array": lambda: batch.scores,
        "column": lambda: column,
        "tensor-column": lambda: torch.from_numpy(column.copy()),
        "model-output": lambda: SequenceClassifierOutput(loss=torch.tensor(0.3), logits=torch.from_numpy(column.copy())),
        "tuple": lambda: (column, np.zeros((len(column), 2, 3))),
    }[form]()
    predictions32, references32 = batch.scores.astype(np.float32), batch.labels.astype(np.float32)
    assume(np.unique(predictions32).size > 1 and np.unique(references32).size > 1)

    result = TaskMetrics(("pearson", "spearmanr"), num_labels=1)(EvalPrediction(predictions=outputs, label_ids=batch.labels))

    assert result == {name: glue_correlation(name, batch.scores, batch.labels) for name in ("pearson", "spearmanr")}


@given(data=st.data(), num_labels=class_counts(max_value=4))
def test_bfloat16_logits_score_as_their_exact_float32_widening(data, num_labels):
    batch = data.draw(classification_batches(num_labels=st.just(num_labels), dtypes=st.just(np.dtype(np.float32))), label="batch")
    tensor = torch.from_numpy(batch.logits).to(torch.bfloat16)
    widened = tensor.float().numpy()
    assume(np.isfinite(widened).all())  # fp32 values beyond bf16's largest finite round to inf

    assert TaskMetrics(("accuracy",), num_labels=num_labels)((tensor, batch.labels)) == {
        "accuracy": accuracy_score(batch.labels, np.argmax(widened, axis=-1))
    }


@given(
    data=st.data(),
    batch=classification_batches(),
    value=st.sampled_from([float("nan"), float("inf"), float("-inf")]),
)
def test_non_finite_outputs_are_rejected_by_row(data, batch, value):
    rows, columns = batch.logits.shape
    bad_rows = data.draw(st.sets(st.integers(min_value=0, max_value=rows - 1), min_size=1), label="bad_rows")
    column = data.draw(st.integers(min_value=0, max_value=columns - 1), label="column")
    logits = batch.logits.copy()
    logits[sorted(bad_rows), column] = value

    with pytest.raises(MetricInputError) as error:
        TaskMetrics(("accuracy",), num_labels=batch.num_labels)((logits, batch.labels))

    message = str(error.value)
    assert f"outputs hold NaN or infinite values in {len(bad_rows)} of {rows} rows (first: row {min(bad_rows)})" in message
    assert "try fp32 or a lower learning rate" in message


@given(data=st.data(), batch=classification_batches())
def test_labels_outside_the_tasks_classes_are_rejected(data, batch):
    rows = len(batch.labels)
    outsiders = st.integers(min_value=-(2**31), max_value=2**31 - 1).filter(lambda label: not 0 <= label < batch.num_labels)
    bad = data.draw(st.dictionaries(st.integers(min_value=0, max_value=rows - 1), outsiders, min_size=1), label="bad")
    labels = batch.labels.astype(np.int64)
    labels[list(bad)] = list(bad.values())

    with pytest.raises(MetricInputError) as error:
        TaskMetrics(("accuracy",), num_labels=batch.num_labels)((batch.logits, labels))

    message = str(error.value)
    assert f"labels must be class indices 0..{batch.num_labels - 1} (num_labels={batch.num_labels})" in message
    assert str(min(bad.values())) in message


@given(data=st.data(), batch=classification_batches())
def test_labels_of_another_length_are_rejected(data, batch):
    rows = len(batch.labels)
    labels = data.draw(label_arrays(min_size=0, max_size=rows + 5).filter(lambda a: len(a) != rows), label="labels")

    with pytest.raises(MetricInputError) as error:
        TaskMetrics(("accuracy",), num_labels=batch.num_labels)((batch.logits, labels))

    assert re.search(rf"got {rows} rows of outputs but labels of shape \({len(labels)},\)", str(error.value))


@pytest.mark.parametrize(
    ("num_labels", "outputs", "labels", "pattern"),
    [
        (2, np.zeros((4, 3)), [0, 1, 0, 1], r"a 2-class task takes logits of shape \(n, 2\); got outputs of shape \(4, 3\) \(the model's head has 3 outputs: build it with num_labels=2\)"),
        (3, np.array([0, 2, 1]), [0, 2, 1], r"a 3-class task takes logits of shape \(n, 3\); got outputs of shape \(3,\) \(pass the logits, not their argmax\)"),
        (1, np.zeros((4, 2)), [0.5, 1.0, 2.0, 3.0], r"a regression task \(num_labels=1\) takes one score per row, shape \(n,\) or \(n, 1\); got outputs of shape \(4, 2\)"),
        (1, np.zeros((3, 1)), [0.5, float("nan"), 2.0], r"labels hold NaN or infinite values in 1 of 3 rows \(first: row 1\); regression labels must be finite numbers"),
        (2, np.zeros((0, 2)), [], r"the outputs hold no rows; a metric needs at least one"),
        (2, np.zeros((2, 2)), [0.5, 1.0], r"labels must be class labels \(whole numbers\), found 0.5 at row 0"),
        (2, np.array([["a", "b"]]), [0], r"outputs must be real numbers, got dtype <U1"),
    ],
    ids=["head-too-wide", "argmax-for-logits", "regression-with-two-columns", "nan-regression-label", "no-rows", "fractional-label", "strings"],
)
def test_outputs_that_do_not_fit_the_task_are_rejected(num_labels, outputs, labels, pattern):
    with pytest.raises(MetricInputError, match=pattern):
        eval_rows((outputs, np.asarray(labels)), num_labels=num_labels)


@pytest.mark.parametrize("eval_pred", [42, None, "logits"], ids=["int", "none", "string"])
def test_something_other_than_a_pair_is_rejected(eval_pred):
    with pytest.raises(MetricInputError, match=r"compute_metrics takes \(outputs, labels\) or an EvalPrediction, got"):
        TaskMetrics(("accuracy",), num_labels=2)(eval_pred)


def test_a_model_output_without_logits_is_read_from_its_tuple():
    from transformers.modeling_outputs import BaseModelOutput

    hidden = np.array([[0.0, 3.0], [2.0, 1.0]], dtype=np.float32)
    result = TaskMetrics(("accuracy",), num_labels=2)((BaseModelOutput(last_hidden_state=torch.from_numpy(hidden)), [1, 1]))

    assert result == {"accuracy": 0.5}


def test_task_metrics_refuse_the_loss_the_trainer_reports_itself():
    with pytest.raises(ValueError, match=r"'loss' is not a compute_metrics metric: the Trainer reports it itself as eval_loss"):
        TaskMetrics(("accuracy", "loss"), num_labels=2)


def test_task_metrics_refuse_a_metric_the_task_cannot_use_before_any_training():
    with pytest.raises(ValueError, match=r"metric 'f1' scores a two-class task"):
        TaskMetrics(("accuracy", "f1"), num_labels=3)
    assert repr(TaskMetrics(["accuracy"], num_labels=3)) == "TaskMetrics(('accuracy',), num_labels=3)"


def test_task_metrics_use_a_registered_metric():
    registry = builtin_metrics()
    registry.register(MetricSpec("error_rate", "lower", "label", "fraction wrong"), lambda p, r: 1 - m.accuracy(p, r))

    compute_metrics = TaskMetrics(("error_rate",), num_labels=3, registry=registry)

    assert compute_metrics((np.eye(3), [0, 1, 1])) == {"error_rate": pytest.approx(1 / 3)}
