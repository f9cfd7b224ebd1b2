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
}
LABEL_NOISE = "label-noise-"


def fault_problem(fault: str) -> str | None:
    """Why ``fault`` is not a fault the harness can inject, or None when it is.

    ``label-noise-N`` takes any whole percent N from 1 to 50, so a graded fault can be calibrated
    to a chosen effect size; flipping more than half the labels would invert the task instead.
    """
    if fault in FAULTS:
        return None
    if fault.startswith(LABEL_NOISE):
        pct = fault.removeprefix(LABEL_NOISE)
        if pct.isdigit() and str(int(pct)) == pct and 1 <= int(pct) <= 50:
            return None
        return f"{fault!r}: label-noise takes a whole percent from 1 to 50 (e.g. label-noise-12)"
    return f"unknown fault {fault!r}; known: {', '.join(FAULTS)} (label-noise-N for any N from 1 to 50)"
