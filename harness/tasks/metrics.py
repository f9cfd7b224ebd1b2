"""Metrics for every GLUE task: a functional core, a registry of what each metric is, and a
Trainer ``compute_metrics`` for any number of labels.

Each functional metric gives exactly the value of GLUE's metric script (evaluate-metric/glue:
``metrics/glue/glue.py`` in huggingface/evaluate, reproduced offline by ``glue_metric/glue_metric.py``
beside this module) wherever that value is defined, because it makes the same scikit-learn or scipy
call on the same arguments in the same order. Pearson and Spearman correlations are computed on
float32 inputs, as GLUE's are (its features are float32 and evaluate's numpy format hands floats
over as float32, so float64 scores are rounded first).

Where GLUE returns a convention instead of a measurement, these functions raise. GLUE reports F1
0.0 for a split with no positive example, Matthews correlation 0.0 for a split of one class and
NaN for a correlation against constant labels, and a gate would compare any of those with a
baseline as if it were a score. So a property of the *evaluation labels* that leaves a metric
without meaning raises :class:`MetricUndefinedError` (a ``ValueError`` naming the metric, the
reason and the fix). Where only the *model's predictions* are degenerate, a classification metric
keeps GLUE's value, which is the fair score of a model that predicts one class; a correlation has
no value for constant predictions, and NaN would slip past a gate (every comparison with NaN is
false), so it raises too, saying that the model's predictions are constant.

====================  ============================================  ==========================================
metric                raises MetricUndefinedError when              degenerate predictions
====================  ============================================  ==========================================
accuracy              never                                         --
f1                    the references hold no positive (label 1)     positives but none predicted: 0.0 (GLUE)
matthews_correlation  the references hold a single class            one class predicted: 0.0 (GLUE, sklearn)
pearson, spearmanr    the references are constant (or one row)      constant predictions: raises (GLUE: NaN)
loss                  never                                         --
====================  ============================================  ==========================================

Inputs no metric can score (no rows, lengths that differ, NaN or infinite values, labels outside
the task's classes, logits passed where class labels belong) raise :class:`MetricInputError`.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
from scipy import stats
from sklearn.metrics import f1_score, matthews_corrcoef

from harness.checksums import sha256_file, sha256_json
from harness.registry import Registry

GLUE_METRIC_PATH = str(Path(__file__).parent / "glue_metric" / "glue_metric.py")

Direction = Literal["higher", "lower"]
Kind = Literal["label", "score"]
AppliesTo = Literal["classification", "binary", "regression", "any"]
MetricFunction = Callable[[Any, Any], float]

DIRECTIONS = ("higher", "lower")
KINDS = ("label", "score")
APPLIES_TO = ("classification", "binary", "regression", "any")
# The Trainer reports the evaluation loss itself as eval_loss; a compute_metrics key "loss" would be
# renamed to eval_loss and overwrite it.
TRAINER_REPORTED = ("loss",)
# Whole-valued floats up to 2**53 are exact integers; beyond that a float "label" is not one.
_LARGEST_EXACT_INTEGER = 2.0**53
_DIVERGED = "; the model diverged or ran in a precision that overflowed (try fp32 or a lower learning rate)"


class MetricInputError(ValueError):
    """A metric was given outputs or labels it cannot score; the message says which and how to fix them."""


class MetricUndefinedError(ValueError):
    """The metric has no value on this data; ``metric``, ``reason`` and ``fix`` say which, why and what to do."""

    def __init__(self, metric: str, reason: str, fix: str) -> None:
        super().__init__(metric, reason, fix)  # all three in args, so the error pickles across processes
        self.metric, self.reason, self.fix = metric, reason, fix

    def __str__(self) -> str:
        return f"{self.metric} is undefined: {self.reason}. {self.fix}."


class UnknownMetricError(KeyError):
    """A metric name the registry does not hold; the message lists the names it does."""

    def __str__(self) -> str:  # KeyError's own __str__ would print the message in quotes
        return str(self.args[0])


# --- input stages ---------------------------------------------------------------------------------


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor, possibly on a GPU or in bf16
        value = value.detach().cpu()
        try:
            return value.numpy()  # keeps the dtype: narrowing fp64 to fp32 overflows and merges near-ties
        except TypeError:  # bf16 and other dtypes numpy lacks; widening them to fp32 is exact
            return value.float().numpy()
    return np.asarray(value)


def _check_numeric(where: str, role: str, array: np.ndarray) -> None:
    if array.dtype == np.bool_ or not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise MetricInputError(f"{where}: {role} must be real numbers, got dtype {array.dtype}")


def _check_finite(where: str, role: str, array: np.ndarray, hint: str = "") -> None:
    finite = np.isfinite(array)
    if not finite.all():
        bad = np.flatnonzero(~finite.reshape(len(array), -1).all(axis=1))
        raise MetricInputError(
            f"{where}: {role} hold NaN or infinite values in {bad.size} of {len(array)} rows (first: row {bad[0]}){hint}"
        )


def _as_class_labels(where: str, role: str, array: np.ndarray) -> np.ndarray:
    """Integer class labels; bools and whole-valued floats (labels stored as floats) are accepted."""
    if array.dtype == np.bool_:
        return array.astype(np.int64)
    _check_numeric(where, role, array)
    if np.issubdtype(array.dtype, np.floating):
        whole = np.isfinite(array) & (np.abs(array) <= _LARGEST_EXACT_INTEGER)
        whole[whole] = array[whole] == np.floor(array[whole])
        if not whole.all():
            first = np.flatnonzero(~whole)[0]
            hint = " (pass np.argmax(logits, axis=-1), not scores)" if role == "predictions" else ""
            raise MetricInputError(
                f"{where}: {role} must be class labels (whole numbers), found {array[first].item()!r} at row {first}{hint}"
            )
    return array.astype(np.int64)


def _one_per_row(where: str, role: str, values: Any) -> np.ndarray:
    array = _to_numpy(values)
    if array.ndim != 1:
        hint = " (for class labels pass np.argmax(logits, axis=-1))" if array.ndim == 2 and role == "predictions" else ""
        raise MetricInputError(f"{where}: {role} must hold one value per row (1-d), got shape {array.shape}{hint}")
    if array.size == 0:
        raise MetricInputError(f"{where}: {role} hold no rows; a metric needs at least one")
    return array


def _same_length(where: str, predictions: np.ndarray, references: np.ndarray) -> None:
    if len(predictions) != len(references):
        raise MetricInputError(f"{where}: got {len(predictions)} predictions but {len(references)} references")


def _label_pair(metric: str, predictions: Any, references: Any) -> tuple[np.ndarray, np.ndarray]:
    predictions = _as_class_labels(metric, "predictions", _one_per_row(metric, "predictions", predictions))
    references = _as_class_labels(metric, "references", _one_per_row(metric, "references", references))
    _same_length(metric, predictions, references)
    return predictions, references


def _score_pair(metric: str, predictions: Any, references: Any) -> tuple[np.ndarray, np.ndarray]:
    """Finite float32 scores, as GLUE's metric stores them (its features are float32)."""
    pair = []
    for role, values in (("predictions", predictions), ("references", references)):
        array = _one_per_row(metric, role, values)
        _check_numeric(metric, role, array)
        _check_finite(metric, role, array)
        with np.errstate(over="ignore"):
            narrowed = array.astype(np.float32)
        if not np.isfinite(narrowed).all():
            raise MetricInputError(
                f"{metric}: {role} exceed float32's range (largest magnitude {np.abs(array).max():.3g}); "
                "correlations are computed in float32, as GLUE's metric does"
            )
        pair.append(narrowed)
    _same_length(metric, *pair)
    return pair[0], pair[1]


