"""The Hugging Face course's chapter-3 workflow as library functions under one RunConfig, for any task.

tokenize the task's text (one text or a pair) with truncation -> pad per batch with
DataCollatorWithPadding -> TrainingArguments with per-epoch evaluation -> Trainer with a head of the
task's size -> train() -> predict(the task's first evaluation split) -> the task's metrics.
A recipe may re-initialise the encoder's top layers before training (:mod:`harness.run.layer_reinit`) and
score the run with averaged weights (:mod:`harness.run.weight_averaging`).
Nothing here names a task: columns, label count and metrics all come from ``config.task``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from harness.run.config import ConfigError, RunConfig
from harness.run.data import DataSource
from harness.run.devices import path_slug
from harness.run.layer_reinit import reinit_problem, reinit_top_layers
from harness.tasks.metrics import MetricRegistry, TaskMetrics
from harness.run.precision import check_device_available, check_precision
from harness.run.models import ResolvedModel, resolve_model
from harness.run.provenance import machine_provenance, resolve_device
from harness.run.result import RunResult, TrainingThroughput
from harness.run.run_identity import RunIdentity
from harness.run.faults import label_noise
from harness.run.slow_steps import inject_slow_steps

log = logging.getLogger(__name__)
TRUNCATED_LENGTH = 8  # the "truncated-inputs" fault: [CLS] + a few word pieces + [SEP]s
# The column the Trainer's collator and models read labels from (DataCollatorWithPadding renames it "labels").
LABEL = "label"


def shuffle_labels(dataset, *, seed: int):
    """The "shuffled-labels" fault: the same label balance (or score distribution), no longer tied to the texts."""
    labels = np.random.default_rng(seed).permutation(np.asarray(dataset[LABEL]))
    return dataset.map(lambda row, i: {LABEL: labels[i].item()}, with_indices=True, desc="Shuffling labels")


def tokenize_texts(dataset, tokenizer, *, text_columns: tuple[str, ...], max_length: int | None = None):
    """Tokenize a task's text (one column, or a pair), truncated, unpadded (the collator pads per batch)."""

    def encode(batch: dict[str, list]) -> Any:
        return tokenizer(*(batch[column] for column in text_columns), truncation=True, max_length=max_length)

    columns = [c for c in text_columns if c in dataset.column_names]
    return dataset.map(encode, batched=True, remove_columns=columns,
                       desc="Tokenizing pairs" if len(text_columns) == 2 else "Tokenizing texts")


def flip_labels(dataset, *, fraction: float, seed: int, num_labels: int = 2):
    """The "label-noise-N" faults: exactly ``round(fraction * rows)`` labels changed, rows drawn from ``seed``.

    With two classes a label is flipped; with more, each drawn row moves to one of the other classes,
    drawn from ``seed`` too, so every changed label is wrong.
    """
    labels = np.asarray(dataset[LABEL]).copy()
    rows = np.random.default_rng([seed, 1]).choice(len(labels), size=round(fraction * len(labels)), replace=False)
    if num_labels == 2:
        labels[rows] = 1 - labels[rows]
    else:
        labels[rows] = (labels[rows] + np.random.default_rng([seed, 2]).integers(1, num_labels, size=len(rows))) % num_labels
    return dataset.map(lambda row, i: {LABEL: int(labels[i])}, with_indices=True, desc="Flipping labels")


@contextlib.contextmanager
def _progress_bars(enabled: bool) -> Iterator[None]:
    """datasets' and transformers' bars are process-wide switches: restore them as found."""
    import datasets
    from transformers.utils import logging as hf_logging

    was_datasets, was_hf = datasets.is_progress_bar_enabled(), hf_logging.is_progress_bar_enabled()
    if not enabled:
        datasets.disable_progress_bars()
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_datasets:
            datasets.enable_progress_bars()
        if was_hf:
            hf_logging.enable_progress_bar()


