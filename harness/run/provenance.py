"""Where a number came from: library versions, machine, device, git commit.

Collected once per run (or per benchmark session) and stored beside every result, baseline and
report, so a regression can be traced to what changed.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness.checksums import sha256_file, sha256_json
from harness.run.devices import device_index

# The harness itself, then every library that can change a number or how a user's file parses (see
# harness.run.run_identity.VERSIONED_LIBRARIES, which a run's identity is built from).
LIBRARIES = ("harness", "torch", "transformers", "datasets", "evaluate", "accelerate", "tokenizers", "numpy", "scikit-learn",
             "scipy", "pandas", "pyarrow", "safetensors")


def library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_name() -> str:
    """The processor's marketing name, read cheaply (py-cpuinfo takes a second or more)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def resolve_device(device: str) -> str:
    """``auto`` becomes ``cuda`` when a GPU is usable, else ``mps``, else ``cpu``."""
    import torch

    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def device_info(device: str) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "device": device,
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        # The instruction set ATen dispatches its CPU kernels for (AVX512, AVX2, ...): one of the
        # things bit-exact reproduction of a run could depend on, so it is recorded with every result.
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(device_index(device))
        info.update(
            gpu=props.name,
            gpu_memory_gib=round(props.total_memory / 2**30, 1),
            compute_capability=f"{props.major}.{props.minor}",
            cuda=torch.version.cuda,
            cudnn=torch.backends.cudnn.version(),
            driver=_nvidia_driver(),
        )
    return info


def _nvidia_driver() -> str | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10, check=True,
        )
        return out.stdout.strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # harness/, the package this run/ module sits in
# The sources a fine-tune's numbers are computed by: the run layer and every layer below it, which
# is all the run layer may import (pyproject's import-linter contract; tests/run/test_provenance.py
# checks this list against the import graph). The gate, the reports, the CLI and the plugin sit
# above it: editing how a verdict is reached or printed must not retrain every cached run, nor
# refuse a half-recorded baseline as "recorded by other code".
NUMBER_SOURCES = ("__init__.py", "run", "tasks", "settings.py", "registry.py", "checksums.py", "files.py", "names.py",
                  "tables.py")


def harness_source_sha256() -> str:
    """One hash over the harness sources that compute a run's numbers (:data:`NUMBER_SOURCES`): the
    code that produced a number, exactly, whether it runs from a checkout, a wheel, or a checkout
    with uncommitted changes."""
    files = sorted(p for part in NUMBER_SOURCES
                   for p in ((_PACKAGE_DIR / part).rglob("*.py") if (_PACKAGE_DIR / part).is_dir() else [_PACKAGE_DIR / part]))
    return sha256_json({str(p.relative_to(_PACKAGE_DIR)): sha256_file(p) for p in files})


def git_commit(package_dir: str | Path = _PACKAGE_DIR) -> dict[str, Any]:
    """The commit of the checkout the harness package itself is imported from.

    Asked of the package's own folder, never the working directory: a run started from another
    folder, or from inside another repository, must not report that folder's commit. The package
    counts only when it sits at the top of that checkout (``<root>/harness``), so a harness
    installed into a virtualenv that happens to live inside some repository reports no commit.
    ``dirty`` covers the package's tracked sources only: uncommitted reports, baselines or notes
    elsewhere in the checkout do not change what the code computes.
    """
    package_dir = Path(package_dir).resolve()

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", "-C", str(package_dir), *args], capture_output=True, text=True, timeout=10, check=True)
            return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    none = {"commit": None, "dirty": None, "checkout": None}
    top = git("rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != package_dir.parent:
        return none
    commit = git("rev-parse", "HEAD")
    if commit is None:
        return none
    status = git("status", "--porcelain", "--untracked-files=no", "--", ".")
    return {"commit": commit, "dirty": bool(status) if status is not None else None, "checkout": str(package_dir.parent)}


def machine_provenance(device: str) -> dict[str, Any]:
    return {
        "versions": library_versions(),
        "platform": {"system": platform.system(), "release": platform.release(), "machine": platform.machine(), "python": sys.version.split()[0]},
        "device": device_info(device),
        "git": git_commit(),
        "harness_source_sha256": harness_source_sha256(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
