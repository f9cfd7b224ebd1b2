"""Re-initialising the top layers: exactly the chosen layers and the pooler change, from the model's own
initialiser, the same way for a seed, and without moving the rest of the run's random draws."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from harness.run.config import ConfigError
from harness.run.layer_reinit import encoder_layers, reinit_top_layers
from harness.run.models import resolve_model


@pytest.fixture(scope="module")
def pretrained_dir(tmp_path_factory):
    """A tiny BERT saved and loaded as a checkpoint is, with weights unlike a fresh initialisation (so a
    re-initialised tensor can be told from a loaded one) and transformers' "already initialised" marks."""
    from transformers import AutoModelForSequenceClassification

    config = resolve_model("arch:bert-tiny").load_config(2)
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_config(config)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.5)
    folder = tmp_path_factory.mktemp("tiny-pretrained")
    model.save_pretrained(folder)
    return folder


def load(folder):
    from transformers import AutoModelForSequenceClassification

    from harness.run.transformers_logging import errors_only

    with errors_only():
        return AutoModelForSequenceClassification.from_pretrained(folder)


def weights(model) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


def test_exactly_the_top_layers_and_the_pooler_are_redrawn(pretrained_dir):
    model = load(pretrained_dir)
    before = weights(model)
    names = reinit_top_layers(model, 1, seed=42)
    after = weights(model)
    assert names == ["bert.encoder.layer.1", "bert.pooler"]
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    top = {name for name in before if name.startswith(("bert.encoder.layer.1.", "bert.pooler."))}
    assert changed == top  # every tensor of the top layer and the pooler (all perturbed), and nothing else


def test_redrawn_tensors_follow_the_models_initialiser(pretrained_dir):
    model = load(pretrained_dir)
    reinit_top_layers(model, 2, seed=7)
    layer = model.bert.encoder.layer[0]
    assert torch.equal(layer.output.LayerNorm.weight, torch.ones_like(layer.output.LayerNorm.weight))
    assert torch.equal(layer.attention.self.query.bias, torch.zeros_like(layer.attention.self.query.bias))
    std = model.config.initializer_range
    assert float(layer.intermediate.dense.weight.detach().std()) == pytest.approx(std, rel=0.25)
    assert float(model.bert.pooler.dense.weight.detach().std()) == pytest.approx(std, rel=0.25)


def test_the_draw_is_fixed_by_the_seed(pretrained_dir):
    one, two, other = load(pretrained_dir), load(pretrained_dir), load(pretrained_dir)
    for model, seed in ((one, 42), (two, 42), (other, 43)):
        reinit_top_layers(model, 1, seed=seed)
    assert all(torch.equal(a, b) for a, b in zip(weights(one).values(), weights(two).values()))
    assert not torch.equal(one.bert.encoder.layer[1].output.dense.weight, other.bert.encoder.layer[1].output.dense.weight)


def test_the_rest_of_the_run_draws_what_it_would_have_drawn(pretrained_dir):
    """Dropout and the batch order come from torch's global stream: re-initialising must not shift it."""
    model = load(pretrained_dir)
    torch.manual_seed(5)
    expected = torch.rand(4)
    torch.manual_seed(5)
    reinit_top_layers(model, 1, seed=42)
    assert torch.equal(torch.rand(4), expected)


def test_zero_layers_changes_nothing(pretrained_dir):
    model = load(pretrained_dir)
    before = weights(model)
    assert reinit_top_layers(model, 0, seed=42) == []
    assert all(torch.equal(before[name], tensor) for name, tensor in weights(model).items())


def test_more_layers_than_the_model_has_is_refused(pretrained_dir):
    with pytest.raises(ConfigError, match="reinit_top_layers = 3, but the model has 2 transformer layers; use 0 to 2"):
        reinit_top_layers(load(pretrained_dir), 3, seed=42)


def test_a_model_without_a_layer_list_is_refused_naming_the_fix():
    class Plain(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.dense = torch.nn.Linear(2, 2)

    with pytest.raises(ConfigError) as error:
        encoder_layers(Plain())
    message = str(error.value)
    assert "cannot find the transformer layers of Plain" in message and "Plain.encoder.layer" in message
    assert "set reinit_top_layers = 0" in message


def test_a_fine_tune_with_reinit_is_its_own_deterministic_run(smoke_config, smoke_result, tmp_path):
    from harness.run.training import fine_tune

    config = smoke_config.replace(recipe=dataclasses.replace(smoke_config.recipe, reinit_top_layers=1), output_dir=tmp_path)
    first = fine_tune(config, hub_offline=True, show_progress=False)
    again = fine_tune(config, hub_offline=True, show_progress=False)
    np.testing.assert_array_equal(first.logits, again.logits)
    assert not np.array_equal(first.logits, smoke_result.logits)
    assert first.provenance["reinitialised"] == ["bert.encoder.layer.1", "bert.pooler"]


def test_minilms_top_layer_and_pooler_are_redrawn_and_the_rest_kept():
    """The gate's model as minilm-cpu-reinit loads it: six layers under bert.encoder.layer, and a pooler."""
    model = resolve_model("minilm").load_for_classification(2, seed=42)
    before = weights(model)
    assert reinit_top_layers(model, 1, seed=42) == ["bert.encoder.layer.5", "bert.pooler"]
    changed = {name for name, tensor in weights(model).items() if not torch.equal(before[name], tensor)}
    assert all(name.startswith(("bert.encoder.layer.5.", "bert.pooler.")) for name in changed)
    assert "bert.encoder.layer.5.attention.self.query.weight" in changed and "bert.pooler.dense.weight" in changed