def check_device(config: RunConfig) -> str:
    """The concrete device ``config`` trains on, or a ConfigError saying why it cannot train there.

    Both the device and the precision are checked against what ``auto`` resolves to here, before
    any data is read or model built, so a run that cannot work fails in a second, not minutes in.
    """
    resolved = resolve_device(config.device)
    check_device_available(resolved)
    check_precision(config.precision, config.device)
    return resolved


def check_world_size(config: RunConfig) -> None:
    """The processes this one was launched among (torch's launchers set ``WORLD_SIZE``) must be the
    ones the config trains with: a DDP config run alone would train a different recipe silently."""
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if launched != config.world_size:
        raise ConfigError(
            f"the config trains with world_size {config.world_size}, but this process sees {launched} training process(es); "
            "launch it through harness.run.distributed (harness run --nproc N, --harness-nproc N) or set world_size to match"
        )


def samples_trained(*, steps: int, rows: int, batch_size: int) -> int:
    """How many pairs ``steps`` optimizer steps trained on: whole epochs, then the batches of a partial one.

    The Trainer rounds a fractional epoch count up to whole steps, and an epoch's last batch may be
    short (``drop_last`` is off), so ``rows * epochs`` is not what was trained. Assumes one batch per
    step (no gradient accumulation), as :func:`training_arguments` sets up.

    >>> samples_trained(steps=2, rows=3668, batch_size=32)  # --epochs 0.01 on MRPC
    64
    """
    batches_per_epoch = math.ceil(rows / batch_size)
    epochs, batches = divmod(steps, batches_per_epoch)
    return epochs * rows + batches * batch_size


def training_arguments(config: RunConfig, device: str, output_dir: Path, *, show_progress: bool):
    """The Trainer's arguments: the recipe's fields, the run's seed, device and precision, then the
    recipe's ``training_args`` overrides (names checked by the recipe; values checked here, where
    transformers validates them, with the recipe named in the error)."""
    from transformers import TrainingArguments

    recipe = config.recipe
    try:
        return _training_arguments(TrainingArguments, config, device, output_dir, show_progress=show_progress)
    except (ValueError, TypeError) as error:
        if not recipe.training_args:
            raise
        raise ConfigError(f"recipe {recipe.name!r}: training_args {dict(recipe.training_args)} were refused by "
                          f"TrainingArguments: {error}") from error


def _training_arguments(TrainingArguments, config: RunConfig, device: str, output_dir: Path, *, show_progress: bool):
    recipe = config.recipe
    args = TrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=recipe.epochs,
        per_device_train_batch_size=recipe.batch_size,
        per_device_eval_batch_size=recipe.eval_batch_size,
        learning_rate=recipe.learning_rate,
        weight_decay=recipe.weight_decay,
        warmup_steps=recipe.warmup_ratio,  # a float below 1 is a ratio of the total steps
        train_sampling_strategy="group_by_length" if recipe.group_by_length else "random",
        save_strategy="no",
        report_to="none",
        seed=config.seed,
        data_seed=config.seed,
        use_cpu=device == "cpu",
        bf16=config.precision == "bf16",
        fp16=config.precision == "fp16",
        disable_tqdm=not show_progress,
        include_num_input_tokens_seen="non_padding",  # real tokens trained, counted batch by batch
        # The harness's defaults that a recipe may override, then the recipe's overrides.
        **{"eval_strategy": "epoch", "logging_strategy": "epoch", "dataloader_num_workers": 0,
           # Every trainable parameter is used in each forward pass: skip DDP's search for unused ones.
           **({"ddp_backend": "gloo" if device == "cpu" else "nccl", "ddp_find_unused_parameters": False}
              if config.world_size > 1 else {}),
           **dict(recipe.training_args)},
    )
    # With neither fp16 nor bf16 set, TrainingArguments takes its mixed precision from the environment
    # (ACCELERATE_MIXED_PRECISION): an fp32 run, and its result's "fp32", must not turn mixed from outside.
    args.mixed_precision = "no" if config.precision == "fp32" else config.precision
    return args


