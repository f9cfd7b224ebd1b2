"""Same-run relative checks: they pass on the ratio and fail with both numbers and the reason."""

from __future__ import annotations

import pytest

from harness.throughput.relative_check import RelativeCheck, assert_relative
from harness.throughput.runner import ThroughputCase

from fake_throughput import fake_result

MINILM = ThroughputCase("minilm", "cpu", "fp32", 8)
BERT = ThroughputCase("arch:bert-base-uncased", "cpu", "fp32", 8)


def results(minilm_seconds: float, bert_seconds: float):
    return fake_result(MINILM, round_seconds=(minilm_seconds,) * 3), fake_result(BERT, round_seconds=(bert_seconds,) * 3)


def test_a_ratio_above_the_bound_passes():
    fast, slow = results(1.0, 5.0)
    check = assert_relative(fast, slow, min_ratio=2.0)
    assert check.passed and check.ratio == pytest.approx(5.0)
    assert "ratio 5x, required >= 2x: pass" in check.explain()


def test_a_ratio_below_the_bound_fails_with_both_numbers_and_why():
    fast, slow = results(2.0, 3.0)
    with pytest.raises(AssertionError) as failure:
        assert_relative(fast, slow, min_ratio=2.0, why="MiniLM computes an eighth of the FLOPs")
    message = str(failure.value)
    assert "minilm-cpu-fp32-b8 must reach at least 2x the samples/s of arch:bert-base-uncased-cpu-fp32-b8" in message
    assert "(MiniLM computes an eighth of the FLOPs)" in message
    assert f"{fast.samples_per_second:.4g}" in message and f"{slow.samples_per_second:.4g}" in message
    assert "ratio 1.5x, required >= 2x: FAIL" in message


def test_the_ratio_can_be_taken_on_tokens():
    fast, slow = results(1.0, 2.0)
    check = RelativeCheck(fast, slow, 1.5, metric="padded_tokens_per_second")
    assert check.ratio == pytest.approx(2.0) and "padded tokens/s" in check.explain()


def test_bad_arguments_are_refused():
    fast, slow = results(1.0, 2.0)
    with pytest.raises(ValueError, match="unknown metric 'speed'"):
        RelativeCheck(fast, slow, 1.0, metric="speed")
    with pytest.raises(ValueError, match="min_ratio must be > 0"):
        RelativeCheck(fast, slow, 0.0)


def test_the_verdict_says_how_well_the_ratio_is_known():
    from fake_throughput import fake_result
    from harness.throughput.relative_check import RelativeCheck
    from harness.throughput.runner import ThroughputCase

    fast = fake_result(ThroughputCase("minilm", "cpu", "fp32", 8), round_seconds=(1.0, 1.1, 0.9))
    slow = fake_result(ThroughputCase("arch:bert-base-uncased", "cpu", "fp32", 8), round_seconds=(4.0, 4.0, 4.0))
    check = RelativeCheck(fast, slow, min_ratio=2.0)
    assert check.ratio_half_width == pytest.approx(fast.mean_half_width)  # the steady case adds nothing
    assert f"the ratio is known to ±{fast.mean_half_width:.1%} (95%)" in check.explain()
