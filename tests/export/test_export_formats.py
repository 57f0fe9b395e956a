"""TorchScript and ONNX round trips, and the errors a user meets (issue 15)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from medidenoise import Denoiser, denoise, export_model, save_checkpoint
from medidenoise.cli import main
from medidenoise.errors import (
    CheckpointError,
    ExportError,
    MissingPackageError,
    OutputExistsError,
)
from medidenoise.models import build_model

onnxruntime = pytest.importorskip("onnxruntime", reason="medidenoise[onnx] is not installed")


def _phantom(shape: tuple[int, ...], *, sigma: float = 0.05, seed: int = 0) -> np.ndarray:
    """A smooth image in [0, 1] with Gaussian noise, (H, W) or (D, H, W)."""
    rng = np.random.default_rng(seed)
    h, w = shape[-2:]
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    clean = 0.5 + 0.35 * np.sin(7 * xx) * np.cos(5 * yy)
    clean = np.broadcast_to(clean, shape)
    return np.clip(clean + rng.normal(0, sigma, shape), 0, 1).astype(np.float32)


# run where medidenoise cannot be imported: an import hook refuses it
_STANDALONE = """
import sys
class _Refuse:
    def find_spec(self, name, path=None, target=None):
        if name == "medidenoise" or name.startswith("medidenoise."):
            raise ImportError("medidenoise is blocked in this process")
        return None
sys.meta_path.insert(0, _Refuse())
try:
    import medidenoise
except ImportError:
    pass
else:
    raise SystemExit("medidenoise could be imported")
import json, numpy as np, torch
files = {"medidenoise.json": ""}
net = torch.jit.load(sys.argv[1], _extra_files=files)
image = torch.from_numpy(np.load(sys.argv[2]))
with torch.no_grad():
    auto = net(image)
    given = net(image, noise_level=float(sys.argv[4]))
