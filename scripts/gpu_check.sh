#!/usr/bin/env bash
# The one prepared run for a lent GPU machine (device tool; 15 device-minutes a session, 10 a command):
# install, the GPU test lane, the fk-mnist throughput slice; everything it measures lands in $OUT.
# Prepare here first:  make gpu-data   (copies MNIST into .data/, git-ignored, to pass with carry)
# Then, on the device: run(command="bash scripts/gpu_check.sh", carry=[".data"], timeout_s=560)
set -uo pipefail
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
python3 -m pip install -q --no-deps --no-build-isolation -e . 2>&1 | tail -2
nvidia-smi -L | tee "$OUT/device.txt"
nvidia-cuda-mps-control -d 2>/dev/null && echo "CUDA MPS daemon started" | tee -a "$OUT/device.txt"
timeout 200 python3 -m pytest -m gpu -q -rs -p no:cacheprovider 2>&1 | tee "$OUT/test-gpu.txt" | tail -5
timeout 300 python3 -m tools.bench_sweep --data-root .data --out "$OUT/bench-sweep.json" \
    ${BENCH_SWEEP_ARGS:-} 2>&1 | tee "$OUT/bench-sweep.txt" | tail -25
