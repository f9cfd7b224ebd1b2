#!/usr/bin/env bash
# What slow-steps-N does to samples/s, and what the same-run relative check sees of it.
#
# For each N (0 = no fault) one pytest session measures MiniLM and bert-base at batch 8 in fp32 on
# the CPU and runs the relative check between them (MiniLM >= 2x bert-base), with
# --harness-fault=slow-steps-N; each session's reports go to WORKDIR/N/. Then prints a table of
# samples/s per N against N = 0, and each session's relative-check ratio.
#
#   bash docs/measurements/slow-steps-effect.sh WORKDIR [N ...]     (default N: 0 10 25 50 100)
#
# Needs .venv (bash .ci/setup) and the data beside the checkout. About 2 minutes per N on two CPU
# cores; run nothing else meanwhile.
set -euo pipefail
work=${1:?usage: slow-steps-effect.sh WORKDIR [N ...]}
shift
levels=("${@:-0 10 25 50 100}")
read -r -a levels <<<"${levels[*]}"
source "$(dirname "$0")/measurement-env.sh"  # $repo, $python, offline, the data
mkdir -p "$work"
work=$(cd "$work" && pwd)
cd "$repo"
for n in "${levels[@]}"; do
  fault=()
  [ "$n" -gt 0 ] && fault=("--harness-fault=slow-steps-$n")
  echo "slow-steps-effect: N = $n"
  mkdir -p "$work/$n"
  "$python" -m pytest -p no:cacheprovider -q --harness-no-history --harness-reports-dir="$work/$n" "${fault[@]}" \
    "benchmarks/test_throughput.py::test_training_throughput[minilm-cpu-fp32-b8]" \
    "benchmarks/test_throughput.py::test_training_throughput[arch:bert-base-uncased-cpu-fp32-b8]" \
    "benchmarks/test_throughput.py::test_minilm_trains_faster_than_bert_base_on_cpu" >"$work/$n/pytest.log" 2>&1 \
    || echo "slow-steps-effect: N = $n: the session failed (see $work/$n/pytest.log)"
done

"$python" - "$work" "${levels[@]}" <<'PY'
import json
import sys
from pathlib import Path

work, levels = Path(sys.argv[1]), [int(n) for n in sys.argv[2:]]
figures = {}
for n in levels:
    for bench in json.loads((work / str(n) / "benchmarks.json").read_text())["benchmarks"]:
        info = bench["extra_info"]
        figures[(n, info["model"])] = (info["samples_per_second"], info["mean_half_width_95"], info["faults"])
print("| N | case | samples/s | 95% half-width | vs N = 0 | faults recorded |")
print("| - | ---- | --------- | -------------- | -------- | --------------- |")
for (n, model), (rate, half, faults) in sorted(figures.items(), key=lambda item: (item[0][1], item[0][0])):
    base = figures.get((0, model), (None,))[0]
    change = f"{rate / base - 1:+.1%}" if base else "-"
    print(f"| {n} | {model}-cpu-fp32-b8 | {rate:.3g} | ±{half:.1%} | {change} | {', '.join(faults) or 'none'} |")
print()
print("| N | MiniLM / bert-base samples/s | relative check (>= 2x) |")
print("| - | ---------------------------- | ---------------------- |")
for n in levels:
    fast, slow = figures.get((n, "minilm")), figures.get((n, "arch:bert-base-uncased"))
    if fast and slow:
        ratio = fast[0] / slow[0]
        print(f"| {n} | {ratio:.2f}x | {'pass' if ratio >= 2 else 'FAIL'} |")
PY
