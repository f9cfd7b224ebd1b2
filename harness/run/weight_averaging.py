"""Scoring a fine-tune with averaged weights (``Recipe.weight_average``): fewer seed-to-seed swings.

The weights after the last optimizer step depend on the last few batches a seed happened to draw;
an average of the weights over the final steps does not, as much. Two averages, both with torch's
:class:`torch.optim.swa_utils.AveragedModel`:

- ``ema-<decay>``: an exponential moving average updated after every optimizer step from the first,
  ``avg <- decay * avg + (1 - decay) * weights`` (the first step's weights start it), so the weights
  of the last ``1 / (1 - decay)`` steps carry most of it (Polyak and Juditsky 1992; the EMA form
  of e.g. Izmailov et al. 2018's averaging);
- ``swa``: a uniform average of the weights after each of the last epoch's worth of optimizer
  steps (the final epoch when the recipe trains whole epochs): Izmailov et al. 2018, "Averaging
  Weights Leads to Wider Optima and Better Generalization", with the schedule the recipe already has.

:class:`WeightAveraging` is a Trainer callback: ``on_step_end`` updates the average, ``on_train_end``
copies it into the trained model's parameters, so ``trainer.predict()`` and the saved result use the
averaged weights. The per-epoch evaluations during training see the raw weights (the average is not
final until training ends). Parameters are averaged; buffers are not (a transformer's buffers are
constant position and token-type ids, which an average would only round), so the model keeps its own.
Under DDP every process holds the same weights and keeps the same average of its unwrapped model.
"""

from __future__ import annotations

import math
from typing import Any

from transformers import TrainerCallback

from harness.run.config import WeightAverage, parse_weight_average


def unwrapped(model: Any) -> Any:
    """The model itself, out of any DDP or DataParallel wrapper (each keeps it as ``.module``)."""
    import torch

    while isinstance(model, (torch.nn.parallel.DistributedDataParallel, torch.nn.DataParallel)):
        model = model.module
    return model


def averaged_model(model: Any, average: WeightAverage):
    """An :class:`~torch.optim.swa_utils.AveragedModel` of ``model`` that averages as ``average`` says."""
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn, get_swa_multi_avg_fn

    multi_avg_fn = get_ema_multi_avg_fn(average.decay) if average.kind == "ema" else get_swa_multi_avg_fn()
    return AveragedModel(model, multi_avg_fn=multi_avg_fn, use_buffers=False)


class WeightAveraging(TrainerCallback):
    """Average the weights during training and leave the average in the model when training ends.

    ``steps_averaged`` counts the optimizer steps in the average once training has ended.
    """

    def __init__(self, spec: str) -> None:
        average = parse_weight_average(spec)
        if average is None:
            raise ValueError("WeightAveraging needs an averaging ('swa' or 'ema-<decay>'); add no callback for none")
        self.spec = spec
        self.average = average
        self.averaged = None
        self.steps_averaged = 0

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.averaged = averaged_model(unwrapped(model), self.average)
        self.steps_averaged = 0

    def in_window(self, args, state, train_dataloader) -> bool:
        """Whether the step just taken belongs in the average: every step for the EMA; for SWA the last
        epoch's worth (one pass over this process's batches)."""
        if self.average.kind == "ema":
            return True
        steps_per_epoch = max(1, math.ceil(len(train_dataloader) / args.gradient_accumulation_steps))
        return state.global_step > state.max_steps - steps_per_epoch

    def on_step_end(self, args, state, control, model=None, train_dataloader=None, **kwargs):
        if self.in_window(args, state, train_dataloader):
            self.averaged.update_parameters(unwrapped(model))
            self.steps_averaged += 1

    def on_train_end(self, args, state, control, model=None, **kwargs):
        import torch

        if self.averaged is None or not self.steps_averaged:
            return  # nothing was trained: the model is what it was
        with torch.no_grad():
            target = list(unwrapped(model).parameters())
            source = list(self.averaged.module.parameters())
            if len(target) != len(source):
                raise RuntimeError("the averaged copy no longer matches the model's parameters")
            for live, averaged in zip(target, source):
                live.copy_(averaged.to(live.device))
        self.averaged = None  # the copy's memory is not needed any more
