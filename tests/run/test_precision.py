"""Device and precision availability: every "no" comes with a reason a person can act on."""

from __future__ import annotations

import pytest
import torch

from harness.run import precision as hardware
from harness.run.config import ConfigError
from harness.run.precision import (
    benchmark_devices,
    check_precision,
    cpu_bf16_unavailable_reason,
    cpu_flags,
    device_kind,
    native_precision,
    resolve_precision,
    unavailable_reason,
)

X86_CPUINFO = "processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu sse2 avx2 fma avx512f\n\nprocessor\t: 1\n"
ARM_CPUINFO = "processor\t: 0\nFeatures\t: fp asimd bf16 i8mm\nCPU implementer\t: 0x41\n"


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def no_mps(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.fixture
def two_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "Tesla T4")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index=0: (7, 5))


def test_cpu_flags_are_read_from_x86_and_arm_cpuinfo():
    assert {"avx2", "fma", "avx512f"} <= cpu_flags(X86_CPUINFO)
    assert "bf16" in cpu_flags(ARM_CPUINFO)
    assert cpu_flags("nothing useful here") == frozenset()


@pytest.mark.parametrize("flag", ["avx512_bf16", "amx_bf16", "bf16"])
def test_native_bf16_flags_make_cpu_bf16_available(flag):
    assert cpu_bf16_unavailable_reason(frozenset({"avx2", flag})) is None


def test_a_cpu_without_bf16_flags_is_skipped_with_the_flags_named():
    reason = cpu_bf16_unavailable_reason(frozenset({"avx2", "fma"}))
    assert "no native bf16" in reason and "avx512_bf16" in reason and "amx_bf16" in reason


def test_unreadable_cpu_flags_do_not_assume_bf16():
    assert "cannot read" in cpu_bf16_unavailable_reason(frozenset())


def test_cpu_bf16_follows_this_machines_flags(monkeypatch):
    monkeypatch.setattr(hardware, "cpu_flags", lambda cpuinfo=None: frozenset({"avx2"}))
    assert "no native bf16" in unavailable_reason("cpu", "bf16")
    monkeypatch.setattr(hardware, "cpu_flags", lambda cpuinfo=None: frozenset({"avx512_bf16"}))
    assert unavailable_reason("cpu", "bf16") is None


def test_cpu_fp32_is_always_available():
    assert unavailable_reason("cpu", "fp32") is None


def test_fp16_is_cuda_only():
    assert "fp16 training needs a CUDA device" in unavailable_reason("cpu", "fp16")
    assert "fp16 training needs a CUDA device" in unavailable_reason("mps", "fp16")


@pytest.mark.usefixtures("no_cuda")
@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_no_gpu_skips_every_cuda_precision_with_the_reason(precision):
    reason = unavailable_reason("cuda:0", precision)
    assert reason.startswith("no CUDA GPU on this machine: torch.cuda.is_available() is False")


