"""The rule for names that become file names (tasks, recipes, cases, splits): what it refuses, and that
nothing the harness ships or has committed falls foul of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.run.config import RECIPES
from harness.names import MAX_NAME_LENGTH, path_name_problem
from harness.tasks import builtin_tasks

BASELINES = Path(__file__).resolve().parent.parent / "baselines"


@pytest.mark.parametrize("name", ["mrpc", "minilm-cpu-reinit", "validation_mismatched", "v1.2", "0", "x" * MAX_NAME_LENGTH])
def test_names_a_file_system_takes_as_they_are_are_valid(name):
    assert path_name_problem(name) is None


@pytest.mark.parametrize(
    "name",
    ["", "..", "../../../escaped", "a/b", "a\\b", "nul\u0000", "x" * (MAX_NAME_LENGTH + 1), "Smoke", ".hidden", "-flag",
     "_x", "a--b", "with space", "tab\t", None, 3],
)
def test_names_that_are_not_one_plain_file_name_are_refused_naming_the_rule(name):
    problem = path_name_problem(name)
    assert problem is not None and "lowercase letters, digits, '.', '_' and '-'" in problem


def test_every_built_in_and_committed_name_keeps_to_the_rule():
    committed = [json.loads(path.read_text()) for path in BASELINES.glob("*--*.json")]
    assert committed
    names = [*RECIPES, *builtin_tasks().names(), *(split for task in builtin_tasks() for split in task.evaluation_splits),
             *(baseline[key] for baseline in committed for key in ("task", "recipe", "split"))]
    assert [name for name in names if path_name_problem(name)] == []
