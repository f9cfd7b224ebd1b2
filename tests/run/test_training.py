"""The smoke fine-tune end to end: shapes, metrics, throughput, history, storage and determinism.

Every number the run reports is checked against something computed here from its raw outputs
(sklearn on the stored logits, a numpy cross-entropy, the smoke file's labels), not against
values copied from an earlier run.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from harness.run.config import RunConfig
from harness.run.data import DataWarning, MrpcSource
from harness.tasks.glue import MRPC
from harness.tasks.metrics import TaskMetrics
from harness.run.models import resolve_model
from harness.run.result import PREDICTIONS_FILE, RESULT_FILE, ResultError, RunResult
from harness.run import training
from harness.run import precision as hardware
from harness.run.config import ConfigError
from harness.run.training import check_device, fine_tune, run_name, samples_trained, tokenize_texts

PAIR = ("sentence1", "sentence2")


def smoke_labels(smoke_dir: Path) -> np.ndarray:
    lines = (smoke_dir / "dev.tsv").read_text(encoding="utf-8-sig").splitlines()[1:]
    return np.array([int(line.split("\t")[0]) for line in lines if line])


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(labels)), labels].mean())


# --- what one run returns -----------------------------------------------------------------------


def test_predictions_cover_the_validation_split_in_order(smoke_result, smoke_dir):
    """Logits must line up row for row with the labels, or every metric is silently wrong."""
    expected = smoke_labels(smoke_dir)
    assert smoke_result.logits.shape == (len(expected), 2) == (8, 2)
    assert smoke_result.labels.shape == (8,)
    np.testing.assert_array_equal(smoke_result.labels, expected)
    assert np.isfinite(smoke_result.logits).all()
    np.testing.assert_array_equal(smoke_result.predictions, smoke_result.logits.argmax(axis=1))


def test_metrics_are_in_range(smoke_result):
    assert set(smoke_result.metrics) == {"accuracy", "f1", "loss"}
    assert 0.0 <= smoke_result.metrics["accuracy"] <= 1.0
    assert 0.0 <= smoke_result.metrics["f1"] <= 1.0
    assert smoke_result.metrics["loss"] > 0.0


def test_metrics_agree_with_the_stored_logits(smoke_result):
    """The reported numbers must be recomputable from what was stored, by the harness and by sklearn."""
    predictions = smoke_result.logits.argmax(axis=1)
    labels = smoke_result.labels
    assert smoke_result.metrics["accuracy"] == pytest.approx(accuracy_score(labels, predictions))
    assert smoke_result.metrics["f1"] == pytest.approx(f1_score(labels, predictions))
    recomputed = TaskMetrics(MRPC.metrics, num_labels=MRPC.num_labels)((smoke_result.logits, labels))
    assert recomputed == pytest.approx({k: smoke_result.metrics[k] for k in ("accuracy", "f1")})
    assert smoke_result.metrics["loss"] == pytest.approx(cross_entropy(smoke_result.logits, labels), rel=1e-5)


def test_throughput_is_consistent(smoke_result, smoke_dir, tokenizer):
    """Two whole epochs of 24 pairs: 48 pairs trained, and every real (unpadded) token twice."""
    t = smoke_result.throughput
    assert t.train_seconds > 0 and t.samples_per_second > 0 and t.tokens_per_second > 0
    assert t.train_samples == 48 and t.epochs == 2.0
    assert t.samples_per_second == pytest.approx(t.train_samples / t.train_seconds)
    train = tokenize_texts(MrpcSource(smoke_dir).load()["train"], tokenizer, text_columns=PAIR, max_length=64)
    real_tokens = sum(len(ids) for ids in train["input_ids"])
    assert t.tokens_per_second * t.train_seconds == pytest.approx(2 * real_tokens)
    assert t.total_seconds >= t.train_seconds


# --- what was trained, counted -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "rows", "batch_size", "expected"),
    [
        (2, 3668, 32, 64),  # --epochs 0.01 on MRPC: the Trainer rounds 1.15 steps up to 2
        (345, 3668, 32, 11004),  # 3 epochs of 115 batches, the last of each 20 pairs short
        (115, 3668, 32, 3668),  # one whole epoch, short last batch included
        (116, 3668, 32, 3668 + 32),  # one epoch and the next one's first batch
        (0, 3668, 32, 0),
        (3, 10, 4, 10),  # batches of 4, 4, 2
        (4, 10, 4, 14),
        (6, 10, 4, 20),
        (1, 3, 8, 3),  # a batch larger than the data
    ],
)
def test_samples_trained_counts_what_the_steps_covered(steps, rows, batch_size, expected):
    assert samples_trained(steps=steps, rows=rows, batch_size=batch_size) == expected


def test_a_fraction_of_an_epoch_reports_the_batches_trained_not_rows_times_epochs(smoke_config, tmp_path):
    """`--epochs 0.01` trains one whole batch (the Trainer rounds steps up), not 0.24 of a pair."""
    recipe = dataclasses.replace(smoke_config.recipe, epochs=0.01)
    result = fine_tune(smoke_config.replace(recipe=recipe, output_dir=tmp_path), hub_offline=True, show_progress=False)
    t = result.throughput
    steps = max(entry["step"] for entry in result.history)
    assert steps == 1
    assert t.train_samples == steps * recipe.batch_size == 4
    assert t.epochs == pytest.approx(4 / 24)
    assert t.samples_per_second == pytest.approx(4 / t.train_seconds)
    assert 0 < t.tokens_per_second * t.train_seconds <= 4 * 64  # four pairs of at most max_length tokens


# --- the device and precision, checked before anything is loaded ----------------------------------


@pytest.fixture
def no_gpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.fixture
def data_must_not_be_read(monkeypatch):
    """A refused run must fail before reading data, loading a model or training."""

    def read(*args, **kwargs):
        raise AssertionError("the data was read before the config was checked")

    monkeypatch.setattr(training, "DataSource", read)


@pytest.mark.usefixtures("no_gpu", "data_must_not_be_read")
def test_fp16_on_auto_without_a_gpu_is_refused_before_the_data_is_read(smoke_config, tmp_path):
    """It used to train in fp32 on the CPU and label the result fp16."""
    config = smoke_config.replace(device="auto", precision="fp16", output_dir=tmp_path / "runs")
    with pytest.raises(ConfigError) as error:
        fine_tune(config, hub_offline=True, show_progress=False)
    assert "fp16 training needs a CUDA device" in str(error.value) and "'cpu'" in str(error.value)
    assert not (tmp_path / "runs").exists()


@pytest.mark.usefixtures("data_must_not_be_read")
def test_bf16_on_a_cpu_without_native_bf16_is_refused_before_the_data_is_read(smoke_config, monkeypatch):
    monkeypatch.setattr(hardware, "cpu_flags", lambda cpuinfo=None: frozenset({"avx2"}))
    with pytest.raises(ConfigError, match="no native bf16"):
        fine_tune(smoke_config.replace(precision="bf16"), hub_offline=True, show_progress=False)


@pytest.mark.usefixtures("no_gpu")
def test_check_device_resolves_auto_and_accepts_what_can_train(smoke_config, monkeypatch):
    monkeypatch.setattr(hardware, "cpu_flags", lambda cpuinfo=None: frozenset({"avx512_bf16"}))
    assert check_device(smoke_config.replace(device="auto")) == "cpu"
    assert check_device(smoke_config.replace(device="auto", precision="bf16")) == "cpu"


@pytest.mark.usefixtures("no_gpu")
def test_check_device_refuses_cuda_without_a_gpu(smoke_config):
    with pytest.raises(ConfigError, match="use --device cpu"):
        check_device(smoke_config.replace(device="cuda"))


def test_history_has_one_evaluation_per_epoch(smoke_result):
    """Per-epoch evaluation is the course's workflow; the last one is the model that was scored."""
    evaluations = [entry for entry in smoke_result.history if "eval_f1" in entry]
    assert [entry["epoch"] for entry in evaluations] == [1.0, 2.0]
    assert all({"eval_loss", "eval_accuracy", "eval_f1"} <= set(entry) for entry in evaluations)
    last = evaluations[-1]
    assert last["eval_accuracy"] == pytest.approx(smoke_result.metrics["accuracy"])
    assert last["eval_f1"] == pytest.approx(smoke_result.metrics["f1"])
    assert last["eval_loss"] == pytest.approx(smoke_result.metrics["loss"], rel=1e-5)
    assert [entry["epoch"] for entry in smoke_result.history if "loss" in entry] == [1.0, 2.0]


