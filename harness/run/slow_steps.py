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

# One multiply of two MATRIX x MATRIX matrices is 2 * 256^3 = 33.6 MFLOP: about 0.1% of a MiniLM
# training step over 8 pairs of 64 tokens, so N% is met closely; large enough that the multiply
# runs at the BLAS's speed rather than at its call overhead.
MATRIX = 256
OPERAND_SEED = 20261206  # the operand's values are drawn from their own generator, never the global one


class SlowSteps:
    """A forward pre-hook that spends ``fraction`` of each training step's FLOPs on extra multiplies.

    ``multiplies`` counts what it has done, so a test can check the work against the claim.
    """

    def __init__(self, fraction: float, shape: EncoderShape) -> None:
        if not fraction > 0:
            raise ValueError(f"slow-steps needs a fraction > 0 of the step's compute, got {fraction!r}")
        self.fraction = fraction
        self.shape = shape
        self.multiplies = 0
        self._operands: dict[Any, Any] = {}

    def multiplies_for(self, batch_size: int, sequence_length: int) -> int:
        """How many multiplies add ``fraction`` of a step over ``batch_size`` sequences of that length.

        >>> SlowSteps(0.5, EncoderShape(layers=6, hidden=384, intermediate=1536)).multiplies_for(8, 64)
        501
        """
        extra = self.fraction * self.shape.step_flops(batch_size, sequence_length)
        return max(1, round(extra / (2 * MATRIX**3)))

    def __call__(self, module, args: tuple, kwargs: dict) -> None:
        import torch

        if not module.training or not torch.is_grad_enabled():
            return  # evaluation and prediction are not training steps
        inputs = kwargs.get("input_ids")
        if inputs is None:
            inputs = kwargs.get("attention_mask", args[0] if args else None)
        if inputs is None or inputs.dim() != 2:
            raise RuntimeError("the slow-steps fault reads the batch's shape from input_ids or attention_mask "
                               f"(batch x tokens); this forward had neither (kwargs: {sorted(kwargs)})")
        count = self.multiplies_for(*inputs.shape)
        operand = self._operand(inputs.device)
        with torch.no_grad():
            for _ in range(count):
                torch.mm(operand, operand)
        self.multiplies += count

    def _operand(self, device):
        """A fixed random matrix on ``device``, scaled so its square stays near unit size in any precision."""
        import torch

        if device not in self._operands:
            generator = torch.Generator().manual_seed(OPERAND_SEED)
            self._operands[device] = (torch.randn(MATRIX, MATRIX, generator=generator) / MATRIX**0.5).to(device)
        return self._operands[device]

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
