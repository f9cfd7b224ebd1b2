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

from harness.run.config import ConfigError, RunConfig
from harness.run.distributed import Launch, free_port
from harness.run.node_agreement import NodesDisagree, identity_differences, nodes_provenance
from harness.run.result import RunResult

OFFLINE_ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _harness_run(smoke_dir: Path, output_dir: Path, *extra: str) -> subprocess.Popen:
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "no-pyproject.toml").write_text("", encoding="utf-8")  # a project with no settings
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
    from harness.tasks.glue import MRPC
    from harness.tasks.glue_files import read_glue_file
    from harness.tasks.metrics import TaskMetrics

    dev = read_glue_file(MRPC, smoke_dir / "dev.tsv")
    # one row per validation example: no duplicates from the distributed sampler's padding, in split order
    assert result.logits.shape == (dev.num_rows, 2)
    np.testing.assert_array_equal(result.idx, np.arange(dev.num_rows))
    np.testing.assert_array_equal(result.labels, np.asarray(dev["label"]))
    expected = TaskMetrics(MRPC.metrics, num_labels=MRPC.num_labels)((result.logits, result.labels))
    assert result.metrics["accuracy"] == pytest.approx(expected["accuracy"]) and result.metrics["f1"] == pytest.approx(expected["f1"])
    assert result.provenance["distributed"]["world_size"] == world_size
    assert result.provenance["distributed"]["backend"] == "gloo"
    assert result.config.world_size == world_size


