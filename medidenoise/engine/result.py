"""``TrainingResult``: what a training run produced."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medidenoise.config import ExperimentConfig

__all__ = ["TrainingResult"]


@dataclass
class TrainingResult:
    """Checkpoints, per-epoch metrics and the run folder of a training run.

    Attributes
    ----------
    output_dir : pathlib.Path
        The run folder (checkpoints, metrics.csv/json, loss_curve.png, config.yaml).
    best_checkpoint, last_checkpoint : pathlib.Path or None
        ``best.safetensors`` (highest validation PSNR) and ``last.safetensors``.
    metrics : list of dict
        One row per epoch: epoch, train_loss, val_loss, val_psnr, val_ssim, lr, time_s.
    config : ExperimentConfig
        The resolved config the run used.
    stopped_early : bool
        Whether early stopping ended the run before its last epoch (``train.stop_epoch``,
        else ``train.epochs``).
    seconds : float
        Wall time of this call.
    """

    output_dir: Path
    best_checkpoint: Path | None
    last_checkpoint: Path | None
    metrics: list[dict[str, Any]] = field(default_factory=list)
    config: ExperimentConfig | None = None
    stopped_early: bool = False
    seconds: float = 0.0

    @property
    def best(self) -> dict[str, Any] | None:
        """The epoch row with the highest validation PSNR."""
        rows = [r for r in self.metrics if r.get("val_psnr") is not None]
        return max(rows, key=lambda r: r["val_psnr"]) if rows else None

    def summary(self) -> str:
        """A few human-readable lines about the run."""
        name = self.config.name if self.config else "run"
        arch = self.config.model.arch if self.config else "?"
        epochs = self.metrics[-1]["epoch"] if self.metrics else 0
        lines = [
            f"trained {arch} '{name}': {epochs} epoch(s) in {self.seconds:.1f} s"
            + (" (stopped early)" if self.stopped_early else "")
        ]
        best = self.best
        if best is not None:
            ssim = best.get("val_ssim")
            ssim_text = f", SSIM {ssim:.4f}" if ssim is not None else ""
            objective = self.config.train.objective if self.config else "supervised"
            kind = "validation" if objective == "supervised" else f"estimated ({objective})"
            lines.append(
                f"best {kind} PSNR {best['val_psnr']:.2f} dB{ssim_text} at epoch {best['epoch']}"
            )
        lines.append(f"best checkpoint: {self.best_checkpoint or '-'}")
        lines.append(f"last checkpoint: {self.last_checkpoint or '-'}")
        lines.append(f"metrics and loss curve: {self.output_dir}")
        return "\n".join(lines)
