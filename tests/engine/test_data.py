"""Training data: sources, hold-out refusal, split by volume, patch and validation sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from factories import make_series

from medidenoise.config import DataConfig, NoiseConfig
from medidenoise.engine import PatchDataset, SliceSet, ValidationDataset, check_not_holdout
from medidenoise.engine.data import band_split, load_sources, split_volumes
from medidenoise.errors import ConfigError

NOISE = NoiseConfig.model_validate({"mixture": [{"kind": "gaussian", "level": [0.05, 0.1]}]})


def _cfg(**kw) -> DataConfig:
    return DataConfig.model_validate({"train": ["x"], "min_foreground": 0.0, **kw})


def _slices(n: int, shape=(5, 40, 32)) -> list[SliceSet]:
    rng = np.random.default_rng(0)
    return [
        SliceSet(f"v{i}", rng.random(shape, dtype=np.float32), np.arange(shape[0]), (0, shape[1]))
        for i in range(n)
    ]


@pytest.mark.parametrize(
    "source", ["pydicom-data:RG3_UNCR", "pydicom:MR2_UNCR", "/data/693_UNCR.dcm", "a/rg3_x/b.nii"]
)
def test_holdout_images_are_refused(source: str) -> None:
    with pytest.raises(ConfigError, match="hold-out"):
        check_not_holdout(source)


def test_holdout_inside_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "MR2_UNCR.dcm").write_bytes(b"")
    with pytest.raises(ConfigError, match="hold-out"):
        load_sources([str(tmp_path)], _cfg())


def test_unknown_sources_fail_clearly() -> None:
    with pytest.raises(ConfigError, match="no such file, folder or named source"):
        load_sources(["/nonexistent/volume.nii"], _cfg())
    with pytest.raises(ConfigError, match="pydicom-data"):
        load_sources(["pydicom:NO_SUCH_FILE"], _cfg())


def test_nifti_sources_are_normalised(synthetic_dir: Path) -> None:
    (vol,) = load_sources([str(synthetic_dir / "phantom0.nii.gz")], _cfg(normalization="minmax"))
    assert vol.volume.shape == (4, 48, 40)  # (D, H, W): slices along the NIfTI z axis
    assert vol.volume.dtype == np.float32
    assert 0.0 <= vol.volume.min() and vol.volume.max() <= 1.0
    assert vol.normalization


def test_npz_cache_round_trip(synthetic_dir: Path, tmp_path: Path) -> None:
    cfg = _cfg(normalization="minmax", cache_dir=str(tmp_path))
    first = load_sources([str(synthetic_dir / "phantom1.nii.gz")], cfg)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    again = load_sources([str(synthetic_dir / "phantom1.nii.gz")], cfg)
    np.testing.assert_array_equal(first[0].volume, again[0].volume)


def test_split_is_by_volume() -> None:
    vols = _slices(4)
    train, val, what = split_volumes(vols, _cfg(val_fraction=0.25), seed=0, min_rows=8)
    assert len(train) == 3 and len(val) == 1
    assert not {v.name for v in train} & {v.name for v in val}
    assert "by volume" in what


def test_single_volume_is_split_spatially(caplog: pytest.LogCaptureFixture) -> None:
    (vol,) = _slices(1)
    train, val, what = split_volumes([vol], _cfg(val_fraction=0.25), seed=0, min_rows=8)
    assert train[0].rows == (0, 30) and val[0].rows == (30, 40)
    assert "spatial" in what and "spatial" in caplog.text


def test_val_band_rows_are_never_trained_on() -> None:
    vols = _slices(3, shape=(2, 64, 48))
    for v in vols:
        v.volume[:, 24:40] = 0.777  # the middle quarter of 64 rows: the validation band
    short = SliceSet("short", np.zeros((1, 20, 48), np.float32), np.arange(1), (0, 20))
    train, val = band_split([*vols, short], 0.25, min_rows=16)
    assert [v.rows for v in val] == [(24, 40)] * 3
    # each banded volume trains on the rows above and below; one too short trains whole
    assert sorted({v.rows for v in train}) == [(0, 20), (0, 24), (40, 64)]
    patches = PatchDataset(train, NOISE, length=64, patch_size=16, seed=3)
    for i in range(len(patches)):
        assert not np.isclose(patches[i]["label"].numpy(), 0.777).any()
    checks = ValidationDataset(val, NOISE, crop=16, size_multiple=8, max_items=6, seed=0)
    for item in checks.items:
        np.testing.assert_allclose(item["label"].numpy(), 0.777)


def test_val_band_must_leave_rows_to_train_on() -> None:
    with pytest.raises(ValueError, match="val_band"):
        _cfg(val_band=0.6)


def test_patch_dataset_shapes_and_determinism() -> None:
    ds = PatchDataset(
        _slices(2), NOISE, length=6, patch_size=16, context_slices=3, noise_level_input=True
    )
    torch.manual_seed(0)
    a = [ds[i] for i in range(3)]
    torch.manual_seed(0)
    b = [ds[i] for i in range(3)]
    for x, y in zip(a, b, strict=True):
        assert x["image"].shape == (4, 16, 16) and x["label"].shape == (1, 16, 16)
        torch.testing.assert_close(x["image"], y["image"])
    item = a[0]
    level = item["image"][3]
    assert torch.all(level == level[0, 0]) and 0.02 < float(level[0, 0]) < 0.2
    # the label is the clean centre slice; the noisy centre differs from it by the noise
    residual = item["image"][1] - item["label"][0]
    assert abs(float(residual.std()) - float(level[0, 0])) < 0.05


def test_seeded_patch_dataset_draws_per_epoch() -> None:
    kw = {"length": 4, "patch_size": 16, "seed": 3}
    a, b = PatchDataset(_slices(2), NOISE, **kw), PatchDataset(_slices(2), NOISE, **kw)
    torch.manual_seed(0)
    a.set_epoch(1)
    first = [a[i]["image"] for i in range(4)]
    a.set_epoch(2)
    second = [a[i]["image"] for i in range(4)]
    torch.manual_seed(123)  # the global generator plays no part
    b.set_epoch(2)
    again = [b[i]["image"] for i in range(4)]
    for x, y, z in zip(first, second, again, strict=True):
        assert not torch.equal(x, y)  # a new epoch draws new patches
        torch.testing.assert_close(y, z, rtol=0, atol=0)  # (seed, epoch, index) alone decide
    assert not torch.equal(first[0], first[1])


def test_patch_dataset_pads_small_slices() -> None:
    ds = PatchDataset(_slices(1, shape=(2, 10, 12)), NOISE, length=1, patch_size=16)
    assert ds[0]["image"].shape == (1, 16, 16)


def test_validation_set_is_fixed_and_cropped_to_a_multiple() -> None:
    kw = {"crop": 30, "size_multiple": 8, "max_items": 3, "seed": 5}
    a, b = ValidationDataset(_slices(2), NOISE, **kw), ValidationDataset(_slices(2), NOISE, **kw)
    assert len(a) == 3
    assert a[0]["image"].shape == (1, 24, 24)
    torch.testing.assert_close(a[2]["image"], b[2]["image"])
    whole = ValidationDataset(_slices(1), NOISE, crop=0, size_multiple=16, max_items=1, seed=0)
    assert whole[0]["image"].shape == (1, 48, 32)


def test_skimage_photographs_are_a_source() -> None:
    colour, gray = load_sources(["skimage:astronaut.png", "skimage:camera.png"], _cfg())
    for vol in (colour, gray):
        assert vol.volume.shape == (1, 512, 512) and vol.volume.dtype == np.float32
        assert 0.0 <= vol.volume.min() and vol.volume.max() <= 1.0
        assert vol.volume.std() > 0.1  # a real picture, not a constant
    with pytest.raises(ConfigError, match=r"skimage:nope\.png.*camera\.png"):
        load_sources(["skimage:nope.png"], _cfg())
    with pytest.raises(ConfigError, match="no such image"):
        load_sources(["skimage:../data/camera.png"], _cfg())


def _write_png(path: Path, shape=(40, 36)) -> np.ndarray:
    from skimage.io import imsave

    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    img = ((yy * 5 + xx * 2) % 256).astype(np.uint8)
    imsave(path, img, check_contrast=False)
    return img


def test_png_file_is_a_source(tmp_path: Path) -> None:
    img = _write_png(tmp_path / "ramp.png")
    (vol,) = load_sources([str(tmp_path / "ramp.png")], _cfg(normalization="minmax"))
    assert vol.name == str(tmp_path / "ramp.png")
    assert vol.volume.shape == (1, *img.shape) and vol.volume.dtype == np.float32
    # min/max normalisation of the stored 8-bit values, orientation kept
    np.testing.assert_allclose(vol.volume[0], img / img.max(), atol=1e-6)


def test_dicom_study_folder_gives_one_volume_per_series(tmp_path: Path) -> None:
    study = tmp_path / "study"
    make_series(study, 3, shape=(24, 20), series_number=2, description="axial")
    make_series(
        study / "sub", 4, shape=(16, 18), series_number=5, modality="MR", names=lambda k: f"IM{k}"
    )
    vols = load_sources([str(study)], _cfg(normalization="minmax"))
    shapes = sorted(v.volume.shape for v in vols)
    assert shapes == [(3, 24, 20), (4, 16, 18)]
    assert len({v.name for v in vols}) == 2
    assert all(v.name.startswith(f"{study}#") for v in vols)


def test_folder_mixing_file_types_reads_dicom_too(tmp_path: Path) -> None:
    make_series(tmp_path, 3, shape=(24, 20))
    _write_png(tmp_path / "photo.png")
    (tmp_path / "notes.txt").write_text("not an image", encoding="utf-8")
    vols = load_sources([str(tmp_path)], _cfg(normalization="minmax"))
    assert sorted(v.volume.shape for v in vols) == [(1, 40, 36), (3, 24, 20)]


def test_folder_without_images_fails_clearly(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not an image", encoding="utf-8")
    with pytest.raises(ConfigError, match="holds no readable image"):
        load_sources([str(tmp_path)], _cfg())


def test_mni152_template_is_a_source() -> None:
    pytest.importorskip("nilearn")
    (vol,) = load_sources(["mni152"], _cfg(max_slices_per_volume=5, min_foreground=0.1))
    assert vol.name == "mni152"
    # axial slices of the 1 mm template: (z, y, x) = (189, 233, 197)
    assert vol.volume.shape == (189, 233, 197) and vol.volume.dtype == np.float32
    assert len(vol.indices) == 5
    assert 0.0 <= vol.volume.min() and vol.volume.max() <= 1.0
    # the picked slices hold brain: well above the 10 % foreground asked for
    used = vol.volume[vol.indices]
    assert all((s > 0.05).mean() >= 0.1 for s in used)


def _dihedral(img: np.ndarray) -> list[np.ndarray]:
    """The 8 flips/rotations of a (C, H, W) square stack."""
    out = []
    for base in (img, img[:, :, ::-1]):
        out += [np.rot90(base, k, axes=(1, 2)) for k in range(4)]
    return out


def test_augmentation_varies_patches_and_keeps_pairs_aligned() -> None:
    # one square slice the size of a patch: crops cannot vary, only flips/rotations
    ramp = np.arange(16 * 16, dtype=np.float32).reshape(16, 16) / 255.0
    volume = np.stack([ramp, ramp[::-1], ramp.T])  # 3 different slices
    slices = [SliceSet("ramp", volume, np.array([1]), (0, 16))]
    noise = NoiseConfig.model_validate({"mixture": [{"kind": "gaussian", "level": 0.01}]})
    orientations = _dihedral(volume)

    def which(stack: np.ndarray) -> int:
        errors = [float(np.abs(stack - o).mean()) for o in orientations]
        assert min(errors) < 0.02  # noise only: aligned with one orientation
        return int(np.argmin(errors))

    torch.manual_seed(0)
    ds = PatchDataset(slices, noise, length=40, patch_size=16, context_slices=3)
    seen = set()
    for i in range(len(ds)):
        item = ds[i]
        noisy, clean = item["image"].numpy(), item["label"].numpy()
        k = which(noisy)  # all three channels turned the same way
        # the clean label is the centre slice turned exactly like the noisy input
        np.testing.assert_allclose(clean[0], orientations[k][1], atol=1e-6)
        seen.add(k)
    assert len(seen) >= 6  # flips and rotations do vary (8 possible)
    plain = PatchDataset(slices, noise, length=5, patch_size=16, context_slices=3, augment=False)
    assert {which(plain[i]["image"].numpy()) for i in range(5)} == {0}


def test_every_pydicom_file_leaves_out_holdout_and_validation_images() -> None:
    from medidenoise.engine.data import every_pydicom_file

    names = every_pydicom_file()
    assert "pydicom:RG1_UNCR.dcm" in names and "pydicom:eCT_Supplemental.dcm" in names
    low = [n.lower() for n in names]
    assert not [n for n in low if n.split(":")[1].startswith(("rg3_", "mr2_", "693_"))]
    assert not [n for n in low if "ct_small" in n or "mr_small" in n or "emri_small" in n]


def _half_dark(side: int = 256) -> list[SliceSet]:
    """Slices black on the left half and bright on the right: Poisson noise only on the right."""
    vol = np.zeros((3, side, side), np.float32)
    vol[:, :, side // 2 :] = 0.9
    return [SliceSet("half", vol, np.arange(3), (0, side))]


def _bright_ratios(ds: PatchDataset, count: int) -> np.ndarray:
    """noise std / level given, for the items that are all bright."""
    ratios = []
    for i in range(count):
        item = ds[i]
        image, label = item["image"], item["label"][0]
        if bool((label > 0.5).all()):
            ratios.append(float((image[0] - label).std()) / float(image[1, 0, 0]))
    return np.array(ratios)


def test_a_level_measured_over_a_wide_region_understates_bright_patches_noise() -> None:
    """noise.level_region: the level a patch is given is the noise std over a region 4x its
    side, as a level measured on a whole image is at inference: half of that region being
    black, a bright patch's Poisson noise is stronger than the level says."""
    poisson = {"mixture": [{"kind": "poisson", "level": 200}]}
    kw = {"length": 120, "patch_size": 32, "noise_level_input": True, "seed": 1}
    narrow = PatchDataset(_half_dark(), NoiseConfig.model_validate(poisson), **kw)
    wide_cfg = NoiseConfig.model_validate({**poisson, "level_region": 4, "level_region_prob": 1})
    wide = PatchDataset(_half_dark(), wide_cfg, **kw)
    assert wide[0]["image"].shape == (2, 32, 32) and wide[0]["label"].shape == (1, 32, 32)
    at_patch, over_region = _bright_ratios(narrow, 120), _bright_ratios(wide, 120)
    assert len(at_patch) > 10 and len(over_region) > 10
    np.testing.assert_allclose(at_patch, 1.0, atol=1e-3)  # the patch's own std
    # regions straddling the edge hold some black: bright patches are told up to ~1/1.5 of
    # their noise (those whose region is all bright, their own)
    assert float(np.median(over_region)) > 1.05 and float(over_region.max()) > 1.3
    assert float(over_region.min()) > 0.97  # a region never overstates a bright patch's noise


