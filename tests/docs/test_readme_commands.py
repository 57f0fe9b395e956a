"""Every command in the README works as written, and the README stays short enough to scan."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from factories import copy_testdata

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def block(section: str, language: str) -> str:
    """The first ``language`` code block after the ``## section`` heading."""
    start = README.index(f"\n## {section}\n")
    match = re.compile(rf"```{language}\n(.*?)```", re.S).search(README, start)
    assert match is not None, f"no {language} block under '## {section}'"
    return match.group(1)


def _env() -> dict[str, str]:
    paths = [str(ROOT), str(ROOT / "napari_plugin/src"), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def test_the_readme_fits_on_about_three_screens() -> None:
    assert len(README.splitlines()) <= 100
    assert "Research use, not for diagnosis" in README
    assert not re.search(r"\d+(\.\d+)? ?dB", README), "figures belong in BENCHMARKS.md and the site"


def test_the_readme_links_point_at_files_that_exist() -> None:
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README):
        if "://" not in target:
            assert (ROOT / target).exists(), f"README links to missing {target}"


@pytest.mark.slow
def test_the_python_example_runs_as_written(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", block("Python", "python")],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "CT (1, 512, 512)" in run.stdout
    assert "auto: " in run.stdout  # the result names the network auto picked
    assert (tmp_path / "ct_denoised.nii.gz").stat().st_size > 100_000


@pytest.mark.slow
def test_the_command_line_lines_run_as_written(tmp_path: Path) -> None:
    import nibabel as nib
    import numpy as np

    # what the commands take as given: a folder of DICOM files, a NIfTI scan, the configs
    copy_testdata("CT_small.dcm", tmp_path / "PACS_EXPORT" / "ct" / "CT_small.dcm")
    copy_testdata("MR_small.dcm", tmp_path / "PACS_EXPORT" / "mr" / "MR_small.dcm")
    rng = np.random.default_rng(0)
    scan = (100 + rng.normal(0, 5, (48, 40, 4))).astype(np.float32)
    nib.save(nib.Nifti1Image(scan, np.eye(4)), tmp_path / "scan.nii.gz")
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    lines = [line.split("#")[0].strip() for line in block("Command line", "bash").splitlines()]
    commands = [shlex.split(line) for line in lines if line]
    assert [c[:2] for c in commands] == [
        ["medidenoise", "series"], ["medidenoise", "denoise"], ["medidenoise", "denoise"],
        ["medidenoise", "info"], ["medidenoise", "train"],
    ]  # fmt: skip
    for command in commands:
        run = subprocess.run(
            [sys.executable, "-m", "medidenoise", *command[1:]],
            cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert run.returncode == 0, f"{shlex.join(command)}: {run.stderr[-2000:]}"
    assert (tmp_path / "DENOISED" / "medidenoise-report.json").exists()
    assert nib.load(tmp_path / "scan_denoised.nii.gz").shape == scan.shape
    assert (tmp_path / "runs" / "smoke" / "best.safetensors").exists()
