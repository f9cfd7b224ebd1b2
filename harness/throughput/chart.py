"""``throughput.png``: training samples/s by device and precision, one panel per model.

Bars are grouped by batch size; whiskers span the slowest and fastest timed round, so a reader sees
the noise beside the value. Device and precision pairs that could not run are named under the
chart with the reason, never drawn as zero.
"""

from __future__ import annotations

import io
import os
import textwrap
from collections.abc import Sequence
from pathlib import Path

from harness.files import atomic_write_bytes
from harness.run.devices import device_index, device_kind
from harness.run.precision import PRECISIONS_BY_DEVICE_KIND
from harness.run.models import ALIASES
from harness.run.provenance import cpu_name
from harness.throughput.runner import ThroughputResult, ThroughputSkip

COLOURS = {
    ("cpu", "fp32"): "#1f77b4",
    ("cpu", "bf16"): "#9ecae1",
    ("cuda", "fp32"): "#2ca02c",
    ("cuda", "bf16"): "#74c476",
    ("cuda", "fp16"): "#c7e9c0",
    ("mps", "fp32"): "#9467bd",
}
LOG_SCALE_SPREAD = 30  # a GPU next to a CPU: linear bars would flatten the CPU's to nothing


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def _series_key(device: str, precision: str) -> tuple:
    kind = device_kind(device)
    return (list(PRECISIONS_BY_DEVICE_KIND).index(kind), device_index(device), PRECISIONS_BY_DEVICE_KIND[kind].index(precision))


def _model_title(model: str, results: Sequence[ThroughputResult]) -> str:
    parameters = next((r.parameters for r in results if r.case.model == model), None)
    if model in ALIASES:
        weights = f" ({ALIASES[model].split(':', 1)[1]}, pretrained)"
    else:
        weights = " (random weights)" if model.startswith("arch:") else ""
    return f"{model}{weights}" + (f"\n{parameters / 1e6:.0f}M parameters" if parameters else "")


def _round_rates(result: ThroughputResult) -> tuple[float, float]:
    """Slowest and fastest round in samples/s."""
    per_round = result.samples / len(result.round_seconds)
    return per_round / max(result.round_seconds), per_round / min(result.round_seconds)


def write_throughput_chart(results: Sequence[ThroughputResult], skipped: Sequence[ThroughputSkip], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = [r.case for r in results] + [s.case for s in skipped]
    models = list(dict.fromkeys(c.model for c in cases))
    measured_series = sorted({(r.case.device, r.case.precision) for r in results}, key=lambda s: _series_key(*s))
    fig, axes = plt.subplots(1, max(len(models), 1), figsize=(max(6.4 * len(models), 9.0), 5.2), squeeze=False)
    rates = [r.samples_per_second for r in results]
    log_scale = bool(rates) and max(rates) / min(rates) > LOG_SCALE_SPREAD
    for ax, model in zip(axes[0], models):
        batch_sizes = sorted({c.batch_size for c in cases if c.model == model})
        _model_panel(ax, model, batch_sizes, results, measured_series, log_scale)
    _figure_text(fig, axes, results, skipped, measured_series)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue())


def _model_panel(ax, model: str, batch_sizes: list[int], results: Sequence[ThroughputResult],
                 measured_series: list[tuple[str, str]], log_scale: bool) -> None:
    """One model's bars: a group per batch size, a bar per measured device and precision."""
    width = min(0.8 / max(len(measured_series), 1), 0.3)
    for s, (device, precision) in enumerate(measured_series):
        for x, batch_size in enumerate(batch_sizes):
            position = x + width * (s + 0.5 - len(measured_series) / 2)
            result = next((r for r in results if (r.case.model, r.case.batch_size, r.case.device, r.case.precision)
                           == (model, batch_size, device, precision)), None)
            _bar(ax, position, width, result, label=f"{device} {precision}" if x == 0 else None)
    ax.set_xticks(range(len(batch_sizes)), [f"batch {b}" for b in batch_sizes])
    ax.set_title(_model_title(model, results), fontsize=10)
    ax.set_ylabel("training samples / s" + (" (log scale)" if log_scale else ""))
    if log_scale:
        ax.set_yscale("log")
    else:
        ax.set_ylim(0, ax.get_ylim()[1] * 1.12)  # room for the value labels
    ax.set_xlim(-0.5, len(batch_sizes) - 0.5)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def _bar(ax, position: float, width: float, result: ThroughputResult | None, *, label: str | None) -> None:
    """A measured case's bar with its slowest-to-fastest-round whisker, or "not measured" in its place."""
    if result is None:
        ax.text(position, 0.02, "not\nmeasured", transform=ax.get_xaxis_transform(),
                ha="center", va="bottom", fontsize=7, color="0.4")
        return
    value = result.samples_per_second
    low, high = _round_rates(result)
    ax.bar(position, value, width * 0.92, color=COLOURS[(device_kind(result.case.device), result.case.precision)],
           edgecolor="0.25", linewidth=0.6, label=label)
    ax.errorbar(position, value, yerr=[[max(value - low, 0.0)], [max(high - value, 0.0)]], fmt="none", ecolor="0.2",
                elinewidth=0.8, capsize=2.5)
    ax.annotate(f"{value:.3g}", (position, high), xytext=(0, 2), textcoords="offset points",
                ha="center", va="bottom", fontsize=8)


def _figure_text(fig, axes, results: Sequence[ThroughputResult], skipped: Sequence[ThroughputSkip],
                 measured_series: list[tuple[str, str]]) -> None:
    """Title, the machine, one legend over every panel, and why each unmeasured series is missing."""
    gpus = sorted({r.device_name for r in results if device_kind(r.case.device) == "cuda"})
    fig.suptitle("Training throughput: real Trainer steps on MRPC batches (higher is better)", fontsize=12, y=0.985)
    fig.text(0.5, 0.925, f"CPU: {cpu_name()} ({os.cpu_count()} logical cores, {torch_threads()} torch threads)   "
             f"GPU: {', '.join(gpus) if gpus else 'none measured'}   "
             "whiskers: slowest to fastest timed round", ha="center", fontsize=8, color="0.3")
    handles, labels = axes[0][0].get_legend_handles_labels()
    for ax in axes[0][1:]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    if handles:
        fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.91), ncol=len(handles), fontsize=8, frameon=False)
    notes = _not_measured_notes(skipped, measured_series, width=int(17 * fig.get_figwidth()))
    if notes:
        fig.text(0.01, 0.01, "\n".join(notes), ha="left", va="bottom", fontsize=7.5, color="0.3")
    bottom = (0.02 + 0.035 * len(notes)) if notes else 0.0
    fig.tight_layout(rect=(0, min(bottom, 0.4), 1, 0.89))


def _not_measured_notes(skipped: Sequence[ThroughputSkip], measured: Sequence[tuple[str, str]], *, width: int) -> list[str]:
    """One line per reason: which device and precision pairs it kept off the chart."""
    by_reason: dict[str, list[str]] = {}
    for skip in sorted(skipped, key=lambda s: _series_key(s.case.device, s.case.precision)):
        pair = (skip.case.device, skip.case.precision)
        if pair in measured:
            continue
        label = f"{skip.case.device} {skip.case.precision}"
        key = f"{'Failed' if skip.failed else 'Not measured'}: {{}}: {skip.reason}"
        if label not in by_reason.setdefault(key, []):
            by_reason[key].append(label)
    lines = []
    for template, labels in by_reason.items():
        lines += textwrap.wrap(template.format(", ".join(labels)), width=width, subsequent_indent="    ")
    return lines
