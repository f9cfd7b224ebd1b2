"""Silencing transformers' notices where the harness knows they do not apply, and nowhere else."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def errors_only() -> Iterator[None]:
    """transformers logs only errors inside the block; its verbosity is restored afterwards, even
    on an exception, so a user's own logging setting survives the harness."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
