"""Device strings, parsed in one place: ``cpu``, ``mps``, ``cuda`` or ``cuda:N``.

Baseline names, throughput cases, reports and provenance all need a device's kind and GPU index;
one parser keeps them agreeing on what ``cuda`` (the first visible GPU) means.
"""

from __future__ import annotations

DEVICE_KINDS = ("cpu", "cuda", "mps")


def device_kind(device: str) -> str:
    """``cpu``, ``cuda`` or ``mps`` for a device string such as ``cuda:1``.

    >>> device_kind("cuda:1")
    'cuda'
    """
    kind = device.split(":", 1)[0]
    if kind not in DEVICE_KINDS:
        raise ValueError(f"unknown device {device!r}; use cpu, cuda[:N] or mps")
    return kind


def device_index(device: str) -> int:
    """The GPU index a device string names; ``cuda`` alone is the first visible GPU, 0.

    >>> device_index("cuda"), device_index("cuda:3"), device_index("cpu")
    (0, 3, 0)
    """
    kind = device_kind(device)
    _, colon, index = device.partition(":")
    if not colon:
        return 0
    if kind != "cuda" or not index.isdigit():
        raise ValueError(f"unknown device {device!r}; use cpu, cuda[:N] or mps")
    return int(index)


def path_slug(spec: str) -> str:
    """A model spec (``org/name``, ``arch:bert-tiny``) as one file-name component.

    >>> path_slug("arch:bert-tiny"), path_slug("google-bert/bert-base-uncased")
    ('arch-bert-tiny', 'google-bert--bert-base-uncased')
    """
    return spec.replace("/", "--").replace(":", "-")
