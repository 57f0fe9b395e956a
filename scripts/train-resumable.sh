#!/usr/bin/env bash
# Train, or continue, a model recipe so that it survives being stopped at any moment:
# it resumes exactly from the last finished epoch, from the run folder when it is there,
# else from the state committed in training_state/<name>/ (a new machine). The same script
# runs on a GPU: DEVICE=cuda scripts/train-resumable.sh configs/default_round3.yaml
#
#   scripts/train-resumable.sh [CONFIG]          # train / continue (CONFIG: configs/default_round2.yaml)
#   scripts/train-resumable.sh [CONFIG] --save   # copy the run's resumable state into training_state/
#
# The run folder is runs/<config file name without .yaml>, the kept state
# training_state/<same name>; RUN=... overrides the run folder.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=configs/default_round2.yaml
if [ $# -gt 0 ] && [ "$1" != "--save" ]; then CONFIG=$1; shift; fi
[ -f "$CONFIG" ] || { echo "no config file $CONFIG" >&2; exit 2; }
NAME=$(basename "$CONFIG" .yaml)
RUN=${RUN:-runs/$NAME}
STATE=training_state/$NAME
DEVICE=${DEVICE:-auto}
# the command that runs medidenoise (words split: MEDIDENOISE="python -m medidenoise" works)
read -r -a CLI <<< "${MEDIDENOISE:-.venv/bin/medidenoise}"
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
  exec nice -n 10 "${CLI[@]}" train --config "$CONFIG" \
    --resume "$RUN/resume.safetensors" --device "$DEVICE"
fi
exec nice -n 10 "${CLI[@]}" train --config "$CONFIG" --output "$RUN" --device "$DEVICE"
