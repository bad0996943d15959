#!/usr/bin/env bash
# The GPU check: one run on an NVIDIA GPU machine (an H100/H200 here), about 8 minutes, that measures what the
# CPU-only CI cannot: the CUDA tests, `vidcolor bench --backends cuda` at 480p/720p/1080p for fast and quality,
# the models alone at batch 1/8/32, live latency on a loopback UDP stream, and a 2-minute training step rate
# (the steps' time caps add up to 7 min 55 s).
# Everything it needs travels with the checkout: the samples for footage (no ../shared), and the Python package
# the GPU image lacks, PyAV, as a wheel cut into parts in .whl/ that fit beside the checkout in a call's 64 MiB:
# `bash benchmarks/gpu_wheels.sh` makes them and prints the calls that bring them over; the parts are joined here.
# Each step has its own time cap and is recorded (exit status, seconds, log) whatever it does; the figures and
# a summary land in OUT as gpu_check.json and gpu_check.md (benchmarks/gpu_check.py).
#
#   bash benchmarks/gpu_check.sh --out "$OUT"          # on the GPU machine
#   bash benchmarks/gpu_check.sh --out /tmp/x --dry-run  # anywhere: the plan, and an empty report
set -u

usage() { sed -n '2,/^set -u/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; }

out="${OUT:-gpu-check}" dry_run=0
while [ $# -gt 0 ]; do
    case "$1" in
        --out) [ $# -ge 2 ] || { echo "gpu_check.sh: --out needs a folder" >&2; exit 2; }; out="$2"; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "gpu_check.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
out="$(realpath -m "$out")"  # as the caller meant it, before moving to the checkout's root
cd "$(dirname "$0")/.." || exit 2
mkdir -p "$out/logs" || exit 2
steps="$out/steps.tsv"
printf 'name\tstatus\tseconds\tcommand\n' > "$steps"

source benchmarks/steps.sh  # step NAME SECONDS COMMAND...

if [ "$dry_run" = 0 ]; then
    python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" || {
        echo "gpu_check.sh: no CUDA GPU visible to PyTorch here (--dry-run shows the plan)" >&2; exit 2; }
    install_carried_wheels || exit 2
    export PYTHONPATH="$PWD:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
fi

step environment 20 bash -c "nvidia-smi; python3 -c 'import torch, av; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(), av.__version__)'"
step cuda_tests 60 python3 -m pytest -q -p no:cacheprovider tests/test_backends.py tests/test_model.py -k "cuda or tensorrt"
for model in fast quality; do
    step "bench_$model" 75 python3 -m vidcolor bench --backends cuda --model "$model" --sizes 480p,720p,1080p \
        --batches 1,8 --frames 90 --clip samples/indoor_gray.mp4 --out "$out/bench" --name "bench-$model"
done
step model_only 40 python3 -m vidcolor bench --backends cuda --model-only --batches 1,8,32 --out "$out/bench" \
    --name bench-model-only
step live_latency 45 python3 benchmarks/live_latency.py --backend cuda --clip samples/indoor_gray.mp4 \
    --sizes 480p,1080p --frames 28 --json "$out/live_latency.json"
step training_photos 20 python3 benchmarks/gpu_check.py photos samples "$out/photos"
step training_rate 140 python3 -m vidcolor train "$out/photos" --model fast --bins --init-from vidcolor/weights/fast.pt \
    --minutes 2 --workers 4 --out "$out/train-probe.pt" -q
python3 benchmarks/gpu_check.py report "$out"