def test_config_is_recorded_with_the_result(smoke_result, smoke_config):
    assert smoke_result.config == smoke_config


# --- tokenisation --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smoke_validation(smoke_dir):
    return MrpcSource(smoke_dir).load()["validation"]


@pytest.fixture(scope="module")
def tokenizer():
    return resolve_model("arch:bert-tiny").load_tokenizer()


def test_pairs_are_encoded_as_cls_a_sep_b_sep(smoke_validation, tokenizer):
    """The pair structure the model was pre-trained on, built here from the word pieces by hand."""
    encoded = tokenize_texts(smoke_validation.select(range(2)), tokenizer, text_columns=PAIR)
    for row, original in zip(encoded, smoke_validation.select(range(2))):
        a = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(original["sentence1"]))
        b = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(original["sentence2"]))
        cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
        assert row["input_ids"] == [cls, *a, sep, *b, sep]
        assert row["token_type_ids"] == [0] * (len(a) + 2) + [1] * (len(b) + 1)
        assert row["attention_mask"] == [1] * len(row["input_ids"])


def test_tokenize_texts_keeps_labels_and_idx_and_drops_the_text(smoke_validation, tokenizer):
    encoded = tokenize_texts(smoke_validation, tokenizer, text_columns=PAIR)
    assert "sentence1" not in encoded.column_names and "sentence2" not in encoded.column_names
    assert list(encoded["label"]) == list(smoke_validation["label"])
    assert list(encoded["idx"]) == list(smoke_validation["idx"])


