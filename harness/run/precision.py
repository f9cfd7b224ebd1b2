"""Which devices and precisions this machine can train with, and why not where it cannot.

Every check answers with a reason a person can act on, never a bare ``False``: the reason becomes
the pytest skip message and the "not measured" note in the throughput report, so a missing number
always says why it is missing.

The Trainer puts a single process on the first visible GPU (``cuda:0``, after
``CUDA_VISIBLE_DEVICES``), so each further GPU is measured by a run of its own with
``CUDA_VISIBLE_DEVICES=N``; in-process it is listed and skipped with that instruction.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.run.config import ConfigError
from harness.run.devices import device_index, device_kind
from harness.run.provenance import cpu_name, resolve_device

PRECISIONS_BY_DEVICE_KIND = {"cpu": ("fp32", "bf16"), "cuda": ("fp32", "bf16", "fp16"), "mps": ("fp32",)}
# Flags that mean the CPU multiplies bf16 in hardware: AVX512-BF16 and AMX on x86, BF16 on Arm.
# Without them oneDNN emulates bf16 through fp32 and a bf16 step is many times slower than fp32,
# so measuring it would only measure the emulation.
NATIVE_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")
BF16_MIN_COMPUTE_CAPABILITY = (8, 0)
AUTO_PRECISION = "auto"  # resolved by resolve_precision to what the device trains in natively


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The processor's feature flags from ``/proc/cpuinfo`` (``flags`` on x86, ``Features`` on Arm).

    Empty where the file cannot be read (macOS, Windows): bf16 is then not assumed.
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return frozenset()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def cpu_bf16_unavailable_reason(flags: frozenset[str] | None = None) -> str | None:
    """Why bf16 training is not measured on this CPU, or None where it multiplies bf16 natively."""
    flags = cpu_flags() if flags is None else flags
    if not flags:
        return "cannot read this CPU's feature flags (no /proc/cpuinfo), so native bf16 is not assumed"
    if any(flag in flags for flag in NATIVE_BF16_CPU_FLAGS):
        return None
    return (
        f"this CPU ({cpu_name()}) has no native bf16: none of {', '.join(NATIVE_BF16_CPU_FLAGS)} in its flags, "
        "so bf16 would be emulated through fp32 and far slower than fp32"
    )


def check_device_available(device: str) -> None:
    """Refuse a concrete ``device`` this machine does not have, naming what torch sees and the fix."""
    import torch

    kind = device_kind(device)
    if kind == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"device {device!r} was asked for, but torch {torch.__version__} sees no CUDA GPU "
            f"(built with CUDA {torch.version.cuda}); use --device cpu, or install a CUDA build of torch on a GPU machine"
        )
    if kind == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {device!r} was asked for, but this machine has no usable Apple MPS device; use --device cpu")


def check_precision(precision: str, device: str) -> None:
    """Refuse, with a :class:`ConfigError` saying why and what to use, a precision ``device`` cannot
    train in. ``device`` may be ``auto``: it is checked as the device it resolves to on this machine.

    RunConfig refuses only what its literal device string rules out; this runs where the run will,
    before any data is read, so ``--device auto --precision fp16`` on a CPU is refused rather than
    trained in fp32 and labelled fp16.

    >>> check_precision("fp32", "cpu")
    """
    resolved = resolve_device(device)
    where = repr(resolved) if resolved == device else f"{device!r}, which resolves to {resolved!r} on this machine"
    kind = device_kind(resolved)
    if precision == "fp16" and kind != "cuda":
        or_bf16 = " (or bf16 on a CPU with native bf16)" if kind == "cpu" else ""
        raise ConfigError(f"fp16 training needs a CUDA device, and the device is {where}; use --precision fp32{or_bf16}")
    if precision not in PRECISIONS_BY_DEVICE_KIND.get(kind, (precision,)):
        raise ConfigError(f"{precision} training is not supported on the device {where}; use --precision fp32")
    if precision == "bf16" and kind == "cpu":
        reason = cpu_bf16_unavailable_reason()
        if reason is not None:
            raise ConfigError(f"bf16 training is refused on the device {where}: {reason}; use --precision fp32")
    if precision == "bf16" and kind == "cuda":
        import torch

        if torch.cuda.is_available() and not torch.cuda.is_bf16_supported():
            raise ConfigError(f"bf16 was asked for, but the GPU (device {where}) does not support it; use fp16 or fp32")


def native_precision(device: str) -> str:
    """The fastest precision ``device`` trains in without emulation: bf16 on a CPU that multiplies
    bf16 in hardware or a GPU that supports it, fp32 everywhere else.

    What ``--precision auto`` picks. Never fp16: it needs a gradient scaler and changes results more
    than bf16, so it stays a deliberate choice. On a CPU without native bf16 the answer is fp32,
    since emulated bf16 trains about 100 times slower there.

    >>> native_precision("mps")
    'fp32'
    """
    kind = device_kind(resolve_device(device))
    if kind == "cpu":
        return "bf16" if cpu_bf16_unavailable_reason() is None else "fp32"
    if kind == "cuda":
        import torch

        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"
    return "fp32"


def resolve_precision(precision: str, device: str) -> str:
    """``auto`` becomes :func:`native_precision` of ``device``; any other precision is kept as given.

    >>> resolve_precision("fp32", "cpu")
    'fp32'
    """
    return native_precision(device) if precision == AUTO_PRECISION else precision


def benchmark_devices() -> tuple[str, ...]:
    """The devices the throughput matrix lists: the CPU, every CUDA device (at least ``cuda:0``,
    so a machine without one still shows the GPU rows as skipped), and MPS."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return ("cpu", *(f"cuda:{i}" for i in range(max(count, 1))), "mps")


def unavailable_reason(device: str, precision: str) -> str | None:
    """Why ``precision`` training on ``device`` cannot be measured here, or None when it can."""
    import torch

    kind = device_kind(device)
    measured = ", ".join(PRECISIONS_BY_DEVICE_KIND[kind])
    if precision not in PRECISIONS_BY_DEVICE_KIND[kind]:
        if precision == "fp16":
            return f"fp16 training needs a CUDA device (autocast with a gradient scaler); {kind} is measured in {measured}"
        return f"{precision} is not measured on {kind}; it is measured in {measured}"
    if kind == "cpu":
        return cpu_bf16_unavailable_reason() if precision == "bf16" else None
    if kind == "mps":
        if getattr(torch.backends, "mps", None) is None or not torch.backends.mps.is_available():
            return "no Apple MPS device on this machine: torch.backends.mps.is_available() is False"
        return None
    if not torch.cuda.is_available():
        built = f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        return f"no CUDA GPU on this machine: torch.cuda.is_available() is False (torch {torch.__version__}, {built})"
    index = device_index(device)
    count = torch.cuda.device_count()
    if index >= count:
        return f"{device} is not present: torch.cuda.device_count() is {count}"
    if index > 0:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        return (
            f"the Trainer trains one process on the first visible GPU (cuda:0 of {count}"
            f"{f', CUDA_VISIBLE_DEVICES={visible}' if visible else ''}); measure {device} with "
            f"CUDA_VISIBLE_DEVICES={index} pytest benchmarks -m throughput"
        )
    if precision == "bf16":
        capability = torch.cuda.get_device_capability(index)
        if capability < BF16_MIN_COMPUTE_CAPABILITY:
            return (
                f"{torch.cuda.get_device_name(index)} (compute capability {capability[0]}.{capability[1]}) has no "
                f"native bf16; it needs compute capability {BF16_MIN_COMPUTE_CAPABILITY[0]}.0 (Ampere) or newer"
            )
    return None
