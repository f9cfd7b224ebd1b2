"""The ``slow-steps-N`` fault: N% more compute in every training step, as real matrix multiplies.

A planted slowdown that the history's change points and the throughput checks must see has to
cost what a real one costs: device time that grows with the step's work, spent on the step's
device in the step's precision. A sleep would not: it frees the cores (a busy neighbour then runs
faster), ignores the batch's shape, and costs the same on a GPU as on a CPU. So every training
forward pass also multiplies square matrices whose FLOPs are N% of that step's own forward and
backward (:meth:`~harness.run.flops.EncoderShape.step_flops` for the batch's shape), under the
step's autocast, and discards the products. The model, its gradients, the random streams and so
the metrics are untouched: a run with the fault trains the same model, only slower (tested).

The hook sits on the model's forward, so it is the same fault in a fine-tune (``Trainer.train``)
and in the throughput bench (which takes the Trainer's own steps); evaluation and prediction run
the model in eval mode and are not slowed.
"""

from __future__ import annotations

from typing import Any

from harness.run.faults import slow_steps
from harness.run.flops import EncoderShape

# The extra work is MIN_MULTIPLIES or more multiplies of two m x m matrices, m at most MATRIX: one
# 256 x 256 multiply is 2 * 256^3 = 33.6 MFLOP, about 0.1% of a MiniLM training step over 8 pairs of
# 64 tokens, large enough to run at the BLAS's speed rather than at its call overhead. A smaller
# step's share (a tiny test model) takes smaller matrices, so N% stays N% (to within 1/64) at any size.
MATRIX = 256
MIN_MULTIPLIES = 32
OPERAND_SEED = 20261206  # the operand's values are drawn from their own generator, never the global one


class SlowSteps:
    """A forward pre-hook that spends ``fraction`` of each training step's FLOPs on extra multiplies.

    ``multiplies`` and ``flops`` count what it has done, so a test can check the work against the claim.
    """

    def __init__(self, fraction: float, shape: EncoderShape) -> None:
        if not fraction > 0:
            raise ValueError(f"slow-steps needs a fraction > 0 of the step's compute, got {fraction!r}")
        self.fraction = fraction
        self.shape = shape
        self.multiplies = 0
        self.flops = 0  # of the extra work done so far
        self._operands: dict[Any, Any] = {}

    def work_for(self, batch_size: int, sequence_length: int) -> tuple[int, int]:
        """``(count, m)``: ``count`` multiplies of m x m matrices add ``fraction`` of a step over
        ``batch_size`` sequences of that length.

        >>> SlowSteps(0.5, EncoderShape(layers=6, hidden=384, intermediate=1536)).work_for(8, 64)
        (501, 256)
        """
        extra = self.fraction * self.shape.step_flops(batch_size, sequence_length)
        size = max(1, min(MATRIX, int((extra / (2 * MIN_MULTIPLIES)) ** (1 / 3))))
        return max(1, round(extra / (2 * size**3))), size

    def __call__(self, module, args: tuple, kwargs: dict) -> None:
        import torch

        if not module.training or not torch.is_grad_enabled():
            return  # evaluation and prediction are not training steps
        candidates = (kwargs.get("input_ids"), args[0] if args else None, kwargs.get("attention_mask"),
                      kwargs.get("inputs_embeds"))
        inputs = next((tensor for tensor in candidates if isinstance(tensor, torch.Tensor) and tensor.dim() >= 2), None)
        if inputs is None:
            raise RuntimeError("the slow-steps fault reads the batch's shape (batch x tokens) from input_ids, "
                               f"attention_mask or inputs_embeds; this forward had none (kwargs: {sorted(kwargs)})")
        count, size = self.work_for(*inputs.shape[:2])
        operand = self._operand(inputs.device, size)
        with torch.no_grad():
            for _ in range(count):
                torch.mm(operand, operand)
        self.multiplies += count
        self.flops += 2 * count * size**3

    def _operand(self, device, size: int):
        """A fixed random size x size matrix on ``device``, scaled so its square stays near unit size
        in any precision (at most MATRIX sizes per device are ever kept)."""
        import torch

        if (device, size) not in self._operands:
            generator = torch.Generator().manual_seed(OPERAND_SEED)
            self._operands[device, size] = (torch.randn(size, size, generator=generator) / size**0.5).to(device)
        return self._operands[device, size]

    def attach(self, model):
        """Hook ``model``'s forward; returns the handle (``.remove()`` takes the fault out again)."""
        return model.register_forward_pre_hook(self, with_kwargs=True)


def inject_slow_steps(model, faults: tuple[str, ...]) -> SlowSteps | None:
    """Attach the config's slow-steps fault to ``model`` (a BERT-style encoder classifier); None without one."""
    fraction = slow_steps(faults)
    if not fraction:
        return None
    hook = SlowSteps(fraction, EncoderShape.from_config(model.config))
    hook.attach(model)
    return hook