def test_truncation_keeps_both_sentences_and_the_special_tokens(smoke_validation, tokenizer):
    """Truncation must cut words, not the [SEP]s: a pair without its second sentence is no pair."""
    untruncated = tokenize_texts(smoke_validation, tokenizer, text_columns=PAIR)
    truncated = tokenize_texts(smoke_validation, tokenizer, text_columns=PAIR, max_length=12)
    for long, short in zip(untruncated["input_ids"], truncated["input_ids"]):
        assert len(short) == min(len(long), 12)
        assert short[0] == tokenizer.cls_token_id and short[-1] == tokenizer.sep_token_id
        assert short.count(tokenizer.sep_token_id) == 2
    assert any(len(long) > 12 for long in untruncated["input_ids"]), "no pair was long enough to truncate"


def test_inputs_are_left_unpadded_for_the_collator(smoke_validation, tokenizer):
    """Padding per batch is the point of DataCollatorWithPadding; padding here would waste it."""
    encoded = tokenize_texts(smoke_validation, tokenizer, text_columns=PAIR, max_length=64)
    lengths = {len(ids) for ids in encoded["input_ids"]}
    assert len(lengths) > 1
    assert all(tokenizer.pad_token_id not in ids for ids in encoded["input_ids"])


# --- determinism ---------------------------------------------------------------------------------


def test_same_config_gives_identical_logits(smoke_result, smoke_config, tmp_path):
    """Baselines and the run cache assume a config determines its result on one machine."""
    again = fine_tune(smoke_config.replace(output_dir=tmp_path), hub_offline=True, show_progress=False)
    np.testing.assert_array_equal(again.logits, smoke_result.logits)
    assert again.metrics == smoke_result.metrics


