"""What one training step of a BERT-style encoder classifier costs in floating-point operations.

The estimate is the standard one behind model FLOPs utilisation (Kaplan et al. 2020; Chowdhery et
al. 2022, appendix B): a matrix multiply does 2 FLOPs per weight per token forward and twice that
backward, so 6 per weight per token, plus the attention scores and their weighted sum, which no
weight counts:

    step FLOPs = 6 * N_encoder * B * S  +  12 * L * H * S * (B * S)  +  6 * N_head * B

with B sequences padded to S tokens, L layers of width H, N_encoder the encoder's parameters (every
layer's weights, biases and layer norms, as the convention counts them) and N_head the pooler and
classifier, which see one token per sequence. Embeddings are excluded: a lookup multiplies
nothing. Padded tokens are counted because they are computed: the model does not know they are
padding until the attention mask discards their scores.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class EncoderShape:
    """The sizes the FLOPs estimate needs, read from a BERT-style config."""

    layers: int
    hidden: int
    intermediate: int
    num_labels: int = 2

    @classmethod
    def from_config(cls, config) -> EncoderShape:
        missing = [name for name in ("num_hidden_layers", "hidden_size", "intermediate_size") if not hasattr(config, name)]
        if missing:
            raise ValueError(
                f"{type(config).__name__} has no {', '.join(missing)}: the FLOPs estimate covers BERT-style encoders only"
            )
        return cls(config.num_hidden_layers, config.hidden_size, config.intermediate_size, getattr(config, "num_labels", 2))

    @property
    def layer_parameters(self) -> int:
        """One encoder layer: Q, K, V and output projections, the feed-forward pair, two layer norms."""
        h, i = self.hidden, self.intermediate
        attention = 4 * (h * h + h)
        feed_forward = (h * i + i) + (i * h + h)
        layer_norms = 2 * (2 * h)
        return attention + feed_forward + layer_norms

    @property
    def encoder_parameters(self) -> int:
        return self.layers * self.layer_parameters

    @property
    def head_parameters(self) -> int:
        """The pooler (a dense layer on the first token) and the classifier."""
        h = self.hidden
        return (h * h + h) + (h * self.num_labels + self.num_labels)

    def step_flops(self, batch_size: int, sequence_length: int) -> float:
        """FLOPs of one forward and backward pass over ``batch_size`` sequences padded to ``sequence_length``.

        >>> EncoderShape(layers=1, hidden=2, intermediate=4, num_labels=2).step_flops(1, 1)
        420.0
        """
        tokens = batch_size * sequence_length
        dense = 6 * self.encoder_parameters * tokens
        attention = 12 * self.layers * self.hidden * sequence_length * tokens
        head = 6 * self.head_parameters * batch_size
        return float(dense + attention + head)

    def batches_flops(self, shapes: Iterable[tuple[int, int]]) -> float:
        """Total FLOPs over batches given as ``(batch_size, padded_length)`` pairs."""
        return sum(self.step_flops(b, s) for b, s in shapes)
