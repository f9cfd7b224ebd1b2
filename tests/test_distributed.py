"""DDP through torch's elastic launcher, for real: two processes with gloo on this machine's CPU,
and two "nodes" on 127.0.0.1. Each run is the smoke tier, so each costs seconds of training plus
the processes' start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.config import ConfigError, RunConfig
from harness.distributed import Launch, free_port
from harness.result import RunResult

OFFLINE_ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _harness_run(smoke_dir: Path, output_dir: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "harness", "run", "--recipe", "smoke", "--data-dir", str(smoke_dir), "--device", "cpu",
         "--quiet", "--output-dir", str(output_dir), "--pyproject", str(output_dir / "no-pyproject.toml"), *extra],
        env=OFFLINE_ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def _finish(process: subprocess.Popen) -> str:
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output
    return output


def _only_result(output_dir: Path) -> RunResult:
    found = sorted(output_dir.glob("*/result.json"))
    assert len(found) == 1, f"expected one result written (by rank 0 alone), found {found}"
    return RunResult.load(found[0].parent)


def _check_gathered_once(result: RunResult, smoke_dir: Path, world_size: int) -> None:
    from harness.data import read_glue_tsv
    from harness.metrics import MrpcMetrics

    dev = read_glue_tsv(smoke_dir / "dev.tsv")
    # one row per validation example: no duplicates from the distributed sampler's padding, in split order
    assert result.logits.shape == (dev.num_rows, 2)
    np.testing.assert_array_equal(result.idx, np.arange(dev.num_rows))
    np.testing.assert_array_equal(result.labels, np.asarray(dev["label"]))
    expected = MrpcMetrics()((result.logits, result.labels))
    assert result.metrics["accuracy"] == pytest.approx(expected["accuracy"]) and result.metrics["f1"] == pytest.approx(expected["f1"])
    assert result.provenance["distributed"]["world_size"] == world_size
    assert result.provenance["distributed"]["backend"] == "gloo"
    assert result.config["world_size"] == world_size


def test_two_processes_on_one_node_train_with_gloo_and_rank_0_writes_once(smoke_dir, tmp_path):
    output = _finish(_harness_run(smoke_dir, tmp_path, "--nproc", "2"))
    assert "launching 2 process(es) on node 0 of 1" in output
    assert "[rank 0]" in output and "[rank 1]" in output  # both ranks really trained
    result = _only_result(tmp_path)
    _check_gathered_once(result, smoke_dir, world_size=2)
    assert result.provenance["distributed"]["threads_per_process"] == max(1, (os.cpu_count() or 1) // 2)


def test_two_nodes_on_localhost_form_one_job_and_node_0_writes(smoke_dir, tmp_path):
    port = str(free_port())
    nodes = [_harness_run(smoke_dir, tmp_path / f"node{rank}", "--nnodes", "2", "--node-rank", str(rank), "--master-port", port)
             for rank in (0, 1)]
    outputs = [_finish(node) for node in nodes]
    assert "node 1 finished its share; node 0 writes the result" in outputs[1]
    assert not list((tmp_path / "node1").glob("*/result.json"))
    _check_gathered_once(_only_result(tmp_path / "node0"), smoke_dir, world_size=2)


def test_a_single_process_asked_to_be_one_of_two_refuses(smoke_config):
    from harness.training import fine_tune

    with pytest.raises(ConfigError, match="world_size 2, but this process sees 1 training process"):
        fine_tune(smoke_config.replace(world_size=2), hub_offline=True, show_progress=False)


@pytest.mark.parametrize(
    ("launch", "phrase"),
    [
        ({"nproc_per_node": 0}, "must be >= 1"),
        ({"nnodes": 2, "node_rank": 2, "master_port": 1234}, "node rank must be in [0, 2)"),
        ({"nnodes": 2}, "needs --master-port"),
        ({"threads_per_process": 0}, "threads per process must be >= 1"),
    ],
)
def test_impossible_launches_are_refused(launch, phrase):
    with pytest.raises(ConfigError, match=re_escape(phrase)):
        Launch(**launch)


def test_the_launch_must_match_the_configs_world_size(smoke_config):
    from harness.distributed import launch_fine_tune

    with pytest.raises(ConfigError, match=r"world_size 1, but the launch starts 2 x 1 = 2 processes"):
        launch_fine_tune(smoke_config, Launch(nproc_per_node=2))


def test_world_size_is_part_of_the_identity_only_when_distributed(smoke_config):
    assert "world_size" not in smoke_config.identity()
    two = smoke_config.replace(world_size=2)
    assert two.identity()["world_size"] == 2 and two.short_id != smoke_config.short_id
    assert RunConfig.from_dict(json.loads(two.to_json())) == two
    with pytest.raises(ConfigError, match="world_size"):
        smoke_config.replace(world_size=0)


def re_escape(text: str) -> str:
    import re

    return re.escape(text)