def test_another_seed_gives_different_logits(smoke_result, smoke_config, tmp_path):
    """The seed must reach the initialisation; otherwise seed spreads in baselines are fake."""
    other = fine_tune(smoke_config.replace(output_dir=tmp_path, seed=smoke_config.seed + 1), hub_offline=True, show_progress=False)
    assert not np.array_equal(other.logits, smoke_result.logits)
    assert other.provenance["seed"] == smoke_config.seed + 1


# --- storage -------------------------------------------------------------------------------------


@pytest.fixture
def saved_copy(smoke_result, smoke_config, tmp_path) -> Path:
    """A private copy of the smoke run's folder, so damaging it cannot affect other tests."""
    return Path(shutil.copytree(smoke_config.output_dir / run_name(smoke_config), tmp_path / "run"))


def test_result_is_saved_where_run_name_says(smoke_result, smoke_config):
    directory = smoke_config.output_dir / run_name(smoke_config)
    assert (directory / RESULT_FILE).is_file() and (directory / PREDICTIONS_FILE).is_file()


def test_saved_result_round_trips(smoke_result, saved_copy):
    loaded = RunResult.load(saved_copy)
    np.testing.assert_array_equal(loaded.logits, smoke_result.logits)
    np.testing.assert_array_equal(loaded.labels, smoke_result.labels)
    assert loaded.logits.dtype == smoke_result.logits.dtype
    assert loaded.metrics == smoke_result.metrics
    assert loaded.throughput == smoke_result.throughput
    assert loaded.config == smoke_result.config
    assert loaded.provenance == json.loads(json.dumps(smoke_result.provenance))
    assert loaded.history == smoke_result.history


def test_the_data_warnings_reach_the_result_and_its_stored_copy(smoke_config, smoke_dir, tmp_path):
    """An evaluation split with every row twice trained and scored without a word; now the result says so."""
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(smoke_dir / "train.tsv", data / "train.tsv")
    dev = (smoke_dir / "dev.tsv").read_bytes()
    (data / "dev.tsv").write_bytes(dev + dev.decode("utf-8-sig").split("\n", 1)[1].encode())
    recipe = dataclasses.replace(smoke_config.recipe, epochs=0.01)
    config = smoke_config.replace(recipe=recipe, data_dir=data, output_dir=tmp_path / "runs")
    with pytest.warns(DataWarning, match="validation: 8 of 16 rows"):
        result = fine_tune(config, hub_offline=True, show_progress=False)
    (message,) = result.data_warnings
    assert message.startswith("validation: 8 of 16 rows (50.0%) repeat the pair of texts of an earlier row")
    assert RunResult.load(config.output_dir / run_name(config)).data_warnings == (message,)


def test_a_result_stored_before_data_warnings_loads_with_none(smoke_result, saved_copy):
    assert smoke_result.data_warnings == ()  # the smoke data: 24 distinct training pairs, 8 unseen dev pairs
    data = json.loads((saved_copy / RESULT_FILE).read_text())
    assert data.pop("data_warnings") == []
    (saved_copy / RESULT_FILE).write_text(json.dumps(data))
    assert RunResult.load(saved_copy).data_warnings == ()
    data["data_warnings"] = "not a list"
    (saved_copy / RESULT_FILE).write_text(json.dumps(data))
    with pytest.raises(ResultError, match="incomplete result"):
        RunResult.load(saved_copy)


