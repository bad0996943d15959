#!/usr/bin/env bash
# GPU training (issue 34): one command on an NVIDIA GPU machine (one H200 here: 16 cores, torch preinstalled, no
# network) trains a preset from the training photos packed small (vidcolor pack-photos) and leaves the weights
# (fp16 .pt), their card (.json) and the training log in OUT. The defaults are the shipped models' recipe
# (vidcolor/train/README.md): the bins head, --rebalance 0, --source-cap 1500, the deepest encoder stage
# fine-tuned from half-way, warm-started from the shipped weights; bfloat16 autocast and channels-last on CUDA
# (vidcolor/train/loop.py), the photos decoded by DataLoader workers (default: one a core, less one). The steps'
# time caps add up to 9 min 40 s with the default 7.5 training minutes, so the command ends within a 600-s call;
# with the machine's start (a minute or two) it is done in 12. Training needs no wheels (torch, OpenCV, numpy
# and tqdm are on the machine; `vidcolor train` loads no PyAV); any in .whl/ are installed as gpu_check.sh does.
#
#   bash benchmarks/gpu_train.sh --out "$OUT" [--model fast|quality] [--minutes 7.5] [--batch 128] [--workers N]
#        [--packs packs] [--init WEIGHTS|imagenet] [--cpu] [--dry-run] [-- more vidcolor train options]
#
# Prepare, here: pack the photos once (86.3 MiB in 5 shards of 17.3 MiB; 80 s on one thread of this VM):
#   vidcolor pack-photos --threads 1           # ../shared/data/photos/train -> packs/ (git-ignored)
# The checkout (about 42 MiB) travels with every call, 64 MiB at most, so each call brings one shard; what a
# call brought stays while the machine is warm (each call within 30 s of the last one's end). Device `run` calls:
#   1-4: command "ls -l packs", carry ["packs/index.json", "packs/photos-00K.pack.npz"] for K = 0, 1, 2, 3
#   5:   command "bash benchmarks/gpu_train.sh --out $OUT", carry ["packs/index.json",
#        "packs/photos-004.pack.npz"], timeout_s 600
# It trains on the shards that are there (each a fair sample of every collection: the packer shuffles), and says
# which. `--init imagenet` starts from the ImageNet encoder instead: carry its .tflite into packs/ too, with
# `-- --encoder packs/mobilenet_v2_1.0_224_quant.tflite`, and the tflite wheel in .whl/.
#
# Bring it back: the reply's files_at holds gpu-MODEL.pt, gpu-MODEL.json, logs/train.log, steps.tsv and
# gpu_util.csv. Then, here, render it as the shipped model is and score it against the shipped one:
#   mkdir -p runs && cp FILES_AT/gpu-fast.pt FILES_AT/gpu-fast.json runs/
#   python -c "from vidcolor.models.checkpoint import set_rendering as s; \
#       s('runs/gpu-fast.pt', 'runs/gpu-fast-render.pt', temperature=0.5, boost=0.15, chroma=1.0)"
#   vidcolor eval ../shared/data/photos/benchmark --weights runs/gpu-fast-render.pt --backend cpu \
#       --json runs/gpu-fast-benchmark.json --card runs/gpu-fast.json      # and ../shared/data/photos/holdout
#
#   bash benchmarks/gpu_train.sh --out /tmp/x --dry-run                # anywhere: the plan
#   bash benchmarks/gpu_train.sh --out /tmp/x --cpu --minutes 1 --batch 16 --workers 1 -- --threads 1   # CPU check
set -u

usage() { sed -n '2,/^set -u/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; }

out="${OUT:-gpu-train}" dry_run=0 cpu=0 model=fast minutes=7.5 batch=128 packs=packs init=""
workers=$(( $(nproc) > 1 ? $(nproc) - 1 : 1 ))
while [ $# -gt 0 ]; do
    case "$1" in
        --out|--model|--minutes|--batch|--workers|--packs|--init)
            [ $# -ge 2 ] || { echo "gpu_train.sh: $1 needs a value" >&2; exit 2; }
            case "$1" in
                --out) out="$2" ;; --model) model="$2" ;; --minutes) minutes="$2" ;; --batch) batch="$2" ;;
                --workers) workers="$2" ;; --packs) packs="$2" ;; --init) init="$2" ;;
            esac
            shift 2 ;;
        --cpu) cpu=1; shift ;;
        --dry-run) dry_run=1; shift ;;
        --) shift; break ;;
        -h|--help) usage; exit 0 ;;
        *) echo "gpu_train.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
