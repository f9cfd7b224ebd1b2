"""``glue_metric/glue_metric.py``: GLUE's Hub metric for every config, loaded offline, agreeing with the functional core.

Where a metric is defined, the ``evaluate`` module and ``harness.tasks.metrics`` must give the same
number to the last bit (both make GLUE's library call on GLUE's float32 or int64 inputs), and both
must equal scikit-learn or scipy called here. Where it is undefined, the module keeps GLUE's
convention (0.0 or NaN) and the functional core raises: both are asserted.
"""

from __future__ import annotations

import importlib.util
import math
import warnings

import evaluate
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import f1_score, matthews_corrcoef

from harness.tasks import metrics as m
from harness.tasks.metrics import GLUE_METRIC_PATH, MetricUndefinedError
from tests.strategies import label_pairs, regression_batches


def _module():
    spec = importlib.util.spec_from_file_location("glue_metric_under_test", GLUE_METRIC_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GLUE = _module()
# What each config reports, as GLUE's script (evaluate-metric/glue, glue.py) computes it.
EXPECTED_KEYS = {
    **{config: ("accuracy",) for config in ("sst2", "mnli", "mnli_mismatched", "mnli_matched", "qnli", "rte", "wnli", "hans")},
    "mrpc": ("accuracy", "f1"),
    "qqp": ("accuracy", "f1"),
    "cola": ("matthews_correlation",),
    "stsb": ("pearson", "spearmanr"),
}


@pytest.fixture(scope="module")
def glue():
    """Each config loaded once for the module: ``evaluate.load`` takes a fraction of a second, compute milliseconds."""
    loaded: dict[str, evaluate.EvaluationModule] = {}

    def load(config: str) -> evaluate.EvaluationModule:
        if config not in loaded:
            loaded[config] = evaluate.load(GLUE_METRIC_PATH, config_name=config)
        return loaded[config]

    return load


def compute(metric, predictions, references) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # GLUE's conventions come with sklearn and scipy warnings; values are checked
        return metric.compute(predictions=predictions, references=references)


def test_the_module_covers_every_glue_config():
    assert set(GLUE.CONFIGS) == set(EXPECTED_KEYS)
    assert len(GLUE.CONFIGS) == 12


@pytest.mark.parametrize("config", sorted(EXPECTED_KEYS))
def test_each_config_loads_offline_and_reports_glues_keys(glue, config):
    predictions, references = ([0.0, 1.0, 2.5], [0.5, 1.0, 3.0]) if config == "stsb" else ([0, 1, 1], [0, 1, 0])

    result = compute(glue(config), predictions, references)

    assert tuple(result) == EXPECTED_KEYS[config]
    assert all(type(value) is float for value in result.values())


@given(config=st.sampled_from(["sst2", "mnli", "mnli_mismatched", "mnli_matched", "qnli", "rte", "wnli", "hans"]), pair=label_pairs(max_size=16))
def test_accuracy_configs_match_the_functional_metric(glue, config, pair):
    result = compute(glue(config), pair.predictions, pair.references)

    assert result == {"accuracy": m.accuracy(pair.predictions, pair.references)}
    assert result["accuracy"] == float(np.mean(pair.predictions == pair.references))


@pytest.mark.parametrize("config", ["mrpc", "qqp"])
@given(pair=label_pairs(num_labels=st.just(2), max_size=16))
def test_accuracy_and_f1_configs_match_the_functional_metrics_or_glues_convention(glue, config, pair):
    result = compute(glue(config), pair.predictions, pair.references)

    assert result["accuracy"] == m.accuracy(pair.predictions, pair.references)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert result["f1"] == f1_score(pair.references, pair.predictions)
    if (pair.references == 1).any():
        assert result["f1"] == m.f1(pair.predictions, pair.references)
    else:
        assert result["f1"] == 0.0  # GLUE's convention; the functional core refuses it
        with pytest.raises(MetricUndefinedError, match="no positive"):
            m.f1(pair.predictions, pair.references)


@given(pair=label_pairs(max_size=16))
def test_cola_matches_the_functional_metric_or_glues_convention(glue, pair):
    result = compute(glue("cola"), pair.predictions, pair.references)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns when both columns hold one class
        assert result["matthews_correlation"] == matthews_corrcoef(pair.references, pair.predictions)
    if np.unique(pair.references).size > 1:
        assert result == {"matthews_correlation": m.matthews_correlation(pair.predictions, pair.references)}
    else:
        assert result["matthews_correlation"] == 0.0
        with pytest.raises(MetricUndefinedError, match="single class"):
            m.matthews_correlation(pair.predictions, pair.references)


@given(batch=regression_batches(min_rows=2, max_rows=16))  # scipy refuses a single row outright
def test_stsb_matches_the_functional_metrics_in_float32_or_glues_nan(glue, batch):
    result = compute(glue("stsb"), batch.scores, batch.labels)

    predictions32, references32 = batch.scores.astype(np.float32), batch.labels.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = {
            "pearson": float(pearsonr(predictions32, references32)[0]),
            "spearmanr": float(spearmanr(predictions32, references32)[0]),
        }
    constant = np.unique(predictions32).size == 1 or np.unique(references32).size == 1
    if constant:
        assert math.isnan(result["pearson"]) and math.isnan(result["spearmanr"])
        with pytest.raises(MetricUndefinedError, match="constant"):
            m.pearson(batch.scores, batch.labels)
    else:
        assert result == expected
        assert result == {"pearson": m.pearson(batch.scores, batch.labels), "spearmanr": m.spearmanr(batch.scores, batch.labels)}


def test_stsb_reads_its_inputs_as_float32_like_glue(glue):
    # Differences below float32's precision vanish in GLUE's features: these predictions are constant there.
    result = compute(glue("stsb"), [1.0, 1.0 + 1e-12, 1.0 - 1e-12], [0.0, 1.0, 2.0])

    assert math.isnan(result["pearson"])


@pytest.mark.parametrize("config", ["glue", "sts-b", "default"])
def test_an_unknown_config_names_the_valid_ones(config):
    with pytest.raises(KeyError) as error:
        evaluate.load(GLUE_METRIC_PATH, config_name=config)

    message = str(error.value)
    assert f"unknown GLUE config {config!r}" in message
    assert "cola, stsb, mrpc, qqp, sst2, mnli, mnli_mismatched, mnli_matched, qnli, rte, wnli, hans" in message