def _is_constant(values: np.ndarray) -> bool:
    return bool((values == values[0]).all())


def _check_correlation_defined(metric: str, predictions: np.ndarray, references: np.ndarray) -> None:
    if _is_constant(references):
        rows = "the only row" if len(references) == 1 else f"all {len(references)} rows"
        raise MetricUndefinedError(
            metric,
            f"the evaluation labels are constant ({references[0]:g} in {rows}), so the correlation is 0/0 (GLUE reports NaN)",
            "Evaluate on rows whose labels vary",
        )
    if _is_constant(predictions):
        raise MetricUndefinedError(
            metric,
            f"the model's predictions are constant ({predictions[0]:g} for all {len(predictions)} rows), "
            "so the correlation is 0/0 (GLUE reports NaN)",
            "The model has collapsed to one output: report the run and check its learning rate, label scale and "
            "training length rather than gate on this value",
        )


# --- functional metrics ---------------------------------------------------------------------------


def accuracy(predictions: Any, references: Any) -> float:
    """Fraction of rows whose predicted class is the reference class (GLUE's ``simple_accuracy``).

    >>> accuracy([0, 1, 2, 2], [0, 1, 1, 2])
    0.75
    """
    predictions, references = _label_pair("accuracy", predictions, references)
    return float((predictions == references).mean())


