"""Which ``TrainingArguments`` overrides a recipe may set (``training_args``), and why the others are refused.

The harness owns the fields that decide what a result means (precision, seed, device, checkpoints,
logging, the count of trained samples): a recipe that set one would make its result say something
the run did not compute. Checked by name at every depth, and by bounds for the fields that size a
run's work, when the recipe is built, before anything trains.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

# TrainingArguments fields a recipe sets under its own names.
RECIPE_TRAINING_FIELDS = {
    "num_train_epochs": "epochs",
    "per_device_train_batch_size": "batch_size",
    "per_device_eval_batch_size": "eval_batch_size",
    "learning_rate": "learning_rate",
    "weight_decay": "weight_decay",
    "warmup_steps": "warmup_ratio",
    "train_sampling_strategy": "group_by_length",
}
# The one reason for refusing gradient accumulation, in any of its spellings.
_ACCUMULATION = ("the throughput's count of trained samples assumes one batch per optimizer step; lower batch_size "
                 "instead")
# Why a field that sets numeric precision is refused: the run's precision is RunConfig.precision alone.
_PRECISION = "the run's precision is --precision alone (RunConfig.precision), which sets bf16/fp16 and is what the result reports"
# TrainingArguments fields the harness sets itself, and why a recipe cannot.
HARNESS_TRAINING_FIELDS = {
    **dict.fromkeys(("output_dir", "save_strategy", "save_steps", "save_total_limit", "save_only_model",
                     "save_on_each_node", "enable_jit_checkpoint", "resume_from_checkpoint", "load_best_model_at_end",
                     "overwrite_output_dir", "do_train", "do_eval", "do_predict"),
                    "the harness trains once, keeps no checkpoints and evaluates at the end"),
    **dict.fromkeys(("seed", "data_seed"), "the run's seed sets both (RunConfig.seed, --seed)"),
    **dict.fromkeys(("use_cpu", "bf16", "fp16", "local_rank"), "the run's device and precision set these (--device, --precision)"),
    # Every field that changes the numeric precision of training or evaluation; each would make the
    # result say fp32 (or bf16) of a run that computed otherwise, and step round the "fp16 needs CUDA" check.
    **{field: f"{what}; {_PRECISION}" for field, what in {
        "fp16_full_eval": "it evaluates in pure fp16 (the weights cast, no autocast), on any device",
        "bf16_full_eval": "it evaluates in pure bf16 (the weights cast, no autocast)",
        "tf32": "TF32 matmuls (Ampere and newer GPUs) keep 10 of fp32's 23 mantissa bits",
        # TrainingArguments turns TF32 on for a compiled model on an Ampere or newer GPU unless tf32 is set.
        **dict.fromkeys(("torch_compile", "torch_compile_mode", "torch_compile_backend"),
                        "on an Ampere or newer GPU, compiling turns TF32 matmuls on (10 of fp32's 23 mantissa bits)"),
        # Fields of other transformers versions, refused by name should the installed one have them.
        "half_precision_backend": "it picks the mixed-precision implementation (amp, apex, cpu_amp)",
        "fp16_backend": "it picks the mixed-precision implementation (amp, apex)",
        "fp16_opt_level": "it sets apex's mixed-precision level (O1 to O3)",
        }.items()},
    **dict.fromkeys(("report_to", "disable_tqdm", "run_name", "project", "trackio_space_id", "trackio_bucket_id",
                     "trackio_static_space_id"), "the harness owns logging and progress"),
    **{f: "nothing is pushed to the Hub from a harness run" for f in
       ("push_to_hub", "hub_token", "hub_private_repo", "hub_model_id", "hub_strategy", "hub_always_push", "hub_revision")},
    "include_num_input_tokens_seen": "the harness counts trained tokens for its throughput figures",
    "gradient_accumulation_steps": _ACCUMULATION,
    "auto_find_batch_size": ("batch_size is the recipe's: this halves it on running out of memory, unrecorded, and the "
                             "count of trained samples assumes the recipe's"),
    "dataloader_drop_last": ("the count of trained samples assumes each epoch's short last batch is trained; change "
                             "max_train_samples or batch_size instead"),
    "deepspeed": ("a DeepSpeed config sets its own batch sizes, gradient accumulation and precision, outside the recipe "
                  "and --precision"),
    "parallelism_config": "the run's processes are its world_size (see harness.run.distributed)",
    "label_names": "the task's label column is set by the task",
    "remove_unused_columns": "the harness feeds the model only its own inputs",
}
# Keys inside a table-valued field that a recipe cannot set, and why (the table's other keys are free).
NESTED_TRAINING_FIELDS = {
    "accelerator_config": {
        "gradient_accumulation_kwargs": _ACCUMULATION,
        "split_batches": "it makes batch_size the global batch, split over the processes; the run records world_size x batch_size",
        "use_configured_state": "it takes the device and precision from an AcceleratorState made outside the run",
    },
}
# Words that, in a field's or a nested key's name (split at "_" and "-"), say it sets numeric precision or
# accumulates gradients: refused wherever they appear, so a field of a later transformers (or a key
# deep in fsdp_config such as xla_fsdp_settings.compute_dtype) cannot set either unnoticed.
_PRECISION_WORDS = frozenset({"fp16", "bf16", "fp8", "fp4", "tf32", "amp", "autocast", "dtype", "precision", "half"})
# Whole-number fields that size the work (or the memory) of a run, with their bounds and what they count:
# a typo (an extra zero or two) must be refused, not keep a machine busy for days. max_steps's 100,000 is
# 290 times minilm-cpu's 345 steps; a data-loading worker is a process with its own copy of the split.
TRAINING_INT_BOUNDS: dict[str, tuple[int, int, tuple[Any, ...], str]] = {
    "max_steps": (1, 100_000, (-1,), "optimizer steps; -1, the default, trains for the recipe's epochs"),
    "dataloader_num_workers": (0, 64, (), "data-loading processes, each holding its own copy of the split"),
    "dataloader_prefetch_factor": (1, 64, (None,), "batches each data-loading worker loads ahead; None is torch's default"),
}


def training_args_problem(overrides: dict[str, Any]) -> str | None:
    """Why these TrainingArguments overrides cannot be used, or None.

    Names are checked here, at every depth of a table-valued field (``accelerator_config``,
    ``fsdp_config``, ``lr_scheduler_kwargs`` ...), and so are the values that size a run's work
    (:data:`TRAINING_INT_BOUNDS`); the other values are checked when TrainingArguments is built,
    before any data is read, so a typo is caught without building one for every config.
    """
    if not overrides:
        return None
    import transformers

    fields = {f.name: f for f in dataclasses.fields(transformers.TrainingArguments) if f.init}
    for name, value in overrides.items():
        if name in RECIPE_TRAINING_FIELDS:
            return f"training_args.{name} is the recipe field {RECIPE_TRAINING_FIELDS[name]!r}; set that instead"
        refused = HARNESS_TRAINING_FIELDS.get(name) or _refused_by_name(name)
        if refused:
            return f"training_args.{name} cannot be overridden: {refused}"
        if name not in fields:
            valid = sorted(set(fields) - set(RECIPE_TRAINING_FIELDS) - set(HARNESS_TRAINING_FIELDS))
            return f"training_args.{name} is not a TrainingArguments field (transformers {transformers.__version__}); valid: {', '.join(valid)}"
        if isinstance(value, str) and "dict" in str(fields[name].type):
            return (f"training_args.{name} must be a table ({name} = {{ key = value, ... }}), not a string: a string is read "
                    "as JSON or as a file's path, whose keys the harness could not check nor the run's identity hold")
        problem = _nested_problem(f"training_args.{name}", value, NESTED_TRAINING_FIELDS.get(name, {}))
        if problem:
            return problem
        if name in TRAINING_INT_BOUNDS:
            low, high, extra, counts = TRAINING_INT_BOUNDS[name]
            whole = isinstance(value, int) and not isinstance(value, bool)
            if value not in extra and not (whole and low <= value <= high):
                also = "".join(f" or {e}" for e in extra)
                return f"training_args.{name} must be a whole number from {low} to {high:,}{also} ({counts}), got {value!r}"
    return None


def _refused_by_name(name: str) -> str | None:
    """Why a field or nested key with this name cannot be set (see _PRECISION_WORDS), or None."""
    if "gradient_accumulation" in name:
        return _ACCUMULATION
    if _PRECISION_WORDS & set(re.split(r"[_\-]", name.lower())):
        return f"it sets numeric precision; {_PRECISION}"
    return None


def _nested_problem(where: str, value: Any, refused: Mapping[str, str]) -> str | None:
    """Why ``value`` (at ``where``) is not plain data a recipe may set, checking every key at every depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{where} must have string keys, got {key!r}"
            reason = refused.get(key) or _refused_by_name(key)
            if reason:
                return f"{where}.{key} cannot be overridden: {reason}"
            problem = _nested_problem(f"{where}.{key}", item, {})
            if problem:
                return problem
        return None
    if isinstance(value, list):
        return next(filter(None, (_nested_problem(f"{where}[{i}]", item, {}) for i, item in enumerate(value))), None)
    if not isinstance(value, (str, int, float, bool, type(None))):
        return f"{where} must be plain data (str, number, bool, list, dict), got {type(value).__name__}"
    return None