def test_two_processes_on_one_node_train_with_gloo_and_rank_0_writes_once(smoke_dir, tmp_path):
    output = _finish(_harness_run(smoke_dir, tmp_path, "--nproc", "2"))
    assert "launching 2 process(es) on node 0 of 1" in output
    assert "[rank 0]" in output and "[rank 1]" in output  # both ranks really trained
    result = _only_result(tmp_path)
    _check_gathered_once(result, smoke_dir, world_size=2)
    assert result.provenance["distributed"]["threads_per_process"] == max(1, (os.cpu_count() or 1) // 2)


@pytest.mark.slow  # ~11 s; the fast tier keeps two nodes' rendezvous (a node on other data) and DDP on one node
def test_two_nodes_on_localhost_form_one_job_and_node_0_writes(smoke_dir, tmp_path):
    port = str(free_port())
    nodes = [_harness_run(smoke_dir, tmp_path / f"node{rank}", "--nnodes", "2", "--node-rank", str(rank), "--master-port", port)
             for rank in (0, 1)]
    outputs = [_finish(node) for node in nodes]
    assert "node 1 finished its share; node 0 writes the result" in outputs[1]
    assert not list((tmp_path / "node1").glob("*/result.json"))
    result = _only_result(tmp_path / "node0")
    _check_gathered_once(result, smoke_dir, world_size=2)
    nodes = result.provenance["distributed"]["nodes"]  # every node's identity, not node 0's alone
    assert [(node["node_rank"], node["ranks"]) for node in nodes] == [(0, [0]), (1, [1])]
    assert nodes[0]["data_sha256"] == nodes[1]["data_sha256"] == result.provenance["data"]["sha256"]
    assert nodes[0]["identity_sha256"] == nodes[1]["identity_sha256"]


def _flipped_copy(smoke_dir: Path, destination: Path) -> Path:
    """The smoke data with every training label flipped: what a second node's stale copy may hold."""
    destination.mkdir()
    (destination / "dev.tsv").write_bytes((smoke_dir / "dev.tsv").read_bytes())
    header, *rows = (smoke_dir / "train.tsv").read_bytes().split(b"\r\n")
    flipped = [(b"1" if row[:1] == b"0" else b"0") + row[1:] if row else row for row in rows]
    (destination / "train.tsv").write_bytes(b"\r\n".join([header, *flipped]))
    return destination


def test_a_node_on_other_data_fails_the_launch_on_every_node_naming_the_file(smoke_dir, tmp_path):
    other = _flipped_copy(smoke_dir, tmp_path / "flipped")
    port = str(free_port())
    nodes = [_harness_run(data, tmp_path / f"node{rank}", "--nnodes", "2", "--node-rank", str(rank), "--master-port", port)
             for rank, data in ((0, smoke_dir), (1, other))]
    for node in nodes:
        output, _ = node.communicate(timeout=600)
        assert node.returncode == 2, output  # a user error, reported as such, on node 0 and node 1
        error = next(line for line in output.splitlines() if line.startswith("harness: error:"))
        assert "rank 1 on node 1" in error and "differs from rank 0 on node 0" in error, error
        assert "data file train.tsv (sha256)" in error and "dev.tsv" not in error, error
    assert not list(tmp_path.glob("node*/*/result.json"))


def _identity(rank: int, node_rank: int, host: str, **changes) -> dict:
    identity = {
        "config": {"task": "mrpc", "model": "arch:bert-tiny", "recipe": {"name": "smoke", "learning_rate": 2e-5}, "seed": 42},
        "data_sha256": "d" * 64, "data_files": {"train.tsv": "a" * 64, "dev.tsv": "b" * 64},
        "model": {"spec": "arch:bert-tiny", "weights_sha256": None, "definition_sha256": "c" * 64},
        "versions": {"python": "3.12.3", "torch": "2.13.0"}, "harness_source_sha256": "e" * 64,
    }
    for path, value in changes.items():
        *parents, name = path.split("__")
        target = identity
        for parent in parents:
            target = target[parent]
        target[name] = value
    return {"rank": rank, "node_rank": node_rank, "host": host, "identity": identity}


def test_ranks_that_agree_have_no_differences_and_each_node_is_recorded():
    ranks = [_identity(0, 0, "a"), _identity(1, 0, "a"), _identity(2, 1, "b"), _identity(3, 1, "b")]
    assert identity_differences(ranks) == []
    nodes = nodes_provenance(ranks)
    assert [(node["node_rank"], node["host"], node["ranks"]) for node in nodes] == [(0, "a", [0, 1]), (1, "b", [2, 3])]
    assert nodes[0]["identity_sha256"] == nodes[1]["identity_sha256"] and nodes[1]["data_sha256"] == "d" * 64


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"data_sha256": "f" * 64, "data_files__train.tsv": "9" * 64},
         "data file train.tsv (sha256): 999999999999 there, aaaaaaaaaaaa on rank 0"),
        ({"config__recipe__learning_rate": 3e-5}, "config field recipe.learning_rate: 3e-05 there, 2e-05 on rank 0"),
        ({"config__seed": 43}, "config field seed: 43 there, 42 on rank 0"),
        ({"model__definition_sha256": "7" * 64}, "model definition_sha256: 777777777777 there, cccccccccccc on rank 0"),
        ({"model__weights_sha256": "8" * 64}, "model weights_sha256: 888888888888 there, none on rank 0"),
        ({"versions__torch": "2.12.0"}, "torch version: 2.12.0 there, 2.13.0 on rank 0"),
        ({"harness_source_sha256": "6" * 64}, "harness source sha256: 666666666666 there, eeeeeeeeeeee on rank 0"),
    ],
)
def test_a_node_that_differs_is_named_with_what_differs(changes, named):
    ranks = [_identity(0, 0, "a"), _identity(1, 0, "a"), _identity(2, 1, "b", **changes), _identity(3, 1, "b", **changes)]
    (sentence,) = identity_differences(ranks)
    assert sentence.startswith("ranks 2, 3 on node 1 (host b) differs from rank 0 on node 0 (host a) in "), sentence
    assert named in sentence
    assert "data sha256:" not in sentence  # a differing file is named; the hash over all of them adds nothing


def test_each_group_of_differing_ranks_gets_its_own_sentence():
    ranks = [_identity(0, 0, "a"), _identity(1, 1, "b", config__seed=43), _identity(2, 2, "c", versions__python="3.11.9")]
    first, second = identity_differences(ranks)
    assert first.startswith("rank 1 on node 1 (host b)") and "config field seed" in first and "version" not in first
    assert second.startswith("rank 2 on node 2 (host c)") and "python version: 3.11.9" in second


