#!/usr/bin/env bash
# The checks that need a GPU, in about 10 minutes, on one CUDA machine with torch installed:
#   1. the resume tests on CUDA (bit-exact with --deterministic), and the device tests;
#   2. how exact a resumed run is with and without --deterministic (bench/resume_exactness.py);
#   3. a bf16 + channels_last training run of AlexNet, and one choosing the memory format itself;
#   4. the training benchmark with the whole-study projection, and nvjpeg decoding.
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

# 1. Resume tests, CPU and CUDA parametrisations (about 1 minute).
timeout 120 python3 -m pytest -q -p no:cacheprovider -rs \
    tests/runner/test_train.py -k "interrupted or resume" tests/runner/test_device.py \
    2>&1 | tee "$LOGS/tests.txt"

# 2. Exactness of a resumed run on CUDA, with and without --deterministic (about 1 minute).
timeout 100 python3 bench/resume_exactness.py --device cuda 2>&1 | tee "$LOGS/exactness.txt"

# 3. bf16 + channels_last training, then the memory format chosen by timing (about 2 minutes;
#    the embedded dataset is generated first). summary.json holds checkpoint_seconds.
for format in channels_last auto; do
    start=$(date +%s%N)
    timeout 100 python3 -m archspec train architectures/alexnet.yaml --task domain --epochs 6 \
        --device cuda --precision bf16 --memory-format "$format" --batch-size 128 \
        --out "$LOGS/runs" --name "alexnet-$format" --quiet 2>&1 | tee "$LOGS/train-$format.txt"
    echo "wall milliseconds: $((($(date +%s%N) - start) / 1000000))" | tee -a "$LOGS/train-$format.txt"
    cat "$LOGS/runs/alexnet-$format/metrics.csv" "$LOGS/runs/alexnet-$format/summary.json" \
        >> "$LOGS/train-$format.txt"
    rm -f "$LOGS/runs/alexnet-$format/"*.pt  # too big to bring back
done

# 4. The training benchmark and the whole-study projection (about 3 minutes), then decoding
#    with nvjpeg against the CPU threads.
timeout 300 python3 bench/bench_train.py --device cuda --study --quick 2>&1 | tee "$LOGS/bench_train.txt"
timeout 120 python3 bench/bench_decode.py --device cuda --rounds 3 2>&1 | tee "$LOGS/bench_decode.txt"
