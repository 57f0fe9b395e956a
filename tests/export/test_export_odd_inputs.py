"""Exported files on odd inputs behave like ``medidenoise.denoise`` (issue 33, item 4): finite
output for constant and all-zero images, the same refusals (NaN, complex, slices too small to
estimate noise), a documented slice-size limit, and a bundle that keeps the input's shape and
refuses a 4D file with a message."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from medidenoise import denoise, export_model
from medidenoise.export.api import build_pipeline, script_pipeline
from medidenoise.export.pipeline import MAX_SLICE_PIXELS


@pytest.fixture(scope="module")
def scripted() -> torch.jit.ScriptModule:
    return script_pipeline(build_pipeline("cae-baseline"))


def _noisy(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (500 + rng.normal(0, 20, shape)).astype(np.float32)


@pytest.mark.parametrize("value", [0.0, 5.0, -1000.0])
def test_torchscript_constant_images_stay_finite_like_denoise(
    scripted: torch.jit.ScriptModule, value: float
) -> None:
    image = np.full((2, 32, 40), value, np.float32)
    with torch.no_grad():
        got = scripted(torch.from_numpy(image)).numpy()
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, denoise(image, "cae-baseline"), atol=0.05)


def test_torchscript_refuses_what_denoise_refuses(scripted: torch.jit.ScriptModule) -> None:
    image = torch.from_numpy(_noisy((2, 32, 40)))
    image[1, 5, 7] = float("nan")
    with pytest.raises(torch.jit.Error, match="NaN or infinite values"):
        scripted(image)
    with pytest.raises(torch.jit.Error, match="real-valued"):
        scripted(torch.ones(1, 16, 16, dtype=torch.complex64))
    with pytest.raises(torch.jit.Error, match=r"at least 3x3 to estimate noise.*noise_level="):
        scripted(torch.ones(1, 1))
    with pytest.raises(ValueError, match="at least 3x3"):
        denoise(np.ones((1, 1), np.float32), "cae-baseline")
    # with a noise level both run: a 1x1 image comes back finite, as from denoise
    with torch.no_grad():
        one = scripted(torch.full((1, 1), 7.0), noise_level=0.5).numpy()
    assert one.shape == (1, 1) and np.isfinite(one).all()
    assert np.isfinite(denoise(np.full((1, 1), 7.0, np.float32), "cae-baseline", noise_level=0.5))


def test_torchscript_names_the_slice_size_limit(scripted: torch.jit.ScriptModule) -> None:
    big = torch.zeros(1, 3000, 3000)  # refused before any computation
    with pytest.raises(torch.jit.Error, match=r"3000 x 3000 pixels exceed .* tiles"):
        scripted(big)
    assert MAX_SLICE_PIXELS == 2048 * 2048


@pytest.fixture(scope="module")
def onnx_session(tmp_path_factory: pytest.TempPathFactory):
    onnxruntime = pytest.importorskip("onnxruntime", reason="medidenoise[onnx]")
    path = export_model("cae-baseline", tmp_path_factory.mktemp("onnx") / "cae.onnx")
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _run_onnx(session, image: np.ndarray, level: float = -1.0) -> np.ndarray:
    feeds = {"image": image, "intensity_range": np.zeros(2, np.float32)}
    if "noise_level" in {i.name for i in session.get_inputs()}:
        feeds["noise_level"] = np.array([level], np.float32)
    (out,) = session.run(None, feeds)
    return out


@pytest.mark.parametrize("value", [0.0, 5.0])
def test_onnx_constant_images_stay_finite(onnx_session, value: float) -> None:
    image = np.full((2, 32, 40), value, np.float32)
    got = _run_onnx(onnx_session, image)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, denoise(image, "cae-baseline"), atol=0.05)


def test_onnx_keeps_a_nan_pixel_to_itself(onnx_session) -> None:
    image = _noisy((2, 32, 40))
    clean_run = _run_onnx(onnx_session, image)
    image[1, 5, 7] = np.nan
    got = _run_onnx(onnx_session, image)
    bad = ~np.isfinite(got)
    assert bad.sum() == 1 and bad[1, 5, 7]
    far = np.ones_like(bad)
    far[1, :16, :20] = False  # away from the pixel, the result barely changes
    np.testing.assert_allclose(got[far], clean_run[far], atol=2.0)  # ~0.4 % of the range


def test_onnx_runs_on_a_one_pixel_image(onnx_session) -> None:
    for level in (-1.0, 0.5):
        got = _run_onnx(onnx_session, np.full((1, 1, 1), 7.0, np.float32), level)
        assert got.shape == (1, 1, 1) and np.isfinite(got).all()


def test_onnx_documents_the_slice_size_limit(onnx_session) -> None:
    props = onnx_session.get_modelmeta().custom_metadata_map
    assert json.loads(props["medidenoise"])["max_slice_pixels"] == MAX_SLICE_PIXELS
    assert "2048 x 2048" in props["usage"] and "NaN" in props["usage"]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_model("cae-baseline", tmp_path_factory.mktemp("b") / "cae", format="monai-bundle")


def _run_bundle(bundle: Path, source: Path, out: Path) -> Path:
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(bundle / "configs" / "inference.json"))
    parser["bundle_root"], parser["input"], parser["output_dir"] = (
        str(bundle),
        str(source),
        str(out),
    )
    # the bundle's "run" switches autograd off for the whole process (as `monai.bundle run`
    # does in its own process); give it back so later tests can train
    with torch.enable_grad():
        parser.get_parsed_content("run")
    return out / (source.name.split(".nii")[0] + "_denoised.nii.gz")


@pytest.mark.parametrize("shape", [(40, 48), (40, 48, 1), (40, 48, 3)])
def test_bundle_keeps_the_shape_and_affine(bundle: Path, tmp_path: Path, shape: tuple) -> None:
    affine = np.diag([0.8, 0.7, 2.5, 1.0])
    affine[:3, 3] = [10, -5, 3]
    src = tmp_path / "scan.nii.gz"
    nib.save(nib.Nifti1Image(_noisy(shape), affine), src)
    out = nib.load(_run_bundle(bundle, src, tmp_path / "out"))
    assert out.shape == shape and out.get_data_dtype() == np.float32
    np.testing.assert_allclose(out.affine, affine, atol=1e-5)
    assert np.isfinite(out.get_fdata()).all()


def test_bundle_refuses_a_nan_voxel_and_a_4d_file(bundle: Path, tmp_path: Path) -> None:
    vol = _noisy((40, 48, 3))
    vol[3, 3, 1] = np.nan
    nib.save(nib.Nifti1Image(vol, np.eye(4)), tmp_path / "nan.nii.gz")
    with pytest.raises(RuntimeError) as info:
        _run_bundle(bundle, tmp_path / "nan.nii.gz", tmp_path / "out")
    assert "NaN or infinite values" in str(info.value.__cause__)
    nib.save(nib.Nifti1Image(_noisy((40, 48, 3, 2)), np.eye(4)), tmp_path / "four.nii.gz")
    with pytest.raises(RuntimeError) as info:
        _run_bundle(bundle, tmp_path / "four.nii.gz", tmp_path / "out")
    cause = str(info.value.__cause__)
    assert "four.nii.gz: a 4D NIfTI of 2 volumes" in cause and "--volume-index" in cause
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
