"""GLUE's metric for every GLUE config, as an ``evaluate`` module that loads from a local path offline.

A reproduction of the Hub's ``glue`` metric (evaluate-metric/glue, ``metrics/glue/glue.py`` in
huggingface/evaluate): the same configs, the same input features (``int64``, ``float32`` for
``stsb``), and each value computed by the same library call on the same arguments in the same order.
It exists because ``evaluate.load("glue", ...)`` needs the Hub; ``evaluate.load(GLUE_METRIC_PATH,
config_name=...)`` does not.
"""

import datasets
import evaluate
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import f1_score, matthews_corrcoef

ACCURACY_CONFIGS = ("sst2", "mnli", "mnli_mismatched", "mnli_matched", "qnli", "rte", "wnli", "hans")
ACCURACY_AND_F1_CONFIGS = ("mrpc", "qqp")
CONFIGS = ("cola", "stsb") + ACCURACY_AND_F1_CONFIGS + ACCURACY_CONFIGS

_DESCRIPTION = """
GLUE, the General Language Understanding Evaluation benchmark (https://gluebenchmark.com/), scores
each of its tasks with its own metric; ``config_name`` picks the task:

- ``cola``: Matthews correlation, scikit-learn's ``matthews_corrcoef(references, predictions)``.
- ``stsb``: Pearson and Spearman correlation, scipy's ``pearsonr(predictions, references)`` and
  ``spearmanr(predictions, references)``, on float32 inputs: GLUE's features are float32 and
  evaluate's numpy format hands floats over as float32, so float64 scores are rounded first and
  Pearson comes out at float32 precision.
- ``mrpc``, ``qqp``: accuracy and scikit-learn's binary ``f1_score(references, predictions)`` (F1
  of label 1).
- ``sst2``, ``mnli``, ``mnli_matched``, ``mnli_mismatched``, ``qnli``, ``rte``, ``wnli``, ``hans``:
  accuracy, the mean of ``predictions == references``.

Like GLUE's, this module returns a number where a metric is undefined: F1 0.0 (with scikit-learn's
UndefinedMetricWarning) when no example is positive, Matthews correlation 0.0 when the references
or the predictions hold a single class, NaN (with scipy's ConstantInputWarning) for a correlation
of constant scores. ``harness.tasks.metrics`` computes the same values but raises
``MetricUndefinedError`` in those cases, so that a gate never compares a convention with a score.
The one change from GLUE: values are Python floats (GLUE leaves Matthews correlation as scikit-learn
returns it), which compare equal.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted labels (int), or predicted similarity scores (float) for ``stsb``.
    references: gold labels (int), or gold similarity scores (float) for ``stsb``.
Returns: depending on the config, one or two of
    accuracy: fraction of examples predicted correctly, in [0, 1].
    f1: F1 of label 1, in [0, 1].
    matthews_correlation: Matthews correlation coefficient, in [-1, 1].
    pearson: Pearson correlation of predictions and references, in [-1, 1].
    spearmanr: Spearman rank correlation of predictions and references, in [-1, 1].
Examples:
    >>> import evaluate
    >>> from harness.tasks.metrics import GLUE_METRIC_PATH
    >>> evaluate.load(GLUE_METRIC_PATH, config_name="sst2").compute(predictions=[0, 1, 1], references=[0, 1, 0])
    {'accuracy': 0.6666666666666666}
    >>> evaluate.load(GLUE_METRIC_PATH, config_name="mrpc").compute(predictions=[0, 1, 1], references=[0, 1, 0])
    {'accuracy': 0.6666666666666666, 'f1': 0.6666666666666666}
    >>> evaluate.load(GLUE_METRIC_PATH, config_name="cola").compute(predictions=[0, 1, 1, 0], references=[0, 1, 0, 0])
    {'matthews_correlation': 0.5773502691896258}
    >>> result = evaluate.load(GLUE_METRIC_PATH, config_name="stsb").compute(
    ...     predictions=[0.5, 2.0, 3.5, 4.0], references=[0.0, 2.4, 3.0, 5.0])
    >>> {name: round(value, 4) for name, value in result.items()}
    {'pearson': 0.9522, 'spearmanr': 1.0}
"""

_CITATION = """
@inproceedings{wang2019glue,
  title={{GLUE}: A Multi-Task Benchmark and Analysis Platform for Natural Language Understanding},
  author={Wang, Alex and Singh, Amanpreet and Michael, Julian and Hill, Felix and Levy, Omer and Bowman, Samuel R.},
  booktitle={ICLR},
  year={2019}
}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Glue(evaluate.Metric):
    def _info(self):
        if self.config_name not in CONFIGS:
            # A KeyError, as GLUE's script raises, so code written against the Hub metric still catches it.
            raise KeyError(
                f"unknown GLUE config {self.config_name!r}; pass config_name= one of {', '.join(CONFIGS)}"
            )
        value_type = "float32" if self.config_name == "stsb" else "int64"
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value(value_type), "references": datasets.Value(value_type)}
            ),
            reference_urls=[
                "https://gluebenchmark.com/",
                "https://huggingface.co/spaces/evaluate-metric/glue",
                "https://github.com/huggingface/evaluate/blob/main/metrics/glue/glue.py",
            ],
            format="numpy",
        )

    def _compute(self, *, predictions, references):
        if self.config_name == "cola":
            return {"matthews_correlation": float(matthews_corrcoef(references, predictions))}
        if self.config_name == "stsb":
            return {
                "pearson": float(pearsonr(predictions, references)[0]),
                "spearmanr": float(spearmanr(predictions, references)[0]),
            }
        accuracy = float((predictions == references).mean())
        if self.config_name in ACCURACY_AND_F1_CONFIGS:
            return {"accuracy": accuracy, "f1": float(f1_score(y_true=references, y_pred=predictions))}
        return {"accuracy": accuracy}