np.save(sys.argv[3], np.stack([auto.numpy(), given.numpy()]))
print(json.loads(files["medidenoise.json"])["format"])
"""


@pytest.mark.slow
def test_torchscript_runs_without_medidenoise(tmp_path: Path) -> None:
    ts = export_model("default", tmp_path / "default.ts")
    volume = _phantom((3, 70, 90)) * 800 - 100  # image units, not [0, 1]
    np.save(tmp_path / "in.npy", volume)
    script = tmp_path / "standalone.py"
    script.write_text(textwrap.dedent(_STANDALONE), encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            str(script),
            str(ts),
            str(tmp_path / "in.npy"),
            str(tmp_path / "out.npy"),
            "40",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("medidenoise-torchscript-v1")
    auto, given = np.load(tmp_path / "out.npy")
    np.testing.assert_allclose(auto, denoise(volume, "default"), rtol=2e-5, atol=2e-3)
    np.testing.assert_allclose(
        given, denoise(volume, "default", noise_level=40.0), rtol=2e-5, atol=2e-3
    )
    assert np.abs(given - volume).mean() > 5  # it denoised


@pytest.mark.slow
def test_onnx_matches_torch_on_unit_range_data(tmp_path: Path) -> None:
    onnx_path = export_model("default", tmp_path / "default.onnx")
    image = _phantom((100, 120))
    ref = denoise(image, "default")
    got = denoise(image, str(onnx_path))
    assert got.shape == image.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, ref, atol=1e-3)
    np.testing.assert_allclose(
        denoise(image, onnx_path, noise_level=0.08),
        denoise(image, "default", noise_level=0.08),
        atol=1e-3,
    )
    assert Denoiser(onnx_path).name == "default.onnx"
    # --model x.onnx on the command line
    import nibabel as nib

    nib.save(nib.Nifti1Image(_phantom((2, 40, 56)).T.copy(), np.eye(4)), tmp_path / "in.nii.gz")
    for model, out in (("default", "torch.nii.gz"), (str(onnx_path), "onnx.nii.gz")):
        assert (
            main(["denoise", str(tmp_path / "in.nii.gz"), str(tmp_path / out), "--model", model])
            == 0
        )
    via_onnx = nib.load(tmp_path / "onnx.nii.gz").get_fdata()
    np.testing.assert_allclose(via_onnx, nib.load(tmp_path / "torch.nii.gz").get_fdata(), atol=1e-3)


def test_onnx_graph_alone_estimates_and_normalises(tmp_path: Path) -> None:
    onnx_path = export_model("cae-baseline", tmp_path / "cae.onnx")
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    props = session.get_modelmeta().custom_metadata_map
    assert "intensity_range" in props["usage"]
    info = json.loads(props["medidenoise"])
    assert info["size_multiple"] == 8 and info["checkpoint"]["model"]["arch"] == "cae"
    volume = _phantom((2, 45, 61)) * 3000 + 200
    names = {i.name for i in session.get_inputs()}
    feeds = {"image": volume, "intensity_range": np.zeros(2, np.float32)}
    if "noise_level" in names:
        feeds["noise_level"] = np.array([-1.0], np.float32)
    (out,) = session.run(None, feeds)
    np.testing.assert_allclose(out, denoise(volume, "cae-baseline"), atol=0.05)  # 3000 units


def test_onnx_two_and_a_half_d_in_batches_sees_its_neighbours(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = build_model(
        {"arch": "unet", "features": [4, 8], "context_slices": 3, "noise_level_input": True}
    )
    ckpt = save_checkpoint(tmp_path / "ctx3.safetensors", net)
    onnx_path = export_model(ckpt, tmp_path / "ctx3.onnx")
    volume = _phantom((7, 32, 40))
    ref = denoise(volume, ckpt, noise_level=0.05)
    got = Denoiser(onnx_path, batch_size=2)(volume, noise_level=0.05)
    np.testing.assert_allclose(got, ref, atol=1e-4)
    with pytest.raises(ValueError, match="self_ensemble"):
        Denoiser(onnx_path, self_ensemble=True)


def test_onnx_two_d_tiles_and_self_ensemble_like_torch(tmp_path: Path) -> None:
    onnx_path = export_model("cae-baseline", tmp_path / "cae.onnx")
    large = _phantom((90, 110))
    # tiles of 48 px: the .onnx path blends the same tiles as the checkpoint
    tiled = Denoiser(onnx_path, tile_size=48)(large, noise_level=0.05)
    np.testing.assert_allclose(
        tiled, Denoiser("cae-baseline", tile_size=48)(large, noise_level=0.05), atol=1e-4
    )
    assert not np.allclose(tiled, denoise(large, onnx_path, noise_level=0.05), atol=1e-4)
    ensemble = denoise(large, onnx_path, self_ensemble=True)
    np.testing.assert_allclose(
        ensemble, denoise(large, "cae-baseline", self_ensemble=True), atol=1e-4
    )


def test_unknown_format_existing_output_and_non_networks(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="unknown export format 'keras'"):
        export_model("cae-baseline", tmp_path / "m.ts", format="keras")  # type: ignore[arg-type]
    with pytest.raises(ExportError, match="cannot tell the format"):
        export_model("cae-baseline", tmp_path / "model.bin")
    with pytest.raises(ExportError, match="not a network"):
        export_model("nlm", tmp_path / "nlm.ts")
    target = tmp_path / "cae.ts"
    target.write_bytes(b"keep me")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        export_model("cae-baseline", target)
    assert target.read_bytes() == b"keep me"
    export_model("cae-baseline", target, overwrite=True)
    assert torch.jit.load(str(target)).size_multiple == 8
    assert not list(tmp_path.glob(".*partial"))


def test_missing_packages_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    onnx_path = export_model("cae-baseline", tmp_path / "cae.onnx")
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(MissingPackageError, match=r"medidenoise\[onnx\]"):
        export_model("cae-baseline", tmp_path / "again.onnx")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(MissingPackageError, match="onnxruntime"):
        denoise(np.zeros((16, 16), np.float32), onnx_path)


def test_foreign_onnx_is_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.onnx"
    torch.onnx.export(
        torch.nn.Identity(), (torch.zeros(1, 4),), str(foreign), dynamo=False, input_names=["x"]
    )
    with pytest.raises(CheckpointError, match="without medidenoise metadata"):
        denoise(np.zeros((16, 16), np.float32), foreign)


def test_cli_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cae.ts"
    assert main(["export", "cae-baseline", "--format", "torchscript", "--output", str(out)]) == 0
    assert out.is_file()
    assert main(["export", "cae-baseline", "--output", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["export", "cae-baseline", "--output", str(out), "--overwrite"]) == 0
