"""Real scans with their own noise, every setting left as a user leaves it (issue 26).

The shipped model once added a 2-pixel grid to a real head CT (even and odd rows ~6 HU
apart at a brain window), moved the mean of flat tissue by ~4 HU and read the noise 8x
too low. These tests denoise pydicom-data's real CT, radiograph and MR the way
``Denoiser("auto").run`` does by default and measure, in the input's flat regions, what a
reader would see.
"""

from __future__ import annotations

import numpy as np
import pytest
from factories import data_file

import medidenoise as md
from medidenoise.evaluation import flat_region_std, pattern_metrics

pytestmark = pytest.mark.slow

#: (file, crop): the middle 256 x 256 of the large radiograph and MR keeps the run short
SCANS = [("693_UNCR.dcm", None), ("RG3_UNCR.dcm", 512), ("MR2_UNCR.dcm", 384)]


def _scan(name: str, crop: int | None) -> md.Volume:
    vol = md.read_volume(data_file(name))
    if crop is None:
        return vol
    arr = vol.array
    y0, x0 = (arr.shape[1] - crop) // 2, (arr.shape[2] - crop) // 2
    return md.Volume(arr[:, y0 : y0 + crop, x0 : x0 + crop].copy(), modality=vol.modality)


@pytest.fixture(scope="module", params=SCANS, ids=[s[0] for s in SCANS])
def denoised(request):
    name, crop = request.param
    vol = _scan(name, crop)
    result = md.Denoiser().run(vol)  # "auto", level estimated: as a user leaves it
    return name, vol.array, np.asarray(result.image.array), result.noise_level


def test_no_two_pixel_pattern_is_added(denoised) -> None:
    name, before, after, _ = denoised
    m = pattern_metrics(after, before)
    for value in (m.row_alternation_std, m.column_alternation_std, m.checkerboard_std):
        assert value < 0.1, (name, m)


def test_flat_tissue_keeps_its_mean_and_loses_noise(denoised) -> None:
    name, before, after, _ = denoised
    m = pattern_metrics(after, before)
    assert abs(m.mean_shift_std) < 0.1, (name, m)
    assert m.std_removed >= 0.3, (name, m)


def test_the_level_used_is_that_of_the_flat_tissue(denoised) -> None:
    name, before, _, level = denoised
    flat = flat_region_std(before)
    assert level is not None and flat > 0
    assert 1 / 2 < level / flat < 2, (name, level, flat)


def test_the_cae_baseline_adds_no_two_pixel_pattern_either() -> None:
    """The CAE baseline shipped before issue 26 (stride-2 transposed convolutions) alternated
    by 0.76 flat-region stds from row to row on this CT."""
    vol = _scan("693_UNCR.dcm", None)
    after = np.asarray(md.Denoiser("cae-baseline").run(vol).image.array)
    m = pattern_metrics(after, vol.array)
    for value in (m.row_alternation_std, m.column_alternation_std, m.checkerboard_std):
        assert value < 0.1, m
