"""Validators for command-line values, shared by the CLI and the pytest options: each raises a
readable ``argparse`` error before any work starts, rather than failing a fine-tune later."""

from __future__ import annotations

import argparse

from harness.run.faults import fault_problem


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _int_at_least(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
    return value


def positive_int(text: str) -> int:
    return _int_at_least(text, 1)


def port_number(text: str) -> int:
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a TCP port is from 1 to 65535, got {value}")
    return value


MIN_TRIALS, MAX_TRIALS = 100, 10_000_000  # fewer: no rate to speak of; more: gigabytes of simulated runs


def simulation_trials(text: str) -> int:
    value = positive_int(text)
    if not MIN_TRIALS <= value <= MAX_TRIALS:
        raise argparse.ArgumentTypeError(f"trials must be from {MIN_TRIALS} to {MAX_TRIALS:,}, got {value:,}")
    return value


def bounded_int(lowest: int, highest: int):
    """A validator for an integer from ``lowest`` to ``highest`` (inclusive)."""
    def parse(text: str) -> int:
        value = _int_at_least(text, lowest)
        if value > highest:
            raise argparse.ArgumentTypeError(f"must be from {lowest:,} to {highest:,}, got {value:,}")
        return value
    parse.__name__ = f"integer from {lowest} to {highest}"
    return parse


def output_file(text: str):
    """A report's path, checked before any work: not a folder, and its folder creatable and writable."""
    import os
    from pathlib import Path

    path = Path(text).expanduser()
    if not text or path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder, not a file to write the report to")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # the report's folder, made now rather than after the work
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot write {path}: {path.parent} is not a writable folder ({error.strerror})") from None
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write {path}: {path.parent} is not a writable folder")
    return path


def non_negative_int(text: str) -> int:
    return _int_at_least(text, 0)


def baseline_seeds(text: str) -> int:
    value = positive_int(text)
    if value < 2:  # one seed has no spread to gate with
        raise argparse.ArgumentTypeError(f"a baseline needs at least 2 seeds to know its spread, got {value}")
    return value


def bootstrap_samples(text: str) -> int:
    from harness.quality.gate import MAX_BOOTSTRAP_SAMPLES

    value = positive_int(text)
    if value > MAX_BOOTSTRAP_SAMPLES:  # time grows with resamples x rows; see GatePolicy
        raise argparse.ArgumentTypeError(f"at most {MAX_BOOTSTRAP_SAMPLES:,} resamples, got {value:,}")
    return value


def fault_name(text: str) -> str:
    problem = fault_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def seed_value(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"a seed must be from 0 to 2**32 - 1, got {value}")
    return value


def _assignments(text: str, *, what: str, example: str) -> list[tuple[str, str]]:
    pairs = []
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise argparse.ArgumentTypeError(f"expected {what} as NAME=VALUE pairs separated by commas, e.g. {example}; "
                                             f"got {item!r} in {text!r}")
        pairs.append((key.strip(), value.strip()))
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise argparse.ArgumentTypeError(f"{what} names {repeated} more than once in {text!r}")
    return pairs


def split_files(text: str) -> dict[str, str]:
    """``train=train.csv,validation=dev.csv`` as ``{"train": "train.csv", "validation": "dev.csv"}``."""
    return dict(_assignments(text, what="split files", example="train=train.csv,validation=dev.csv"))


def column_mapping(text: str) -> dict[str, str]:
    """``sentence=review,label=stars`` as ``{"sentence": "review", "label": "stars"}`` (task column = file column)."""
    return dict(_assignments(text, what="columns", example="sentence=review,label=stars"))
