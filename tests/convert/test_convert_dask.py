"""Conversion on a Dask cluster: argument checks (fast), then real clusters of worker processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from pydicom import dcmread

from medidenoise.cli import main
from medidenoise.convert import ConversionReport, convert_dicom_folder
from medidenoise.convert import dask as convert_dask
from medidenoise.convert.plan import PARTIAL_DIR
from medidenoise.convert.provenance import model_id
from medidenoise.convert.report import SeriesEntry
from medidenoise.errors import ConversionError
from medidenoise.io import read_volume
from medidenoise.models import build_model, save_checkpoint

distributed = pytest.importorskip("distributed", reason="needs medidenoise[dask]")
ROOT = Path(__file__).resolve().parents[2]


def small_cae(path: Path, seed: int = 0) -> Path:
    """A small untrained CAE checkpoint: a real network whose output differs from its input."""
    torch.manual_seed(seed)
    return save_checkpoint(path, build_model({"arch": "cae"}).eval())


def outputs(root: Path) -> dict[str, np.ndarray]:
    """``{relative path: pixels}`` of every derived DICOM file under root."""
    return {
        str(p.relative_to(root)): dcmread(p).pixel_array
        for p in sorted(root.rglob("*.dcm"))
        if PARTIAL_DIR not in p.parts
    }


def assert_same_pixels(a: Path, b: Path) -> None:
    left, right = outputs(a), outputs(b)
    assert left and sorted(left) == sorted(right)
    for name, pixels in left.items():
        np.testing.assert_array_equal(pixels, right[name], err_msg=name)


# --- fast: no cluster ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scheduler": "local:0"}, "whole number of workers"),
        ({"scheduler": "local:two"}, "whole number of workers"),
        ({"scheduler": "  "}, "address"),
        ({"scheduler": 8786}, "string or a distributed.Client"),
        ({"scheduler": "missing.json"}, "no such scheduler file"),
        ({"scheduler": "local:2", "jobs": 2}, "pass one"),
        ({"scheduler": "local:2", "model": torch.nn.Identity()}, "by name or checkpoint file"),
    ],
)
def test_bad_scheduler_arguments_are_refused_before_any_work(
    tmp_path: Path, ct_series, kwargs: dict, match: str
) -> None:
    ct_series(tmp_path / "in", 2, size=32)
    kwargs = {"model": "identity", **kwargs}
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        convert_dicom_folder(tmp_path / "in", tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


def test_cli_refuses_a_bad_scheduler(tmp_path: Path, ct_series, capsys) -> None:
    ct_series(tmp_path / "in", 2, size=32)
    args = ["denoise", str(tmp_path / "in"), str(tmp_path / "out"), "--model", "identity"]
    assert main([*args, "--scheduler", "local:0"]) == 2
    assert "local:N" in capsys.readouterr().err
    assert main([*args, "--scheduler", "local:2", "--jobs", "2"]) == 2


def test_model_spec_checks_the_checksum_in_each_process(tmp_path: Path) -> None:
    ckpt = small_cae(tmp_path / "model.safetensors")
    spec = convert_dask.ModelSpec(str(ckpt), model_id(ckpt))
    assert spec.problem_here() == ""
    small_cae(ckpt, seed=1)  # another model under the same name: another checksum
    assert "the model differs on this worker" in spec.problem_here()
    ckpt.unlink()
    assert "cannot see the checkpoint" in spec.problem_here()
    assert convert_dask.ModelSpec("default", model_id("default")).problem_here() == ""


def test_the_worker_of_each_series_is_in_the_report() -> None:
    worker = "tcp://10.0.0.5:4000 (n1)"
    entry = SeriesEntry("in/CT", "out/CT_denoised", 5, "converted", worker=worker)
    report = ConversionReport("in", "out", series=[entry])
    assert f"on Dask worker {worker}" in report.summary()
    assert ConversionReport.from_dict(json.loads(report.to_json())).series[0].worker == worker


# --- slow: real schedulers and worker processes --------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes of two threads each, shared by this module's tests."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None
    ) as lc, distributed.Client(lc) as client:  # fmt: skip
        yield client


def _loads(client) -> dict[str, int]:
    return client.run(lambda: convert_dask._LOADED["loads"])


@pytest.mark.slow
def test_dask_output_equals_a_local_run(cluster, tmp_path: Path, ct_series) -> None:
    for k in range(4):
        ct_series(tmp_path / "in" / f"S{k}", 3, size=48, number=k + 1)
    ckpt = small_cae(tmp_path / "model.safetensors")
    common = {"model": ckpt, "noise_level": 30.0, "device": "cpu"}
    local = convert_dicom_folder(tmp_path / "in", tmp_path / "local", **common)
    before = _loads(cluster)
    address = cluster.scheduler.address
    remote = convert_dicom_folder(tmp_path / "in", tmp_path / "dask", scheduler=address, **common)

    assert local.ok and remote.ok, remote.summary()
    assert_same_pixels(tmp_path / "local", tmp_path / "dask")
    source, denoised = read_volume(tmp_path / "in" / "S0"), read_volume(remote.series[0].output)
    assert np.abs(denoised.array - source.array).mean() > 1  # a real network changed the pixels
    # the Dask run records absolute paths (the quality figure lies in each run's own folder)
    strip = ("source", "output", "seconds", "worker", "figure")
    assert [{k: v for k, v in vars(e).items() if k not in strip} for e in remote.series] == [
        {k: v for k, v in vars(e).items() if k not in strip} for e in local.series
    ]
    assert remote.settings == local.settings
    workers = set(cluster.scheduler_info()["workers"])
    assert all(e.worker.split(" ")[0] in workers for e in remote.series)
    assert not any(e.worker for e in local.series)
    # each worker loaded the model once, whatever number of series it converted
    used = {e.worker.split(" ")[0] for e in remote.series}
    after = _loads(cluster)
    assert {w: after[w] - before[w] for w in used} == dict.fromkeys(used, 1)
    assert set(cluster.run(torch.get_num_threads).values()) == {2}  # = the worker's threads
    saved = json.loads((tmp_path / "dask" / "medidenoise-report.json").read_text())
    assert [e["worker"] for e in saved["series"]] == [e.worker for e in remote.series]
    assert not (tmp_path / "dask" / PARTIAL_DIR).exists()


@pytest.mark.slow
def test_cli_on_a_local_cluster_resumes_and_shows_progress(
    cluster, clean_export: Path, tmp_path: Path, capsys
) -> None:
    args = ["denoise", str(clean_export), str(tmp_path / "out"), "--model", "identity"]
    assert main([*args, "--scheduler", "local:2"]) == 0
    out, err = capsys.readouterr()
    assert "4 converted" in out and "on Dask worker tcp://" in out
    assert "4/4" in err  # the progress bar followed the cluster to the end
    report = json.loads((tmp_path / "out" / "medidenoise-report.json").read_text())
    assert all(e["worker"].startswith("tcp://") for e in report["series"])
    scheduler_file = tmp_path / "scheduler.json"  # as `dask scheduler --scheduler-file` writes
    scheduler_file.write_text(json.dumps({"address": cluster.scheduler.address}))
    assert main([*args, "--scheduler", str(scheduler_file)]) == 0  # another cluster
    assert "4 already complete" in capsys.readouterr().out


@pytest.mark.slow
def test_unreachable_scheduler_fails_within_seconds(tmp_path: Path, ct_series, capsys) -> None:
    ct_series(tmp_path / "in", 2, size=32)
    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.perf_counter()
    code = main(["denoise", str(tmp_path / "in"), str(tmp_path / "out"), "--model", "identity",
                 "--scheduler", f"tcp://127.0.0.1:{port}"])  # fmt: skip
    assert code == 2
    assert time.perf_counter() - start < convert_dask.CONNECT_TIMEOUT_S + 10
    err = capsys.readouterr().err
    assert f"could not reach the Dask scheduler tcp://127.0.0.1:{port}" in err
    assert "dask scheduler" in err and "Traceback" not in err


def _kill_a_worker_mid_series(client, dst: Path) -> tuple[str, list[str]]:
    """SIGKILL a worker while it writes a series; its address and the tasks it held."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        partial = dst / PARTIAL_DIR
        writing = partial.is_dir() and any(p.is_dir() for p in partial.iterdir())
        busy = {w: keys for w, keys in client.processing().items() if keys}
        if writing and busy:
            worker, keys = next(iter(busy.items()))
            pid = client.run(os.getpid, workers=[worker])[worker]
            os.kill(pid, signal.SIGKILL)
            return worker, list(keys)
        time.sleep(0.02)
    raise AssertionError("no series was being written within 300 s")


