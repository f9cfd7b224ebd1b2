"""Baseline files: round trips, clear errors for damaged files, published references, naming."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fake_runs import run_result, smoke_run_config
from harness import files
from harness.quality.baselines import (
    PUBLISHED_FILE,
    BaselineError,
    BaselineStore,
    MeasuredBaseline,
    PublishedReference,
    baseline_name,
    measured_from_runs,
)

REPO_BASELINES = Path(__file__).resolve().parents[2] / "baselines"


def measured(accuracies=(0.70, 0.75, 0.80)) -> MeasuredBaseline:
    config = smoke_run_config()
    results = [run_result(config.replace(seed=42 + i), accuracy=a) for i, a in enumerate(accuracies)]
    return measured_from_runs(config, results)


@pytest.fixture
def store(tmp_path) -> BaselineStore:
    return BaselineStore(tmp_path / "baselines")


def test_measured_baseline_summarises_its_seeds():
    baseline = measured()
    assert baseline.name == "mrpc--smoke--arch-bert-tiny--validation--cpu-fp32"
    assert baseline.seeds == (42, 43, 44)
    assert baseline.metrics["accuracy"].values == (0.70, 0.75, 0.80)
    assert baseline.metrics["accuracy"].mean == pytest.approx(0.75)
    assert baseline.metrics["accuracy"].std == pytest.approx(0.05)
    assert baseline.provenance["versions"]["torch"] == "2.13.0"


def test_round_trip_through_the_store(store):
    baseline = measured()
    path = store.save(baseline)
    assert path == store.path(baseline.name) == store.root / f"{baseline.name}.json"
    assert store.load(baseline.name) == baseline
    assert [p.name for p in store.root.iterdir()] == [path.name]  # no temporary file left behind
    data = json.loads(path.read_text())
    assert data["metrics"]["accuracy"]["better"] == "higher" and data["metrics"]["loss"]["better"] == "lower"


def test_a_failed_save_leaves_the_old_baseline_whole(store, monkeypatch):
    """A crash mid-write must never leave a half-written baseline that the gate then trusts."""
    old = measured()
    store.save(old)

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        store.save(measured(accuracies=(0.5, 0.6)))
    monkeypatch.undo()
    assert store.load(old.name) == old
    assert [p.name for p in store.root.iterdir()] == [f"{old.name}.json"]


def test_a_missing_baseline_loads_as_none(store):
    assert store.load("mrpc--nothing--here") is None


def test_a_baseline_needs_at_least_two_seeds():
    """One seed has no spread, so the gate's band would be the floor alone, however noisy training is."""
    with pytest.raises(BaselineError, match="at least 2 seeds"):
        measured_from_runs(smoke_run_config(), [run_result()])


def test_runs_on_different_data_cannot_share_a_baseline():
    config = smoke_run_config()
    results = [run_result(config), run_result(config.replace(seed=43), data_sha256="e" * 64)]
    with pytest.raises(BaselineError, match="different data"):
        measured_from_runs(config, results)


def _damage(data: dict, how: str) -> object:
    if how == "wrong schema":
        return data | {"schema": 99}
    if how == "wrong kind":
        return data | {"kind": "published"}
    if how == "missing key":
        return {k: v for k, v in data.items() if k != "data_sha256"}
    if how == "non-numeric value":
        data["metrics"]["accuracy"]["values"] = ["high", "higher"]
        return data
    if how == "not an object":
        return [data]
    if how == "schema as a float":  # equal to 2, but not the integer the schema is
        return data | {"schema": 2.0}
    if how in ("provenance null", "provenance a list", "provenance a string"):
        return data | {"provenance": {"provenance null": None, "provenance a list": [], "provenance a string": "here"}[how]}
    if how == "metrics null":
        return data | {"metrics": None}
    if how == "metrics a list":
        return data | {"metrics": list(data["metrics"].values())}
    if how == "model_provenance a list":
        return data | {"model_provenance": []}
    if how == "recipe_config a list":
        return data | {"recipe_config": list(data["recipe_config"])}
    if how == "task not a string":
        return data | {"task": ["mrpc"]}
    if how == "a model checksum not a string":
        data["model_provenance"]["architecture_sha256"] = 1234
        return data
    if how == "versions a string":
        data["provenance"]["versions"] = "torch transformers"
        return data
    if how == "a version not a string":
        data["provenance"]["versions"]["torch"] = 2.13
        return data
    if how == "seed_cpus not names":
        data["provenance"]["seed_cpus"] = [1, 2, 3]
        return data
    if how == "train_seconds as strings":
        data["provenance"]["train_seconds"] = ["1.0", "1.0", "1.0"]
        return data
    if how == "a metric not an object":
        data["metrics"]["f1"] = data["metrics"]["f1"]["mean"]
        return data
    if how == "values as strings":  # float() takes "0.625"; JSON says it is text
        data["metrics"]["accuracy"]["values"] = [str(value) for value in data["metrics"]["accuracy"]["values"]]
        return data
    if how == "values as booleans":  # float(True) is 1.0
        data["metrics"]["accuracy"] = {"values": [True, False, True]}
        return data
    if how == "a summary as a string":
        data["metrics"]["accuracy"]["mean"] = str(data["metrics"]["accuracy"]["mean"])
        return data
    if how == "better disagrees with the registry":
        data["metrics"]["f1"]["better"] = "lower"
        return data
    if how == "better not a direction":
        data["metrics"]["loss"]["better"] = "down"
        return data
    raise AssertionError(how)


