"""The MRPC quality gate: fine-tune (once per session, cached on disk) and compare with baselines/.

CPU tier: the packaged all-MiniLM-L6-v2 with the ``minilm-cpu`` recipe, on every machine.
Course tier: bert-base-uncased with the course's exact recipe, where there is a GPU and the Hub.
"""

from __future__ import annotations

import pytest

from harness.run.models import ModelError, resolve_model


@pytest.mark.quality
@pytest.mark.slow
@pytest.mark.harness_recipe("minilm-cpu")  # what it gates, so --harness-seeds-ahead can train its later seeds ahead
def test_mrpc_minilm_cpu(harness, quality_gate):
    outcome = quality_gate.check(harness.config("minilm-cpu"))
    assert outcome.result.logits.shape == (408, 2)


@pytest.mark.quality
@pytest.mark.slow
@pytest.mark.gpu
def test_mrpc_course_bert_base(harness, quality_gate):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("course tier needs a CUDA GPU (bert-base-uncased, 3 epochs, is hours on a CPU); none is available here")
    try:
        resolve_model("bert-base-uncased", hub_offline=harness.settings.hub_offline)
    except ModelError as error:
        pytest.skip(f"course tier needs bert-base-uncased's pretrained weights from the Hub: {error}")
    outcome = quality_gate.check(harness.config("course", device="cuda"))
    assert outcome.result.logits.shape == (408, 2)