def f1(predictions: Any, references: Any) -> float:
    """F1 of label 1: scikit-learn's binary ``f1_score(references, predictions)``, as GLUE computes it.

    Undefined (raises :class:`MetricUndefinedError`) when the references hold no positive, since
    recall is then 0/0; a model that predicts no positive where there are some scores 0.0.

    >>> f1([1, 0, 0, 1], [1, 1, 0, 0])
    0.5
    >>> f1([0, 0], [1, 1])
    0.0
    >>> f1([1, 0], [0, 0])
    Traceback (most recent call last):
    ...
    harness.tasks.metrics.MetricUndefinedError: f1 is undefined: the evaluation labels hold no positive (label 1) example; F1 needs at least one. Evaluate on rows that include positives, or score these rows with accuracy or matthews_correlation.
    """
    predictions, references = _label_pair("f1", predictions, references)
    outside = np.setdiff1d(np.union1d(predictions, references), [0, 1])
    if outside.size:
        raise MetricInputError(
            f"f1: scores two classes, 0 and 1 (F1 of label 1), but found labels {outside[:5].tolist()}; "
            "use accuracy or matthews_correlation for more classes"
        )
    if not (references == 1).any():
        raise MetricUndefinedError(
            "f1",
            "the evaluation labels hold no positive (label 1) example; F1 needs at least one",
            "Evaluate on rows that include positives, or score these rows with accuracy or matthews_correlation",
        )
    return float(f1_score(y_true=references, y_pred=predictions))


def matthews_correlation(predictions: Any, references: Any) -> float:
    """Matthews correlation of predicted and true classes: scikit-learn's ``matthews_corrcoef(references, predictions)``.

    Undefined when the references hold a single class; a model that predicts one class scores 0.0.

    >>> matthews_correlation([0, 1, 1, 0], [0, 1, 0, 0])
    0.5773502691896258
    >>> matthews_correlation([1, 1, 1], [0, 1, 0])
    0.0
    """
    predictions, references = _label_pair("matthews_correlation", predictions, references)
    classes = np.unique(references)
    if classes.size < 2:
        raise MetricUndefinedError(
            "matthews_correlation",
            f"the evaluation labels hold a single class (label {classes[0]}), so their variance is 0 and the "
            "correlation is 0/0 (GLUE reports 0.0)",
            "Evaluate on rows that hold at least two classes",
        )
    return float(matthews_corrcoef(references, predictions))


def pearson(predictions: Any, references: Any) -> float:
    """Pearson correlation of predicted and true scores: scipy's ``pearsonr(predictions, references)`` in float32, as GLUE.

    Undefined when either the references or the predictions are constant.

    >>> round(pearson([0.5, 2.0, 3.5, 4.0], [0.0, 2.4, 3.0, 5.0]), 4)
    0.9522
    """
    predictions, references = _score_pair("pearson", predictions, references)
    _check_correlation_defined("pearson", predictions, references)
    return float(stats.pearsonr(predictions, references)[0])


def spearmanr(predictions: Any, references: Any) -> float:
    """Spearman rank correlation: scipy's ``spearmanr(predictions, references)`` in float32, as GLUE.

    Tied scores share their mean rank (scipy's default), which matters for STS-B's coarse labels.

    Undefined when either the references or the predictions are constant.

    >>> spearmanr([0.5, 2.0, 3.5, 4.0], [0.0, 2.4, 3.0, 5.0])
    1.0
    """
    predictions, references = _score_pair("spearmanr", predictions, references)
    _check_correlation_defined("spearmanr", predictions, references)
    return float(stats.spearmanr(predictions, references)[0])


