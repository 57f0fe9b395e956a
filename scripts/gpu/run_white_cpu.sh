#!/usr/bin/env bash
# The lent GPU's command for issue 29's recipe (scripts/gpu/README.md): fast_unet trained from
# scratch for MINUTES, continuing from .gpu/state/ when a previous call's files are there
# (carry .gpu: the packed data and that state); weights, state and log into $OUT.
#   MINUTES=7.5 bash scripts/gpu/run_white_cpu.sh                       (on the device)
#   OUT=/tmp/gpu-dry ARGS="--device cpu --steps 3 --batch 4 --patch 64 --procedural 12" \
#     bash scripts/gpu/run_white_cpu.sh                                 (the dry run, here)
set -euo pipefail
cd "$(dirname "$0")/../.."
MINUTES=${MINUTES:-7.5}
# the cosine schedule spans this many training minutes over all calls (~16 calls of 7.5)
SCHEDULE_MINUTES=${SCHEDULE_MINUTES:-120}
PY=${PY:-python3}
export PYTHONUNBUFFERED=1
: "${OUT:?set OUT to the output folder}"
[ -f .gpu/data.npz ] || { echo "no .gpu/data.npz: run scripts/gpu/pack_data.py here first" >&2; exit 2; }
command -v nvidia-smi >/dev/null && nvidia-smi -L
"$PY" -c "import torch, numpy, scipy, skimage, safetensors; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
RESUME=()
if [ -f .gpu/state/white_cpu_state.safetensors ]; then RESUME=(--resume .gpu/state); fi
read -r -a EXTRA <<< "${ARGS:-}"
"$PY" scripts/gpu/train_gpu.py --recipe white_cpu --minutes "$MINUTES" \
    --schedule-minutes "$SCHEDULE_MINUTES" "${RESUME[@]}" --out "$OUT" "${EXTRA[@]}"
ls -la "$OUT"
