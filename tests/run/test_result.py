"""A result carries its config typed, through its file and back; a stored config that no longer
parses is an error naming the file, not a KeyError in the gate."""

from __future__ import annotations

import json

import pytest

from fake_runs import run_result, smoke_run_config
from harness.run.config import RunConfig
from harness.run.result import RESULT_FILE, ResultError, RunResult


def test_a_saved_result_loads_with_the_typed_config_it_was_trained_from(tmp_path):
    config = smoke_run_config(seed=7, faults=("truncated-inputs",))
    loaded = RunResult.load(run_result(config).save(tmp_path))
    assert isinstance(loaded.config, RunConfig)
    assert loaded.config == config and loaded.config.recipe.name == config.recipe.name
    assert loaded.config.faults == ("truncated-inputs",)


@pytest.mark.parametrize("damage", [
    lambda config: config.pop("recipe"),
    lambda config: config.update(precision="fp8"),
    lambda config: config["recipe"].update(learning_rate="fast"),
])
def test_a_stored_config_that_does_not_parse_names_the_file(tmp_path, damage):
    run_result(smoke_run_config()).save(tmp_path)
    data = json.loads((tmp_path / RESULT_FILE).read_text())
    damage(data["config"])
    (tmp_path / RESULT_FILE).write_text(json.dumps(data))
    with pytest.raises(ResultError, match=str(tmp_path / RESULT_FILE)):
        RunResult.load(tmp_path)
