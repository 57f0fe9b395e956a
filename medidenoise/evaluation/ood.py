"""Warnings for a scan unlike anything the model learned (out of distribution).

Each warning says what was found and what it means for the result. An ordinary scan (a CT,
MR or radiograph as the scanner wrote it, at a noise level the model was trained at) gets
none: a warning that fires on every scan would teach users to ignore it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medidenoise.evaluation.fidelity_nps import NoisePowerSpectrum
from medidenoise.inference.provenance import Provenance
from medidenoise.io import Volume
from medidenoise.models.cards import trained_noise_levels
from medidenoise.models.checkpoint import SHIPPED_MODELS, read_metadata, shipped_weights_path

__all__ = ["KNOWN_MODALITIES", "NPS_TRAINED", "SMALL_IMAGE", "ood_warnings"]

#: modalities among the training images (CT, MR, radiographs) and what arrays/NIfTI get
KNOWN_MODALITIES = frozenset({"CT", "MR", "CR", "DX", "RG", "OT", ""})
#: below this many pixels along a side an image gives the network and the noise estimate
#: little to work with (the U-Net's four levels see 8 x 8 at its bottom)
SMALL_IMAGE = 64
#: the mean frequency (cycles/pixel, 32-pixel patches) of flat-region noise the models know,
#: with a margin: the training noise measures 0.081 (low-pass, width 0.1) to 0.29
#: (band-pass, 0.7), white noise 0.27; real scans' flat tissue 0.079-0.13 (693 CT, RG3 CR,
#: MR2 MR: their flat regions keep some anatomy). Below 0.055 lies noise coarser than white
#: noise blurred by a 3-pixel Gaussian; above 0.33, noise piled up at the highest frequencies
NPS_TRAINED = (0.055, 0.33)
#: transfer syntaxes that lose information (JPEG baseline/extended, JPEG-LS near-lossless,
#: JPEG 2000 irreversible may be in .91; HTJ2K lossy)
_LOSSY_SYNTAXES = frozenset(
    {
        "1.2.840.10008.1.2.4.50",
        "1.2.840.10008.1.2.4.51",
        "1.2.840.10008.1.2.4.81",
        "1.2.840.10008.1.2.4.91",
        "1.2.840.10008.1.2.4.203",
    }
)
_SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


def _trained_range(record: Provenance) -> tuple[float, float] | None:
    name = record.model
    if name not in SHIPPED_MODELS:
        return None
    return trained_noise_levels(read_metadata(shipped_weights_path(name)))


def _level_warning(record: Provenance, trained: tuple[float, float] | None) -> list[str]:
    level = record.noise_level_network
    trained = trained if trained is not None else _trained_range(record)
    if level is None or trained is None:
        return []
    low, high = trained
    if level > high:
        return [
            f"noise level {level:.3g} of the normalised range is above the highest the model "
            f"{record.model!r} was trained at ({high:g}): the network extrapolates, so expect "
            "noise left in the image or detail smoothed away; check the level given (or let "
            "it be estimated) and look at the removed noise before using the result"
        ]
    if level < low:
        return [
            f"noise level {level:.3g} of the normalised range is below the lowest the model "
            f"{record.model!r} was trained at ({low:g}): it may change the image more than "
            "its noise calls for; compare before and after at a narrow window"
        ]
    return []


def _grey_levels(arr: np.ndarray) -> int | None:
    """Distinct values of an integer-valued image (a sample of 10^6 pixels); None if not."""
    flat = arr.reshape(-1)
    if flat.size > 1_000_000:
        flat = flat[:: flat.size // 1_000_000 + 1]
    if not np.all(flat == np.round(flat)):
        return None
    return int(np.unique(flat).size)


def _header_warnings(vol: Volume) -> list[str]:
    meta = vol.metadata
    out = []
    bits = meta.get("BitsStored")
    lossy = str(meta.get("LossyImageCompression", "")).strip() == "01"
    if lossy or str(meta.get("TransferSyntaxUID", "")) in _LOSSY_SYNTAXES:
        out.append(
            "the source was stored with lossy compression: JPEG-type block and ringing "
            "artefacts are structured errors, not scanner noise; the model may keep or smear "
            "them and the noise level estimate mixes them in. Use the losslessly stored "
            "original where there is one"
        )
    classes = {s.sop_class_uid for s in vol.source.slices} if vol.source is not None else set()
    converted = meta.get("ConversionType") or any(c.startswith(_SECONDARY_CAPTURE) for c in classes)
    if converted or vol.photometric.upper().startswith(("RGB", "YBR", "PALETTE")):
        out.append(
            "the source is a secondary capture or was converted from colour (ConversionType "
            f"{meta.get('ConversionType') or '-'}): its values are display grey levels, not "
            "the scanner's units, and its noise has passed through a display pipeline the "
            "model never saw; figures in HU or signal units do not hold for it"
        )
    if bits is not None and int(bits) > 8 and not 10 <= int(bits) <= 16:
        out.append(
            f"unusual bit depth ({bits} bits stored; the training scans had 10-16): the value "
            "range and noise may differ from anything the model learned"
        )
    return out


def ood_warnings(
    image: Volume | np.ndarray,
    *,
    provenance: Provenance | dict[str, Any] | None = None,
    nps: NoisePowerSpectrum | None = None,
    trained_levels: tuple[float, float] | None = None,
    modality: str | None = None,
) -> list[str]:
    """What makes ``image`` unlike the scans the model was trained on, each with its meaning.

    Looks for: a noise level (``provenance.noise_level_network``) outside the range the
    model was trained at; 8-bit data (256 grey levels or fewer), lossy compression, a
    secondary capture or colour conversion, an unusual bit depth (DICOM header, from a
    :class:`~medidenoise.Volume`); an unusual modality; an image smaller than
    :data:`SMALL_IMAGE` pixels along a side; a noise power spectrum (``nps`` of the input's
    flat regions, 32-pixel patches) with a mean frequency outside :data:`NPS_TRAINED`.

    Parameters
    ----------
    image : Volume or numpy.ndarray
        The input as it was denoised (2D or (D, H, W)).
    provenance : Provenance or dict, optional
        The run's record (``DenoiseResult.provenance``): its model and noise level.
    nps : NoisePowerSpectrum, optional
        The input's flat-region NPS (:func:`~medidenoise.evaluation.noise_power_spectrum`).
    trained_levels : (float, float), optional
        The trained range of noise std (share of the range); default: from a shipped
        model's metadata (:func:`~medidenoise.models.cards.trained_noise_levels`).
    modality : str, optional
        Default: the Volume's.

    Returns
    -------
    list of str
        Empty for an ordinary scan.

    Examples
    --------
    >>> import numpy as np
    >>> ood_warnings(np.random.default_rng(0).normal(100, 5, (128, 128)))
    []
    >>> ood_warnings(np.zeros((16, 16)))[0][:20]
    'very small image (16'
    """
    arr = np.asarray(image.array if isinstance(image, Volume) else image)
    out: list[str] = []
    record = Provenance.from_dict(provenance) if isinstance(provenance, dict) else provenance
    if record is not None:
        out += _level_warning(record, trained_levels)
    levels = _grey_levels(arr) if arr.size else None
    if levels is not None and levels <= 256 and arr.size >= 1024:
        out.append(
            f"the image holds only {levels} grey levels (8-bit data): it was likely exported "
            "from a display or a lossy format, so its steps are quantisation, not scanner "
            "noise; the noise level estimate and the result may be unreliable. Denoise the "
            "original series from the scanner instead"
        )
    if isinstance(image, Volume):
        out += _header_warnings(image)
    kind = (modality if modality is not None else getattr(image, "modality", "")).upper()
    if kind not in KNOWN_MODALITIES:
        out.append(
            f"modality {kind}: the shipped models were trained on CT, MR and radiographs "
            "(CR/DX) only; this modality's noise (counts, speckle, reconstruction) may differ, "
            "so check the removed noise before trusting the result"
        )
    if arr.ndim >= 2 and min(arr.shape[-2:]) < SMALL_IMAGE:
        out.append(
            f"very small image ({arr.shape[-2]} x {arr.shape[-1]} pixels, under {SMALL_IMAGE}):"
            " the network sees little context and the noise level is estimated from few "
            "pixels; the result may be unreliable"
        )
    if nps is not None and np.isfinite(nps.mean_frequency):
        low, high = NPS_TRAINED
        if not low <= nps.mean_frequency <= high:
            texture = "coarser" if nps.mean_frequency < low else "finer"
            out.append(
                f"the noise spectrum of flat regions (mean frequency {nps.mean_frequency:.3f} "
                f"cycles/pixel) is {texture} than any noise the model was trained on "
                f"({low}-{high}): upsampled, heavily filtered or patterned data; the model "
                "may leave such noise or take it for structure"
            )
    return out
