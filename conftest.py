"""Repository-wide pytest configuration."""

from __future__ import annotations

import os

from hypothesis import settings

# --- hypothesis profiles ------------------------------------------------------------------------
# ``dev`` (the default) is quick and random, so local runs keep exploring new examples; ``ci`` is
# derandomized (the same examples on every run, so CI fails only on code changes) and wider.
# Neither has a deadline: these machines are shared and busy, and timing belongs to the benchmarks,
# not to the properties. Choose with HYPOTHESIS_PROFILE=ci, or hypothesis' own --hypothesis-profile.
# ci's 150 examples keep the property suite near half a minute on two busy cores: most of each
# metrics example is evaluate's compute (an Arrow round trip and sklearn), a few milliseconds a call.
settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile(
    "ci",
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,  # derandomized runs replay nothing, so there is nothing worth saving
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
