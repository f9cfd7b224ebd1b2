"""TaskRegistry: tasks by name, no shared state, duplicates refused, unknown names answered with the known ones."""

from __future__ import annotations

import dataclasses

import pytest

from harness.tasks import GLUE_TASKS, TaskError, TaskRegistry, TaskSpec, builtin_tasks

GLUE_NAMES = ("cola", "sst2", "mrpc", "qqp", "stsb", "mnli", "qnli", "rte", "wnli")


def topic_task(**changes) -> TaskSpec:
    fields = dict(name="news-topic", text_columns=("text",), num_labels=4,
                  label_names=("world", "sports", "business", "tech"), metrics=("accuracy",))
    return TaskSpec(**{**fields, **changes})


def test_builtin_tasks_are_the_nine_glue_tasks_in_glue_order():
    tasks = builtin_tasks()
    assert tasks.names() == GLUE_NAMES
    assert [spec.name for spec in tasks] == list(GLUE_NAMES)
    assert len(tasks) == 9
    assert all(tasks.get(spec.name) is spec for spec in GLUE_TASKS)


def test_each_call_gives_a_fresh_registry():
    """A task one user registers must not appear in another's registry (or another test's)."""
    mine = builtin_tasks()
    mine.register(topic_task())
    mine.register(dataclasses.replace(mine.get("mrpc"), metrics=("accuracy",)), replace=True)
    fresh = builtin_tasks()
    assert "news-topic" not in fresh
    assert fresh.get("mrpc").metrics == ("accuracy", "f1")


def test_a_user_registered_task_is_found_by_name():
    tasks = builtin_tasks()
    returned = tasks.register(topic_task())
    assert returned is tasks.get("news-topic")
    assert "news-topic" in tasks and returned in tasks
    assert tasks.names()[-1] == "news-topic"


def test_a_duplicate_name_is_refused_and_says_how_to_replace():
    tasks = builtin_tasks()
    with pytest.raises(TaskError) as error:
        tasks.register(dataclasses.replace(tasks.get("rte"), description="changed"))
    message = str(error.value)
    assert "'rte' is already registered" in message and "replace=True" in message
    assert tasks.get("rte").description != "changed"


def test_replace_true_replaces_in_place():
    tasks = builtin_tasks()
    changed = dataclasses.replace(tasks.get("rte"), description="changed")
    tasks.register(changed, replace=True)
    assert tasks.get("rte") is changed
    assert tasks.names() == GLUE_NAMES


def test_an_unknown_name_lists_the_known_ones():
    with pytest.raises(TaskError) as error:
        builtin_tasks().get("imdb")
    message = str(error.value)
    assert "unknown task 'imdb'" in message
    assert "known tasks: " + ", ".join(GLUE_NAMES) in message


def test_a_near_miss_suggests_the_task():
    with pytest.raises(TaskError, match="did you mean 'mrpc'"):
        builtin_tasks().get("mrcp")


def test_an_empty_registry_says_it_is_empty():
    with pytest.raises(TaskError, match="the registry is empty"):
        TaskRegistry().get("mrpc")


@pytest.mark.parametrize("name", [None, 3, ("mrpc",)])
def test_a_name_that_is_not_a_string_is_an_unknown_task(name):
    with pytest.raises(TaskError, match="unknown task"):
        builtin_tasks().get(name)


def test_register_takes_only_task_specs():
    with pytest.raises(TaskError, match="register takes a TaskSpec, got dict"):
        TaskRegistry().register({"name": "x"})  # type: ignore[arg-type]


def test_contains_takes_a_name_or_the_registered_spec():
    tasks = builtin_tasks()
    assert "mrpc" in tasks and tasks.get("mrpc") in tasks
    assert dataclasses.replace(tasks.get("mrpc"), description="another") not in tasks
    assert "nope" not in tasks and 3 not in tasks


def test_a_registry_built_from_specs_refuses_duplicates_among_them():
    with pytest.raises(TaskError, match="already registered"):
        TaskRegistry([topic_task(), topic_task(description="again")])
