"""The seeded batch sample: identical on every call, padded per batch as the Trainer pads."""

from __future__ import annotations

import pytest
import torch

from harness.run.data import MrpcSource
from harness.run.models import resolve_model
from harness.throughput.batches import sample_training_batches


@pytest.fixture(scope="module")
def train(smoke_dir):
    return MrpcSource(smoke_dir).load()["train"]


@pytest.fixture(scope="module")
def tokenizer():
    return resolve_model("arch:bert-tiny", hub_offline=True).load_tokenizer()


def sample(train, tokenizer, **changes):
    kwargs = {"batch_size": 4, "count": 3, "seed": 7, "max_length": 128} | changes
    return sample_training_batches(train, tokenizer, text_columns=("sentence1", "sentence2"), **kwargs)


def test_the_sample_is_identical_across_calls(train, tokenizer):
    first, second = sample(train, tokenizer), sample(train, tokenizer)
    assert first.rows == second.rows
    for a, b in zip(first.batches, second.batches):
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key])


def test_the_seed_changes_the_rows(train, tokenizer):
    assert sample(train, tokenizer).rows != sample(train, tokenizer, seed=8).rows


def test_the_rows_are_distinct_and_depend_on_the_seed_not_the_tokenizer(train, tokenizer):
    batches = sample(train, tokenizer)
    rows = [r for batch in batches.rows for r in batch]
    assert len(set(rows)) == len(rows) == 12
    assert all(0 <= r < train.num_rows for r in rows)


def test_each_batch_is_padded_to_its_longest_pair(train, tokenizer):
    batches = sample(train, tokenizer)
    for batch in batches.batches:
        lengths = batch["attention_mask"].sum(dim=1)
        assert batch["input_ids"].shape == (4, int(lengths.max()))
        assert set(batch) == {"input_ids", "token_type_ids", "attention_mask", "labels"}
    assert batches.shapes == tuple(tuple(b["input_ids"].shape) for b in batches.batches)


def test_token_counts(train, tokenizer):
    batches = sample(train, tokenizer)
    assert batches.real_tokens == sum(int(b["attention_mask"].sum()) for b in batches.batches)
    assert batches.padded_tokens == sum(b["input_ids"].numel() for b in batches.batches)
    assert batches.real_tokens <= batches.padded_tokens
    assert batches.samples == 12 and len(batches) == 3


def test_the_labels_are_the_rows_labels(train, tokenizer):
    batches = sample(train, tokenizer)
    for rows, batch in zip(batches.rows, batches.batches):
        assert batch["labels"].tolist() == [train[r]["label"] for r in rows]


def test_truncation_applies(train, tokenizer):
    batches = sample(train, tokenizer, max_length=16)
    assert max(shape[1] for shape in batches.shapes) <= 16


def test_asking_for_more_rows_than_the_split_has_is_refused(train, tokenizer):
    with pytest.raises(ValueError, match="need 28 rows; the split has 24"):
        sample(train, tokenizer, batch_size=7, count=4)