def per_row_loss(outputs: Any, references: Any) -> np.ndarray:
    """Each row's term of the Trainer's evaluation loss, in float64.

    Logits of shape (n, k), k >= 2, give cross-entropy (the Trainer's loss for classification);
    scores of shape (n,) or (n, 1) give the squared error (its ``MSELoss`` for ``num_labels == 1``).

    >>> per_row_loss(np.array([[0.0, 0.0], [0.0, 0.0]]), np.array([0, 1])).round(4).tolist()
    [0.6931, 0.6931]
    >>> per_row_loss(np.array([[1.0], [3.0]]), np.array([1.5, 2.0])).tolist()
    [0.25, 1.0]
    """
    outputs = _to_numpy(outputs)
    if outputs.ndim == 2 and outputs.shape[1] == 1:
        outputs = outputs[:, 0]
    if outputs.ndim == 1:
        scores = _one_per_row("loss", "outputs", outputs)
        targets = _one_per_row("loss", "references", references)
        for role, array in (("outputs", scores), ("references", targets)):
            _check_numeric("loss", role, array)
            _check_finite("loss", role, array)
        _same_length("loss", scores, targets)
        return (scores.astype(np.float64) - targets.astype(np.float64)) ** 2
    if outputs.ndim != 2 or outputs.shape[0] == 0:
        raise MetricInputError(f"loss: outputs must be logits (n, k) or scores (n,) with n >= 1, got shape {outputs.shape}")
    _check_numeric("loss", "logits", outputs)
    _check_finite("loss", "logits", outputs, _DIVERGED)
    labels = _as_class_labels("loss", "references", _one_per_row("loss", "references", references))
    _same_length("loss", outputs, labels)
    _check_label_range("loss", labels, outputs.shape[1])
    logits = outputs.astype(np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(labels)), labels]


def loss(outputs: Any, references: Any) -> float:
    """The Trainer's evaluation loss: the mean of :func:`per_row_loss`.

    >>> loss(np.array([[1.0], [3.0]]), np.array([1.5, 2.0]))
    0.625
    """
    return float(per_row_loss(outputs, references).mean())


def _check_label_range(where: str, labels: np.ndarray, num_labels: int) -> None:
    outside = (labels < 0) | (labels >= num_labels)
    if outside.any():
        found = np.unique(labels[outside])[:5].tolist()
        raise MetricInputError(
            f"{where}: labels must be class indices 0..{num_labels - 1} (num_labels={num_labels}), found {found}"
        )


# --- what each metric is --------------------------------------------------------------------------


_REQUIREMENTS = {
    "classification": "a classification task (num_labels >= 2)",
    "binary": "a two-class task (num_labels == 2)",
    "regression": "a regression task (num_labels == 1)",
    "any": "any task",
}