@pytest.mark.parametrize(
    ("how", "fix"),
    [
        ("wrong schema", "--harness-force-regen"),
        ("wrong kind", "harness record-baseline"),
        ("missing key", "re-record"),
        ("non-numeric value", "re-record"),
        ("not an object", "re-record"),
        ("schema as a float", "--harness-force-regen"),
    ],
)
def test_a_damaged_baseline_names_the_file_and_the_fix(store, how, fix):
    baseline = measured()
    path = store.save(baseline)
    path.write_text(json.dumps(_damage(json.loads(path.read_text()), how)))
    with pytest.raises(BaselineError) as error:
        store.load(baseline.name)
    assert str(path) in str(error.value)
    assert fix in str(error.value)


FIX = "restore it from git or re-record it (`harness record-baseline`)"
# What the gate would have read of each tampered field, and failed on, after a fine-tune.
TAMPERED = [
    ("provenance null", "'provenance' is null, not an object"),
    ("provenance a list", "'provenance' is a list, not an object"),
    ("provenance a string", "'provenance' is a string, not an object"),
    ("metrics null", "'metrics' is null, not an object"),
    ("metrics a list", "'metrics' is a list, not an object"),
    ("model_provenance a list", "'model_provenance' is a list, not an object"),
    ("recipe_config a list", "'recipe_config' is a list, not an object"),
    ("task not a string", "'task' is a list, not a string"),
    ("a model checksum not a string", "model_provenance.architecture_sha256 is a number, not a string or null"),
    ("versions a string", "provenance.versions must be an object of library versions, each a string (or null where "
                          "the library is not installed), got a string"),
    ("a version not a string", "provenance.versions must be an object of library versions"),
    ("seed_cpus not names", "provenance.seed_cpus holds a number, where each entry is a string or null"),
    ("train_seconds as strings", "provenance.train_seconds holds a string, where each entry is a number"),
    ("a metric not an object", "metric 'f1' must be an object holding its per-seed 'values' as a list, got a number"),
    ("values as strings", "metric 'accuracy' has per-seed values that are not JSON numbers ('0.7' and 2 more)"),
    ("values as booleans", "metric 'accuracy' has per-seed values that are not JSON numbers (True and 2 more)"),
    ("a summary as a string", "accuracy mean '0.75' is not a JSON number"),
    ("better disagrees with the registry", "metric 'f1' says better is 'lower', but f1 is better higher"),
    ("better not a direction", "metric 'loss' says better is 'down', but loss is better lower"),
]


@pytest.mark.parametrize(("how", "says"), TAMPERED, ids=[how for how, _ in TAMPERED])
def test_a_tampered_field_is_refused_before_the_gate_reads_it(store, how, says):
    """Every field the gate reads is checked for its JSON type at load, so a tampered file fails here,
    naming the file and the fix, not as an AttributeError in the gate after minutes of fine-tuning."""
    assert says in _refusal(store, lambda text: json.dumps(_damage(json.loads(text), how)).encode())


def _refusal(store, damage) -> str:
    """Save a good baseline, rewrite its bytes with ``damage(text)``, and return the load's refusal,
    which must name the file and the fix."""
    path = store.save(measured())
    path.write_bytes(damage(path.read_text()))
    with pytest.raises(BaselineError) as error:
        store.load(measured().name)
    message = str(error.value)
    assert str(path) in message and FIX in message
    return message