extra=("$@")  # after --: more `vidcolor train` options (a later one overrides the same one above)
case "$model" in fast|quality) ;; *) echo "gpu_train.sh: --model is fast or quality, not $model" >&2; exit 2 ;; esac
[[ "$minutes" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "gpu_train.sh: --minutes must be a number" >&2; exit 2; }
out="$(realpath -m "$out")"  # as the caller meant it, before moving to the checkout's root
cd "$(dirname "$0")/.." || exit 2
mkdir -p "$out/logs" || exit 2
steps="$out/steps.tsv"
printf 'name\tstatus\tseconds\tcommand\n' > "$steps"
work="${TMPDIR:-/tmp}/vidcolor-gpu-train"  # the resumable state (tens of MiB) stays on the machine
case "$init" in
    "") init_args=(--init-from "vidcolor/weights/$model.pt") ;;
    imagenet) init_args=() ;;
    *) init_args=(--init-from "$init") ;;
esac
train_cap=$(python3 -c "import math; print(math.ceil(float('$minutes') * 60) + 100)")  # start-up and saving

source benchmarks/steps.sh  # step NAME SECONDS COMMAND...

if [ "$cpu" = 1 ]; then
    export CUDA_VISIBLE_DEVICES=""  # the same path on the CPU: float32 (autocast is for CUDA only), one device
fi
if [ "$dry_run" = 0 ]; then
    if [ "$cpu" = 0 ]; then
        python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" || {
            echo "gpu_train.sh: no CUDA GPU visible to PyTorch here (--cpu trains on the CPU, --dry-run shows" \
                "the plan)" >&2
            exit 2; }
    fi
    install_carried_wheels || exit 2
    export PYTHONPATH="$PWD:${PYTHONPATH:-}" PYTHONUNBUFFERED=1 TQDM_MININTERVAL=15  # a progress line each 15 s
    ls "$packs"/*.pack.npz > /dev/null 2>&1 || {
        echo "gpu_train.sh: no photo packs in $packs (vidcolor pack-photos makes them; see --help)" >&2; exit 2; }
    echo "packs: $(cd "$packs" && ls *.pack.npz | tr '\n' ' ')($(du -shL "$packs" | cut -f1))"
    rm -rf "$work" && mkdir -p "$work" || exit 2
    if [ "$cpu" = 0 ] && command -v nvidia-smi > /dev/null; then  # is the GPU kept busy, or waiting for data?
        nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used,power.draw --format=csv -l 5 \
            > "$out/gpu_util.csv" 2>&1 &
        monitor=$!
    fi
fi

echo "gpu_train.sh: $model for $minutes min, batch $batch, $workers loader workers, from $packs/;" \
    "the steps' time caps add up to $((30 + train_cap)) s"
step environment 30 bash -c "nvidia-smi || true; nproc; python3 -c 'import torch, cv2, numpy, tqdm; print(torch.__version__, torch.version.cuda, torch.cuda.is_available() and torch.cuda.get_device_name(), cv2.__version__, numpy.__version__, tqdm.__version__)'"
step train "$train_cap" python3 -m vidcolor train "$packs" --model "$model" --bins "${init_args[@]}" --rebalance 0 \
    --source-cap 1500 --finetune-from 0.5 --minutes "$minutes" --batch "$batch" --workers "$workers" \
    --out "$work/gpu-$model.pt" "${extra[@]}"
if [ -n "${monitor:-}" ]; then kill "$monitor" 2> /dev/null; fi
if [ "$dry_run" = 0 ]; then
    cp "$work/gpu-$model.pt" "$work/gpu-$model.json" "$out/" 2> /dev/null || {
        echo "gpu_train.sh: training wrote no weights (see $out/logs/train.log)" >&2; exit 1; }
    python3 -c "
import json, sys
t = json.load(open(sys.argv[1]))['training']
print(f\"{t['device']}: {t['steps']} steps of {t['config']['batch']} in {t['train_minutes']} min \"
      f\"({t['images_seen_total'] / (t['train_minutes'] * 60):.0f} crops/s) on {t['data']['photos']} photos; \"
      f\"loss {t['loss_first_10']:.3f} (first 10 steps) -> {t['loss_last_100']:.3f} (last 100)\")
" "$out/gpu-$model.json"
    ls -l "$out" "$out/logs"
fi