def test_the_wide_region_draws_nothing_unless_asked() -> None:
    """A recipe without level_region_prob draws exactly the items it drew before the option."""
    kw = {"length": 6, "patch_size": 16, "noise_level_input": True, "seed": 4}
    plain = PatchDataset(_slices(2), NOISE, **kw)
    off = NoiseConfig.model_validate({**NOISE.model_dump(), "level_region": 4})
    same = PatchDataset(_slices(2), off, **kw)
    for i in range(6):
        torch.testing.assert_close(plain[i]["image"], same[i]["image"], rtol=0, atol=0)


@pytest.mark.parametrize(("key", "value"), [("level_region", 0.5), ("level_region_prob", 1.5)])
def test_level_region_settings_out_of_range_are_refused(key: str, value: float) -> None:
    with pytest.raises(ValueError, match=key):
        NoiseConfig.model_validate({**NOISE.model_dump(), key: value})


def _skull_band(side: int = 64, count: int = 3) -> list[SliceSet]:
    """Slices of soft tissue (0.45-0.5, a gentle ramp) with a bright band (0.95) on the right."""
    vol = np.tile(np.linspace(0.45, 0.5, side, dtype=np.float32), (count, side, 1))
    vol[:, :, side - 12 :] = 0.95
    return [SliceSet("band", vol, np.arange(count), (0, side))]