def _unparsable(text: str, how: str) -> bytes:
    """A baseline file's text made into bytes that ``json.loads`` fails on, or reads two ways."""
    if how == "nested too deep":
        return b"[" * 100_000
    if how == "not UTF-8":
        return b"\xff\xfe" + text.encode("utf-16-le")
    if how == "a key twice":  # JSON keeps the last one, silently
        return text.replace('"task": "mrpc",', '"task": "mrpc", "task": "sst2",', 1).encode()
    if how == "a nested key twice":
        return text.replace('"better": "higher"', '"better": "higher", "better": "lower"', 1).encode()
    raise AssertionError(how)


UNPARSABLE = [
    ("nested too deep", "not valid JSON (nested deeper than the JSON parser can read)"),
    ("not UTF-8", "not valid JSON"),
    ("a key twice", "key 'task' appears more than once in one object"),
    ("a nested key twice", "key 'better' appears more than once in one object"),
]


@pytest.mark.parametrize(("how", "says"), UNPARSABLE, ids=[how for how, _ in UNPARSABLE])
def test_a_file_json_cannot_read_one_way_names_the_file_and_the_fix(store, how, says):
    assert says in _refusal(store, lambda text: _unparsable(text, how))


def test_invalid_json_names_the_file_and_the_fix(store):
    path = store.save(measured())
    path.write_text(path.read_text()[:-20])
    with pytest.raises(BaselineError, match="not valid JSON") as error:
        store.load(measured().name)
    assert str(path) in str(error.value) and "re-record" in str(error.value)


@pytest.mark.parametrize("summary", ["mean", "std"])
def test_a_hand_edited_summary_is_rejected_not_ignored(store, summary):
    """The gate recomputes mean and std from the per-seed values; an edit to the summary alone
    would look like a tighter baseline while changing nothing."""
    path = store.save(measured())
    data = json.loads(path.read_text())
    data["metrics"]["f1"][summary] = 0.99
    path.write_text(json.dumps(data))
    with pytest.raises(BaselineError, match=f"f1 {summary} 0.99 disagrees with its per-seed values") as error:
        store.load(measured().name)
    assert str(path) in str(error.value)


def _inconsistent(data: dict, how: str) -> dict:
    """A baseline file made to claim more, or other, seeds than its values describe."""
    if how == "repeated seeds":  # seeds 42-44 pasted twice, values likewise: "6 seeds" from 3 runs
        data["seeds"] = data["seeds"] * 2
        for stats in data["metrics"].values():
            stats["values"] = stats["values"] * 2
            for summary in ("mean", "std", "min", "max", "n"):
                stats.pop(summary)
    elif how == "fewer seeds than values":
        data["seeds"] = data["seeds"][:2]
    elif how == "more values than seeds":
        data["metrics"]["accuracy"]["values"].append(0.75)
        data["metrics"]["accuracy"].pop("n")
        data["metrics"]["accuracy"].pop("std")
    elif how == "seed_cpus of another length":
        data["provenance"]["seed_cpus"] = data["provenance"]["seed_cpus"][:1]
    elif how == "a NaN value, no summary":
        data["metrics"]["f1"] = {"values": [float("nan")] + data["metrics"]["f1"]["values"][1:]}
    elif how == "an infinite value":
        data["metrics"]["loss"] = {"values": [float("inf")] + data["metrics"]["loss"]["values"][1:]}
    elif how == "a seed that is not an integer":
        data["seeds"][0] = "42"
    elif how == "n disagrees":
        data["metrics"]["accuracy"]["n"] = 30
    elif how == "max disagrees":
        data["metrics"]["accuracy"]["max"] = 0.99
    elif how == "one seed":  # measured_from_runs refuses it: no spread
        data["seeds"] = data["seeds"][:1]
        for stats in data["metrics"].values():
            stats["values"] = stats["values"][:1]
            for summary in ("mean", "std", "min", "max", "n"):
                stats.pop(summary)
        for key in ("seed_cpus", "train_seconds", "samples_per_second"):
            data["provenance"][key] = data["provenance"][key][:1]
    elif how == "a negative seed":
        data["seeds"][0] = -1
    elif how == "a seed set_seed refuses":  # numpy's legacy seeding takes 0 <= seed < 2**32
        data["seeds"][0] = 2**32
    elif how == "a spread that overflows":  # std 1.4e308: a band of ±inf that every run passes
        data["metrics"]["loss"] = {"values": [1e308, -1e308, 0.0]}
    elif how == "a mean that overflows":
        data["metrics"]["loss"] = {"values": [1.7e308, 1.7e308, 1.7e308]}
    else:
        raise AssertionError(how)
    return data


