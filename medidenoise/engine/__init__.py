"""Training through MONAI engines and handlers: ``train`` and its building blocks."""

from medidenoise._exports import public_names as _public_names
from medidenoise.engine.data import HOLDOUT_NAMES, SliceSet, check_not_holdout
from medidenoise.engine.datasets import PatchDataset, ValidationDataset
from medidenoise.engine.losses import build_loss
from medidenoise.engine.result import TrainingResult
from medidenoise.engine.trainer import train

__all__ = _public_names(globals())  # the names imported above