@pytest.mark.slow
def test_a_killed_worker_loses_and_duplicates_nothing(tmp_path: Path, ct_series) -> None:
    for k in range(6):
        ct_series(tmp_path / "in" / f"S{k}", 8, size=96, number=k + 1)
    src, dst = tmp_path / "in", tmp_path / "out"
    reference = convert_dicom_folder(src, tmp_path / "ref", model="nlm", noise_level=200.0)
    assert reference.ok
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as lc, distributed.Client(lc) as client:  # fmt: skip
        codes: list[int] = []
        argv = ["denoise", str(src), str(dst), "--model", "nlm", "--noise-level", "200",
                "--scheduler", lc.scheduler_address]  # fmt: skip
        run = threading.Thread(target=lambda: codes.append(main(argv)))
        run.start()
        killed, held = _kill_a_worker_mid_series(client, dst)
        run.join(timeout=600)
    assert codes == [0]
    report = ConversionReport.from_dict(json.loads((dst / "medidenoise-report.json").read_text()))
    assert report.ok and [e.status for e in report.series] == ["converted"] * 6
    # the series the killed worker held were converted again by another worker
    by_key = {int(k.rsplit("-", 1)[1]): k for k in held}
    assert by_key and all(not report.series[i].worker.startswith(killed) for i in by_key)
    assert_same_pixels(tmp_path / "ref", dst)  # nothing lost, nothing written twice
    series_dirs = sorted(p.parent.relative_to(dst) for p in dst.rglob(".medidenoise-series.json"))
    assert series_dirs == sorted(Path(e.output).relative_to(dst) for e in report.series)
    assert all(len(list((dst / d).glob("*.dcm"))) == 8 for d in series_dirs)
    assert not (dst / PARTIAL_DIR).exists()


