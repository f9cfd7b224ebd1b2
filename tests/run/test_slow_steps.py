"""The slow-steps fault: the extra work it claims, only in training steps, and nothing else changed.

A planted slowdown that also changed the model would make a throughput change point and a metric
change indistinguishable; one that did less work than it claims would overstate what the history
can detect. Both are checked here on the smoke fine-tune and on a hooked tiny model.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness.run.config import ConfigError
from harness.run.faults import fault_problem, fault_problems, slow_steps, step_faults
from harness.run.flops import EncoderShape
from harness.run.models import resolve_model
from harness.run.slow_steps import MATRIX, MIN_MULTIPLIES, SlowSteps, inject_slow_steps
from harness.run import training
from harness.run.training import fine_tune

TINY = "arch:bert-tiny"  # random weights from an architecture config: nothing to download
MINILM_SHAPE = EncoderShape(layers=6, hidden=384, intermediate=1536)
TINY_SHAPE = EncoderShape(layers=2, hidden=32, intermediate=64)  # the smoke recipe's random bert-tiny


@pytest.mark.parametrize("fraction", [0.01, 0.1, 0.25, 1.0, 4.0])
@pytest.mark.parametrize("shape, batch, tokens", [
    (MINILM_SHAPE, 8, 64), (MINILM_SHAPE, 32, 128), (MINILM_SHAPE, 16, 37), (MINILM_SHAPE, 1, 3),
    (TINY_SHAPE, 4, 16), (TINY_SHAPE, 2, 5),  # a step of a few MFLOP: smaller matrices, still that share
])
def test_the_extra_work_is_that_share_of_the_steps_flops(fraction, shape, batch, tokens):
    """The multiplies' FLOPs are the asked share of the step's, to within 1/(2 x MIN_MULTIPLIES)."""
    count, size = SlowSteps(fraction, shape).work_for(batch, tokens)
    assert count >= MIN_MULTIPLIES / 2 and 1 <= size <= MATRIX
    assert 2 * count * size**3 == pytest.approx(fraction * shape.step_flops(batch, tokens), rel=1 / MIN_MULTIPLIES)


def test_a_longer_batch_gets_more_extra_work():
    flops = [2 * count * size**3 for count, size in (SlowSteps(0.25, MINILM_SHAPE).work_for(b, s)
                                                     for b, s in ((8, 128), (8, 64), (4, 64)))]
    assert flops[0] > flops[1] > flops[2]


@pytest.mark.parametrize("fraction", [0, -0.1, float("nan")])
def test_no_extra_work_is_not_a_fault(fraction):
    with pytest.raises(ValueError, match="fraction > 0"):
        SlowSteps(fraction, MINILM_SHAPE)


@pytest.mark.parametrize("fault, problem", [
    ("slow-steps-0", "from 1 to 400"), ("slow-steps-401", "from 1 to 400"), ("slow-steps-05", "from 1 to 400"),
    ("slow-steps-x", "from 1 to 400"), ("slow-steps-", "from 1 to 400"), ("slow-steps-\u00b2", "from 1 to 400"),
    ("slow-steps-\uff15", "from 1 to 400"), ("label-noise-\u00b2", "from 1 to 50"),
])
def test_a_malformed_slow_steps_fault_names_the_valid_range(fault, problem):
    assert problem in fault_problem(fault)


@pytest.mark.parametrize("fault", ["slow-steps-1", "slow-steps-37", "slow-steps-400"])
def test_any_whole_percent_up_to_400_is_a_fault(fault):
    assert fault_problem(fault) is None
    assert slow_steps((fault,)) == int(fault.rsplit("-", 1)[1]) / 100


def test_only_step_faults_reach_a_throughput_measurement_each_once():
    assert step_faults(("label-noise-10", "slow-steps-25", "truncated-inputs", "slow-steps-25")) == ("slow-steps-25",)


def test_two_graded_faults_of_one_kind_are_a_problem_the_same_one_twice_is_not():
    assert fault_problems(("slow-steps-10", "slow-steps-10")) == []
    [problem] = fault_problems(("slow-steps-10", "slow-steps-20", "label-noise-5"))
    assert "at most one slow-steps fault" in problem


def test_two_slow_steps_faults_in_one_run_are_refused(smoke_config):
    with pytest.raises(ConfigError, match="at most one slow-steps fault"):
        smoke_config.replace(faults=("slow-steps-10", "slow-steps-20"))


def test_the_hook_works_in_training_steps_only():
    import torch

    model = resolve_model(TINY, hub_offline=True).load_for_classification(num_labels=2, seed=0)
    hook = inject_slow_steps(model, ("slow-steps-50",))
    batch = {"input_ids": torch.ones(4, 16, dtype=torch.long), "attention_mask": torch.ones(4, 16, dtype=torch.long)}
    model.eval()
    with torch.no_grad():
        model(**batch)
    assert hook.multiplies == 0
    model.train()
    model(**batch).logits.sum().backward()
    assert hook.multiplies == hook.work_for(4, 16)[0] > 0
    assert hook.flops == pytest.approx(0.5 * EncoderShape.from_config(model.config).step_flops(4, 16), rel=1 / MIN_MULTIPLIES)
    model(batch["input_ids"], attention_mask=None)  # the shape from a positional input_ids
    embeds = model.get_input_embeddings()(batch["input_ids"])
    model(inputs_embeds=embeds)  # and from inputs_embeds
    assert hook.multiplies == 3 * hook.work_for(4, 16)[0]


def test_the_hook_leaves_the_global_random_streams_alone():
    import torch

    model = resolve_model(TINY, hub_offline=True).load_for_classification(num_labels=2, seed=0).train()
    inject_slow_steps(model, ("slow-steps-50",))
    torch.manual_seed(3)
    model(input_ids=torch.ones(2, 8, dtype=torch.long))
    after_hooked = torch.get_rng_state()  # dropout drew from it; the hook must not have
    plain = resolve_model(TINY, hub_offline=True).load_for_classification(num_labels=2, seed=0).train()
    torch.manual_seed(3)
    plain(input_ids=torch.ones(2, 8, dtype=torch.long))
    assert torch.equal(after_hooked, torch.get_rng_state())


def test_a_model_without_an_encoder_shape_is_refused():
    class Config:  # no num_hidden_layers, hidden_size or intermediate_size
        pass

    class Model:
        config = Config()

    with pytest.raises(ValueError, match="BERT-style encoders only"):
        inject_slow_steps(Model(), ("slow-steps-10",))


def test_a_slow_steps_run_trains_the_same_model_and_records_its_fault(smoke_result, smoke_config, tmp_path,
                                                                     monkeypatch):
    """The fault spends time, nothing else: the same logits bit for bit, a different cache entry."""
    hooks = []
    monkeypatch.setattr(training, "inject_slow_steps", lambda model, faults: hooks.append(inject_slow_steps(model, faults)))
    slowed = fine_tune(smoke_config.replace(output_dir=tmp_path, faults=("slow-steps-200",)), hub_offline=True,
                       show_progress=False)
    np.testing.assert_array_equal(slowed.logits, smoke_result.logits)
    assert slowed.metrics == smoke_result.metrics
    assert slowed.config.faults == ("slow-steps-200",)
    [hook] = hooks
    assert hook.fraction == 2.0 and hook.multiplies > 0  # it did its work during training