@dataclass(frozen=True)
class MetricSpec:
    """What a metric is: its name, which direction is better, what it is computed from, which tasks it scores.

    ``kind`` is what the metric's function receives: ``"label"``, the predicted class of each row
    (the argmax of the logits), or ``"score"``, the model's real-valued outputs (a regression
    head's scores, or the logits themselves for the loss). ``applies_to`` defaults from ``kind``:
    label metrics score classification tasks, score metrics regression tasks.

    >>> spec = MetricSpec("accuracy", "higher", "label", "fraction of rows predicted correctly")
    >>> spec.applies_to, spec.supports(num_labels=3), spec.supports(num_labels=1)
    ('classification', True, False)
    """

    name: str
    direction: Direction
    kind: Kind
    description: str
    applies_to: AppliesTo | None = None
    # The values the metric can take, (low, high), either end None where it is open: a stored value
    # outside them (an F1 of 5.0 in a hand-edited baseline) was not measured by this metric.
    bounds: tuple[float | None, float | None] = (None, None)
    # What computes it, fn(predictions, references) -> float; not part of what the metric is (two
    # specs that say the same thing are equal), and a registry refuses a spec without one.
    function: MetricFunction | None = field(default=None, compare=False, repr=False)
    # Where a project's metric is imported from ("package.module:callable") and the sha256 of that
    # module's file when it was: part of a run's identity (an edit to the metric's code retrains and
    # is refused mid-recording), and how a DDP worker imports the same function. None for the built-ins
    # and for a metric registered in code.
    source: str | None = None
    source_sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """What the metric is, as JSON data (no function): how a project metric travels in a run's config."""
        return {"name": self.name, "direction": self.direction, "kind": self.kind, "description": self.description,
                "applies_to": self.applies_to, "bounds": list(self.bounds), "source": self.source,
                "source_sha256": self.source_sha256}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetricSpec:
        """The inverse of :meth:`to_dict`, without its function (see :meth:`imported`)."""
        return cls(**{**data, "bounds": tuple(data["bounds"])})

    def imported(self, root: Path | str | None = None) -> MetricSpec:
        """This spec with its function imported from :attr:`source` (``root`` on the import path); a
        ValueError when the module's file is no longer the one the spec was made from."""
        if self.source is None:
            raise ValueError(f"metric {self.name!r} was registered in code, with no \"module:callable\" source to import "
                             "it from; declare it in [tool.harness.metrics] so another process can load it")
        try:
            function, sha256 = import_source(self.source, root)
        except ValueError as error:
            raise ValueError(f"metric {self.name!r}: {error}") from error
        if self.source_sha256 is not None and sha256 != self.source_sha256:
            raise ValueError(f"metric {self.name!r}: the module of {self.source!r} changed since the run was configured "
                             f"(sha256 {self.source_sha256[:12]} then, {sha256[:12]} now); run it again")
        return dataclasses.replace(self, function=function)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(
                f"a metric name must be an identifier such as 'f1' (the Trainer reports it as eval_<name>), got {self.name!r}"
            )
        if self.direction not in DIRECTIONS:
            raise ValueError(
                f"metric {self.name!r}: direction must be 'higher' or 'lower' (which way is better), got {self.direction!r}"
            )
        if self.kind not in KINDS:
            raise ValueError(
                f"metric {self.name!r}: kind must be 'label' (computed from predicted classes) or 'score' "
                f"(computed from real-valued outputs), got {self.kind!r}"
            )
        applies_to = self.applies_to or ("classification" if self.kind == "label" else "regression")
        if applies_to not in APPLIES_TO:
            raise ValueError(f"metric {self.name!r}: applies_to must be one of {', '.join(APPLIES_TO)}, got {applies_to!r}")
        if self.kind == "label" and applies_to not in ("classification", "binary"):
            raise ValueError(
                f"metric {self.name!r}: a 'label' metric needs predicted classes, so it applies to 'classification' "
                f"or 'binary' tasks, not {applies_to!r}"
            )
        object.__setattr__(self, "applies_to", applies_to)
        bounds = tuple(self.bounds) if isinstance(self.bounds, (tuple, list)) else ()
        if len(bounds) != 2 or not all(end is None or (isinstance(end, (int, float)) and not isinstance(end, bool)
                                                       and math.isfinite(end)) for end in bounds):
            raise ValueError(f"metric {self.name!r}: bounds must be (low, high), each a finite number or None (open), "
                             f"got {self.bounds!r}")
        object.__setattr__(self, "bounds", bounds)
        low, high = bounds
        if low is not None and high is not None and not low < high:
            raise ValueError(f"metric {self.name!r}: bounds must be (low, high) with low < high, got {self.bounds!r}")

    def holds(self, value: float) -> bool:
        """Whether ``value`` is one this metric can take.

        >>> MetricSpec("accuracy", "higher", "label", "", bounds=(0.0, 1.0)).holds(1.2)
        False
        """
        low, high = self.bounds
        return (low is None or value >= low) and (high is None or value <= high)

    def supports(self, num_labels: int) -> bool:
        """Whether the metric can score a task whose model has ``num_labels`` outputs (1: regression)."""
        return {
            "classification": num_labels >= 2,
            "binary": num_labels == 2,
            "regression": num_labels == 1,
            "any": True,
        }[self.applies_to]

    @property
    def requirement(self) -> str:
        return _REQUIREMENTS[self.applies_to]


def import_source(source: Any, root: Path | str | None = None) -> tuple[MetricFunction, str | None]:
    """The callable ``"package.module:callable"`` names, imported with ``root`` on the import path
    (while importing, when not on it already), and the sha256 of its module's file (None when it has
    none). A ValueError names what is wrong and the fix."""
    module_name, _, attribute = source.partition(":") if isinstance(source, str) else ("", "", "")
    if not module_name or not attribute:
        raise ValueError(f"function must be \"package.module:callable\" (e.g. \"my_metrics:error_rate\"), got {source!r}")
    module = _import_module(module_name, root)
    function: Any = module
    for part in attribute.split("."):
        function = getattr(function, part, None)
    if not callable(function):
        found = "nothing" if function is None else type(function).__name__
        shadowed = _shadowed(module, module_name, root)
        raise ValueError(f"function {source!r}: module {module_name!r} has no callable {attribute!r} (found "
                         f"{found}); " + (shadowed or f"define def {attribute.split('.')[-1]}(predictions, references) "
                                                      "-> float there"))
    return function, _code_sha256(module, inspect.getmodule(function))