def test_no_mps_says_so(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert unavailable_reason("mps", "fp32") == "no Apple MPS device on this machine: torch.backends.mps.is_available() is False"


@pytest.mark.usefixtures("two_gpus")
def test_a_second_gpu_is_measured_in_its_own_run():
    reason = unavailable_reason("cuda:1", "fp32")
    assert "CUDA_VISIBLE_DEVICES=1" in reason
    assert unavailable_reason("cuda:2", "fp32") == "cuda:2 is not present: torch.cuda.device_count() is 2"


@pytest.mark.usefixtures("two_gpus")
def test_bf16_needs_ampere():
    assert unavailable_reason("cuda:0", "fp16") is None
    reason = unavailable_reason("cuda:0", "bf16")
    assert "Tesla T4 (compute capability 7.5) has no native bf16" in reason


@pytest.mark.usefixtures("two_gpus")
def test_every_gpu_is_listed():
    assert benchmark_devices() == ("cpu", "cuda:0", "cuda:1", "mps")


@pytest.mark.usefixtures("no_cuda")
def test_cuda_0_is_listed_even_without_a_gpu_so_its_rows_say_why():
    assert benchmark_devices() == ("cpu", "cuda:0", "mps")


def test_device_kind():
    assert [device_kind(d) for d in ("cpu", "cuda", "cuda:3", "mps")] == ["cpu", "cuda", "cuda", "mps"]
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        device_kind("tpu")


# --- check_precision: may this run train in this precision here? -----------------------------------


@pytest.mark.usefixtures("no_cuda", "no_mps")
def test_fp16_on_auto_without_a_gpu_is_refused_naming_the_resolved_device():
    """`auto` becomes the CPU on a machine without a GPU; fp16 there would quietly train in fp32."""
    with pytest.raises(ConfigError) as error:
        check_precision("fp16", "auto")
    message = str(error.value)
    assert "fp16 training needs a CUDA device" in message
    assert "'auto'" in message and "'cpu'" in message
    assert "fp32" in message and "bf16 on a CPU with native bf16" in message


@pytest.mark.parametrize("device", ["cpu", "mps"])
def test_fp16_on_a_named_device_without_cuda_is_refused(device):
    with pytest.raises(ConfigError, match=f"fp16 training needs a CUDA device.*'{device}'.*fp32"):
        check_precision("fp16", device)


def test_bf16_on_a_cpu_without_native_bf16_is_refused_with_the_reason(monkeypatch):
    monkeypatch.setattr(hardware, "cpu_flags", lambda cpuinfo=None: frozenset({"avx2", "fma"}))
    with pytest.raises(ConfigError) as error:
        check_precision("bf16", "cpu")
    message = str(error.value)
    assert "no native bf16" in message and "avx512_bf16" in message and "fp32" in message


@pytest.mark.parametrize("flag", ["avx512_bf16", "amx_bf16", "bf16"])
def test_bf16_on_a_cpu_with_native_bf16_is_allowed(monkeypatch, flag):
    monkeypatch.setattr(hardware, "cpu_flags", lambda cpuinfo=None: frozenset({"avx2", flag}))
    check_precision("bf16", "cpu")


@pytest.mark.usefixtures("no_cuda", "no_mps")
def test_bf16_on_auto_follows_the_cpu_it_resolves_to(monkeypatch):
    monkeypatch.setattr(hardware, "cpu_flags", lambda cpuinfo=None: frozenset({"avx2"}))
    with pytest.raises(ConfigError, match="'auto'.*'cpu'"):
        check_precision("bf16", "auto")


@pytest.mark.usefixtures("two_gpus")
def test_a_gpu_without_bf16_refuses_bf16_and_accepts_fp16(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: False)
    check_precision("fp16", "auto")
    check_precision("fp16", "cuda")
    with pytest.raises(ConfigError, match="bf16.*use fp16 or fp32"):
        check_precision("bf16", "cuda")


@pytest.mark.usefixtures("no_cuda", "no_mps")
@pytest.mark.parametrize("device", ["auto", "cpu"])
def test_fp32_trains_anywhere(device):
    check_precision("fp32", device)


@pytest.mark.usefixtures("no_cuda", "no_mps")
@pytest.mark.parametrize(("flags", "expected"), [({"avx2", "avx512_bf16"}, "bf16"), ({"avx2", "amx_bf16"}, "bf16"),
                                                 ({"avx2", "avx512f"}, "fp32"), (set(), "fp32")])
def test_auto_precision_on_a_cpu_is_bf16_only_where_it_is_native(monkeypatch, flags, expected):
    """Emulated bf16 is about 100 times slower than fp32: auto must never pick it on such a CPU."""
    monkeypatch.setattr(hardware, "cpu_flags", lambda cpuinfo=None: frozenset(flags))
    assert native_precision("cpu") == native_precision("auto") == expected
    assert resolve_precision("auto", "cpu") == expected


@pytest.mark.parametrize(("bf16_supported", "expected"), [(True, "bf16"), (False, "fp32")])
def test_auto_precision_on_a_gpu_follows_its_bf16_support(monkeypatch, bf16_supported, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: bf16_supported)
    assert native_precision("cuda:0") == native_precision("auto") == expected


@pytest.mark.usefixtures("no_cuda")
def test_auto_precision_never_picks_fp16_and_an_explicit_precision_is_kept(monkeypatch):
    monkeypatch.setattr(hardware, "cpu_flags", lambda cpuinfo=None: frozenset({"avx2"}))
    assert native_precision("cuda") == "fp32"  # asked for a GPU that is not there: nothing native to use
    assert native_precision("mps") == "fp32"
    assert [resolve_precision(p, "cpu") for p in ("fp32", "bf16", "fp16")] == ["fp32", "bf16", "fp16"]
