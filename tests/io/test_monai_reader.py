"""DicomSeriesReader: the same series logic behind MONAI's LoadImage(d)."""

from __future__ import annotations

import numpy as np
import pytest
from factories import make_series

from medidenoise.errors import MultipleSeriesError
from medidenoise.io import DicomSeriesReader, read_volume

monai_transforms = pytest.importorskip("monai.transforms")


@pytest.fixture
def series(tmp_path):
    make_series(tmp_path / "s", 4, names=lambda k: f"x{(k * 7) % 4}", instance_numbers=[4, 3, 2, 1])
    return tmp_path / "s"


def test_load_image_matches_read_volume(series):
    vol = read_volume(series)
    img = monai_transforms.LoadImage(reader=DicomSeriesReader(), image_only=True)(series)
    np.testing.assert_array_equal(np.asarray(img), vol.array)
    np.testing.assert_allclose(np.asarray(img.affine), vol.affine)
    assert img.meta["modality"] == "CT" and img.meta["space"] == "RAS"
    assert tuple(img.meta["spatial_shape"]) == vol.shape


def test_load_imaged_with_channel(series):
    load = monai_transforms.LoadImaged(
        keys="image", reader=DicomSeriesReader(), ensure_channel_first=True, image_only=True
    )
    out = load({"image": str(series)})
    assert tuple(out["image"].shape) == (1, 4, 6, 5)


def test_reader_picks_series_and_rejects_ambiguous(tmp_path):
    make_series(tmp_path / "m", 2, series_uid="1.2.7.1", names=lambda k: f"a{k}")
    make_series(tmp_path / "m", 3, series_uid="1.2.7.2", names=lambda k: f"b{k}")
    with pytest.raises(MultipleSeriesError):
        DicomSeriesReader().read(tmp_path / "m")
    vol = DicomSeriesReader(series_uid="1.2.7.2").read(tmp_path / "m")
    assert vol.shape[0] == 3


def test_verify_suffix(series, tmp_path):
    reader = DicomSeriesReader()
    assert reader.verify_suffix(series) and reader.verify_suffix(series / "x0")
    (tmp_path / "a.nii.gz").write_bytes(b"")
    assert not reader.verify_suffix(tmp_path / "a.nii.gz")
