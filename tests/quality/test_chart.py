"""quality.png: drawn for sequential and band checks, linked from quality.md, skipped when empty."""

from __future__ import annotations

import pytest

from fake_runs import FakeFineTune, smoke_run_config
from harness.quality.baselines import BaselineStore, measured_from_runs
from harness.quality.gate import GatePolicy
from harness.quality.chart import write_quality_chart
from harness.quality.regression import perform_quality_check
from harness.quality.report import QualitySummary, write_quality_reports
from quality.test_sequential_check import NoisyFineTune


@pytest.fixture
def sequential_outcome(tmp_path):
    config = smoke_run_config(seed=42)
    store = BaselineStore(tmp_path / "baselines")
    store.save(measured_from_runs(config, [NoisyFineTune()(config.replace(seed=s)) for s in range(42, 72)]))
    policy = GatePolicy(bootstrap_samples=20, procedure="sequential", max_runs=10)
    return perform_quality_check(config, fine_tune=NoisyFineTune(stream=1, shift=-0.01), store=store, policy=policy)


def test_a_sequential_check_is_drawn_and_linked_from_the_report(sequential_outcome, tmp_path):
    assert sequential_outcome.report.sequential
    written = write_quality_reports([QualitySummary.of(sequential_outcome)], tmp_path / "reports")
    chart = tmp_path / "reports" / "quality.png"
    assert chart in written and chart.read_bytes().startswith(b"\x89PNG")
    assert "![Baseline seeds, candidate runs and the gate's thresholds](quality.png)" in (tmp_path / "reports" / "quality.md").read_text()
    entry = sequential_outcome.report.sequential[0]
    assert len(entry["reference_values"]) == 30 and len(entry["looks"]) == entry["max_runs"]


def test_a_band_check_is_drawn_and_a_missing_baseline_is_not(tmp_path):
    config = smoke_run_config(seed=42)
    store = BaselineStore(tmp_path / "baselines")
    missing = perform_quality_check(config, fine_tune=FakeFineTune(), store=store, policy=GatePolicy(bootstrap_samples=20))
    assert write_quality_chart([QualitySummary.of(missing).record], tmp_path / "none.png") is None
    perform_quality_check(config, fine_tune=FakeFineTune(), store=store, policy=GatePolicy(bootstrap_samples=20), force_regen=True)
    band = perform_quality_check(config.replace(seed=43), fine_tune=FakeFineTune(), store=store, policy=GatePolicy(bootstrap_samples=20))
    assert not band.report.sequential
    path = write_quality_chart([QualitySummary.of(band).record], tmp_path / "band.png")
    assert path is not None and path.read_bytes().startswith(b"\x89PNG")
