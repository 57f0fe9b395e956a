"""Denoising networks (CAE baseline, U-Net), their factory and the checkpoint format."""

from medidenoise._exports import public_names as _public_names
from medidenoise.models.cae import DenoisingCAE
from medidenoise.models.cards import CARD_MODELS, ModelCard, model_card
from medidenoise.models.checkpoint import (
    auto_pick,
    default_weights_path,
    load_model,
    read_metadata,
    save_checkpoint,
)
from medidenoise.models.factory import ARCHITECTURES, build_model, model_config_of
from medidenoise.models.unet import UNet

__all__ = _public_names(globals())  # the names imported above
