#!/usr/bin/env bash
# The command the lent GPU runs (scripts/gpu/README.md): the three shipped networks
# fine-tuned side by side on the one GPU for MINUTES each; weights and logs into $OUT.
set -uo pipefail
MINUTES=${MINUTES:-7}
export PYTHONUNBUFFERED=1
nvidia-smi -L
python3 -c "import torch, numpy, scipy, skimage, safetensors; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
for recipe in white correlated default; do
    python3 scripts/gpu/train_gpu.py --recipe "$recipe" --minutes "$MINUTES" --out "$OUT" \
        > "/tmp/$recipe.stdout" 2>&1 &
done
wait
for recipe in white correlated default; do echo "== $recipe"; tail -n 8 "/tmp/$recipe.stdout"; done
ls -la "$OUT"