@pytest.mark.parametrize(
    ("how", "says"),
    [
        ("repeated seeds", "seeds [42, 43, 44] appear more than once"),
        ("fewer seeds than values", "has 3 per-seed values for 2 seeds"),
        ("more values than seeds", "has 4 per-seed values for 3 seeds"),
        ("seed_cpus of another length", "provenance.seed_cpus has 1 entries for 3 seeds"),
        ("a NaN value, no summary", "'f1' is not a finite number for seeds [42]"),
        ("an infinite value", "'loss' is not a finite number for seeds [42]"),
        ("a seed that is not an integer", "must be a non-empty list of integers"),
        ("n disagrees", "accuracy n 30 disagrees"),
        ("max disagrees", "accuracy max 0.99 disagrees"),
        ("one seed", "holds 1 seed; a measured baseline needs at least 2 seeds"),
        ("a negative seed", "seeds [-1] are outside 0..2**32 - 1, the seeds `transformers.set_seed` accepts"),
        ("a seed set_seed refuses", "seeds [4294967296] are outside 0..2**32 - 1"),
        ("a spread that overflows", "metric 'loss' has per-seed values outside [0, inf]"),  # caught by its bounds first
        ("a mean that overflows", "metric 'loss' has values 1.7e+308..1.7e+308, whose mean or spread overflows a float"),
    ],
)
def test_an_inconsistent_baseline_is_refused_naming_the_file_and_the_fix(store, how, says):
    """The gate's stated rates hold for the seeds it believes it has, so every part of the file must
    describe the same seeds, once each, with a finite value each (issue 19, item 2)."""
    path = store.save(measured())
    path.write_text(json.dumps(_inconsistent(json.loads(path.read_text()), how)))
    with pytest.raises(BaselineError) as error:
        store.load(measured().name)
    message = str(error.value)
    assert says in message
    assert str(path) in message and ("re-record" in message or "record-baseline" in message)


INCONSISTENT = ["one seed", "a negative seed", "a seed set_seed refuses", "a spread that overflows", "a mean that overflows"]


def _write_tampered(path: Path, how: str) -> None:
    if how in dict(UNPARSABLE):
        path.write_bytes(_unparsable(path.read_text(), how))
    else:
        damage = _inconsistent if how in INCONSISTENT else _damage
        path.write_text(json.dumps(damage(json.loads(path.read_text()), how)))


@pytest.mark.parametrize("how", [how for how, _ in TAMPERED + UNPARSABLE] + INCONSISTENT)
def test_regeneration_reports_and_replaces_a_tampered_baseline(store, how):
    """Regeneration exists to fix a file the gate refuses, so every refusal must be one it catches:
    reported as unreadable, shown with no old values, and overwritten."""
    old = store.save(measured())
    _write_tampered(old, how)
    replaced, note = store.load_for_replacement(measured().name)
    assert replaced is None
    assert note.startswith(f"the old baseline could not be read and is replaced: {old}") and FIX in note
    new = measured(accuracies=(0.6, 0.65, 0.7))
    assert store.save(new) == old
    assert store.load(new.name) == new


@pytest.mark.parametrize(("metric", "values", "says"), [
    ("f1", [5.0, 5.0, 5.0], "outside [0, 1]"),
    ("accuracy", [0.7, -3.0, 0.8], "outside [0, 1]"),
    ("loss", [0.5, -0.1, 0.4], "outside [0, inf]"),
])
def test_a_value_the_metric_cannot_take_is_refused(store, metric, values, says):
    """An F1 of 5.0 (or -3, which would make every run "improved") was not measured by F1."""
    path = store.save(measured())
    data = json.loads(path.read_text())
    data["metrics"][metric] = {"values": values}
    path.write_text(json.dumps(data))
    with pytest.raises(BaselineError, match=f"metric '{metric}' has per-seed values {re.escape(says)}") as error:
        store.load(measured().name)
    assert str(path) in str(error.value)


def test_a_baseline_is_never_recorded_from_a_non_finite_run():
    config = smoke_run_config()
    results = [run_result(config), run_result(config.replace(seed=43))]
    results[1].metrics["loss"] = float("nan")
    with pytest.raises(BaselineError, match="seed 43 gave non-finite loss"):
        measured_from_runs(config, results)


def test_a_baseline_is_never_recorded_from_a_seed_twice():
    config = smoke_run_config()
    with pytest.raises(BaselineError, match=r"seeds \[42\] were run more than once"):
        measured_from_runs(config, [run_result(config), run_result(config)])


def _published(references: list[dict]) -> dict:
    return {"schema": 1, "kind": "published", "references": references}


REFERENCE = {
    "name": "glue-paper-bert-base",
    "task": "mrpc",
    "split": "test",
    "model": "bert-base-uncased",
    "metrics": {"f1": 0.889, "accuracy": 0.849},
    "source": "Devlin et al. 2019, table 1",
    "note": "GLUE test server, not the validation split",
}


