"""GLUE's MRPC metric, as an ``evaluate`` module that loads from the installed package offline."""

import datasets
import evaluate
from sklearn.metrics import f1_score

_DESCRIPTION = """
Accuracy and binary F1 (positive class: 1, "equivalent") on the Microsoft Research Paraphrase
Corpus, computed exactly as the GLUE metric for the ``mrpc`` config: accuracy is the mean of
``predictions == references`` and F1 is scikit-learn's ``f1_score`` with its defaults. The one
difference is ``zero_division=0.0``: where F1 is undefined (no positive labels and no positive
predictions) it is 0.0, the value GLUE also returns, but without the warning.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted labels (0 or 1), one per pair.
    references: gold labels (0 or 1), one per pair.
Returns:
    accuracy: fraction of pairs predicted correctly, in [0, 1].
    f1: F1 of the "equivalent" class, in [0, 1].
Examples:
    >>> import evaluate
    >>> from harness.metrics import MRPC_METRIC_PATH
    >>> metric = evaluate.load(MRPC_METRIC_PATH)
    >>> metric.compute(predictions=[0, 1, 1], references=[0, 1, 0])
    {'accuracy': 0.6666666666666666, 'f1': 0.6666666666666666}
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
class GlueMrpc(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
            ),
            reference_urls=["https://gluebenchmark.com/", "https://huggingface.co/spaces/evaluate-metric/glue"],
        )

    def _compute(self, *, predictions, references):
        import numpy as np

        predictions = np.asarray(predictions)
        references = np.asarray(references)
        return {
            "accuracy": float((predictions == references).mean()),
            "f1": float(f1_score(references, predictions, zero_division=0.0)),
        }
