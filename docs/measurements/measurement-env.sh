# Sourced by the measurement scripts beside it: the checkout's venv, offline, the data beside the
# checkout, and nothing of the user's own history, MLflow or CI summary settings. Sets $repo, $python.
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
python=$repo/.venv/bin/python
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export HARNESS_DATA_DIR=${HARNESS_DATA_DIR:-$(cd "$repo/.." && pwd)/shared/data/glue/MRPC}
unset HARNESS_HISTORY HARNESS_MLFLOW_TRACKING_URI GITHUB_STEP_SUMMARY