def test_stretched_patches_look_like_the_denoisers_narrowed_window() -> None:
    """noise.stretch_prob: a patch stretched about its median, noise at the Denoiser's floor
    and bright parts clipped to 1.25, as ``prepare`` shows a CT of low noise (issue 26)."""
    from medidenoise._network_window import NOISE_FLOOR, WINDOW_CLIP
    from medidenoise.inference._prepare import prepare

    cfg = NoiseConfig.model_validate(
        {
            "mixture": [{"kind": "poisson", "level": 200}],
            "stretch_prob": 1,
            "stretch_factor": [10, 10],
        }
    )
    ds = PatchDataset(
        _skull_band(), cfg, length=20, patch_size=64, noise_level_input=True, seed=3, augment=False
    )
    for i in range(20):
        item = ds[i]
        image, label = item["image"], item["label"][0]
        level = float(image[1, 0, 0])
        assert NOISE_FLOOR <= level <= 2 * NOISE_FLOOR
        # the band, 0.45 above the tissue, is stretched 10x far beyond the window: clipped
        # flat, noisy and clean alike
        assert torch.all(label[:, -10:] == WINDOW_CLIP[1]) and torch.all(
            image[0, :, -10:] == WINDOW_CLIP[1]
        )
        # the tissue: the ramp stretched 10x about the median, with Gaussian noise of the level
        tissue = label[:, :40]
        assert 0.3 < float(tissue[:, -1].mean() - tissue[:, 0].mean()) < 0.35  # 10 x 0.0328
        noise = image[0, :, :40] - tissue
        assert (
            float(noise.std()) == pytest.approx(level, rel=0.15)
            and abs(float(noise.mean())) < level / 5
        )
    # what the Denoiser feeds a network for a head CT with 0.6 HU of noise: the same bounds
    yy, xx = np.mgrid[0:96, 0:96] - 48.0
    ct = np.where(np.hypot(yy, xx) < 40, 900.0, -1000.0)
    ct[np.hypot(yy, xx) < 34] = 35.0
    ct = ct[None] + np.random.default_rng(0).normal(0, 0.6, (1, 96, 96))
    ready = prepare(ct.astype(np.float32), "CT", 0.6, None)
    net = ready.stats.params.apply(ready.vol)  # clipped already
    assert float(net.min()) == pytest.approx(WINDOW_CLIP[0], abs=1e-4)
    assert float(net.max()) == pytest.approx(WINDOW_CLIP[1], abs=1e-4)
    assert ready.sigma / ready.stats.params.scale == pytest.approx(NOISE_FLOOR)