def _can_unshare() -> bool:
    if not shutil.which("unshare") or os.geteuid() != 0:
        return False
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _can_unshare(), reason="needs root and unshare to hide a folder")
def test_a_worker_that_cannot_see_the_paths_is_named(tmp_path: Path, ct_series) -> None:
    """One worker runs in its own mount namespace where ``hidden/`` is an empty tmpfs."""
    hidden, shown = tmp_path / "hidden", tmp_path / "shown"
    ct_series(hidden / "in", 2, size=32)
    ct_series(shown / "in", 2, size=32)
    ckpt = small_cae(hidden / "model.safetensors")
    small_cae(tmp_path / "other.safetensors", seed=1)
    with distributed.LocalCluster(n_workers=0, processes=True, dashboard_address=None) as lc:
        script = (
            f"mount -t tmpfs none {hidden} && cp {tmp_path / 'other.safetensors'} {ckpt} && "
            f"exec {sys.executable} -m distributed.cli.dask_worker {lc.scheduler_address} "
            "--nthreads 1 --no-nanny --name elsewhere"
        )
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get(
            "PYTHONPATH", "")])}  # fmt: skip
        worker = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                                  env=env, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            with distributed.Client(lc) as client:
                client.wait_for_workers(1, timeout=120)
            cases = [
                (hidden / "in", tmp_path / "out1", "identity", "cannot see INPUT file"),
                (shown / "in", hidden / "out", "identity", "does not see OUTPUT"),
                (shown / "in", tmp_path / "out3", ckpt, "the model differs on this worker"),
            ]
            for src, dst, model, message in cases:
                with pytest.raises(ConversionError, match=message) as caught:
                    convert_dicom_folder(src, dst, model=model, scheduler=lc.scheduler_address)
                assert "Dask worker tcp://" in str(caught.value)
                assert "shared file system" in str(caught.value) or "model" in message
                assert not list(dst.rglob("*.dcm"))
        finally:
            worker.kill()
            worker.wait()
