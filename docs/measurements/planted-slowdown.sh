#!/usr/bin/env bash
# A planted slowdown, found by `harness history` at the commit where it began.
#
# Clones this checkout into WORKDIR/project and makes RUNS commits there; before each commit's
# benchmark the clone gets one more commit, and commit FROM is the one that plants the fault (it
# adds `--harness-fault=FAULT` to the project's pytest addopts, as a real regression lands in a
# commit). Every commit runs `pytest benchmarks` for one throughput case, recording into
# WORKDIR/history.sqlite and logging to the MLflow tracking URI sqlite:///WORKDIR/mlflow.db; then
# `harness history` reads the store and writes its report to WORKDIR/history/, and the same series
# is read back from MLflow. Nothing outside WORKDIR is written (the fine-tune cache is not used: a
# throughput case trains from the model's files each time).
#
#   bash docs/measurements/planted-slowdown.sh WORKDIR [RUNS=12] [FROM=7] [FAULT=slow-steps-25] [CASE=minilm-cpu-fp32-b8]
#
# Needs .venv (bash .ci/setup) and the data beside the checkout (../shared/data/glue/MRPC, or
# HARNESS_DATA_DIR). Takes about a minute a commit on two CPU cores; run nothing else meanwhile,
# or the noise of the other work is what the series shows.
set -euo pipefail
work=${1:?usage: planted-slowdown.sh WORKDIR [RUNS] [FROM] [FAULT] [CASE]}
runs=${2:-12}
from=${3:-7}
fault=${4:-slow-steps-25}
case=${5:-minilm-cpu-fp32-b8}
source "$(dirname "$0")/measurement-env.sh"  # $repo, $python, offline, the data

mkdir -p "$work"
work=$(cd "$work" && pwd)
if [ -e "$work/project" ] || [ -e "$work/history.sqlite" ]; then
  echo "planted-slowdown: $work already holds a project or a store; give an empty folder" >&2
  exit 2
fi
git clone -q "$repo" "$work/project"
cd "$work/project"
git config user.name "planted-slowdown"
git config user.email "planted-slowdown@localhost"

for i in $(seq 1 "$runs"); do
  if [ "$i" -eq "$from" ]; then
    sed -i "s/^addopts = \"\(.*\)\"$/addopts = \"\1 --harness-fault=$fault\"/" pyproject.toml
    grep -q -- "--harness-fault=$fault" pyproject.toml || { echo "planted-slowdown: could not plant $fault" >&2; exit 1; }
    git commit -q -am "plant $fault (run $i)"
  else
    git commit -q --allow-empty -m "run $i"
  fi
  echo "planted-slowdown: run $i of $runs at commit $(git rev-parse --short HEAD)$([ "$i" -ge "$from" ] && echo ", $fault on")"
  "$python" -m pytest "benchmarks/test_throughput.py::test_training_throughput[$case]" -p no:cacheprovider -q \
    --harness-history="$work/history.sqlite" --harness-reports-dir="$work/reports/run-$i" \
    --harness-mlflow-tracking-uri="sqlite:///$work/mlflow.db" \
    | grep -E "samples/s|recorded|logged|passed|failed"
done

"$python" -m harness history --history "$work/history.sqlite" --output-dir "$work/history"

echo
echo "The same series, read back from MLflow (sqlite:///$work/mlflow.db):"
(cd "$work" && "$python" - "$work/mlflow.db" <<'PY'
import sys
from mlflow.tracking import MlflowClient

client = MlflowClient(f"sqlite:///{sys.argv[1]}")
experiment = client.get_experiment_by_name("harness")
runs = client.search_runs([experiment.experiment_id], "tags.`harness.kind` = 'throughput'",
                          order_by=["attributes.start_time ASC"])
print("| commit | samples/s | faults | series |")
print("| ------ | --------- | ------ | ------ |")
for run in runs:
    print(f"| {run.data.tags['harness.commit'][:10]} | {run.data.metrics['samples_per_s']:.4g} | "
          f"{run.data.params['faults']} | {run.data.tags['harness.series']} |")
PY
)
