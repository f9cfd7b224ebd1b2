"""The training FLOPs estimate against a hand count from a tiny config and the real model's weights."""

from __future__ import annotations

import pytest
from transformers import AutoModelForSequenceClassification, BertConfig

from harness.run.models import ARCHITECTURES
from harness.run.flops import EncoderShape

TINY = BertConfig(num_labels=2, **ARCHITECTURES["bert-tiny"])  # hidden 32, 2 layers, 2 heads, intermediate 64

# By hand for bert-tiny (h = 32, i = 64):
#   Q, K, V, output projections  4 x (32*32 + 32) = 4,224
#   attention layer norm         2 x 32           =    64
#   intermediate dense           32*64 + 64       = 2,112
#   output dense                 64*32 + 32       = 2,080
#   output layer norm            2 x 32           =    64
#   one layer                                     = 8,544; two layers = 17,088
#   pooler 32*32 + 32 = 1,056; classifier 32*2 + 2 = 66; head = 1,122
TINY_LAYER, TINY_ENCODER, TINY_HEAD = 8_544, 17_088, 1_122


def test_parameter_counts_match_a_hand_count():
    shape = EncoderShape.from_config(TINY)
    assert (shape.layer_parameters, shape.encoder_parameters, shape.head_parameters) == (TINY_LAYER, TINY_ENCODER, TINY_HEAD)


def test_parameter_counts_match_the_real_model():
    model = AutoModelForSequenceClassification.from_config(TINY)
    shape = EncoderShape.from_config(model.config)
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    assert shape.encoder_parameters == count(model.bert.encoder)
    assert shape.head_parameters == count(model.bert.pooler) + count(model.classifier)


def test_step_flops_is_the_documented_formula():
    batch, length = 4, 24
    tokens = batch * length
    by_hand = 6 * TINY_ENCODER * tokens + 12 * 2 * 32 * length * tokens + 6 * TINY_HEAD * batch
    assert EncoderShape.from_config(TINY).step_flops(batch, length) == by_hand


def test_padded_length_costs_more_than_linearly():
    """Attention grows with the square of the padded length: padding is not free."""
    shape = EncoderShape.from_config(TINY)
    assert shape.step_flops(1, 64) > 2 * shape.step_flops(1, 32)


def test_batches_flops_sums_per_batch_shapes():
    shape = EncoderShape.from_config(TINY)
    assert shape.batches_flops([(4, 10), (4, 20)]) == shape.step_flops(4, 10) + shape.step_flops(4, 20)


def test_a_config_without_encoder_sizes_is_refused():
    class NotAnEncoder:
        hidden_size = 8

    with pytest.raises(ValueError, match="num_hidden_layers, intermediate_size"):
        EncoderShape.from_config(NotAnEncoder())