def test_stretching_draws_nothing_unless_asked() -> None:
    """A recipe without stretch_prob draws exactly the items it drew before the option."""
    kw = {"length": 6, "patch_size": 16, "noise_level_input": True, "seed": 4}
    plain = PatchDataset(_slices(2), NOISE, **kw)
    same = PatchDataset(
        _slices(2),
        NoiseConfig.model_validate({**NOISE.model_dump(), "stretch_factor": [2, 3]}),
        **kw,
    )
    for i in range(6):
        torch.testing.assert_close(plain[i]["image"], same[i]["image"], rtol=0, atol=0)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("stretch_prob", 1.5),
        ("stretch_factor", [0.5, 2]),
        ("stretch_level", [0, 0.01]),
        ("stretch_level", [0.02, 0.01]),
    ],
)
def test_stretch_settings_out_of_range_are_refused(key: str, value: object) -> None:
    with pytest.raises(ValueError, match=key):
        NoiseConfig.model_validate({**NOISE.model_dump(), key: value})


def test_validation_stretches_the_same_share_of_its_items() -> None:
    """With stretch_prob, a fixed share of the validation items is stretched and clipped too,
    so that the best epoch is judged on what the Denoiser shows a network; without it the
    items are those of before."""
    from medidenoise._network_window import NOISE_FLOOR, WINDOW_CLIP

    kw = {"crop": 64, "size_multiple": 8, "max_items": 8, "seed": 5, "noise_level_input": True}
    cfg = NoiseConfig.model_validate(
        {**NOISE.model_dump(), "stretch_prob": 0.25, "stretch_factor": [12, 16]}
    )
    val = ValidationDataset(_skull_band(count=8), cfg, **kw)
    plain = ValidationDataset(_skull_band(count=8), NOISE, **kw)
    stretched = [
        i for i, item in enumerate(val.items) if float(item["label"].max()) == WINDOW_CLIP[1]
    ]
    assert stretched == [0, 4]  # every fourth, the same each run
    for i in stretched:
        assert NOISE_FLOOR <= float(val[i]["image"][1, 0, 0]) <= 2 * NOISE_FLOOR
    for i in (1, 2, 3, 5, 6, 7):
        torch.testing.assert_close(val[i]["image"], plain[i]["image"], rtol=0, atol=0)
    again = ValidationDataset(_skull_band(count=8), cfg, **kw)
    torch.testing.assert_close(again[4]["image"], val[4]["image"], rtol=0, atol=0)