def fine_tune(config: RunConfig, *, hub_offline: bool = False, show_progress: bool = True,
              metrics: MetricRegistry | None = None) -> RunResult | None:
    """Fine-tune ``config``'s model on its task's train split and score it on the task's first evaluation split.

    Deterministic for a given config on a given machine: the seed fixes the head's
    initialisation, dropout and batch order. Inside a DDP launch (``config.world_size`` > 1, see
    :mod:`harness.run.distributed`) every rank trains, and rank 0 alone scores, saves and returns the
    result; the other ranks return None. The task's metrics are found in ``metrics`` (default: the
    built-ins; a project's registry holds its own metrics too).
    """
    device = check_device(config)  # first: a run that cannot work must not read data or build a model
    check_world_size(config)
    if config.recipe.training_args or config.world_size > 1:  # their values too, before minutes of data and model loading
        training_arguments(config, device, config.output_dir / "unused", show_progress=False)
    nodes = None
    if config.world_size > 1:  # the arguments brought the process group up: all ranks must train one run
        from harness.run.node_agreement import agree_on_identity

        nodes = agree_on_identity(config, hub_offline=hub_offline)
    with _progress_bars(show_progress):
        return _fine_tune(config, device, hub_offline=hub_offline, show_progress=show_progress, nodes=nodes, metrics=metrics)


def _fine_tune(config: RunConfig, device: str, *, hub_offline: bool, show_progress: bool,
               nodes: list[dict] | None = None, metrics: MetricRegistry | None = None) -> RunResult:
    """The run itself, once :func:`fine_tune` has checked what can fail early: load, train, score,
    save. The steps are in the order the seed needs them, so a config gives the same result."""
    from transformers import DataCollatorWithPadding, PrinterCallback, Trainer, set_seed

    started = time.perf_counter()
    task = config.task
    compute_metrics = TaskMetrics(task.metrics, num_labels=task.num_labels, registry=metrics)  # a metric that cannot score the task fails now
    source = DataSource.for_config(config, hub_offline=hub_offline, metrics=metrics)
    splits, data_warnings = source.load_with_warnings()
    if task.label_column != LABEL:
        splits = splits.rename_column(task.label_column, LABEL)
    evaluated = task.evaluation_splits[0]
    model_ref: ResolvedModel = resolve_model(config.model_spec, hub_offline=hub_offline, root=config.model_root)
    _check_reinit(config, model_ref)
    set_seed(config.seed)
    tokenizer = model_ref.load_tokenizer()
    recipe = config.recipe
    train, validation = _training_data(config, splits, tokenizer, evaluated)
    model, reinitialised = _load_model(config, model_ref)
    data = source.fingerprint()
    run_dir = config.output_dir / run_name(config, RunIdentity.from_config(config, data_fingerprint=data,
                                                                             model_provenance=model_ref.provenance()))
    averaging = weight_averaging(recipe.weight_average)
    trainer = Trainer(
        model=model,
        args=training_arguments(config, device, run_dir / "trainer", show_progress=show_progress),
        train_dataset=train,
        eval_dataset=validation,
        data_collator=DataCollatorWithPadding(tokenizer),
        processing_class=tokenizer,
        compute_metrics=on_main_process(compute_metrics),
        callbacks=[averaging] if averaging else None,
    )

    if not show_progress:
        trainer.remove_callback(PrinterCallback)  # it prints every log line when the bars are off
    log.info("fine-tuning %s (%s) on %d %s examples, device %s", config.model_spec, recipe.name, train.num_rows, task.name,
             device)
    train_output = trainer.train()
    prediction = trainer.predict(validation, metric_key_prefix=evaluated)
    if not trainer.is_world_process_zero():
        return None  # rank 0 holds the same gathered predictions, and alone scores and writes them
    logits = np.asarray(prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions)
    logits, labels = in_split_order(trainer, validation, logits, np.asarray(prediction.label_ids))
    metrics = {name: float(prediction.metrics[f"{evaluated}_{name}"]) for name in (*task.metrics, "loss")}
    throughput = _throughput(config, trainer, train_output, train.num_rows, started)
    provenance = _run_provenance(config, device, trainer, model_ref=model_ref, data=data, reinitialised=reinitialised,
                                 averaging=averaging, nodes=nodes)
    result = RunResult(
        config=config,
        metrics=metrics,
        logits=logits,
        labels=labels,
        throughput=throughput,
        provenance=provenance,
        history=[entry for entry in trainer.state.log_history if f"eval_{task.metrics[0]}" in entry or "loss" in entry],
        idx=np.asarray(validation["idx"]) if "idx" in validation.column_names else None,
        data_warnings=data_warnings,
    )
    result.save(run_dir)
    return result


