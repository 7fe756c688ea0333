#!/usr/bin/env bash
# The one prepared run for a lent GPU machine (device tool: 15 device-minutes a session, 10 a command).
# In order, inside BUDGET_S seconds (default 540: 9 minutes) from its start, everything into $OUT:
#   1. install albench (INSTALL=0 skips it: a CPU rehearsal in an existing environment)
#   2. the GPU test lane, as `make test-gpu` (pytest -m gpu)    → test-gpu.txt (its summary line last)
#   3. the bench-sweep throughput slice (as `make bench-sweep`)  → bench-sweep.json, bench-sweep.txt
#   4. the fk-mnist sweep resumed from the committed archive of earlier GPU runs (ARCHIVE) and the CPU runs
#      of fk-mnist's own cells (CPU_ARCHIVES: every committed results/archive/fk-mnist-*.tar.gz), time-boxed
#      with `albench run --stop-after` to what is left: first the cells no CPU run has computed
#      (suites/fk-mnist-gpu-first.yaml: varR K128, E4, MC pseudo-labels K = 32, VAAL at both ratios),
#      then the 1x FK rows (suites/fk-mnist-1-fk.yaml), then the rest of fk-mnist; the slice's cells
#      of step 3 join the store too        → sweep.txt, fk-mnist.tar.gz (the archive; volumes of at most
#      MAX_MIB: fk-mnist.part2.tar.gz, ... when it is larger)
#   summary.txt: the device, each step's seconds and outcome.
# 5 files and the archive's volumes come back (the device tool takes 8 files of 16 MiB each); the
# script warns when that does not fit. After it: copy fk-mnist*.tar.gz into results/archive/ (over
# the old volumes) and bench-sweep.json over reports/bench-sweep.json, and commit them (README:
# "Time-boxed runs and moving stores between machines").
#
# Prepare here first:  make gpu-data   (copies MNIST into .data/, git-ignored, to pass with carry)
# Then, on the device: run(command="bash scripts/gpu_check.sh", carry=[".data"], timeout_s=600)
# CPU rehearsal (tiny): INSTALL=0 BUDGET_S=150 DATA_ROOT=... BENCH_SWEEP_ARGS="--suite quick --rounds 1"
#   SWEEP_SUITES=quick ARCHIVE_SUITE=quick ARCHIVE=/tmp/x.tar.gz OUT=/tmp/out bash scripts/gpu_check.sh
set -uo pipefail
START=$SECONDS
OUT=${OUT:-/tmp/gpu-check}
PY=${PY:-python3}
INSTALL=${INSTALL:-1}
BUDGET_S=${BUDGET_S:-540}             # the whole script; the device command's limit is 600 s
TEST_GPU_S=${TEST_GPU_S:-150}         # at most, for the GPU test lane
BENCH_S=${BENCH_S:-150}               # at most, for the throughput slice
RESERVE_S=${RESERVE_S:-40}            # kept back for the export and the summary
STOP_GRACE=${STOP_GRACE:-20s}         # cells still inside a round this long after the deadline are stopped
DATA_ROOT=${DATA_ROOT:-.data}
ARCHIVE=${ARCHIVE:-results/archive/fk-mnist.tar.gz}   # and its volumes NAME.part2.tar.gz, ... if any
MAX_MIB=${MAX_MIB:-15}                # the exported archive's volumes (files over 16 MiB do not come back)
ARCHIVE_SUITE=${ARCHIVE_SUITE:-fk-mnist}
# committed CPU runs of fk-mnist's own cells (same cell ids): imported too, so the sweep skips them
CPU_ARCHIVES=${CPU_ARCHIVES:-$(ls results/archive/fk-mnist-*.tar.gz 2>/dev/null)}  # as make table-fk-mnist
SWEEP_SUITES=${SWEEP_SUITES:-fk-mnist-gpu-first fk-mnist-1-fk fk-mnist}
WORKERS=${WORKERS:-8}                 # local workers sharing the GPU (MPS), 16 cores / 8 = 2 threads each
BENCH_SWEEP_ARGS=${BENCH_SWEEP_ARGS:---workers $WORKERS}
RESULTS=${RESULTS:-$(mktemp -d /tmp/albench-gpu-XXXXXX)}
BENCH_RESULTS=$(mktemp -d /tmp/albench-bench-XXXXXX)
ALBENCH=("$PY" -m benchmark.cli)
mkdir -p "$OUT"
: >"$OUT/summary.txt"