def _shadowed(module: Any, name: str, root: Path | str | None) -> str | None:
    """Why the module imported is not the project's file of that name, when it is not."""
    own = None if root is None else Path(root) / (name.replace(".", "/") + ".py")
    found = getattr(module, "__file__", None)
    if own is None or not own.is_file() or (found and Path(found).resolve() == own.resolve()):
        return None
    return (f"{name!r} resolves to {found or 'a built-in module'}, not {own}: a module of that name was imported "
            "first; rename yours")


def _code_sha256(*modules: Any) -> str:
    """One sha256 over the source files of ``modules`` (a package's: every .py file under its folder),
    so an edit to the metric's module, or to the package module it lives in, changes it."""
    files: dict[str, str] = {}
    for module in filter(None, modules):
        path = getattr(module, "__file__", None)
        if not path:
            raise ValueError(f"module {module.__name__!r} has no source file to fingerprint (a built-in or compiled "
                             "module); wrap the function in a .py module of the project's")
        path = Path(path).resolve()
        if hasattr(module, "__path__") and path.name == "__init__.py":  # named by module, not by where it is kept
            files.update({f"{module.__name__}/{file.relative_to(path.parent)}": sha256_file(file)
                          for file in sorted(path.parent.rglob("*.py"))})
        else:
            files[module.__name__] = sha256_file(path)
    return sha256_json(files)


def _import_module(name: str, root: Path | str | None) -> Any:
    where = "the import path" if root is None else str(root)
    added = root is not None and str(root) not in sys.path
    if added:
        sys.path.insert(0, str(root))
    try:
        return importlib.import_module(name)
    except (Exception, SystemExit) as error:  # an import runs the module's code: any failure is the module's to fix
        raise ValueError(f"function: cannot import module {name!r} from {where} ({type(error).__name__}: "
                         f"{error}); put {name.replace('.', '/')}.py in the project folder, or install it") from error
    finally:
        if added:
            sys.path.remove(str(root))


def _check_num_labels(num_labels: Any) -> int:
    if isinstance(num_labels, bool) or not isinstance(num_labels, (int, np.integer)) or num_labels < 1:
        raise ValueError(
            f"num_labels must be a whole number >= 1 (the number of classes, or 1 for a regression task), got {num_labels!r}"
        )
    return int(num_labels)


class MetricRegistry(Registry[MetricSpec]):
    """Metrics by name: each one's :class:`MetricSpec`, which carries the function that computes it.

    A :class:`harness.registry.Registry`; a project adds its own metric with :meth:`register` (or a
    ``[tool.harness.metrics.NAME]`` table, see :func:`harness.project_config.read_metrics`), and the
    registry is handed to whatever scores or gates that metric (``TaskMetrics``, the gate policy,
    the baseline store, the bootstrap).

    >>> registry = builtin_metrics()
    >>> registry.spec("loss").direction
    'lower'
    >>> registry.spec("f2")
    Traceback (most recent call last):
    ...
    harness.tasks.metrics.UnknownMetricError: unknown metric 'f2'; did you mean 'f1'? known metrics: accuracy, f1, matthews_correlation, pearson, spearmanr, loss
    >>> spec = registry.register(MetricSpec("error_rate", "lower", "label", "fraction of rows predicted wrongly",
    ...                                     function=lambda predictions, references: 1 - accuracy(predictions, references)))
    >>> registry.function("error_rate")([0, 1], [0, 0])
    0.5
    """

    kind = "metric"
    item_type = MetricSpec
    error = ValueError
    unknown_error = UnknownMetricError
    close_cutoff = 0.5

    def register(self, spec: MetricSpec, function: MetricFunction | None = None, *, replace: bool = False) -> MetricSpec:
        """Add a metric and return its spec; ``function(predictions, references) -> float`` (the spec's
        own ``function`` when not given) receives what ``spec.kind`` says."""
        if not isinstance(spec, MetricSpec):
            raise TypeError(f"register takes a MetricSpec (and its function), got {type(spec).__name__}")
        if function is not None:
            spec = dataclasses.replace(spec, function=function)
        if not callable(spec.function):
            raise TypeError(f"metric {spec.name!r}: its function must be callable, got {type(spec.function).__name__}")
        return super().register(spec, replace=replace)

    def spec(self, name: str) -> MetricSpec:
        return self.get(name)

    def function(self, name: str) -> MetricFunction:
        return self.get(name).function  # type: ignore[return-value]  # register refuses a spec without one

    def resolve(self, names: Sequence[str], *, num_labels: int) -> tuple[MetricSpec, ...]:
        """The specs of ``names``, checked: registered, not repeated, and each able to score a task with ``num_labels``."""
        num_labels = _check_num_labels(num_labels)
        if isinstance(names, str):
            raise ValueError(f"metrics must be a sequence of names such as ({names!r},), not the string {names!r}")
        names = tuple(names)
        if not names:
            raise ValueError("metrics must name at least one metric, e.g. ('accuracy',)")
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"metrics must not repeat a name, got {repeated} more than once in {names}")
        specs = tuple(self.spec(name) for name in names)
        task = "a regression task (num_labels=1)" if num_labels == 1 else f"a {num_labels}-class task"
        for spec in specs:
            if not spec.supports(num_labels):
                others = [other.name for other in self if other.supports(num_labels)]
                raise ValueError(
                    f"metric {spec.name!r} scores {spec.requirement}, not {task}; "
                    f"metrics for such a task: {', '.join(others) or 'none registered'}"
                )
        return specs


