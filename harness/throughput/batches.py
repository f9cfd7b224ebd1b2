"""A fixed, seeded sample of MRPC training batches: the same work for every device and precision.

Throughput on one device is only comparable with another's when both did the same work, so the
rows are drawn once from a seed, tokenized with the model's tokenizer (truncated as the recipes
truncate) and padded per batch by ``DataCollatorWithPadding``, exactly as the Trainer's loader pads
them. Models sharing a tokenizer (MiniLM and the ``arch:`` models share bert-base-uncased's
vocabulary) get identical token ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from harness.run.training import tokenize_texts

MODEL_INPUTS = ("input_ids", "token_type_ids", "attention_mask", "label")


@dataclass(frozen=True)
class TrainingBatches:
    """Collated batches (CPU tensors, ``labels`` included) and the train-split rows they came from."""

    batches: tuple = field(repr=False)
    rows: tuple[tuple[int, ...], ...]
    seed: int
    max_length: int | None

    def __len__(self) -> int:
        return len(self.batches)

    @property
    def samples(self) -> int:
        return sum(len(rows) for rows in self.rows)

    @property
    def shapes(self) -> tuple[tuple[int, int], ...]:
        """``(batch_size, padded_length)`` of each batch."""
        return tuple(tuple(batch["input_ids"].shape) for batch in self.batches)

    @property
    def real_tokens(self) -> int:
        """Tokens the pairs really have: what the attention masks keep."""
        return int(sum(int(batch["attention_mask"].sum()) for batch in self.batches))

    @property
    def padded_tokens(self) -> int:
        """Tokens the model computes on: every batch padded to its longest pair."""
        return int(sum(batch["input_ids"].numel() for batch in self.batches))


def sample_training_batches(train, tokenizer, *, text_columns: tuple[str, ...], batch_size: int, count: int, seed: int,
                            max_length: int | None = 128) -> TrainingBatches:
    """Draw ``count`` batches of ``batch_size`` distinct rows from ``train`` (a task's train split,
    untokenized, whose text is in ``text_columns``), seeded, and collate them as the Trainer would.

    The draw depends only on the split's size, ``batch_size``, ``count`` and ``seed``, never on the
    model or device.
    """
    from transformers import DataCollatorWithPadding

    needed = batch_size * count
    if needed > train.num_rows:
        raise ValueError(f"{count} batches of {batch_size} need {needed} rows; the split has {train.num_rows}")
    order = np.random.default_rng(seed).permutation(train.num_rows)[:needed]
    rows = tuple(tuple(int(i) for i in order[k * batch_size:(k + 1) * batch_size]) for k in range(count))
    tokenized = tokenize_texts(train.select(order.tolist()), tokenizer, text_columns=text_columns, max_length=max_length)
    tokenized = tokenized.select_columns([c for c in MODEL_INPUTS if c in tokenized.column_names])
    collator = DataCollatorWithPadding(tokenizer)
    batches = tuple(
        collator([tokenized[k * batch_size + j] for j in range(batch_size)]) for k in range(count)
    )
    return TrainingBatches(batches=batches, rows=rows, seed=seed, max_length=max_length)