def test_a_workers_disagreement_reaches_the_launcher_as_itself():
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError, ProcessFailure

    from harness.run.distributed import _launch_error

    failure = ProcessFailure(local_rank=0, pid=1, exitcode=1, error_file="/nonexistent")
    failure.message = {"message": "NodesDisagree: rank 1 on node 1 (host b) differs from rank 0 ...", "extraInfo": {}}
    error = _launch_error(ChildFailedError("harness.run.distributed", {0: failure}))
    assert isinstance(error, NodesDisagree) and isinstance(error, ConfigError)
    assert str(error) == "rank 1 on node 1 (host b) differs from rank 0 ..."
    failure.message = {"message": "RuntimeError: out of memory", "extraInfo": {}}
    assert isinstance(_launch_error(ChildFailedError("harness.run.distributed", {0: failure})), RuntimeError)


def test_a_single_process_asked_to_be_one_of_two_refuses(smoke_config):
    from harness.run.training import fine_tune

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
    from harness.run.distributed import launch_fine_tune

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


@pytest.mark.slow  # ~15 s: two processes import the project's own metric and score with it
def test_ddp_workers_score_with_the_projects_own_metric(smoke_dir, tmp_path):
    """A project metric reaches every DDP worker: they import its module from the project folder (the
    launcher passes it), rank 0 scores with it, and the result records it in its config."""
    import csv

    from harness.tasks.glue import MRPC
    from harness.tasks.glue_files import read_glue_file

    module = f"ddp_metric_{os.getpid()}"
    (tmp_path / f"{module}.py").write_text(
        "import numpy as np\n\n\ndef error_rate(predictions, references):\n"
        "    return float(np.mean(np.asarray(predictions) != np.asarray(references)))\n", encoding="utf-8")
    files = {}
    for split, name in (("train", "train.tsv"), ("validation", "dev.tsv")):
        rows = read_glue_file(MRPC, smoke_dir / name)
        files[split] = tmp_path / f"{split}.csv"
        with open(files[split], "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["sentence1", "sentence2", "label"])
            writer.writerows(zip(rows["sentence1"], rows["sentence2"], rows["label"]))
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(f"""
[tool.harness.metrics.error_rate]
function = "{module}:error_rate"
better = "lower"

[tool.harness.tasks.pairs]
text_columns = ["sentence1", "sentence2"]
label_names = ["different", "same"]
metrics = ["accuracy", "error_rate"]
""", encoding="utf-8")
    output_dir = tmp_path / "runs"
    process = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", "--recipe", "smoke", "--task", "pairs", "--data-files",
         f"train={files['train']},validation={files['validation']}", "--device", "cpu", "--quiet", "--nproc", "2",
         "--output-dir", str(output_dir), "--pyproject", str(pyproject)],
        cwd=smoke_dir, env=OFFLINE_ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # not the project folder
    _finish(process)
    result = _only_result(output_dir)
    assert result.metrics["error_rate"] == pytest.approx(1 - result.metrics["accuracy"])
    (spec,) = result.config.project_metrics
    assert spec.source == f"{module}:error_rate" and spec.source_sha256 is not None


def test_a_device_this_machine_lacks_is_refused_before_any_process_starts(smoke_config, monkeypatch):
    import torch

    from harness.run.distributed import launch_fine_tune

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="sees no CUDA GPU"):
        launch_fine_tune(smoke_config.replace(device="cuda", world_size=2), Launch(nproc_per_node=2))


def test_a_workers_user_error_reaches_the_launcher_as_itself():
    from types import SimpleNamespace

    from harness.run.distributed import _launch_error
    from harness.tasks.text_files import DataError

    failure = SimpleNamespace(message={"message": "DataError: /data/train.tsv, row 3: no label; fix the row"})
    error = _launch_error(SimpleNamespace(failures={0: failure}, format_msg=lambda: "dump"))
    assert isinstance(error, DataError) and str(error) == "/data/train.tsv, row 3: no label; fix the row"