def builtin_metrics() -> MetricRegistry:
    """A new registry holding GLUE's metrics and the Trainer's evaluation loss."""
    unit, correlation, non_negative = (0.0, 1.0), (-1.0, 1.0), (0.0, None)
    builtins = (
        (accuracy, "higher", "label", None, "fraction of rows whose predicted class is the label", unit),
        (f1, "higher", "label", "binary", "F1 of label 1: harmonic mean of its precision and recall", unit),
        (matthews_correlation, "higher", "label", None, "Matthews correlation of predicted and true classes, in [-1, 1]", correlation),
        (pearson, "higher", "score", None, "Pearson correlation of predicted and true scores, in [-1, 1]", correlation),
        (spearmanr, "higher", "score", None, "Spearman rank correlation of predicted and true scores, in [-1, 1]", correlation),
        (loss, "lower", "score", "any", "the Trainer's evaluation loss: cross-entropy of logits, squared error of scores",
         non_negative),
    )
    return MetricRegistry(MetricSpec(function.__name__, direction, kind, description, applies_to, bounds, function=function)
                          for function, direction, kind, applies_to, description, bounds in builtins)


# --- what the Trainer hands over ------------------------------------------------------------------


class EvalRows(NamedTuple):
    """One evaluation's arrays, validated; :meth:`for_kind` gives what a metric of each kind receives."""

    outputs: np.ndarray  # logits (n, num_labels), or scores (n,) for a regression task
    predictions: np.ndarray  # argmax of the logits (int64), or the scores themselves for a regression task
    references: np.ndarray  # class labels (int64), or float scores for a regression task

    def for_kind(self, kind: Kind) -> np.ndarray:
        return self.predictions if kind == "label" else self.outputs


def _model_outputs(predictions: Any) -> Any:
    """The logits (or scores) out of whatever container the Trainer or a user passes."""
    if hasattr(predictions, "to_tuple"):  # a transformers ModelOutput
        if getattr(predictions, "logits", None) is not None:
            return predictions.logits  # not to_tuple()[0]: with labels given, the tuple leads with the loss
        predictions = predictions.to_tuple()
    # The Trainer passes a tuple (logits, hidden states, ...) when the model returns more than logits;
    # a list is taken as the array itself (rows of logits, or scores).
    if isinstance(predictions, tuple) and predictions and hasattr(predictions[0], "shape"):
        return predictions[0]
    return predictions