def test_stretched_patches_get_rician_and_poisson_noise_as_gaussian() -> None:
    """A stretch makes negative values, which Rician noise would fold, and Poisson levels are
    photon counts: stretched patches get Gaussian noise at the floor for both, by weight."""
    from medidenoise.engine.datasets import make_stretch_noise_transform

    cfg = NoiseConfig.model_validate(
        {
            "mixture": [
                {"kind": "poisson", "level": 200},
                {"kind": "rician", "level": [0.01, 0.1], "weight": 2},
                {"kind": "correlated", "level": [0.01, 0.1]},
                {"kind": "salt_and_pepper", "level": 0.01},
            ],
            "stretch_prob": 0.5,
        }
    )
    noiser = make_stretch_noise_transform(cfg).noiser
    assert noiser.kinds == ("gaussian", "correlated")
    np.testing.assert_allclose(noiser.weights, [0.75, 0.25])
    assert noiser.levels["gaussian"] == noiser.levels["correlated"] == (0.004, 0.008)


def _dark_background(side: int = 64, count: int = 3) -> list[SliceSet]:
    """Slices whose left half is black background (0) and right half tissue (0.6)."""
    vol = np.zeros((count, side, side), dtype=np.float32)
    vol[:, :, side // 2 :] = 0.6
    return [SliceSet("dark", vol, np.arange(count), (0, side))]


def test_normalisation_shift_puts_a_rician_background_where_the_denoiser_does() -> None:
    """noise.normalisation_shift: the Denoiser maps the low percentile of the smoothed *noisy*
    image to 0, so a Rician background (mean ~1.25 sigma) reaches the network at about 0,
    not 1.25 sigma up; a shifted patch shows it there too, and the clean target moves with
    it (below 0), so the network learns to take the bias off (issue 26)."""
    from medidenoise.inference._robust import robust_stats

    sigma = 0.05
    cfg = NoiseConfig.model_validate(
        {"mixture": [{"kind": "rician", "level": [sigma, sigma]}], "normalisation_shift": True}
    )
    kw = {"length": 8, "patch_size": 64, "seed": 6, "augment": False}
    shifted = PatchDataset(_dark_background(), cfg, **kw)
    plain_cfg = NoiseConfig.model_validate({**cfg.model_dump(), "normalisation_shift": False})
    plain = PatchDataset(_dark_background(), plain_cfg, **kw)
    for i in range(8):
        a, b = shifted[i], plain[i]
        moved = float(b["label"][0, 0, 0] - a["label"][0, 0, 0])
        assert 0.9 * sigma < moved < 1.3 * sigma  # Rician bias, less the smoothing's spread
        # noisy and clean move together: the noise itself is not changed
        torch.testing.assert_close(a["image"] - a["label"], b["image"] - b["label"])
        # the background reaches the network about where the Denoiser puts it
        background = a["image"][0, :, :28]
        assert abs(float(background.mean())) < 0.25 * sigma
    # ...which is where the Denoiser's own normalisation of such a noisy image puts it
    noisy = plain[0]["image"].numpy()
    stats = robust_stats(noisy.copy(), None, None)
    denoiser_bg = float(((noisy[0, :, :28] - stats.params.low) / stats.params.scale).mean())
    assert abs(denoiser_bg) < 0.25 * sigma / stats.params.scale


def test_normalisation_shift_leaves_gaussian_noise_nearly_in_place() -> None:
    """Zero-mean noise barely moves the smoothed percentile: the shift is a fraction of sigma
    (negative: the smoothed noise's low tail), and nothing at all without a dark area."""
    from medidenoise.engine.datasets import normalisation_shift
    from medidenoise.transforms import add_noise

    clean = _dark_background(count=1)[0].volume[0]
    shifts = [
        normalisation_shift(add_noise(clean, "gaussian", 0.05, rng=i), clean) for i in range(5)
    ]
    assert all(-0.4 * 0.05 < s < 0 for s in shifts)
    flat = np.full((64, 64), 0.5, np.float32)
    assert normalisation_shift(add_noise(flat, "poisson", 200.0, rng=0), flat) == pytest.approx(
        0.0, abs=0.02
    )


def test_validation_items_are_shifted_as_the_training_patches() -> None:
    """The best epoch is judged on what the Denoiser shows a network: with the option, a
    validation item over a dark background moves as a training patch does; without it, the
    clean background stays at 0 (older recipes validate as before)."""
    kw = {"crop": 64, "size_multiple": 8, "max_items": 3, "seed": 5}
    cfg = NoiseConfig.model_validate(
        {"mixture": [{"kind": "rician", "level": [0.05, 0.05]}], "normalisation_shift": True}
    )
    shifted = ValidationDataset(_dark_background(), cfg, **kw)
    plain_cfg = NoiseConfig.model_validate({**cfg.model_dump(), "normalisation_shift": False})
    plain = ValidationDataset(_dark_background(), plain_cfg, **kw)
    for a, b in zip(shifted.items, plain.items, strict=True):
        assert float(b["label"][0, 0, 0]) == 0.0
        assert -0.065 < float(a["label"][0, 0, 0]) < -0.045