@pytest.mark.parametrize(
    ("damage", "file"),
    [
        (lambda d: (d / RESULT_FILE).write_text('{"schema": 1, "config": '), RESULT_FILE),
        (lambda d: (d / RESULT_FILE).write_text("[]"), RESULT_FILE),
        (lambda d: (d / RESULT_FILE).write_text('{"schema": 1}'), RESULT_FILE),
        (lambda d: (d / RESULT_FILE).write_bytes(b"\xff\xfe\x00"), RESULT_FILE),
        (lambda d: (d / RESULT_FILE).unlink(), RESULT_FILE),
        (lambda d: (d / PREDICTIONS_FILE).unlink(), PREDICTIONS_FILE),
        (lambda d: (d / PREDICTIONS_FILE).write_bytes((d / PREDICTIONS_FILE).read_bytes()[:40]), PREDICTIONS_FILE),
        (lambda d: (d / PREDICTIONS_FILE).write_bytes(b""), PREDICTIONS_FILE),
        (lambda d: (d / PREDICTIONS_FILE).write_bytes(b"not an archive"), PREDICTIONS_FILE),
    ],
    ids=["truncated-json", "not-an-object", "missing-fields", "not-utf8", "no-result", "no-predictions",
         "truncated-npz", "empty-npz", "garbage-npz"],
)
def test_damaged_result_is_a_result_error_naming_the_file(saved_copy, damage, file):
    """The run cache retrains on ResultError; any other exception would crash the session instead."""
    damage(saved_copy)
    with pytest.raises(ResultError) as error:
        RunResult.load(saved_copy)
    assert str(saved_copy / file) in str(error.value)


def test_old_schema_is_a_result_error(saved_copy):
    data = json.loads((saved_copy / RESULT_FILE).read_text())
    data["schema"] = 0
    (saved_copy / RESULT_FILE).write_text(json.dumps(data))
    with pytest.raises(ResultError, match="schema 0"):
        RunResult.load(saved_copy)


@pytest.mark.parametrize(
    "changes",
    [{"max_train_samples": 32}, {"epochs": 1.0}, {"device": "auto"}, {"learning_rate": 1e-4}, {"batch_size": 8}],
)
def test_a_run_name_is_as_distinct_as_the_config(smoke_config, smoke_dir, tmp_path, changes):
    """`--max-train-samples 64` then `32` must not overwrite each other's results, yet the same
    config must find its own folder again, wherever its data is read from."""
    device = {k: v for k, v in changes.items() if k == "device"}
    recipe = dataclasses.replace(smoke_config.recipe, **{k: v for k, v in changes.items() if k != "device"})
    other = smoke_config.replace(recipe=recipe, **device)
    assert run_name(other) != run_name(smoke_config)
    copy = Path(shutil.copytree(smoke_dir, tmp_path / "elsewhere"))
    same = RunConfig.from_recipe("smoke", data_dir=copy, output_dir=tmp_path, device="cpu")
    assert run_name(same) == run_name(smoke_config)


def test_runs_on_other_data_get_folders_of_their_own(smoke_config, smoke_dir, tmp_path):
    """Issue 20 (d): seven `harness run`s on seven data folders all wrote one folder; the data's
    sha256 is in the run identity, and so in the folder's hash."""
    other = Path(shutil.copytree(smoke_dir, tmp_path / "other"))
    lines = (other / "train.tsv").read_text(encoding="utf-8-sig").splitlines(keepends=True)
    (other / "train.tsv").write_text("".join(lines[:-1]), encoding="utf-8")  # one training pair fewer
    assert run_name(smoke_config.replace(data_dir=other)) != run_name(smoke_config)


def test_run_name_keeps_a_readable_prefix_and_ends_in_the_identity_hash(smoke_config):
    from harness.run.run_identity import RunIdentity

    faulted = smoke_config.replace(faults=("truncated-inputs",))
    name = run_name(faulted)
    prefix, _, digest = name.rpartition("-")
    assert prefix == "mrpc-smoke-arch-bert-tiny-fp32-seed42-truncated-inputs"
    assert digest == RunIdentity.from_config(faulted).folder_hash()


def test_run_name_is_one_safe_folder_name(smoke_config):
    """Hub ids hold '/' and specs ':'; either would make a nested or invalid path."""
    from harness.run.run_identity import RunIdentity

    hub = smoke_config.replace(model="someone/some-model")  # not resolvable offline: its identity is the smoke one's, renamed
    name = run_name(hub, dataclasses.replace(RunIdentity.from_config(smoke_config), config=hub.identity()))
    assert "/" not in name and ":" not in name and "someone--some-model" in name
    assert run_name(smoke_config.replace(seed=1)) != run_name(smoke_config)


