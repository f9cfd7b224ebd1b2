"""Quality: is the fine-tuned model as good as it was?

Baselines on disk (:mod:`~harness.quality.baselines`, recorded resumably through
:mod:`~harness.quality.seed_ledger`), the one-run band and reproduction checks
(:mod:`~harness.quality.gate`), the sequential test with stated error rates
(:mod:`~harness.quality.sequential_gate`, driven run by run by :mod:`~harness.quality.sequential_check`,
whose later runs :mod:`~harness.quality.seeds_ahead` names before the gate runs, to train them ahead),
the shared check-and-regenerate flow (:mod:`~harness.quality.regression`), bootstrap intervals, the
comparison of recipes' seed-to-seed noise (:mod:`~harness.quality.noise_study`), and the reports and chart
people read.
"""
