"""Adaptation: fine-tune a model on the user's own noisy scans, without clean images.

Adaptation is training (it uses :mod:`medidenoise.engine`'s self-supervised objectives) on the
images a user wants denoised (it prepares them as :mod:`medidenoise.inference` does), so it sits
above both; ``inference`` imports nothing from ``engine``.
"""

from medidenoise._exports import public_names as _public_names
from medidenoise.adaptation._adapt import adapt

__all__ = _public_names(globals())  # the names imported above
