#!/usr/bin/env bash
# The checks that need a GPU, in about 5 minutes, on one CUDA machine with torch installed:
#   1. the CUDA tests: no wait for the GPU inside an epoch's steps, the device, resume on CUDA;
#   2. where a training step's time goes beyond the model's (bench/step_anatomy.py);
#   3. the training benchmark with the whole-study projection and nvjpeg decoding.
# (bench/resume_exactness.py --device cuda and bench/bench_decode.py --device cuda are the
# longer checks of resuming and decoding, for a machine with more time.)
# Run from the repository root:  bash bench/gpu_check.sh   (logs go to $OUT, else /tmp/gpu_check)
# Wheels in .whl/ (e.g. pydantic and torchinfo, where the machine lacks them) are installed first.
set -x
LOGS="${OUT:-/tmp/gpu_check}"
mkdir -p "$LOGS"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
# Deterministic cuBLAS needs this before CUDA starts in the test process.
export CUBLAS_WORKSPACE_CONFIG=:4096:8
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$LOGS/gpu.txt"
python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name())" | tee -a "$LOGS/gpu.txt"

# 1. The CUDA tests: no wait for the GPU inside an epoch's steps, the device, resume on CUDA.
timeout 120 python3 -m pytest -q -p no:cacheprovider -rs tests/runner/test_gpu_sync.py \
    tests/runner/test_batches.py tests/runner/test_device.py tests/runner/test_train.py -k "cuda or sync or device or batch" \
    2>&1 | tee "$LOGS/tests.txt"

# 2. Where a step's time goes beyond the model's own work (under a minute).
timeout 90 python3 bench/step_anatomy.py --device cuda 2>&1 | tee "$LOGS/step_anatomy.txt"

# 3. The training benchmark (5 rounds: enough for a verdict) and the whole-study projection,
#    with decoding by nvjpeg against the CPU threads (about 4 minutes).
timeout 330 python3 bench/bench_train.py --device cuda --study 2>&1 \
    | tee "$LOGS/bench_train.txt"