def test_saved_predictions_follow_the_evaluation_split_row_by_row(smoke_dir, tmp_path):
    """With length-grouped batches the Trainer also shuffles evaluation: row i must still be example i."""
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    from harness.run.data import MrpcSource
    from harness.run.models import resolve_model
    from harness.run.training import in_split_order

    model_ref = resolve_model("arch:bert-tiny", hub_offline=True)
    tokenizer = model_ref.load_tokenizer()
    validation = tokenize_texts(MrpcSource(smoke_dir, True).load()["validation"], tokenizer, text_columns=PAIR, max_length=64)
    model = model_ref.load_for_classification(num_labels=2, seed=0).eval()

    def predict(strategy: str):
        args = TrainingArguments(output_dir=str(tmp_path / strategy), per_device_eval_batch_size=2, report_to="none",
                                 use_cpu=True, train_sampling_strategy=strategy, seed=3, data_seed=3)
        trainer = Trainer(model=model, args=args, data_collator=DataCollatorWithPadding(tokenizer), processing_class=tokenizer)
        output = trainer.predict(validation)
        return trainer, np.asarray(output.predictions), np.asarray(output.label_ids)

    trainer, grouped, grouped_labels = predict("group_by_length")
    _, sequential, sequential_labels = predict("random")  # evaluation in the split's order
    assert not np.array_equal(grouped_labels, sequential_labels) or not np.allclose(grouped, sequential, atol=1e-5)
    logits, labels = in_split_order(trainer, validation, grouped, grouped_labels)
    np.testing.assert_array_equal(labels, np.asarray(validation["label"]))
    np.testing.assert_allclose(logits, sequential, atol=1e-5)  # the same model scores each example alike


def test_predictions_carry_each_examples_idx_in_split_order(smoke_result, smoke_config):
    from harness.run.result import RunResult
    from harness.run.training import run_name

    np.testing.assert_array_equal(smoke_result.idx, np.arange(len(smoke_result.labels)))
    saved = RunResult.load(smoke_config.output_dir / run_name(smoke_config))
    np.testing.assert_array_equal(saved.idx, smoke_result.idx)


@pytest.mark.parametrize("pct", [1, 5, 13, 20, 50])
def test_label_noise_flips_exactly_that_share_of_train_labels(smoke_dir, pct):
    from harness.run.data import MrpcSource
    from harness.run.faults import label_noise
    from harness.run.training import flip_labels

    train = MrpcSource(smoke_dir, True).load()["train"]
    fraction = label_noise((f"label-noise-{pct}",))
    assert fraction == pct / 100
    flipped = flip_labels(train, fraction=fraction, seed=42)
    before, after = np.asarray(train["label"]), np.asarray(flipped["label"])
    assert int((before != after).sum()) == round(fraction * len(before))
    assert set(after.tolist()) <= {0, 1}
    again = np.asarray(flip_labels(train, fraction=fraction, seed=42)["label"])
    np.testing.assert_array_equal(after, again)  # the same seed flips the same rows
    assert flipped["sentence1"] == train["sentence1"]


def test_a_label_noise_run_records_its_fault(smoke_config):
    from harness.run.training import fine_tune

    import dataclasses

    config = smoke_config.replace(faults=("label-noise-10",), recipe=dataclasses.replace(smoke_config.recipe, epochs=0.5))
    result = fine_tune(config, hub_offline=True, show_progress=False)
    assert result.config.faults == ("label-noise-10",)


# --- any task: one text or a pair, any number of classes, scores ------------------------------------


def test_tokenize_texts_takes_one_text_column(tokenizer):
    from datasets import Dataset

    dataset = Dataset.from_dict({"review": ["a fine day", "rain"], "label": [1, 0], "idx": [0, 1]})
    encoded = tokenize_texts(dataset, tokenizer, text_columns=("review",))
    assert encoded.column_names == ["label", "idx", "input_ids", "token_type_ids", "attention_mask"]
    assert encoded["input_ids"] == tokenizer(["a fine day", "rain"])["input_ids"]
    assert set(map(tuple, encoded["token_type_ids"])) == {(0, 0, 0, 0, 0), (0, 0, 0)}  # no second segment