def _check_reinit(config: RunConfig, model_ref: ResolvedModel) -> None:
    """Refuse to re-initialise more top layers than the model has, from its config alone, before
    minutes of tokenizing and loading the weights."""
    if config.recipe.reinit_top_layers:
        problem = reinit_problem(config.recipe.reinit_top_layers,
                                 getattr(model_ref.load_config(config.task.num_labels), "num_hidden_layers", None))
        if problem:
            raise ConfigError(f"recipe {config.recipe.name!r}: {problem} ({config.model_spec})")


def _training_data(config: RunConfig, splits, tokenizer, evaluated: str):
    """The tokenized train and evaluation splits: the train split subsampled as the recipe says and
    with the config's faults injected (after the seed is set, so they are reproducible)."""
    recipe, task = config.recipe, config.task
    train = splits["train"]
    if recipe.max_train_samples is not None and recipe.max_train_samples < train.num_rows:
        train = train.shuffle(seed=config.seed).select(range(recipe.max_train_samples))
    max_length = TRUNCATED_LENGTH if "truncated-inputs" in config.faults else recipe.max_length
    if "shuffled-labels" in config.faults:
        train = shuffle_labels(train, seed=config.seed)
    if label_noise(config.faults):
        train = flip_labels(train, fraction=label_noise(config.faults), seed=config.seed, num_labels=task.num_labels)
    train = tokenize_texts(train, tokenizer, text_columns=task.text_columns, max_length=max_length)
    validation = tokenize_texts(splits[evaluated], tokenizer, text_columns=task.text_columns, max_length=max_length)
    return train, validation


def _load_model(config: RunConfig, model_ref: ResolvedModel):
    """The classifier to fine-tune, its head seeded, with the recipe's top layers re-initialised
    and its word embeddings frozen where it says; also what was re-initialised, for the provenance."""
    recipe = config.recipe
    model = model_ref.load_for_classification(num_labels=config.task.num_labels, seed=config.seed)
    reinitialised = reinit_top_layers(model, recipe.reinit_top_layers, seed=config.seed)
    if recipe.freeze_word_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    try:
        inject_slow_steps(model, config.faults)
    except ValueError as error:
        raise ConfigError(f"{config.model_spec}: the slow-steps fault sizes its extra work from the model's FLOPs, "
                          f"which the harness estimates for BERT-style encoders only ({error})") from error
    return model, reinitialised


def _throughput(config: RunConfig, trainer, train_output, rows: int, started: float) -> TrainingThroughput:
    """How fast the run trained, over the samples it actually trained on (all ranks' batches)."""
    train_seconds = float(train_output.metrics["train_runtime"])
    # What was trained, not rows x epochs: the Trainer rounds a fractional epoch up to whole steps.
    trained = samples_trained(
        steps=trainer.state.global_step, rows=rows, batch_size=trainer.args.train_batch_size * config.world_size
    )
    return TrainingThroughput(
        train_seconds=train_seconds,
        samples_per_second=trained / train_seconds,
        tokens_per_second=trainer.state.num_input_tokens_seen / train_seconds,
        train_samples=trained,
        epochs=trained / rows,
        total_seconds=time.perf_counter() - started,
    )


