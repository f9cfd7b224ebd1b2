"""The deliberate faults a run can inject, and which names are valid.

A gate that never fails is indistinguishable from no gate: each fault is a regression a real change
could cause, injected into training by :mod:`harness.run.training` and named in the run's config
(so a faulty run never shares a cache entry, a run folder or a baseline with a clean one).
"""

from __future__ import annotations

# Deliberate faults, injected to prove that a quality gate can fail: a gate that never fails is
# indistinguishable from no gate. Each one is a regression a real change could cause.
FAULTS = {
    "shuffled-labels": "train labels permuted across pairs (a broken data join or label mapping)",
    "truncated-inputs": "every pair truncated to 8 tokens (a tokenizer or max_length change gone wrong)",
    # Graded faults: small, realistic regressions (a noisy annotation batch) of a chosen size, to measure
    # what the gate can see. Their effect on F1 is measured over seeds, not assumed (see the README).
    # Any whole percent from 1 to 50 is valid (see fault_problem); these are the ones listed in help.
    **{f"label-noise-{pct}": f"{pct}% of train labels flipped, rows drawn from the seed (noisy annotation)"
       for pct in (5, 10, 20)},
    # A graded throughput fault: the same training, N% more compute per training step (a slower
    # kernel, a redundant pass), to prove that the history's change points and the throughput checks
    # can see a slowdown. Any whole percent from 1 to 400 is valid; its effect on samples/s is measured.
    **{f"slow-steps-{pct}": f"{pct}% extra compute per training step (real matrix multiplies, not a sleep)"
       for pct in (10, 25, 50)},
}
LABEL_NOISE = "label-noise-"
SLOW_STEPS = "slow-steps-"
MAX_SLOW_STEPS = 400  # 5x the work: beyond that a run is a stall, not a slowdown


def fault_problem(fault: str) -> str | None:
    """Why ``fault`` is not a fault the harness can inject, or None when it is.

    ``label-noise-N`` takes any whole percent N from 1 to 50, so a graded fault can be calibrated
    to a chosen effect size; flipping more than half the labels would invert the task instead.
    ``slow-steps-N`` takes any whole percent from 1 to 400.
    """
    if fault in FAULTS:
        return None
    for prefix, example, top in ((LABEL_NOISE, 12, 50), (SLOW_STEPS, 15, MAX_SLOW_STEPS)):
        if fault.startswith(prefix):
            if (pct := _percent(fault, prefix)) is not None and pct <= top:
                return None
            return f"{fault!r}: {prefix.rstrip('-')} takes a whole percent from 1 to {top} (e.g. {prefix}{example})"
    return (f"unknown fault {fault!r}; known: {', '.join(FAULTS)} (label-noise-N for any N from 1 to 50, "
            f"slow-steps-N for any N from 1 to {MAX_SLOW_STEPS})")


def label_noise(faults: tuple[str, ...]) -> float:
    """The fraction of train labels the config's label-noise fault flips (0 without one).

    >>> label_noise(("label-noise-10", "slow-steps-25"))
    0.1
    """
    return _fraction(faults, LABEL_NOISE)


def slow_steps(faults: tuple[str, ...]) -> float:
    """The extra compute per training step the config's slow-steps fault asks for, as a fraction of
    the step's own (0 without one).

    >>> slow_steps(("label-noise-10", "slow-steps-25"))
    0.25
    """
    return _fraction(faults, SLOW_STEPS)


def _fraction(faults: tuple[str, ...], prefix: str) -> float:
    """The percent of the graded fault of kind ``prefix`` as a fraction (a config holds at most one of
    each kind: :func:`fault_problems`)."""
    return sum(_percent(f, prefix) or 0 for f in dict.fromkeys(faults) if f.startswith(prefix)) / 100


def step_faults(faults: tuple[str, ...]) -> tuple[str, ...]:
    """The faults that act on how fast a step runs (what a throughput measurement injects), each
    once; the others change what a model learns, which a throughput measurement does not look at."""
    return tuple(dict.fromkeys(f for f in faults if f.startswith(SLOW_STEPS)))


def fault_problems(faults: tuple[str, ...]) -> list[str]:
    """Every reason ``faults`` cannot be injected together into one run (empty when they can): each
    fault's own problem, then more than one fault of a graded kind, which would stack unclearly."""
    problems = [problem for problem in map(fault_problem, faults) if problem]
    for prefix in (LABEL_NOISE, SLOW_STEPS):
        graded = sorted({fault for fault in faults if fault.startswith(prefix)})
        if len(graded) > 1:
            problems.append(f"at most one {prefix.rstrip('-')} fault per run, got {graded}")
    return problems


def _percent(fault: str, prefix: str) -> int | None:
    """The whole percent after ``prefix`` in ASCII digits (``"07"``, ``"0"`` and ``"²"`` are not), else None."""
    pct = fault.removeprefix(prefix)
    if not (pct.isascii() and pct.isdigit()) or pct.startswith("0"):
        return None
    return int(pct)
