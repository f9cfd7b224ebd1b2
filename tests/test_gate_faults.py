"""The gate catches real regressions: the packaged MiniLM fine-tuned on a slice of the real MRPC,
with a deliberate fault injected, fails against a baseline measured from the clean config, and the
clean config itself passes.

The smoke tier cannot show this (a tiny random BERT on 24 pairs learns nothing, so a fault changes
nothing), so these tests train the real model on a seeded 1,000-pair slice for one short recipe.
The runs go through the session's run cache, so a re-run with nothing changed trains nothing.
"""

from __future__ import annotations

import dataclasses

import pytest

from harness.quality.baselines import BaselineStore
from harness.quality.gate import FAIL, REPRODUCED
from harness.quality.regression import record_baseline
from harness.project import Project
from harness.session import HarnessSession

pytestmark = pytest.mark.slow

SLICE = {"max_train_samples": 1000, "epochs": 2.0}
BASELINE_SEEDS = 2


@pytest.fixture(scope="module")
def gate_session(harness: HarnessSession, mrpc_dir, tmp_path_factory) -> HarnessSession:
    """The session's settings and cache, with a baseline folder of its own and a fixed device."""
    settings = dataclasses.replace(harness.settings, data_dir=mrpc_dir)
    return HarnessSession(
        Project.of(settings, tmp_path_factory.mktemp("fault-baselines"), device="cpu"),
        baseline_seeds=BASELINE_SEEDS,
        show_progress=False,
    )


@pytest.fixture(scope="module")
def clean_config(gate_session: HarnessSession):
    config = gate_session.config("minilm-cpu", **SLICE)
    baseline = record_baseline(config, gate_session.fine_tune, seeds=BASELINE_SEEDS)
    BaselineStore(gate_session.baselines_dir).save(baseline)
    return config


def test_the_clean_config_passes(gate_session, clean_config):
    outcome = gate_session.check_quality(clean_config)
    assert outcome.passed, outcome.report.table()
    # seed 42 is one of the baseline's own seeds and nothing changed: it reproduces exactly
    assert {c.verdict for c in outcome.report.checks} == {REPRODUCED}


@pytest.mark.parametrize("fault", ["shuffled-labels", "truncated-inputs"])
def test_an_injected_fault_fails_the_gate_with_the_table(gate_session, clean_config, fault):
    outcome = gate_session.check_quality(clean_config.replace(faults=(fault,)))
    table = outcome.report.table()
    print(table)
    assert not outcome.passed
    accuracy = next(c for c in outcome.report.checks if c.metric == "accuracy")
    assert accuracy.verdict == FAIL, table
    assert accuracy.measured < accuracy.band_low
    assert "| accuracy" in table and "FAIL" in table and "allowed band" in table
    obtained = BaselineStore(gate_session.baselines_dir).obtained_path(outcome.report.name, clean_config.replace(faults=(fault,)).short_id)
    assert obtained.is_file(), "a failed check leaves the obtained values beside the baseline"
