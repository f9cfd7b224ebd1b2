"""Properties of the pipeline's input side: pair tokenization and per-batch padding.

``harness.run.training`` tokenizes pairs unpadded (``tokenize_texts``) and lets
``DataCollatorWithPadding`` pad each batch. Both are checked with the real packaged uncased
WordPiece tokenizer and with a tiny one whose pad token is not id 0, so a collator that pads with a
hard-coded 0 (or on the wrong side) fails here rather than silently in training.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
import torch
from datasets import Dataset
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import BertTokenizerFast, DataCollatorWithPadding

from harness.run.models import resolve_model
from harness.run.training import tokenize_texts
from tests.strategies import (
    MODEL_MAX_LENGTH,
    pad_multiples,
    padding_sides,
    sentence_pairs,
    token_id_batches,
    truncation_lengths,
)

# [PAD] goes last so that its id is not 0 and 0 is an ordinary token ([UNK]).
TINY_VOCAB = [
    "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    "the", "a", "of", "to", "in", "and", "said", "on", "for", "that", "is", "was", "with", "he",
    "it", "as", "at", "by", "from", "his", "has", "have", "shares", "company", "percent", "million",
    "year", "its", "be", "were", "are", "which", "new", "after", "##s", "##ed", "##ing", ",", ".",
    "[PAD]",
]


@pytest.fixture(scope="module")
def packaged_tokenizer():
    return resolve_model("minilm").load_tokenizer()


@pytest.fixture(scope="module")
def tiny_tokenizer(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tiny-tokenizer")
    (directory / "vocab.txt").write_text("\n".join(TINY_VOCAB) + "\n", encoding="utf-8")
    # from_pretrained reads vocab.txt; in transformers 5, BertTokenizerFast(vocab_file=...) ignores it.
    tokenizer = BertTokenizerFast.from_pretrained(directory, model_max_length=MODEL_MAX_LENGTH)
    assert tokenizer.pad_token_id == len(TINY_VOCAB) - 1
    return tokenizer


class SidedTokenizers:
    """One tokenizer padding on either side; the collator reads the side from the tokenizer.

    Its repr is the name alone, so a failing example prints ``SidedTokenizers('tiny')`` rather than
    two whole vocabularies.
    """

    def __init__(self, name: str, right: Any, left: Any) -> None:
        self.name, self.right, self.left = name, right, left

    def __repr__(self) -> str:
        return f"SidedTokenizers({self.name!r})"

    def padding(self, side: str):
        return {"right": self.right, "left": self.left}[side]


@pytest.fixture(scope="module", params=["packaged", "tiny"])
def sided_tokenizers(request) -> SidedTokenizers:
    tokenizer = request.getfixturevalue(f"{request.param}_tokenizer")
    assert tokenizer.padding_side == "right"
    left = copy.deepcopy(tokenizer)
    left.padding_side = "left"
    return SidedTokenizers(request.param, tokenizer, left)


def vocabulary_ids(tokenizer) -> st.SearchStrategy[int]:
    return st.integers(min_value=0, max_value=len(tokenizer) - 1)


def rows_of(batch) -> list[dict]:
    return [{key: value[i].tolist() for key, value in batch.items()} for i in range(len(batch["input_ids"]))]


@given(data=st.data(), side=padding_sides(), multiple=pad_multiples())
def test_collator_pads_every_row_in_place_to_the_longest(sided_tokenizers, data, side, multiple):
    tokenizer = sided_tokenizers.padding(side)
    features = data.draw(token_id_batches(ids=vocabulary_ids(tokenizer)), label="features")
    original = copy.deepcopy(features)

    batch = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=multiple)(features)

    assert features == original
    lengths = [len(feature["input_ids"]) for feature in features]
    width = max(lengths) if multiple is None else math.ceil(max(lengths) / multiple) * multiple
    padded_keys = {"input_ids", "attention_mask"} | ({"token_type_ids"} & features[0].keys())
    assert set(batch) == padded_keys | ({"labels"} if "label" in features[0] else set())
    for key in padded_keys:
        assert batch[key].shape == (len(features), width), key
        assert not torch.is_floating_point(batch[key]), key
    assert batch["attention_mask"].sum(dim=1).tolist() == lengths
    for row, (feature, length) in enumerate(zip(features, lengths)):
        content = slice(width - length, width) if side == "left" else slice(0, length)
        padding = slice(0, width - length) if side == "left" else slice(length, width)
        assert batch["input_ids"][row, content].tolist() == feature["input_ids"]
        assert (batch["input_ids"][row, padding] == tokenizer.pad_token_id).all()
        assert (batch["attention_mask"][row, content] == 1).all()
        if "token_type_ids" in feature:
            assert batch["token_type_ids"][row, content].tolist() == feature["token_type_ids"]
            assert (batch["token_type_ids"][row, padding] == tokenizer.pad_token_type_id).all()
    if "label" in features[0]:
        assert batch["labels"].tolist() == [feature["label"] for feature in features]
        assert not torch.is_floating_point(batch["labels"])


@given(data=st.data(), side=padding_sides(), multiple=pad_multiples())
def test_collating_a_padded_batch_again_changes_nothing(sided_tokenizers, data, side, multiple):
    tokenizer = sided_tokenizers.padding(side)
    features = data.draw(token_id_batches(ids=vocabulary_ids(tokenizer)), label="features")
    collate = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=multiple)
    batch = collate(features)

    again = collate(rows_of(batch))

    assert set(again) == set(batch)
    for key in batch:
        assert again[key].dtype == batch[key].dtype, key
        assert torch.equal(again[key], batch[key]), key


def encode_pairs(tokenizer, pairs, max_length):
    """The call ``tokenize_texts`` makes on each batch, without ``Dataset.map`` around it."""
    return tokenizer([a for a, _ in pairs], [b for _, b in pairs], truncation=True, max_length=max_length)


@given(pairs=st.lists(sentence_pairs(), min_size=1, max_size=8), max_length=truncation_lengths())
def test_encoded_pairs_fit_and_keep_cls_a_sep_b_sep(packaged_tokenizer, pairs, max_length):
    tokenizer = packaged_tokenizer

    encoded = encode_pairs(tokenizer, pairs, max_length)

    limit = tokenizer.model_max_length if max_length is None else max_length
    for ids, types, mask in zip(encoded["input_ids"], encoded["token_type_ids"], encoded["attention_mask"], strict=True):
        assert len(ids) <= limit
        assert ids[0] == tokenizer.cls_token_id and ids.count(tokenizer.cls_token_id) == 1
        assert ids[-1] == tokenizer.sep_token_id and ids.count(tokenizer.sep_token_id) == 2
        first_sep = ids.index(tokenizer.sep_token_id)
        assert types == [0] * (first_sep + 1) + [1] * (len(ids) - first_sep - 1)
        assert mask == [1] * len(ids)
        assert tokenizer.pad_token_id not in ids  # unpadded: the collator pads per batch


# Every example costs Dataset.map a dill hash of the 30,522-token tokenizer (about 0.1 s on a busy
# 2-core machine), so this round trip gets a small fixed budget; the encoding's structure is explored
# at the profile's full budget through the same call, above.
@settings(max_examples=15)
@given(pairs=st.lists(sentence_pairs(), min_size=1, max_size=8), max_length=truncation_lengths())
def test_tokenize_texts_encodes_each_row_as_the_batched_pair_call(packaged_tokenizer, pairs, max_length):
    dataset = Dataset.from_dict(
        {"sentence1": [a for a, _ in pairs], "sentence2": [b for _, b in pairs], "label": list(range(len(pairs)))}
    )

    encoded = tokenize_texts(dataset, packaged_tokenizer, text_columns=("sentence1", "sentence2"), max_length=max_length)

    expected = encode_pairs(packaged_tokenizer, pairs, max_length)
    assert sorted(encoded.column_names) == sorted([*expected.keys(), "label"])
    assert encoded["label"] == list(range(len(pairs)))
    for key, column in expected.items():
        assert encoded[key] == column, key
