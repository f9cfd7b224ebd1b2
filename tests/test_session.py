"""HarnessSession.config: the session's precision reaches every config it builds, ``auto`` resolved
for that config's own device."""

from __future__ import annotations

import pytest
import torch

from harness.project import Project
from harness.session import HarnessSession
from harness.settings import Settings
from harness.run import precision as hardware


@pytest.fixture
def session(tmp_path):
    def make(precision: str) -> HarnessSession:
        return HarnessSession(Project.of(Settings(cache_dir=tmp_path / "cache"), tmp_path / "baselines",
                                         device="cpu", precision=precision))

    return make


@pytest.mark.parametrize(("flags", "expected"), [({"avx2"}, "fp32"), ({"avx2", "avx512_bf16"}, "bf16")])
def test_auto_precision_follows_the_cpus_native_bf16(session, monkeypatch, flags, expected):
    monkeypatch.setattr(hardware, "cpu_flags", lambda cpuinfo=None: frozenset(flags))
    assert session("auto").config("smoke").precision == expected


def test_an_explicit_precision_reaches_the_config_and_a_config_may_override_it(session):
    assert session("fp32").config("smoke").precision == "fp32"
    assert session("bf16").config("smoke").precision == "bf16"
    assert session("bf16").config("smoke", precision="fp32").precision == "fp32"


def test_auto_is_resolved_for_the_configs_own_device(session, monkeypatch):
    """The course tier asks for cuda whatever the session's device: auto must judge that device."""
    monkeypatch.setattr(hardware, "cpu_flags", lambda cpuinfo=None: frozenset({"avx2"}))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    assert session("auto").config("smoke").precision == "fp32"
    assert session("auto").config("smoke", device="cuda").precision == "bf16"
