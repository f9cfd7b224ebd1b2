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

from harness.run.config import RECIPES, ConfigError, Recipe, RunConfig, get_recipe
from harness.tasks import TaskRegistry, TaskSpec, builtin_tasks


def smoke(**changes) -> RunConfig:
    return RunConfig.from_recipe("smoke", **changes)


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "suggestion"),
    [
        ({"task": "msrp"}, "task", "mrpc"),
        ({"precision": "fp8"}, "precision", "bf16"),
        ({"device": "gpu"}, "device", "CUDA_VISIBLE_DEVICES"),
        ({"device": "cuda:1"}, "device", "CUDA_VISIBLE_DEVICES"),
        ({"seed": -1}, "seed", "from 0 to 2**32 - 1"),
        ({"seed": 2**32}, "seed", "from 0 to 2**32 - 1"),  # set_seed would refuse it after the data and model loaded
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


# --- MRPC's identity, pinned ---------------------------------------------------------------------

# Recorded with the harness as it was before tasks were configurable: cached runs, run folders,
# obtained files, committed baselines and the seed ledger of a recording in progress are all named
# or keyed by these, so they must not move by a bit.
MRPC_SHORT_IDS = {
    ("course", ()): "6a16055c",
    ("minilm-cpu", ()): "1900121f",
    ("smoke", ()): "adc3a844",
    ("minilm-cpu", (("seed", 7), ("precision", "bf16"), ("device", "cpu"), ("world_size", 2), ("faults", ("label-noise-10",)))): "db9b180d",
}
MINILM_CPU_JSON = (
    '{"data_dir": "/x/MRPC", "device": "auto", "faults": [], "model": "minilm", "output_dir": "runs", "precision": "fp32", '
    '"recipe": {"batch_size": 32, "description": "The packaged all-MiniLM-L6-v2 encoder tuned for 2 CPU cores: batch 32, '
    'lr 1e-4 with 10% warm-up, batches grouped by length so little padding is computed, frozen word embeddings (their '
    'dense gradient and AdamW update cost more than they give), 3 epochs.", "epochs": 3.0, "eval_batch_size": 64, '
    '"freeze_word_embeddings": true, "group_by_length": true, "learning_rate": 0.0001, "max_length": 128, '
    '"max_train_samples": null, "model": "minilm", "name": "minilm-cpu", "warmup_ratio": 0.1, "weight_decay": 0.01}, '
    '"seed": 42, "task": "mrpc"}'
)


@pytest.mark.parametrize(("recipe", "changes"), list(MRPC_SHORT_IDS))
def test_mrpc_short_ids_are_what_they_always_were(recipe, changes):
    """The default task, by name or as the built-in spec, keeps every MRPC config's identity."""
    expected = MRPC_SHORT_IDS[(recipe, changes)]
    assert RunConfig.from_recipe(recipe, **dict(changes)).short_id == expected
    assert RunConfig.from_recipe(recipe, task=builtin_tasks().get("mrpc"), **dict(changes)).short_id == expected


def test_mrpc_config_serialises_byte_for_byte_as_before():
    config = RunConfig.from_recipe("minilm-cpu", data_dir=Path("/x/MRPC"), output_dir=Path("runs"))
    assert config.to_json() == MINILM_CPU_JSON
    assert config.identity()["task"] == "mrpc" and "task_spec" not in config.identity()


def test_mrpc_run_and_baseline_names_are_what_they_always_were(smoke_dir):
    """The baseline name is; a run folder's hash is the run identity's, which holds the data since
    issue 20 (d), so only its readable prefix is kept (tests/run/test_run_identity.py checks the hash)."""
    from harness.quality.regression import name_for
    from harness.run.training import run_name

    config = RunConfig.from_recipe("minilm-cpu", device="cpu")
    prefix, _, digest = run_name(RunConfig.from_recipe("minilm-cpu", data_dir=smoke_dir)).rpartition("-")
    assert prefix == "mrpc-minilm-cpu-minilm-fp32-seed42" and len(digest) == 8
    assert name_for(config) == "mrpc--minilm-cpu--minilm--validation--cpu-fp32"


# --- tasks and data ------------------------------------------------------------------------------

REVIEWS = TaskSpec(name="reviews", text_columns=("text",), num_labels=3, label_names=("bad", "ok", "good"),
                   metrics=("accuracy",))


def test_a_task_name_is_resolved_among_the_builtins_or_the_given_registry():
    assert smoke(task="sst2").task == builtin_tasks().get("sst2")
    with pytest.raises(ConfigError, match="unknown task 'reviews'"):
        smoke(task="reviews")
    assert smoke(task="reviews", tasks=TaskRegistry([REVIEWS])).task is REVIEWS


def test_a_builtin_task_is_identified_by_name_and_any_other_by_its_whole_spec():
    """Two projects' tasks of one name, or a built-in redefined, must never share a cache entry or baseline."""
    assert smoke(task="sst2").identity()["task"] == "sst2" and "task_spec" not in smoke(task="sst2").identity()
    custom = smoke(task=REVIEWS)
    assert custom.identity()["task_spec"] == REVIEWS.to_dict()
    changed = dataclasses.replace(REVIEWS, label_names=("neg", "mid", "pos"))
    assert smoke(task=changed).short_id != custom.short_id
    redefined = dataclasses.replace(builtin_tasks().get("sst2"), metrics=("accuracy", "f1"))
    assert smoke(task=redefined).short_id != smoke(task="sst2").short_id


def test_data_files_are_where_data_is_read_from_and_not_in_the_identity():
    files = {"train": "a/train.csv", "validation": "a/dev.csv"}
    config = smoke(task=REVIEWS, data_files=files)
    assert config.data_files == (("train", Path("a/train.csv")), ("validation", Path("a/dev.csv")))
    assert config.identity() == smoke(task=REVIEWS, data_files={"train": "b.csv", "validation": "c.csv"}).identity()
    assert json.loads(config.to_json())["data_files"] == files


def test_a_column_mapping_is_part_of_the_identity():
    """The same files read through another mapping are other data."""
    files = {"train": "t.csv", "validation": "v.csv"}
    mapped = smoke(task=REVIEWS, data_files=files, columns={"text": "review"})
    assert mapped.identity()["columns"] == {"text": "review"}
    assert mapped.short_id != smoke(task=REVIEWS, data_files=files).short_id


@pytest.mark.parametrize(
    ("changes", "phrase"),
    [
        ({"data_files": {"train": "t.csv"}}, "lacks ['validation']"),
        ({"data_files": {"train": "t.csv", "validation": "v.csv", "test": "x.csv"}}, "names ['test']"),
        ({"data_files": {"train": "t.csv", "validation": "v.csv"}, "data_dir": "d"}, "not both"),
        ({"columns": {"text": "review"}}, "give data_files too"),
        ({"data_files": {"train": "t.csv", "validation": "v.csv"}, "columns": {"body": "review"}}, "unknown: ['body']"),
        ({"data_files": {"train": "t.csv", "validation": "v.csv"}, "columns": {"text": ""}}, "must map to a column name"),
    ],
)
def test_impossible_data_is_refused_naming_the_fix(changes, phrase):
    with pytest.raises(ConfigError, match=re.escape(phrase)):
        smoke(task=REVIEWS, **changes)


def test_each_of_a_tasks_evaluation_splits_needs_a_file():
    with pytest.raises(ConfigError, match=re.escape("validation_mismatched")):
        smoke(task="mnli", data_files={"train": "t.csv", "validation_matched": "m.csv"})


def test_label_noise_is_refused_for_a_regression_task():
    with pytest.raises(ConfigError, match="regression task: label-noise flips classes"):
        smoke(task="stsb", faults=("label-noise-10",))
    assert smoke(task="stsb", faults=("shuffled-labels",)).faults == ("shuffled-labels",)


def test_from_dict_round_trips_a_task_of_ones_own_with_its_files():
    """How a config reaches a DDP worker: everything that was set comes back."""
    config = smoke(task=REVIEWS, data_files={"train": "t.csv", "validation": "v.csv"}, columns={"text": "review"},
                   output_dir="/runs/x")
    assert RunConfig.from_dict(json.loads(config.to_json())) == config
    assert RunConfig.from_dict(json.loads(smoke(data_dir="/d").to_json())) == smoke(data_dir="/d")


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
    from harness.run.training import training_arguments

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


@pytest.mark.parametrize(
    ("overrides", "phrase"),
    [
        # Accumulation in any spelling: this one trained 4-step accumulation and reported 16 pairs trained.
        ({"accelerator_config": {"gradient_accumulation_kwargs": {"num_steps": 4}}},
         "training_args.accelerator_config.gradient_accumulation_kwargs cannot be overridden: the throughput's count"),
        ({"accelerator_config": {"split_batches": True}}, "accelerator_config.split_batches cannot be overridden"),
        ({"accelerator_config": {"use_configured_state": True}}, "outside the run"),
        # A string is JSON or a file's path: its keys would go unchecked.
        ({"accelerator_config": "accelerate.json"}, "must be a table (accelerator_config = { key = value, ... }), not a string"),
        ({"lr_scheduler_kwargs": '{"num_cycles": 2}'}, "lr_scheduler_kwargs must be a table"),
        # Deep keys too: XLA FSDP's compute dtype is a precision.
        ({"fsdp_config": {"xla_fsdp_settings": {"compute_dtype": "bfloat16"}}},
         "fsdp_config.xla_fsdp_settings.compute_dtype cannot be overridden: it sets numeric precision"),
        ({"deepspeed": {"train_micro_batch_size_per_gpu": 4}}, "a DeepSpeed config sets its own batch sizes"),
        ({"lr_scheduler_kwargs": {"num_cycles": [{"when": object()}]}}, "lr_scheduler_kwargs.num_cycles[0].when must be plain data"),
        # Every precision-bearing field comes from --precision: fp16_full_eval evaluated in fp16 on a CPU
        # while the result said fp32, round the "fp16 needs CUDA" refusal.
        ({"fp16_full_eval": True}, "fp16_full_eval cannot be overridden: it evaluates in pure fp16"),
        ({"bf16_full_eval": True}, "bf16_full_eval cannot be overridden: it evaluates in pure bf16"),
        ({"tf32": True}, "tf32 cannot be overridden: TF32 matmuls"),
        ({"torch_compile": True}, "compiling turns TF32 matmuls on"),
        ({"torch_compile_mode": "max-autotune"}, "compiling turns TF32 matmuls on"),
        ({"half_precision_backend": "cpu_amp"}, "the run's precision is --precision alone"),
        ({"auto_find_batch_size": True}, "batch_size is the recipe's"),
        ({"dataloader_drop_last": True}, "short last batch"),
        # Work-sizing whole numbers have upper bounds.
        ({"max_steps": 10_000_000}, "training_args.max_steps must be a whole number from 1 to 100,000 or -1"),
        ({"max_steps": 0}, "max_steps must be a whole number from 1 to 100,000 or -1"),
        ({"max_steps": True}, "max_steps must be a whole number"),
        ({"dataloader_num_workers": 1000}, "dataloader_num_workers must be a whole number from 0 to 64"),
        ({"dataloader_prefetch_factor": 10**6}, "dataloader_prefetch_factor must be a whole number from 1 to 64 or None"),
    ],
)
def test_nested_precision_accumulation_and_work_sizing_training_args_are_refused(overrides, phrase):
    with pytest.raises(ConfigError, match=re.escape(phrase)):
        smoke(training_args=overrides)


@pytest.mark.parametrize(
    "overrides",
    [{"accelerator_config": {"even_batches": False}}, {"lr_scheduler_kwargs": {"num_cycles": 2}},
     {"max_steps": -1}, {"max_steps": 100}, {"dataloader_num_workers": 2}, {"dataloader_prefetch_factor": None},
     {"eval_accumulation_steps": 4}],
)
def test_training_args_that_change_neither_precision_nor_accumulation_are_accepted(overrides):
    assert dict(smoke(training_args=overrides).recipe.training_args) == overrides


@pytest.mark.parametrize("name", ["../../../escaped", "a\u0000b", "r" * 65, "Smoke", "a--b", ""])
def test_a_recipe_name_that_cannot_be_a_file_name_is_refused(name):
    """A recipe's name is part of its baselines' file names and its run folders."""
    with pytest.raises(ConfigError, match=r"recipe name .* is not a valid name: .* 1 to 64 lowercase letters"):
        Recipe(name=name, model="minilm")


def test_a_bad_training_args_value_fails_before_any_data_is_read(tmp_path):
    from harness.run.training import fine_tune

    config = smoke(training_args={"lr_scheduler_type": "sideways"}, data_dir=tmp_path / "no-such-folder", device="cpu")
    with pytest.raises(ConfigError, match=r"recipe 'smoke': training_args \{'lr_scheduler_type': 'sideways'\} were refused"):
        fine_tune(config, hub_offline=True, show_progress=False)


# --- variance reduction: re-initialised top layers and averaged weights -------------------------------

# The short ids the gate's recipes had before reinit_top_layers and weight_average existed (CPU, seed 42):
# at their defaults the new fields must leave every cached run, run folder and baseline where it was.
CPU_SHORT_IDS = {"course": "0844d62a", "minilm-cpu": "36133198", "smoke": "979517a8"}


@pytest.mark.parametrize("recipe", list(CPU_SHORT_IDS))
def test_the_variance_reduction_fields_at_their_defaults_leave_the_identity_alone(recipe):
    config = RunConfig.from_recipe(recipe, seed=42, device="cpu")
    assert config.short_id == CPU_SHORT_IDS[recipe]
    assert not {"reinit_top_layers", "weight_average"} & set(config.identity()["recipe"])
    assert RunConfig.from_recipe(recipe, seed=42, device="cpu", reinit_top_layers=0, weight_average="").short_id == CPU_SHORT_IDS[recipe]


@pytest.mark.parametrize("changes", [{"reinit_top_layers": 1}, {"weight_average": "ema-0.99"}, {"weight_average": "swa"}])
def test_a_variance_reduction_is_part_of_the_identity_and_round_trips(changes):
    config = smoke(**changes, seed=3, data_dir="/d")
    ((field, value),) = changes.items()
    assert config.identity()["recipe"][field] == value
    assert config.short_id != smoke(seed=3).short_id
    assert RunConfig.from_dict(json.loads(config.to_json())) == config


def test_the_noise_study_variants_are_minilm_cpu_with_one_change_each():
    base = dataclasses.asdict(RECIPES["minilm-cpu"])
    for name, change in (("minilm-cpu-ema", {"weight_average": "ema-0.99"}), ("minilm-cpu-reinit", {"reinit_top_layers": 1})):
        variant = dataclasses.asdict(RECIPES[name])
        differing = {k for k in base if base[k] != variant[k]} - {"name", "description"}
        assert {k: variant[k] for k in differing} == change
        assert "minilm-cpu" in variant["description"] and "spread" in variant["description"]


@pytest.mark.parametrize(
    ("value", "phrase"),
    [(-1, "reinit_top_layers must be a whole number >= 0"), (1.0, "reinit_top_layers must be a whole number >= 0"),
     (True, "reinit_top_layers must be a whole number >= 0")],
)
def test_impossible_reinit_counts_are_refused(value, phrase):
    with pytest.raises(ConfigError, match=re.escape(phrase)) as error:
        smoke(reinit_top_layers=value)
    assert "'smoke'" in str(error.value) and repr(value) in str(error.value)


@pytest.mark.parametrize(
    ("spec", "phrase"),
    [
        ("ema", "unknown weight_average 'ema'; valid: \"\" (none), \"swa\""),
        ("EMA-0.99", "unknown weight_average 'EMA-0.99'; valid:"),
        ("polyak", "\"ema-<decay>\" with 0 < decay < 1"),
        ("ema-1", "the EMA decay must be a number strictly between 0 and 1 (e.g. ema-0.99)"),
        ("ema-0", "the EMA decay must be a number strictly between 0 and 1"),
        ("ema-nan", "the EMA decay must be a number strictly between 0 and 1"),
        ("ema-x", "the EMA decay must be a number strictly between 0 and 1"),
        ("ema-.99", "write the decay as ema-0.99"),
        ("ema-0.990", "write the decay as ema-0.99"),
        (0.99, "weight_average must be a string"),
    ],
)
def test_impossible_weight_averages_are_refused_listing_the_valid_forms(spec, phrase):
    with pytest.raises(ConfigError, match=re.escape(phrase)) as error:
        smoke(weight_average=spec)
    assert "'smoke'" in str(error.value)


def test_a_reinit_count_beyond_the_models_layers_is_refused_before_training(tmp_path, smoke_dir, monkeypatch):
    from harness.run import training

    monkeypatch.setattr(training, "tokenize_texts", lambda *a, **k: pytest.fail("tokenized before the check"))
    config = smoke(reinit_top_layers=3, data_dir=smoke_dir, output_dir=tmp_path, device="cpu")
    with pytest.raises(ConfigError, match=re.escape("reinit_top_layers = 3, but the model has 2 transformer layers; use 0 to 2")):
        training.fine_tune(config, hub_offline=True, show_progress=False)
