"""TaskSpec: a task that cannot work is refused where it is written, naming the field and its valid values."""

from __future__ import annotations

import dataclasses

import pytest

from harness.tasks.spec import TaskError, TaskSpec

VALID = dict(
    name="pairs",
    text_columns=("first", "second"),
    num_labels=2,
    label_names=("no", "yes"),
    metrics=("accuracy", "f1"),
)


def spec(**changes) -> TaskSpec:
    return TaskSpec(**{**VALID, **changes})


def test_a_valid_spec_keeps_its_fields_and_defaults():
    built = spec()
    assert built.text_columns == ("first", "second")
    assert built.label_column == "label"
    assert built.evaluation_splits == ("validation",)
    assert built.hub is None and built.description == ""
    assert not built.is_regression


def test_lists_are_stored_as_tuples_so_a_spec_is_immutable_and_hashable():
    built = spec(text_columns=["first"], label_names=["no", "yes"], metrics=["accuracy"],
                 evaluation_splits=["dev"], hub=["someone/data", "pairs"])
    assert (built.text_columns, built.label_names, built.metrics, built.evaluation_splits, built.hub) == (
        ("first",), ("no", "yes"), ("accuracy",), ("dev",), ("someone/data", "pairs")
    )
    assert hash(built) == hash(spec(text_columns=("first",), label_names=("no", "yes"), metrics=("accuracy",),
                                    evaluation_splits=("dev",), hub=("someone/data", "pairs")))
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.num_labels = 3  # type: ignore[misc]


def test_fields_are_keyword_only():
    """Nine fields in a row are easy to misorder; naming each one makes a spec read as what it is."""
    with pytest.raises(TypeError):
        TaskSpec("pairs", ("first",), 2, ("no", "yes"), ("accuracy",))  # type: ignore[misc]


def test_regression_has_one_label_and_no_names():
    built = spec(num_labels=1, label_names=(), metrics=("pearson",))
    assert built.is_regression


def test_hub_config_may_be_none():
    assert spec(hub=("imdb", None)).hub == ("imdb", None)


def test_task_error_is_a_value_error():
    assert issubclass(TaskError, ValueError)


@pytest.mark.parametrize(
    ("changes", "phrases"),
    [
        ({"name": ""}, ["task name ''", "lowercase letters"]),
        ({"name": "MRPC"}, ["task name 'MRPC'", "lowercase letters"]),
        ({"name": "my task"}, ["task name 'my task'"]),
        ({"name": None}, ["task name None"]),
        # A task's name and its splits' are parts of baseline file names and run folders (issue 19, item 5).
        ({"name": "a--b"}, ["task name 'a--b'", "never '--'"]),
        ({"name": "t" * 65}, ["(65 characters)", "1 to 64"]),
        ({"evaluation_splits": ("../../../escaped",)}, ["evaluation split '../../../escaped' is not a valid name"]),
        ({"evaluation_splits": ("dev\u0000",)}, ["evaluation split 'dev\\x00' is not a valid name"]),
        ({"text_columns": ()}, ["text_columns must name 1 column", "or 2", "got 0"]),
        ({"text_columns": ("a", "b", "c")}, ["text_columns must name 1 column", "got 3"]),
        ({"text_columns": "sentence"}, ["text_columns must be a tuple", "write ('sentence',)"]),
        ({"text_columns": ("a", "a")}, ["text_columns must be two different columns"]),
        ({"text_columns": ("a", "")}, ["text_columns must hold non-empty strings"]),
        ({"text_columns": ("a", 3)}, ["text_columns must hold non-empty strings", "3"]),
        ({"text_columns": ("idx",)}, ["'idx' cannot be a text or label column", "rename"]),
        ({"label_column": "idx"}, ["'idx' cannot be a text or label column"]),
        ({"label_column": "first"}, ["label_column 'first' is also a text column"]),
        ({"label_column": ""}, ["label_column must be a non-empty column name"]),
        ({"num_labels": 0, "label_names": ()}, ["num_labels must be an integer >= 2", "or 1 for regression", "got 0"]),
        ({"num_labels": 2.0}, ["num_labels must be an integer", "got 2.0"]),
        ({"num_labels": True}, ["num_labels must be an integer", "got True"]),
        ({"label_names": ("no",)}, ["label_names must name each of the 2 labels", "got 1 name:"]),
        ({"num_labels": 3}, ["label_names must name each of the 3 labels", "got 2 names"]),
        ({"label_names": ("no", "no")}, ["label_names must be distinct"]),
        ({"label_names": ("no", " ")}, ["label_names must hold non-empty strings"]),
        ({"num_labels": 1}, ["regression task (num_labels=1)", "label_names must be ()", "('no', 'yes')"]),
        ({"metrics": ()}, ["metrics must name at least one metric"]),
        ({"metrics": ("accuracy", "")}, ["metrics must hold non-empty strings"]),
        ({"metrics": ("f1", "f1")}, ["metrics must not repeat a name"]),
        ({"metrics": "accuracy"}, ["metrics must be a tuple", "write ('accuracy',)"]),
        ({"evaluation_splits": ()}, ["evaluation_splits must name at least one split"]),
        ({"evaluation_splits": ("validation", "train")}, ["must not include 'train'"]),
        ({"evaluation_splits": ("dev", "dev")}, ["evaluation_splits must not repeat a split"]),
        ({"hub": "nyu-mll/glue"}, ["hub must be a tuple", "write ('nyu-mll/glue',)"]),
        ({"hub": ("nyu-mll/glue",)}, ["hub must be None or a (path, config) pair", "('nyu-mll/glue', 'mrpc')"]),
        ({"hub": ("", "mrpc")}, ["hub must be None or a (path, config) pair"]),
        ({"hub": ("nyu-mll/glue", "")}, ["hub must be None or a (path, config) pair"]),
        ({"hub": ("a", "b", "c")}, ["hub must be None or a (path, config) pair"]),
        ({"description": None}, ["description must be a string"]),
    ],
)
def test_invalid_specs_name_the_field_and_the_valid_values(changes, phrases):
    with pytest.raises(TaskError) as error:
        spec(**changes)
    message = str(error.value)
    for phrase in phrases:
        assert phrase in message
    if "name" not in changes:
        assert message.startswith("task 'pairs': ")
