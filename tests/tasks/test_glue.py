"""The GLUE specs against the Hub's ``nyu-mll/glue`` schema, set down independently in ``glue_formats``."""

from __future__ import annotations

import pytest

from harness.tasks.glue import GLUE_TASKS
from tests.tasks.glue_formats import HUB_SCHEMAS

SPECS = {spec.name: spec for spec in GLUE_TASKS}
# GLUE's metric per task (Wang et al., 2019, table 1), as the `glue` metric in `evaluate` names them.
METRICS = {
    "cola": ("matthews_correlation",), "sst2": ("accuracy",), "mrpc": ("accuracy", "f1"),
    "qqp": ("accuracy", "f1"), "stsb": ("pearson", "spearmanr"), "mnli": ("accuracy",),
    "qnli": ("accuracy",), "rte": ("accuracy",), "wnli": ("accuracy",),
}


def test_the_nine_glue_tasks():
    assert list(SPECS) == list(HUB_SCHEMAS)


@pytest.mark.parametrize("name", HUB_SCHEMAS)
def test_columns_and_labels_are_the_hubs(name):
    spec, schema = SPECS[name], HUB_SCHEMAS[name]
    assert spec.text_columns == schema.text_columns
    assert spec.label_column == "label"
    if schema.label_names is None:
        assert spec.is_regression and spec.num_labels == 1 and spec.label_names == ()
    else:
        assert spec.label_names == schema.label_names and spec.num_labels == len(schema.label_names)


@pytest.mark.parametrize("name", HUB_SCHEMAS)
def test_metrics_splits_and_hub_source(name):
    spec = SPECS[name]
    assert spec.metrics == METRICS[name]
    assert spec.hub == ("nyu-mll/glue", name)
    expected_splits = ("validation_matched", "validation_mismatched") if name == "mnli" else ("validation",)
    assert spec.evaluation_splits == expected_splits
    assert spec.description