note() { echo "[$((SECONDS - START)) s] $*" | tee -a "$OUT/summary.txt"; }
left() { echo $((BUDGET_S - (SECONDS - START) - RESERVE_S)); }

if [ "$INSTALL" = 1 ]; then
    "$PY" -m pip install -q --no-deps --no-build-isolation -e . 2>&1 | tail -2
    note "installed"
fi
note "device: $(nvidia-smi -L 2>/dev/null | tr '\n' ' ' || true)$(command -v nvidia-smi >/dev/null || echo "no GPU: $(uname -m), $(nproc) cores")"
if command -v nvidia-cuda-mps-control >/dev/null && nvidia-cuda-mps-control -d 2>/dev/null; then
    note "CUDA MPS daemon started"
fi

# 2. the GPU lane (the command `make test-gpu` runs, without its venv install)
timeout -k 10 "$TEST_GPU_S" "$PY" -m pytest -m gpu -q -rs -p no:cacheprovider >"$OUT/test-gpu.txt" 2>&1
note "test-gpu: exit $? — $(grep -E '(passed|failed|skipped|error|no tests ran)' "$OUT/test-gpu.txt" | tail -1)"

# 3. the throughput slice (the command `make bench-sweep` runs)
timeout -k 10 "$BENCH_S" "$PY" -m tools.bench_sweep --data-root "$DATA_ROOT" --results "$BENCH_RESULTS" --out "$OUT/bench-sweep.json" $BENCH_SWEEP_ARGS >"$OUT/bench-sweep.txt" 2>&1
note "bench-sweep: exit $? — $(tr -d '\n ' <"$OUT/bench-sweep.json" 2>/dev/null | grep -oE '"cells_per_hour":[^,]*,' || echo 'no bench-sweep.json (timed out?)')"

# 4. the sweep, resumed from the archive, with the slice's finished cells added (same cell ids when
#    the slice ran all rounds; otherwise they are not cells of the suite and are left out)
volumes=$(ls "$ARCHIVE" "${ARCHIVE%.tar.gz}".part*.tar.gz $CPU_ARCHIVES 2>/dev/null)
if [ -n "$volumes" ]; then
    "${ALBENCH[@]}" store import $volumes --results "$RESULTS" 2>&1 | tee -a "$OUT/sweep.txt"
fi
"${ALBENCH[@]}" store export "$ARCHIVE_SUITE" "$BENCH_RESULTS/slice.tar.gz" --results "$BENCH_RESULTS" >>"$OUT/sweep.txt" 2>&1 \
    && "${ALBENCH[@]}" store import "$BENCH_RESULTS/slice.tar.gz" --results "$RESULTS" >>"$OUT/sweep.txt" 2>&1
note "$(grep -h 'imported' "$OUT/sweep.txt" | tail -2 | cut -c1-200 | tr '\n' ' ')"
for suite in $SWEEP_SUITES; do
    budget=$(left)
    if [ "$budget" -lt 20 ]; then
        note "$suite: not started, ${budget} s left"
        continue
    fi
    timeout -k 10 $((budget + 90)) "${ALBENCH[@]}" run "$suite" --data-root "$DATA_ROOT" --results "$RESULTS" --no-progress \
        --executor local --workers "$WORKERS" --stop-after "${budget}s" --stop-grace "$STOP_GRACE" >>"$OUT/sweep.txt" 2>&1
    code=$?
    note "$suite (--stop-after ${budget}s): exit $code — $(grep -E '^albench: --stop-after' "$OUT/sweep.txt" | tail -1)"
done
"${ALBENCH[@]}" store export "$ARCHIVE_SUITE" "$OUT/$(basename "$ARCHIVE_SUITE" .yaml).tar.gz" --max-mib "$MAX_MIB" --results "$RESULTS" >>"$OUT/sweep.txt" 2>&1
note "$(tail -1 "$OUT/sweep.txt")"
note "store: $("${ALBENCH[@]}" status "$ARCHIVE_SUITE" --results "$RESULTS" 2>&1 | head -1)"

# what comes back: at most 8 files of 16 MiB each
files=$(find "$OUT" -type f | wc -l)
big=$(find "$OUT" -type f -size +16M)
[ "$files" -le 8 ] || note "WARNING: $files files in $OUT; the device tool returns 8"
[ -z "$big" ] || note "WARNING: over 16 MiB, will not come back: $big"
note "done in $((SECONDS - START)) s"
rm -rf "$BENCH_RESULTS"
