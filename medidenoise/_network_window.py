"""How the Denoiser shows a network a scan whose noise is small for its range.

No imports: both ``inference`` (which narrows the window) and ``engine`` (whose training
patches mimic it, ``noise.stretch_prob`` and ``noise.normalisation_shift``) read these, and
neither may import the other.
"""

from __future__ import annotations

__all__ = ["NARROW_MARGIN", "NOISE_FLOOR", "NORM_SMOOTHING", "WINDOW_CLIP"]

#: the smallest noise std (network units) a network is shown: below it, the window is
#: narrowed. The shipped networks were trained around it on images stretched the same way
#: (``noise.stretch_prob``; scripts/gpu/train_gpu.py), and down to 0.0003 unstretched.
NOISE_FLOOR = 0.004
#: a narrowed window clips this far (in its own widths) beyond [0, 1]
NARROW_MARGIN = 0.25
#: what a narrowed window shows the network: [-0.25, 1.25]
WINDOW_CLIP = (-NARROW_MARGIN, 1.0 + NARROW_MARGIN)
#: in-plane Gaussian smoothing (pixels) of the image whose percentiles set the
#: normalisation, so that the noise barely moves them (``noise.normalisation_shift``
#: mimics it in training)
NORM_SMOOTHING = 3.0
