"""One run identity: built from a config before training and from a result after, and every use of
"the same run" (cache key, run folder, seed ledger, baseline match) one view of it."""

from __future__ import annotations

import dataclasses

import pytest

from fake_runs import run_result, smoke_run_config
from harness.run.cache import cache_key
from harness.quality.seed_ledger import ledger_identity
from harness.run.run_identity import BASELINE_MATCHES, BASELINE_MAY_DIFFER, VERSIONED_LIBRARIES, RunIdentity


@pytest.fixture
def identity() -> RunIdentity:
    return RunIdentity.from_result(smoke_run_config().to_dict(), run_result().provenance)


def test_before_training_and_after_it_the_identity_is_the_same(smoke_config, smoke_result):
    """The identity a ledger or a folder is checked with before training is the one the result records."""
    before = RunIdentity.from_config(smoke_config, hub_offline=True)
    assert before == RunIdentity.of_result(smoke_result)
    assert cache_key(smoke_config, hub_offline=True) == before.cache_key()


def test_every_library_that_touches_numbers_or_parsing_is_in_it(identity):
    assert {"pandas", "pyarrow", "safetensors", "scipy", "numpy", "datasets", "tokenizers", "accelerate", "torch",
            "transformers", "evaluate", "scikit-learn"} <= set(VERSIONED_LIBRARIES) == set(identity.versions)


@pytest.mark.parametrize("part", ["versions", "harness_source_sha256"])
def test_a_run_folder_is_named_by_everything_but_the_software(identity, part):
    """Retrained by edited code, the same run finds its folder again; its cache key does not."""
    changed = dataclasses.replace(identity, **{part: {"torch": "0"} if part == "versions" else "f" * 64})
    assert changed.folder_hash() == identity.folder_hash()
    assert changed.cache_key() != identity.cache_key()


@pytest.mark.parametrize("change", [{"data_sha256": "e" * 64}, {"world_size": 2}, {"task_spec_sha256": "0" * 64},
                                    {"device": "cuda"}])
def test_a_run_folder_is_as_distinct_as_what_the_run_trains(identity, change):
    changed = dataclasses.replace(identity, **change)
    assert changed.folder_hash() != identity.folder_hash() and changed.ledger() != identity.ledger()


def test_the_seeds_of_one_ledger_differ_only_in_their_seed():
    config = smoke_run_config(seed=42)
    first = ledger_identity(config.identity(), run_result(config).provenance)
    assert first == ledger_identity(config.replace(seed=43).identity(), run_result(config.replace(seed=43)).provenance)
    assert first != ledger_identity(config.replace(world_size=2).identity(), run_result(config).provenance)


def test_what_a_baseline_must_match_and_may_differ_in_are_named_once(identity):
    assert set(identity.baseline_parts()) == set(BASELINE_MATCHES)
    assert not set(BASELINE_MATCHES) & set(BASELINE_MAY_DIFFER)
    assert identity.baseline_parts()["world_size"] == 1 and identity.baseline_parts()["precision"] == "fp32"


def test_where_the_data_and_model_are_kept_is_not_what_the_run_is(identity):
    """A config's data folder and a model's source path differ between machines and checkouts."""
    moved = RunIdentity.from_result({**smoke_run_config().to_dict(), "data_dir": "/elsewhere"},
                                    {**run_result().provenance, "model": {**run_result().provenance["model"], "source": "/x"}})
    assert moved.folder_hash() == identity.folder_hash() and moved.ledger() == identity.ledger()
    assert moved.nodes() == identity.nodes()  # two nodes of one DDP run may keep the model in other folders


def test_the_nodes_of_a_run_share_everything_but_where_the_model_is_kept(identity):
    nodes = identity.nodes()
    assert set(nodes) == set(identity.to_json()) and "source" not in nodes["model"]
    other_weights = RunIdentity.from_result(smoke_run_config().to_dict(), {
        **run_result().provenance, "model": {**run_result().provenance["model"], "weights_sha256": "0" * 64}})
    assert other_weights.nodes() != nodes