def eval_rows(eval_pred: Any, *, num_labels: int) -> EvalRows:
    """Validated arrays from ``(outputs, labels)`` or an ``EvalPrediction``, for a task with ``num_labels`` outputs.

    Outputs may be an array, a tensor (kept in its dtype; bf16 widened to fp32), a model output
    (its ``logits``), or a tuple whose first element is the logits. A classification task
    (``num_labels >= 2``) takes logits (n, num_labels) and class labels 0..num_labels-1; its
    predictions are ``np.argmax(logits, axis=-1)``, so a tie goes to the lowest class. A regression
    task (``num_labels == 1``) takes scores (n,) or (n, 1) and finite float labels.

    >>> eval_rows((np.array([[0.1, 2.0], [3.0, -1.0]]), [1, 1]), num_labels=2).predictions.tolist()
    [1, 0]
    """
    num_labels = _check_num_labels(num_labels)
    not_a_pair = MetricInputError(
        f"compute_metrics takes (outputs, labels) or an EvalPrediction, got {type(eval_pred).__name__}"
    )
    if isinstance(eval_pred, (str, bytes)):
        raise not_a_pair
    try:
        raw_outputs, raw_labels = eval_pred[0], eval_pred[1]
    except (TypeError, IndexError, KeyError):
        raise not_a_pair from None
    outputs = _to_numpy(_model_outputs(raw_outputs))
    labels = _to_numpy(raw_labels)
    _check_numeric("compute_metrics", "outputs", outputs)
    if num_labels == 1:
        if outputs.ndim == 2 and outputs.shape[1] == 1:
            outputs = outputs[:, 0]
        if outputs.ndim != 1:
            raise MetricInputError(
                "a regression task (num_labels=1) takes one score per row, shape (n,) or (n, 1); "
                f"got outputs of shape {outputs.shape}"
            )
    elif outputs.ndim != 2 or outputs.shape[1] != num_labels:
        if outputs.ndim == 1:
            hint = " (pass the logits, not their argmax)"
        elif outputs.ndim == 2:
            hint = f" (the model's head has {outputs.shape[1]} outputs: build it with num_labels={num_labels})"
        else:
            hint = ""
        raise MetricInputError(
            f"a {num_labels}-class task takes logits of shape (n, {num_labels}); got outputs of shape {outputs.shape}{hint}"
        )
    rows = outputs.shape[0]
    if rows == 0:
        raise MetricInputError("compute_metrics: the outputs hold no rows; a metric needs at least one")
    _check_finite("compute_metrics", "outputs", outputs, _DIVERGED)
    if labels.ndim == 2 and 1 in labels.shape:
        labels = labels.reshape(-1)
    if labels.ndim != 1 or labels.shape[0] != rows:
        raise MetricInputError(f"compute_metrics: got {rows} rows of outputs but labels of shape {labels.shape}")
    if num_labels == 1:
        _check_numeric("compute_metrics", "labels", labels)
        _check_finite("compute_metrics", "labels", labels, "; regression labels must be finite numbers")
        return EvalRows(outputs, outputs, labels)
    labels = _as_class_labels("compute_metrics", "labels", labels)
    _check_label_range("compute_metrics", labels, num_labels)
    return EvalRows(outputs, np.argmax(outputs, axis=-1), labels)


class TaskMetrics:
    """A Trainer ``compute_metrics`` for one task: model outputs and labels in, ``{metric: value}`` out.

    Built from the task's metric names and number of labels, so a metric that cannot score the
    task fails when the Trainer is set up, not after training.

    >>> compute_metrics = TaskMetrics(("accuracy", "f1"), num_labels=2)
    >>> compute_metrics((np.array([[0.1, 2.0], [3.0, -1.0], [0.0, 1.0]]), np.array([1, 1, 0])))
    {'accuracy': 0.3333333333333333, 'f1': 0.5}
    >>> TaskMetrics(("spearmanr",), num_labels=1)((np.array([[0.2], [0.9], [0.4]]), np.array([1.0, 4.5, 2.5])))
    {'spearmanr': 1.0}
    """

    def __init__(self, metrics: Sequence[str], *, num_labels: int, registry: MetricRegistry | None = None) -> None:
        self.registry = builtin_metrics() if registry is None else registry
        specs = self.registry.resolve(metrics, num_labels=num_labels)
        for spec in specs:
            if spec.name in TRAINER_REPORTED:
                raise ValueError(
                    f"{spec.name!r} is not a compute_metrics metric: the Trainer reports it itself as "
                    f"eval_{spec.name}, and a key of that name here would overwrite it; leave it out"
                )
        self.specs = specs
        self.num_labels = int(num_labels)

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.specs)

    def __repr__(self) -> str:
        return f"TaskMetrics({self.metrics!r}, num_labels={self.num_labels})"

    def __call__(self, eval_pred: Any) -> dict[str, float]:
        rows = eval_rows(eval_pred, num_labels=self.num_labels)
        return {
            spec.name: float(self.registry.function(spec.name)(rows.for_kind(spec.kind), rows.references))
            for spec in self.specs
        }