def test_published_references_load(store):
    store.root.mkdir()
    (store.root / PUBLISHED_FILE).write_text(json.dumps(_published([REFERENCE])))
    assert store.published() == [PublishedReference(**REFERENCE)]


def test_no_published_file_means_no_references(store):
    assert store.published() == []


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        json.dumps([REFERENCE]),
        json.dumps({"schema": 1, "kind": "measured", "references": []}),
        json.dumps({"schema": 1, "kind": "published"}),
        json.dumps(_published([{k: v for k, v in REFERENCE.items() if k != "source"}])),
        json.dumps(_published([REFERENCE | {"unexpected": 1}])),
        "[" * 100_000,
        json.dumps(_published([REFERENCE])).replace('"schema": 1,', '"schema": 1, "schema": 1,'),
        json.dumps(_published([REFERENCE]) | {"schema": True}),  # True == 1 in Python
    ],
    ids=["invalid-json", "not-an-object", "wrong-kind", "no-references", "missing-field", "unknown-field",
         "nested-too-deep", "a-key-twice", "schema-a-boolean"],
)
def test_corrupt_published_references_fail_clearly(store, content):
    store.root.mkdir()
    path = store.root / PUBLISHED_FILE
    path.write_text(content)
    with pytest.raises(BaselineError) as error:
        store.published()
    assert str(path) in str(error.value)


def test_obtained_file_sits_beside_the_baseline(store):
    """As in pytest-regressions: the obtained values are diffed against the baseline file next to them."""
    name = baseline_name("mrpc", "smoke", "arch:bert-tiny", "validation", "cpu", "fp32")
    assert store.obtained_path(name, "0123abcd") == store.root / f"{name}.0123abcd.obtained.json"
    written = store.write_obtained(name, "0123abcd", {"kind": "obtained", "metrics": {"accuracy": 0.5}})
    other = store.write_obtained(name, "feedbeef", {"kind": "obtained", "metrics": {"accuracy": 0.4}})
    assert written == store.obtained_path(name, "0123abcd")
    assert json.loads(written.read_text())["metrics"] == {"accuracy": 0.5}
    store.clear_obtained(name, "0123abcd")
    assert not written.exists()
    assert other.is_file(), "clearing one config's obtained file must leave another config's evidence alone"
    store.clear_obtained(name, "0123abcd")  # clearing twice is not an error


def test_baseline_names_are_safe_file_names():
    assert (baseline_name("mrpc", "course", "org/model:v1", "validation", "cuda", "bf16")
            == "mrpc--course--org--model-v1--validation--cuda-bf16")


def test_the_repository_baselines_load():
    """The committed files are what CI gates with; a damaged one should fail here, not mid-gate."""
    store = BaselineStore(REPO_BASELINES)
    published = REPO_BASELINES / PUBLISHED_FILE
    measured_files = [p for p in sorted(REPO_BASELINES.glob("*.json")) if p != published and not p.name.endswith((".obtained.json", ".partial.json"))]
    assert measured_files, f"no measured baseline in {REPO_BASELINES}: CI's quality gate would have nothing to gate against"
    if not published.is_file() and not measured_files:
        pytest.skip(f"no baseline files in {REPO_BASELINES} yet")
    if published.is_file():
        references = store.published()
        assert references and all(ref.metrics and ref.source for ref in references)
    for path in measured_files:
        baseline = store.load(path.stem)
        assert baseline is not None and baseline.name == path.stem


def test_a_baseline_is_never_measured_from_faulted_runs():
    config = smoke_run_config()
    with pytest.raises(BaselineError, match="deliberate faults"):
        measured_from_runs(config.replace(faults=("shuffled-labels",)), [run_result(config), run_result(config.replace(seed=43))])
    faulted = run_result(config.replace(seed=43, faults=("shuffled-labels",)))
    with pytest.raises(BaselineError, match="seed 43 was run with deliberate faults"):
        measured_from_runs(config, [run_result(config), faulted])


def test_a_baseline_records_its_precision_and_refuses_mixed_precisions(store):
    baseline = measured()
    assert baseline.precision == "fp32" and baseline.name.endswith("-fp32")
    assert json.loads(store.save(baseline).read_text())["precision"] == "fp32"
    config = smoke_run_config()
    bf16 = run_result(config.replace(seed=43, precision="bf16"))
    with pytest.raises(BaselineError, match="ran in bf16, the baseline is for fp32"):
        measured_from_runs(config, [run_result(config), bf16])
