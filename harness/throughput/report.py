"""The end-of-session throughput report for people: ``throughput.md`` beside ``throughput.png``.

One row per model x device x precision x batch size, measured or not: a case that could not run
here is a row that says "not measured" and why, and a case that raised is a row that says
"FAILED" and why, never a blank or an invented number. Speedups are
only shown between cases measured in the same run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.files import append_to_step_summary, atomic_write_text
from harness.run.devices import device_index, device_kind
from harness.run.precision import PRECISIONS_BY_DEVICE_KIND
from harness.run.provenance import device_info, machine_provenance
from harness.tables import markdown_table
from harness.throughput.runner import BATCH_SEED, ThroughputCase, ThroughputResult, ThroughputSkip
from harness.throughput.chart import write_throughput_chart

THROUGHPUT_MARKDOWN = "throughput.md"
THROUGHPUT_CHART = "throughput.png"
NOT_MEASURED = "not measured"
FAILED = "FAILED"
PUBLISHED_CONTEXT = (
    "The transformers text-classification example (`examples/pytorch/text-classification`, README) reports "
    "fine-tuning bert-base-cased on MRPC for 5 epochs on a Titan RTX in 2:21 (fp32) and 1:10 (fp16). "
    "Spread over 3,668 training pairs x 5 epochs that is at most about 130 and 262 samples/s (the times include "
    "evaluation and data loading, and the model is cased bert-base). Published, not measured here: a point for "
    "scale, not a baseline."
)
NOISY_ROUND_CV = 0.05
FLOPS_FORMULA = "6 x N_encoder x B x S + 12 x L x H x S x (B x S) + 6 x N_head x B"
_PRECISION_ORDER = {p: i for i, p in enumerate(("fp32", "bf16", "fp16"))}
_KIND_ORDER = {k: i for i, k in enumerate(PRECISIONS_BY_DEVICE_KIND)}


def case_sort_key(case: ThroughputCase, model_order: Sequence[str]) -> tuple:
    return (model_order.index(case.model), case.batch_size, _KIND_ORDER[device_kind(case.device)], device_index(case.device),
            _PRECISION_ORDER.get(case.precision, 99))


def cpu_baseline(result: ThroughputResult, results: Sequence[ThroughputResult]) -> ThroughputResult | None:
    """The CPU fp32 result for the same model and batch size, measured in the same run."""
    return next(
        (r for r in results if r.case.model == result.case.model and r.case.batch_size == result.case.batch_size
         and r.case.device == "cpu" and r.case.precision == "fp32"),
        None,
    )


def throughput_rows(results: Sequence[ThroughputResult], skipped: Sequence[ThroughputSkip]) -> tuple[list[list[str]], dict[str, str]]:
    """Table rows in case order, and the footnotes (reason -> marker) the "not measured" rows cite."""
    entries: dict[ThroughputCase, ThroughputResult | ThroughputSkip] = {s.case: s for s in skipped}
    entries.update({r.case: r for r in results})
    model_order = list(dict.fromkeys(c.model for c in entries))
    footnotes: dict[str, str] = {}
    rows = []
    for case in sorted(entries, key=lambda c: case_sort_key(c, model_order)):
        entry = entries[case]
        head = [case.model, case.device, case.precision, str(case.batch_size)]
        if isinstance(entry, ThroughputSkip):
            marker = footnotes.setdefault(entry.reason, f"[{len(footnotes) + 1}]")
            rows.append(head + [f"{FAILED if entry.failed else NOT_MEASURED} {marker}"] + ["–"] * 8)
            continue
        latency = entry.latency
        baseline = cpu_baseline(entry, results)
        rows.append(head + [
            f"{entry.samples_per_second:.3g}",
            "n/a" if entry.mean_half_width is None else f"±{entry.mean_half_width:.1%} ({len(entry.round_seconds)} rounds)",
            f"{entry.real_tokens_per_second:,.0f}",
            f"{entry.padded_tokens_per_second:,.0f}",
            f"{latency.p50 * 1000:,.0f} / {latency.p90 * 1000:,.0f}",
            "n/a" if entry.round_cv is None else f"{entry.round_cv:.1%}",
            format_bytes(entry.memory.bytes),
            _mfu_cell(entry, footnotes),
            "–" if baseline is None else f"{entry.samples_per_second / baseline.samples_per_second:.2f}x",
        ])
    return rows, footnotes


TABLE_HEADERS = [
    "model", "device", "precision", "batch", "samples/s", "±95%", "tokens/s (real)", "tokens/s (padded)",
    "step p50 / p90 (ms)", "round CV", "peak memory", "MFU", "vs CPU fp32",
]


def _mfu_cell(entry: ThroughputResult, footnotes: dict[str, str]) -> str:
    """MFU, or a named measurement error when it exceeds 100%: no device beats its own peak, so the
    peak was not an upper bound (a busy machine while it was measured) and the ratio means nothing."""
    if entry.mfu is None:
        return NOT_MEASURED
    if entry.mfu <= 1:
        return f"{entry.mfu:.1%}"
    reason = (f"measurement error: training reached {entry.achieved_flops_per_second / 1e9:,.0f} GFLOP/s, above the peak "
              f"measured for it ({entry.peak.flops_per_second / 1e9:,.0f} GFLOP/s, MFU {entry.mfu:.0%}); the peak is not "
              "an upper bound (other work slowed its measurement), so no MFU is reported: re-run on a quiet machine")
    return f"error {footnotes.setdefault(reason, f'[{len(footnotes) + 1}]')}"


def format_bytes(value: int | None) -> str:
    if value is None:
        return NOT_MEASURED
    return f"{value / 2**30:.2f} GiB" if value >= 2**30 else f"{value / 2**20:.0f} MiB"


def gpu_against_cpu(results: Sequence[ThroughputResult], skipped: Sequence[ThroughputSkip]) -> list[str]:
    """Speedup of each GPU case over CPU fp32 at the same model and batch size, where both ran."""
    gpu = [r for r in results if device_kind(r.case.device) == "cuda"]
    if not gpu:
        reasons = sorted({s.reason for s in skipped if device_kind(s.case.device) == "cuda"})
        why = "; ".join(reasons) if reasons else "no GPU case ran in this session"
        return [f"GPU against CPU: {NOT_MEASURED}: {why}."]
    rows = []
    for result in gpu:
        baseline = cpu_baseline(result, results)
        rows.append([
            result.case.model, str(result.case.batch_size), f"{result.case.device} {result.case.precision}",
            f"{result.samples_per_second:.3g}",
            f"{baseline.samples_per_second:.3g}" if baseline else NOT_MEASURED,
            f"{result.samples_per_second / baseline.samples_per_second:.1f}x" if baseline else f"{NOT_MEASURED} (no CPU fp32 run)",
        ])
    return [markdown_table(["model", "batch", "GPU case", "GPU samples/s", "CPU fp32 samples/s", "speedup"], rows)]


def noise_warning(results: Sequence[ThroughputResult], *, max_cv: float = NOISY_ROUND_CV) -> list[str]:
    """A caution under the table when rounds that did identical work took visibly different times."""
    noisy = [r for r in results if r.round_cv is not None and r.round_cv > max_cv]
    if not noisy:
        return []
    cases = ", ".join(f"{r.case.id} ({r.round_cv:.1%})" for r in noisy)
    loads = [r.load_average for r in results if r.load_average is not None]
    load = f" The 1-minute load average reached {max(loads):.2f} on {os.cpu_count()} logical cores." if loads else ""
    return [
        f"**Noisy run**: round CV above {max_cv:.0%} in {cases}.{load} Identical rounds took different times, so "
        "other work was competing for the device: re-measure on a quiet machine before reading these figures "
        "as the hardware's.",
        "",
    ]


def _peak_lines(results: Sequence[ThroughputResult]) -> list[str]:
    # CPU peaks are measured before each case, so each case names the peak its MFU divides by.
    return list(dict.fromkeys(f"  - {r.case.id}: {r.peak.source}" for r in results))


def _machine_lines(results: Sequence[ThroughputResult], skipped: Sequence[ThroughputSkip]) -> list[str]:
    provenance = machine_provenance("cpu")
    cpu = provenance["device"]
    versions = ", ".join(f"{name} {version}" for name, version in provenance["versions"].items() if version)
    lines = [f"- CPU: {cpu['cpu']}, {cpu['cpu_count']} logical cores, {cpu['torch_threads']} torch threads"]
    loads = [f"{r.case.id} {r.load_average:.2f}" for r in results if r.load_average is not None]
    if loads:
        lines.append(f"- 1-minute load average after each case (above {cpu['cpu_count']} means other work was "
                     f"competing for the cores): {'; '.join(loads)}")
    cuda_devices = sorted({r.case.device for r in results if device_kind(r.case.device) == "cuda"})
    for device in cuda_devices:
        info: dict[str, Any] = device_info(device)
        lines.append(f"- GPU {device}: {info.get('gpu')}, {info.get('gpu_memory_gib')} GiB, compute capability "
                     f"{info.get('compute_capability')}; CUDA {info.get('cuda')}, cuDNN {info.get('cudnn')}, "
                     f"driver {info.get('driver') or 'unknown'}")
    if not cuda_devices:
        reasons = sorted({s.reason for s in skipped if device_kind(s.case.device) == "cuda" and s.case.device == "cuda:0"})
        lines.append(f"- GPU: none measured{': ' + reasons[0] if reasons else ''}")
    git = provenance["git"]
    lines += [
        f"- Libraries: {versions}",
        f"- Platform: {provenance['platform']['system']} {provenance['platform']['release']} ({provenance['platform']['machine']})",
        f"- Commit: {git['commit'] or 'unknown'}{' (uncommitted changes)' if git['dirty'] else ''}; report written {provenance['created']}",
    ]
    return lines


def throughput_markdown(results: Sequence[ThroughputResult], skipped: Sequence[ThroughputSkip], *, chart: str | None = THROUGHPUT_CHART) -> str:
    rows, footnotes = throughput_rows(results, skipped)
    lines = [
        "# Training throughput",
        "",
        "Real `Trainer` training steps (forward, backward, gradient clipping, AdamW and scheduler steps, through the "
        "Trainer's accelerator as `train()` uses it) on a fixed sample of MRPC training pairs: batches drawn with "
        f"seed {BATCH_SEED}, tokenized by the model's tokenizer (truncated at 128 tokens) and padded per batch by "
        "`DataCollatorWithPadding`, the same batches on every device and precision. A round is one pass over "
        "the batches; warm-up rounds are discarded; GPU steps are synchronised before the clock is read.",
        "",
    ]
    planted = sorted({fault for r in results for fault in r.faults})
    if planted:
        lines += [f"**Planted fault**: {', '.join(planted)} (extra compute in every training step, injected on purpose "
                  "with `--harness-fault`): these figures are slowed deliberately.", ""]
    plans = dict.fromkeys(
        f"{device_kind(r.case.device)}: {r.warmup_steps} warm-up steps, then {len(r.round_seconds)} timed rounds of "
        f"{len(r.step_seconds) // len(r.round_seconds)} steps" for r in results
    )
    if plans:
        lines += ["Steps per case, " + "; ".join(plans) + ".", ""]
    lines += ["## Results", "", markdown_table(TABLE_HEADERS, rows), ""]
    if footnotes:
        lines += [f"{marker} {reason}" for reason, marker in footnotes.items()] + [""]
    lines += noise_warning(results)
    lines += ["## GPU against CPU", "", *gpu_against_cpu(results, skipped), ""]
    if chart:
        lines += [f"![Training throughput by device and precision]({chart})", ""]
    lines += [
        "## How to read it",
        "",
        "- samples/s: training pairs per second over the timed rounds; ±95%: the relative half-width of its 95% "
        "interval, from the spread of the rounds (rounds are added, up to a cap, until it reaches 2%). Against a saved "
        "run with the same noise, a change smaller than about 1.4 times this cannot be told from noise: set "
        "`--benchmark-compare-fail` above it.",
        "- tokens/s (real): tokens the pairs have (attention mask); (padded): tokens computed (batch x padded length).",
        "- step p50 / p90: latency of one optimizer step over the timed steps, in milliseconds.",
        "- round CV: standard deviation over mean of the round times. Every round does the same work, so this "
        "is noise; above a few percent, the machine was busy with other work.",
        "- peak memory: the CUDA allocator's high-water mark on a GPU; the whole process's resident set, "
        "sampled, on a CPU (an upper bound: it includes everything the session loaded).",
        f"- MFU (model FLOPs utilisation): training FLOPs per step, `{FLOPS_FORMULA}` (B sequences padded to S "
        "tokens, L layers of width H, N_encoder the encoder's parameters, N_head the pooler and classifier; "
        "padded tokens count because they are computed), per second, over the device's peak:",
        *_peak_lines(results),
        "- vs CPU fp32: samples/s over the CPU fp32 case of the same model and batch size, measured in this run.",
        "",
        "## Published point for context",
        "",
        PUBLISHED_CONTEXT,
        "",
        "## Machine",
        "",
        *_machine_lines(results, skipped),
        "",
    ]
    return "\n".join(lines)


def write_throughput_reports(results: Sequence[ThroughputResult], skipped: Sequence[ThroughputSkip], reports_dir: Path,
                             step_summary: Path | None = None) -> list[Path]:
    """Write ``throughput.md`` and ``throughput.png``; append the Markdown to a CI step summary if given."""
    if not results and not skipped:
        return []
    chart = write_throughput_chart(results, skipped, Path(reports_dir) / THROUGHPUT_CHART)
    markdown = throughput_markdown(results, skipped, chart=chart.name)
    written = [atomic_write_text(Path(reports_dir) / THROUGHPUT_MARKDOWN, markdown), chart]
    append_to_step_summary(step_summary, markdown.replace(f"![Training throughput by device and precision]({chart.name})", ""))
    return written

