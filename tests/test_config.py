"""RunConfig and Recipe: a run that cannot work is refused when it is described, not minutes in.

The identity is what the result cache and baselines are keyed by, so what it includes and excludes
is tested as carefully as the validation.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path

import pytest

from harness.config import RECIPES, ConfigError, Recipe, RunConfig, get_recipe


def smoke(**changes) -> RunConfig:
    return RunConfig.from_recipe("smoke", **changes)


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "suggestion"),
    [
        ({"task": "sst2"}, "task", "mrpc"),
        ({"precision": "fp8"}, "precision", "bf16"),
        ({"device": "gpu"}, "device", "CUDA_VISIBLE_DEVICES"),
        ({"device": "cuda:1"}, "device", "CUDA_VISIBLE_DEVICES"),
        ({"seed": -1}, "seed", ">= 0"),
    ],
)
def test_invalid_run_fields_are_named_with_the_fix(changes, field, suggestion):
    with pytest.raises(ConfigError) as error:
        smoke(**changes)
    message = str(error.value)
    assert field in message and suggestion in message
    assert repr(next(iter(changes.values()))) in message or str(next(iter(changes.values()))) in message


@pytest.mark.parametrize("fault", ["label-noise-1", "label-noise-13", "label-noise-50", "shuffled-labels"])
def test_label_noise_takes_any_whole_percent_up_to_half(fault):
    assert smoke(faults=(fault,)).faults == (fault,)


@pytest.mark.parametrize(
    ("fault", "phrase"),
    [
        ("label-noise-0", "whole percent from 1 to 50"),
        ("label-noise-51", "whole percent from 1 to 50"),
        ("label-noise-7.5", "whole percent from 1 to 50"),
        ("label-noise-", "whole percent from 1 to 50"),
        ("label-noise-+5", "whole percent from 1 to 50"),
        ("shuffled", "unknown fault 'shuffled'; known: shuffled-labels, truncated-inputs"),
    ],
)
def test_impossible_faults_are_refused_naming_the_valid_ones(fault, phrase):
    with pytest.raises(ConfigError, match=re.escape(phrase)):
        smoke(faults=(fault,))


def test_two_label_noise_faults_in_one_run_are_refused():
    with pytest.raises(ConfigError, match="at most one label-noise fault"):
        smoke(faults=("label-noise-10", "label-noise-20"))


@pytest.mark.parametrize("device", ["cpu", "mps"])
def test_fp16_without_cuda_is_refused(device):
    """The Trainer would fail (or silently compute garbage) much later; say so up front."""
    with pytest.raises(ConfigError, match="fp16 training needs a CUDA device"):
        smoke(device=device, precision="fp16")


@pytest.mark.parametrize("device", ["auto", "cuda"])
def test_fp16_is_accepted_where_cuda_may_be_present(device):
    assert smoke(device=device, precision="fp16").precision == "fp16"


@pytest.mark.parametrize(
    ("field", "value", "phrase"),
    [
        ("epochs", 0, "epochs must be a finite number > 0"),
        ("epochs", -1.5, "epochs must be a finite number > 0"),
        ("batch_size", 0, "batch_size must be >= 1"),
        ("eval_batch_size", 0, "eval_batch_size must be >= 1"),
        ("learning_rate", 0.0, "learning_rate must be a finite number in (0, 1)"),
        ("learning_rate", 1.0, "learning_rate must be a finite number in (0, 1)"),
        ("warmup_ratio", -0.1, "warmup_ratio must be a finite number in [0, 1)"),
        ("warmup_ratio", 1.0, "warmup_ratio must be a finite number in [0, 1)"),
        ("max_length", 7, "max_length must be >= 8"),
        ("max_train_samples", 0, "max_train_samples must be >= 1"),
    ],
)
def test_recipe_bounds_are_enforced_and_named(field, value, phrase):
    with pytest.raises(ConfigError) as error:
        Recipe(name="bad", model="arch:bert-tiny", **{field: value})
    assert phrase in str(error.value) and "'bad'" in str(error.value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize(
    ("field", "valid_range"),
    [("epochs", "> 0"), ("learning_rate", "in (0, 1)"), ("weight_decay", ">= 0"), ("warmup_ratio", "in [0, 1)")],
)
def test_non_finite_recipe_floats_are_refused_naming_field_value_and_range(field, valid_range, value):
    """NaN compares False with everything, so a bare ``<= 0`` lets it through to crash the Trainer."""
    with pytest.raises(ConfigError) as error:
        smoke(**{field: value})
    message = str(error.value)
    assert f"{field} must be a finite number {valid_range}" in message
    assert f"got {value}" in message and "'smoke'" in message


def test_negative_weight_decay_is_refused():
    with pytest.raises(ConfigError, match=r"weight_decay must be a finite number >= 0, got -0.01"):
        smoke(weight_decay=-0.01)


@pytest.mark.parametrize(
    ("field", "value"),
    [("epochs", 0.5), ("batch_size", 1), ("learning_rate", 1e-9), ("weight_decay", 0.0), ("warmup_ratio", 0.0),
     ("max_length", 8), ("max_train_samples", 1)],
)
def test_recipe_bounds_are_inclusive_where_they_should_be(field, value):
    """The smallest sensible value of each field is allowed: the bounds reject only the impossible."""
    assert getattr(Recipe(name="edge", model="arch:bert-tiny", **{field: value}), field) == value


def test_recipe_overrides_are_validated_too():
    """from_recipe rebuilds the recipe, so an override cannot slip past the bounds."""
    with pytest.raises(ConfigError, match="batch_size"):
        smoke(batch_size=0)


def test_unknown_recipe_lists_the_known_ones():
    with pytest.raises(ConfigError) as error:
        get_recipe("no-such-recipe")
    assert all(name in str(error.value) for name in RECIPES)


def test_every_named_recipe_builds_a_valid_config():
    for name, recipe in RECIPES.items():
        config = RunConfig.from_recipe(name)
        assert config.recipe == recipe
        assert config.model_spec == recipe.model
        assert recipe.description, f"recipe {name!r} should say what it is for"


# --- overrides -----------------------------------------------------------------------------------


def test_from_recipe_overrides_recipe_fields_and_keeps_the_rest():
    config = smoke(epochs=1.0, max_train_samples=5, seed=7)
    expected = dataclasses.replace(RECIPES["smoke"], epochs=1.0, max_train_samples=5)
    assert config.recipe == expected
    assert config.seed == 7


def test_from_recipe_does_not_change_the_named_recipe():
    """Recipes are shared; one run's override must not leak into the next run's recipe."""
    before = RECIPES["smoke"]
    smoke(epochs=9.0)
    assert RECIPES["smoke"] is before and RECIPES["smoke"].epochs != 9.0


def test_model_override_is_a_run_field_not_a_recipe_change():
    """A baseline names its recipe; running it with another model must not rename the recipe's model."""
    config = smoke(model="minilm")
    assert config.model == "minilm" and config.model_spec == "minilm"
    assert config.recipe == RECIPES["smoke"]
    assert smoke().model_spec == RECIPES["smoke"].model