def _run_provenance(config: RunConfig, device: str, trainer, *, model_ref: ResolvedModel, data, reinitialised,
                    averaging, nodes: list[dict] | None) -> dict:
    """Where and from what the run came: the machine, seed, model, data and precision, plus the
    re-initialised layers, the weight averaging and the DDP layout only when the run had them, so
    other runs' provenance keeps the keys it always had."""
    provenance = machine_provenance(device)
    provenance.update(seed=config.seed, model=model_ref.provenance(), data=data, precision=config.precision)
    if reinitialised:
        provenance["reinitialised"] = reinitialised
    if averaging:
        provenance["weight_average"] = {"spec": config.recipe.weight_average, "steps_averaged": averaging.steps_averaged}
    if config.world_size > 1:
        provenance["distributed"] = {"world_size": trainer.args.world_size, "backend": trainer.args.ddp_backend,
                                     "threads_per_process": provenance["device"]["torch_threads"], "nodes": nodes}
    return provenance


def weight_averaging(spec: str):
    """The Trainer callback that averages the weights as ``spec`` says, or None for ``""``."""
    if not spec:
        return None
    from harness.run.weight_averaging import WeightAveraging

    return WeightAveraging(spec)


def on_main_process(compute_metrics):
    """``compute_metrics`` run by global rank 0 only.

    Under DDP the Trainer gathers every rank's predictions and then calls ``compute_metrics`` on
    every rank; the metrics are computed once, on rank 0, which alone logs and reports them.
    """
    from accelerate import PartialState

    def compute(eval_pred):
        return compute_metrics(eval_pred) if PartialState().is_main_process else {}

    return compute


def in_split_order(trainer, dataset, logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``predict()``'s rows put back in the evaluation split's order, so row i is example i.

    With ``group_by_length``, transformers 5's Trainer also groups the *evaluation* set by length
    (``_get_eval_sampler`` returns a ``LengthGroupedSampler``), so ``predict()`` returns rows in a
    shuffled order. Metrics do not care (labels move with logits), but saved predictions would not
    line up with their examples. That sampler draws from a generator seeded with ``data_seed``, so
    asking the Trainer for it again gives the same order, which is undone here; the labels, which
    must then read as the split's, check it.
    """
    sampler = trainer._get_eval_sampler(dataset)
    order = np.asarray(list(sampler)) if sampler is not None else np.arange(len(labels))
    if sorted(order.tolist()) != list(range(len(dataset))) or len(order) != len(labels):
        raise RuntimeError(f"the Trainer's evaluation sampler does not visit each of the {len(dataset)} rows once")
    restored_logits, restored_labels = np.empty_like(logits), np.empty_like(labels)
    restored_logits[order], restored_labels[order] = logits, labels
    if LABEL in dataset.column_names and not np.array_equal(restored_labels, np.asarray(dataset[LABEL])):
        raise RuntimeError("predictions could not be put back in the evaluation split's order (labels disagree)")
    return restored_logits, restored_labels


def run_name(config: RunConfig, identity: RunIdentity | None = None, *, hub_offline: bool = False) -> str:
    """The run's folder name: a readable prefix, then :meth:`RunIdentity.folder_hash` of the run's identity.

    The prefix leaves out most of the recipe (epochs, sample counts), the device and the data; the
    hash does not (the data's sha256 and the world size are in it), so runs that differ anywhere but
    in the software get folders of their own, and the same run finds its own. ``identity``: the
    run's, when the caller holds it (otherwise it is computed from ``config``, hashing its data).
    """
    identity = identity or RunIdentity.from_config(config, hub_offline=hub_offline)
    model = path_slug(config.model_spec)
    faults = "".join(f"-{fault}" for fault in config.faults)
    return (f"{config.task.name}-{config.recipe.name}-{model}-{config.precision}-seed{config.seed}{faults}-"
            f"{identity.folder_hash()}")
