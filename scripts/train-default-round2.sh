#!/usr/bin/env bash
# Train, or continue, the round-2 default model (configs/default_round2.yaml). Safe to stop
# at any moment and to run again: it resumes exactly from the last finished epoch, from the
# run folder when it is there, else from the state committed in training_state/ (a new
# machine). The same script runs on a GPU: DEVICE=cuda scripts/train-default-round2.sh
#
#   scripts/train-default-round2.sh            # train / continue
#   scripts/train-default-round2.sh --save     # copy the run's resumable state into training_state/
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN:-runs/default_round2}
STATE=training_state/default_round2
DEVICE=${DEVICE:-auto}
MEDIDENOISE=${MEDIDENOISE:-.venv/bin/medidenoise}
KEEP=(resume.safetensors best.safetensors metrics.csv metrics.json config.yaml)

if [ "${1:-}" = "--save" ]; then
  [ -f "$RUN/resume.safetensors" ] || { echo "no $RUN/resume.safetensors to save" >&2; exit 1; }
  mkdir -p "$STATE"
  for f in "${KEEP[@]}"; do [ -f "$RUN/$f" ] && cp "$RUN/$f" "$STATE/$f.tmp" && mv "$STATE/$f.tmp" "$STATE/$f"; done
  echo "saved $(ls "$STATE" | wc -l) files of $RUN into $STATE"
  exit 0
fi

if [ ! -f "$RUN/resume.safetensors" ] && [ -f "$STATE/resume.safetensors" ]; then
  mkdir -p "$RUN"
  for f in "${KEEP[@]}"; do [ -f "$STATE/$f" ] && cp "$STATE/$f" "$RUN/$f"; done
  echo "continuing from the committed state in $STATE"
fi
if [ -f "$RUN/resume.safetensors" ]; then
  exec nice -n 10 "$MEDIDENOISE" train --config configs/default_round2.yaml \
    --resume "$RUN/resume.safetensors" --device "$DEVICE"
fi
exec nice -n 10 "$MEDIDENOISE" train --config configs/default_round2.yaml --output "$RUN" \
  --device "$DEVICE"