@pytest.mark.parametrize("num_labels", [3, 5])
def test_label_noise_with_more_classes_moves_each_drawn_row_to_another_class(num_labels):
    from datasets import Dataset

    from harness.run.training import flip_labels

    labels = np.arange(200) % num_labels
    train = Dataset.from_dict({"text": ["t"] * 200, "label": labels.tolist()})
    flipped = np.asarray(flip_labels(train, fraction=0.2, seed=7, num_labels=num_labels)["label"])
    changed = flipped != labels
    assert int(changed.sum()) == 40  # every drawn row is wrong now: none drew its own class
    assert set(flipped.tolist()) <= set(range(num_labels))
    assert len(set(flipped[changed].tolist())) > 1  # not all sent to one class
    np.testing.assert_array_equal(flipped, flip_labels(train, fraction=0.2, seed=7, num_labels=num_labels)["label"])


def test_shuffled_regression_labels_stay_the_same_floats():
    from datasets import Dataset, Features, Value

    from harness.run.training import shuffle_labels

    scores = [0.25, 1.5, 3.75, 4.0, 5.0]
    train = Dataset.from_dict({"text": ["t"] * 5, "label": scores}, features=Features({"text": Value("string"), "label": Value("float32")}))
    shuffled = shuffle_labels(train, seed=1)["label"]
    assert sorted(shuffled) == scores and shuffled != scores


def test_predictions_of_regression_scores_are_put_back_in_split_order(tmp_path, tokenizer):
    """A one-output head under length-grouped evaluation: float labels must still line up with their rows."""
    from datasets import Dataset, Features, Value
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    from harness.run.models import resolve_model
    from harness.run.training import in_split_order

    texts = [" ".join(["word"] * n) for n in (9, 1, 5, 12, 3, 7)]
    dataset = Dataset.from_dict({"text": texts, "label": [0.5, 1.0, 2.5, 3.0, 4.5, 5.0], "idx": list(range(6))},
                                features=Features({"text": Value("string"), "label": Value("float32"), "idx": Value("int32")}))
    validation = tokenize_texts(dataset, tokenizer, text_columns=("text",))
    model = resolve_model("arch:bert-tiny", hub_offline=True).load_for_classification(num_labels=1, seed=0).eval()
    args = TrainingArguments(output_dir=str(tmp_path), per_device_eval_batch_size=2, report_to="none", use_cpu=True,
                             train_sampling_strategy="group_by_length", seed=3, data_seed=3)
    trainer = Trainer(model=model, args=args, data_collator=DataCollatorWithPadding(tokenizer), processing_class=tokenizer)
    output = trainer.predict(validation)
    assert not np.array_equal(output.label_ids, np.asarray(dataset["label"], dtype=np.float32))  # grouping reordered them
    scores, labels = in_split_order(trainer, validation, np.asarray(output.predictions), np.asarray(output.label_ids))
    assert scores.shape == (6, 1)
    np.testing.assert_array_equal(labels, np.asarray(dataset["label"], dtype=np.float32))


def test_a_regression_results_predictions_are_its_scores():
    from harness.run.result import RunResult

    result = RunResult(config={}, metrics={}, logits=np.array([[0.5], [2.0]]), labels=np.array([1.0, 2.0]),
                       throughput=None, provenance={})
    np.testing.assert_array_equal(result.predictions, [0.5, 2.0])


def test_an_fp32_run_stays_fp32_whatever_accelerate_is_told_from_outside(smoke_config, tmp_path, monkeypatch):
    """TrainingArguments takes its mixed precision from ACCELERATE_MIXED_PRECISION when neither fp16 nor
    bf16 is set: an "fp32" result could otherwise come from a mixed-precision run."""
    from harness.run.training import training_arguments

    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "bf16")
    args = training_arguments(smoke_config.replace(precision="fp32"), "cpu", tmp_path, show_progress=False)
    assert args.mixed_precision == "no"
