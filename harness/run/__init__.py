"""Run: one fine-tune, from a typed config to a recorded result.

A run is described by a validated :class:`~harness.run.config.RunConfig` (a recipe, its task, data,
model, device, precision, seed and faults; :mod:`~harness.run.config`), whose one fingerprint,
:class:`~harness.run.run_identity.RunIdentity`, names the run's folder, its cache key, the seed
ledger's identity and the baseline it is matched with. :mod:`~harness.run.data` reads the data and
:mod:`~harness.run.models` resolves the model files (Hub, local folder, or an architecture config
with random weights); :mod:`~harness.run.training` fine-tunes and predicts with the ``transformers``
Trainer on the device :mod:`~harness.run.devices` and the precision policy
(:mod:`~harness.run.precision`) allow; :mod:`~harness.run.cache` keeps finished runs by identity;
:mod:`~harness.run.distributed` launches a run on several processes and
:mod:`~harness.run.node_agreement` checks they ran the same thing; the
:class:`~harness.run.result.RunResult` carries metrics, logits, throughput and
:mod:`~harness.run.provenance`.

The layer sits under ``quality`` and ``throughput`` and above ``tasks``; inside it, imports run one way
too (the second contract in ``pyproject.toml``'s ``[tool.importlinter]``).
"""