def test_paths_are_coerced_to_path():
    config = smoke(data_dir="some/where", output_dir="out")
    assert config.data_dir == Path("some/where") and config.output_dir == Path("out")
    assert smoke().data_dir is None


# --- identity ------------------------------------------------------------------------------------


def test_identity_excludes_where_data_is_read_and_results_written():
    """Moving the data or the output folder must not invalidate a cached run or a baseline."""
    here = smoke(data_dir="/data/a", output_dir="/runs/a")
    there = smoke(data_dir="/data/b", output_dir="/runs/b")
    assert here.identity() == there.identity()
    assert "data_dir" not in here.identity() and "output_dir" not in here.identity()
    assert "/data/a" not in json.dumps(here.identity())


@pytest.mark.parametrize(
    "changes",
    [{"seed": 43}, {"device": "cuda"}, {"precision": "bf16"}, {"model": "minilm"}, {"epochs": 3.0}, {"learning_rate": 1e-4}],
)
def test_identity_changes_with_anything_that_changes_the_result(changes):
    assert smoke(**changes).identity() != smoke().identity()


def test_to_dict_adds_the_paths_and_serialises():
    config = smoke(data_dir="/data/a", output_dir="/runs/a")
    data = json.loads(config.to_json())
    assert data["data_dir"] == "/data/a" and data["output_dir"] == "/runs/a"
    assert {k: v for k, v in data.items() if k not in ("data_dir", "output_dir")} == json.loads(json.dumps(config.identity()))


# --- immutability --------------------------------------------------------------------------------


def test_configs_and_recipes_are_frozen():
    """A config is passed down and used as a cache key; changing it in place would corrupt both."""
    config = smoke()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.recipe.epochs = 1.0  # type: ignore[misc]


def test_replace_returns_a_validated_copy():
    config = smoke()
    other = config.replace(seed=1)
    assert (config.seed, other.seed) == (42, 1)
    with pytest.raises(ConfigError):
        config.replace(precision="fp16", device="cpu")


# --- TrainingArguments overrides -------------------------------------------------------------------


def test_training_args_overrides_reach_the_trainer_and_the_identity(tmp_path):
    from harness.training import training_arguments

    config = smoke(training_args={"lr_scheduler_type": "cosine", "max_grad_norm": 0.5, "eval_strategy": "no"})
    args = training_arguments(config, "cpu", tmp_path, show_progress=False)
    assert (str(args.lr_scheduler_type), args.max_grad_norm, str(args.eval_strategy)) == ("SchedulerType.COSINE", 0.5, "IntervalStrategy.NO")
    assert config.identity()["recipe"]["training_args"] == {"eval_strategy": "no", "lr_scheduler_type": "cosine", "max_grad_norm": 0.5}
    assert config.short_id != smoke().short_id


def test_a_recipe_without_overrides_keeps_its_identity():
    """Baselines and cached runs recorded before training_args existed must still match."""
    assert "training_args" not in smoke().identity()["recipe"]
    assert smoke(training_args={}).short_id == smoke().short_id


@pytest.mark.parametrize(
    ("overrides", "phrase"),
    [
        ({"learning_rte": 1e-4}, "training_args.learning_rte is not a TrainingArguments field"),
        ({"learning_rte": 1e-4}, "valid: "),
        ({"learning_rate": 1e-4}, "is the recipe field 'learning_rate'; set that instead"),
        ({"seed": 3}, "cannot be overridden: the run's seed sets both"),
        ({"bf16": True}, "cannot be overridden: the run's device and precision"),
        ({"push_to_hub": True}, "cannot be overridden: nothing is pushed to the Hub"),
        ({"gradient_accumulation_steps": 2}, "one batch per optimizer step"),
        ({"max_grad_norm": object()}, "must be plain data"),
    ],
)
def test_impossible_training_args_are_refused_naming_the_fix(overrides, phrase):
    with pytest.raises(ConfigError, match=re.escape(phrase)):
        smoke(training_args=overrides)


def test_a_bad_training_args_value_fails_before_any_data_is_read(tmp_path):
    from harness.training import fine_tune

    config = smoke(training_args={"lr_scheduler_type": "sideways"}, data_dir=tmp_path / "no-such-folder", device="cpu")
    with pytest.raises(ConfigError, match=r"recipe 'smoke': training_args \{'lr_scheduler_type': 'sideways'\} were refused"):
        fine_tune(config, hub_offline=True, show_progress=False)
