"""Averaged weights: the EMA and SWA averages against hand computations, driven by hand and by the
Trainer in a real smoke fine-tune, whose model and saved predictions must then be the averaged ones."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from harness.run import training
from harness.run.weight_averaging import WeightAveraging, unwrapped


def drive(callback: WeightAveraging, model, steps: list[torch.Tensor], *, batches_per_epoch: int) -> None:
    """What the Trainer does around the callback: each step sets the weights, then on_step_end."""
    args = SimpleNamespace(gradient_accumulation_steps=1)
    state = SimpleNamespace(global_step=0, max_steps=len(steps))
    loader = [None] * batches_per_epoch
    callback.on_train_begin(args, state, None, model=model)
    for weights in steps:
        with torch.no_grad():
            unwrapped(model).weight.copy_(weights)
        state.global_step += 1
        callback.on_step_end(args, state, None, model=model, train_dataloader=loader)
    callback.on_train_end(args, state, None, model=model)


def step_weights(count: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(1, 3, generator=generator) for _ in range(count)]


def tiny_model() -> torch.nn.Linear:
    torch.manual_seed(0)
    return torch.nn.Linear(3, 1, bias=False)


def test_the_ema_is_the_hand_computed_one():
    model, steps = tiny_model(), step_weights(5)
    drive(WeightAveraging("ema-0.9"), model, steps, batches_per_epoch=5)
    expected = steps[0].clone()  # the first step's weights start the average
    for weights in steps[1:]:
        expected = 0.9 * expected + 0.1 * weights
    torch.testing.assert_close(model.weight.detach(), expected)
    hand = 0.9 ** 4 * steps[0] + sum(0.1 * 0.9 ** (4 - k) * steps[k] for k in range(1, 5))
    torch.testing.assert_close(model.weight.detach(), hand)


def test_swa_averages_the_last_epochs_steps_uniformly():
    model, steps = tiny_model(), step_weights(6)
    callback = WeightAveraging("swa")
    drive(callback, model, steps, batches_per_epoch=4)
    torch.testing.assert_close(model.weight.detach(), torch.stack(steps[2:]).mean(dim=0))
    assert callback.steps_averaged == 4


def test_a_wrapped_model_is_averaged_through_its_wrapper():
    """Under DDP the callback is handed the wrapper; the average and the copy are of the model inside."""
    inner, steps = tiny_model(), step_weights(3)
    drive(WeightAveraging("swa"), torch.nn.DataParallel(inner), steps, batches_per_epoch=3)
    torch.testing.assert_close(inner.weight.detach(), torch.stack(steps).mean(dim=0))


def test_without_a_step_the_model_is_left_as_it_was():
    model = tiny_model()
    before = model.weight.detach().clone()
    drive(WeightAveraging("ema-0.9"), model, [], batches_per_epoch=3)
    assert torch.equal(model.weight.detach(), before)


def test_no_averaging_adds_no_callback():
    assert training.weight_averaging("") is None
    with pytest.raises(ValueError, match="add no callback"):
        WeightAveraging("")


# --- in a real smoke fine-tune -----------------------------------------------------------------------


class RecordingAveraging(WeightAveraging):
    """The real callback, also keeping every step's weights and the model it averaged into."""

    last: RecordingAveraging | None = None

    def __init__(self, spec: str) -> None:
        super().__init__(spec)
        self.steps: list[dict[str, torch.Tensor]] = []
        RecordingAveraging.last = self

    def on_step_end(self, args, state, control, model=None, **kwargs):
        self.model = unwrapped(model)
        self.steps.append({name: p.detach().clone() for name, p in self.model.named_parameters()})
        return super().on_step_end(args, state, control, model=model, **kwargs)


def averaged_by_hand(steps: list[dict[str, torch.Tensor]], spec: str) -> dict[str, torch.Tensor]:
    if spec == "swa":  # the smoke recipe: 24 pairs in batches of 4 is 6 steps an epoch
        return {name: torch.stack([s[name] for s in steps[-6:]]).mean(dim=0) for name in steps[0]}
    decay = float(spec.removeprefix("ema-"))
    average = dict(steps[0])
    for step in steps[1:]:
        average = {name: decay * average[name] + (1 - decay) * step[name] for name in average}
    return average


def validation_logits(model, smoke_dir) -> np.ndarray:
    """The model's logits on the smoke validation split, computed here, in the split's order."""
    from transformers import DataCollatorWithPadding

    from harness.run.data import MrpcSource
    from harness.run.models import resolve_model

    tokenizer = resolve_model("arch:bert-tiny").load_tokenizer()
    rows = training.tokenize_texts(MrpcSource(smoke_dir).load()["validation"], tokenizer, text_columns=("sentence1", "sentence2"),
                                   max_length=64)
    batch = DataCollatorWithPadding(tokenizer)([{k: row[k] for k in ("input_ids", "token_type_ids", "attention_mask")} for row in rows])
    model.eval()
    with torch.no_grad():
        return model(**batch).logits.numpy()


@pytest.mark.parametrize("spec", ["ema-0.8", "swa"])
def test_a_fine_tune_is_scored_with_the_averaged_weights(spec, smoke_config, smoke_result, smoke_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(training, "weight_averaging", lambda given: RecordingAveraging(given) if given else None)
    config = smoke_config.replace(recipe=dataclasses.replace(smoke_config.recipe, weight_average=spec), output_dir=tmp_path)
    result = training.fine_tune(config, hub_offline=True, show_progress=False)
    recorder = RecordingAveraging.last
    assert len(recorder.steps) == 12
    expected = averaged_by_hand(recorder.steps, spec)
    for name, parameter in recorder.model.named_parameters():
        torch.testing.assert_close(parameter.detach(), expected[name], rtol=1e-5, atol=1e-6)
    assert not all(torch.equal(p.detach(), recorder.steps[-1][n]) for n, p in recorder.model.named_parameters())
    # The saved predictions are the averaged model's; the raw run (same seed, same steps) scored otherwise.
    np.testing.assert_allclose(result.logits, validation_logits(recorder.model, smoke_dir), rtol=1e-4, atol=1e-5)
    assert not np.allclose(result.logits, smoke_result.logits)
    assert result.provenance["weight_average"] == {"spec": spec, "steps_averaged": 12 if spec.startswith("ema") else 6}
    # The per-epoch evaluation still ran, on the raw weights.
    assert [round(entry["epoch"]) for entry in result.history if "eval_f1" in entry] == [1, 2]
