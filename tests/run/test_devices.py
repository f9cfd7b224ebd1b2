from __future__ import annotations

import pytest

from harness.run.devices import device_index, device_kind, path_slug


@pytest.mark.parametrize(("device", "kind", "index"), [("cpu", "cpu", 0), ("mps", "mps", 0), ("cuda", "cuda", 0), ("cuda:0", "cuda", 0), ("cuda:7", "cuda", 7)])
def test_kind_and_index(device, kind, index):
    assert (device_kind(device), device_index(device)) == (kind, index)


@pytest.mark.parametrize("device", ["gpu", "tpu:0", "cuda:x", "cuda:-1", "cpu:1", "cuda:"])
def test_unknown_devices_name_the_valid_forms(device):
    with pytest.raises(ValueError, match=r"use cpu, cuda\[:N\] or mps"):
        device_kind(device) if device in ("gpu", "tpu:0") else device_index(device)


def test_slugs_never_hold_path_separators():
    assert "/" not in path_slug("org/sub/model") and ":" not in path_slug("arch:bert-tiny")
    assert path_slug("org/model") != path_slug("org-model")
