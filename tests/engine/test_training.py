"""End-to-end training: engines, checkpoints, metrics files, resume, early stopping, CLI."""

from __future__ import annotations

import copy
import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from medidenoise import cli
from medidenoise.config import load_config
from medidenoise.engine import PatchDataset, train
from medidenoise.engine.state import load_state
from medidenoise.errors import CheckpointError, ConfigError
from medidenoise.models import load_model

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run(tiny_config: dict, tmp_path: Path):
    out = tmp_path / "run"
    return train(tiny_config, output_dir=out, progress=False), out


def test_two_iterations_validate_and_checkpoint(run) -> None:
    result, out = run
    assert result.output_dir == out
    assert [r["epoch"] for r in result.metrics] == [1]
    row = result.metrics[0]
    assert row["val_psnr"] > 0 and 0 < row["val_ssim"] <= 1 and row["train_loss"] > 0
    for name in (
        "best.safetensors",
        "last.safetensors",
        "resume.safetensors",
        "metrics.csv",
        "metrics.json",
        "loss_curve.png",
        "config.yaml",
    ):
        assert (out / name).is_file(), name
    model = load_model(result.best_checkpoint)
    meta = model.metadata
    assert meta["model"]["arch"] == "unet" and meta["epochs"] == 1 and meta["seed"] == 1
    assert meta["metrics"]["val_psnr"] == pytest.approx(row["val_psnr"])
    for key in ("normalization", "noise", "data", "package_version", "train"):
        assert meta[key], key
    assert "by volume" not in meta["data"]["split"] or meta["data"]["val_volumes"]
    with open(out / "metrics.csv", encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert header == ["epoch", "train_loss", "val_loss", "val_psnr", "val_ssim", "lr", "time_s"]
    # the resolved config is a valid config again
    assert load_config(out / "config.yaml").model.features == [4, 8]
    assert "best validation PSNR" in result.summary()


def test_resume_continues_the_run(run, tiny_config: dict) -> None:
    _, out = run
    before = load_state(out)["info"]
    assert before["epoch"] == 1
    result = train(
        tiny_config, resume=out / "last.safetensors", overrides=["train.epochs=2"], progress=False
    )
    assert result.output_dir == out
    assert [r["epoch"] for r in result.metrics] == [1, 2]
    state = load_state(out)
    assert state["info"]["epoch"] == 2 and state["info"]["iteration"] == 4
    # Adam's step counters went on from the saved ones (2 iterations per epoch)
    steps = {float(v["step"]) for v in state["optimizer"]["state"].values()}
    assert steps == {4.0}


def test_resume_draws_the_patches_an_uninterrupted_run_would(
    tiny_config: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: list[torch.Tensor] = []
    original = PatchDataset.__getitem__

    def record(self: PatchDataset, index: int) -> dict[str, torch.Tensor]:
        item = original(self, index)
        drawn.append(item["label"].clone())
        return item

    monkeypatch.setattr(PatchDataset, "__getitem__", record)
    cfg = copy.deepcopy(tiny_config)
    cfg["train"]["epochs"] = 2
    whole = train(cfg, output_dir=tmp_path / "whole", progress=False)
    per_epoch = cfg["train"]["patches_per_epoch"]
    assert len(drawn) == 2 * per_epoch
    epoch1, epoch2 = drawn[:per_epoch], drawn[per_epoch:]
    drawn.clear()
    train(tiny_config, output_dir=tmp_path / "split", progress=False)  # epoch 1 only
    drawn.clear()
    resumed = train(
        tiny_config, resume=tmp_path / "split", overrides=["train.epochs=2"], progress=False
    )
    assert len(drawn) == per_epoch
    # epoch 2 of the resumed run: new patches, exactly those of the uninterrupted run
    assert not any(torch.equal(a, b) for a, b in zip(drawn, epoch1, strict=True))
    for a, b in zip(drawn, epoch2, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    # so the run ends where the uninterrupted one did
    assert resumed.metrics[1]["train_loss"] == pytest.approx(whole.metrics[1]["train_loss"])
    end, ref = load_model(resumed.last_checkpoint), load_model(whole.last_checkpoint)
    for key, value in ref.state_dict().items():
        torch.testing.assert_close(end.state_dict()[key], value)


def test_stop_epoch_ends_a_run_partway_along_its_schedule(
    tiny_config: dict, tmp_path: Path
) -> None:
    cfg = copy.deepcopy(tiny_config)
    cfg["train"].update({"epochs": 3, "schedule": "cosine", "lr": 1e-3, "lr_min": 0.0})
    whole = train(cfg, output_dir=tmp_path / "whole", progress=False)
    cfg["train"]["stop_epoch"] = 1
    part = train(cfg, output_dir=tmp_path / "part", progress=False)
    # one epoch, with the learning rate of the three-epoch schedule, not of a one-epoch one
    assert [r["epoch"] for r in part.metrics] == [1] and not part.stopped_early
    assert part.metrics[0]["lr"] == pytest.approx(whole.metrics[0]["lr"])
    assert load_model(part.last_checkpoint).metadata["epochs"] == 1
    # going on without the stop finishes the schedule as the uninterrupted run did
    done = train(cfg, resume=tmp_path / "part", overrides=["train.stop_epoch=null"], progress=False)
    assert [r["epoch"] for r in done.metrics] == [1, 2, 3]
    assert [r["lr"] for r in done.metrics] == pytest.approx([r["lr"] for r in whole.metrics])
    end, ref = load_model(done.last_checkpoint), load_model(whole.last_checkpoint)
    for key, value in ref.state_dict().items():
        torch.testing.assert_close(end.state_dict()[key], value)
    with pytest.raises(ConfigError, match="stop_epoch 4 is after the last epoch"):
        train(cfg, output_dir=tmp_path / "bad", overrides=["train.stop_epoch=4"], progress=False)


def test_weight_average_follows_the_weights() -> None:
    from medidenoise.engine.handlers import WeightAverage

    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    average = WeightAverage(net, 0.9)
    start = copy.deepcopy(net.state_dict())
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    net[1].num_batches_tracked.fill_(7)
    average.update()
    d = 0.9
    got = average.module.state_dict()
    for name, value in net.state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(got[name], d * start[name] + (1 - d) * value)
        else:  # integer buffers follow the model
            assert int(got[name]) == 7
    assert not any(p.requires_grad for p in average.module.parameters())
    # the saved average and its update count carry on after a resume
    again = WeightAverage(net, 0.9, saved=average.module.state_dict(), updates=average.updates)
    for name, value in got.items():
        torch.testing.assert_close(again.module.state_dict()[name], value)
    assert again.updates == 1
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(net, 1.0)


def test_weight_average_gives_the_same_weights_as_a_plain_moving_average() -> None:
    """On torch's AveragedModel, the average is bit for bit the one a hand-written
    ``avg.lerp_(raw, 1 - decay)`` over the state dict gives (integer buffers copied),
    over many steps of a training-like drift, batch-norm statistics included."""
    from medidenoise.engine.handlers import WeightAverage

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.Conv2d(4, 1, 3)
    )
    decay = 0.95
    average = WeightAverage(net, decay)
    reference = copy.deepcopy(net.state_dict())
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(25):
        loss = net(torch.randn(2, 1, 12, 12)).square().mean()  # BatchNorm updates its stats
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        average.update()
        with torch.no_grad():
            for name, value in net.state_dict().items():
                if reference[name].is_floating_point():
                    reference[name].lerp_(value, 1.0 - decay)
                else:
                    reference[name].copy_(value)
    got = average.module.state_dict()
    assert got.keys() == reference.keys()
    for name, value in reference.items():
        assert torch.equal(got[name], value), name
    assert average.updates == 25 and int(got["1.num_batches_tracked"]) == 25
    assert not torch.equal(got["0.weight"], net.state_dict()["0.weight"])  # it lags the model


def test_ema_run_saves_the_average_and_resumes_it_exactly(
    tiny_config: dict, tmp_path: Path
) -> None:
    cfg = copy.deepcopy(tiny_config)
    cfg["train"].update({"epochs": 2, "ema": 0.9})
    whole = train(cfg, output_dir=tmp_path / "whole", progress=False)
    state = load_state(tmp_path / "whole")
    assert state["average"] is not None and state["info"]["average_updates"] == 4
    last = load_model(whole.last_checkpoint).state_dict()
    # the checkpoints hold the averaged weights, the resume state both
    for key, value in state["average"].items():
        torch.testing.assert_close(last[key], value)
    assert any(not torch.equal(state["model"][k], v) for k, v in state["average"].items()), (
        "the average should differ from the raw weights after 4 steps"
    )
    assert load_model(whole.last_checkpoint).metadata["train"]["ema"] == 0.9
    # one epoch, then a resume: the same average as the uninterrupted run
    cfg["train"]["stop_epoch"] = 1
    train(cfg, output_dir=tmp_path / "split", progress=False)
    done = train(
        cfg, resume=tmp_path / "split", overrides=["train.stop_epoch=null"], progress=False
    )
    resumed = load_model(done.last_checkpoint).state_dict()
    for key, value in last.items():
        torch.testing.assert_close(resumed[key], value)
    # and it validated as the uninterrupted run did
    assert done.metrics[-1]["val_psnr"] == pytest.approx(whole.metrics[-1]["val_psnr"])


def test_resume_refuses_another_model(run, tiny_config: dict) -> None:
    _, out = run
    other = copy.deepcopy(tiny_config)
    other["model"]["features"] = [4, 8, 16]
    with pytest.raises(ConfigError, match="differs"):
        train(other, resume=out, progress=False)


def test_resume_needs_a_run_folder(tmp_path: Path, tiny_config: dict) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        train(tiny_config, resume=tmp_path / "nothing", progress=False)


def test_early_stopping_and_tensorboard(tiny_config: dict, tmp_path: Path) -> None:
    cfg = copy.deepcopy(tiny_config)
    # a learning rate this small leaves validation PSNR flat (well within 1 dB):
    # patience 1 stops after epoch 2
    cfg["train"].update(
        epochs=6,
        lr=1e-12,
        early_stopping_patience=1,
        tensorboard=True,
        early_stopping_min_delta=1.0,
        schedule="cosine",
    )
    result = train(cfg, output_dir=tmp_path, progress=False)
    assert result.stopped_early
    assert len(result.metrics) == 2
    assert list((tmp_path / "tensorboard").glob("events.*"))


def test_holdout_data_is_refused(tiny_config: dict, tmp_path: Path) -> None:
    cfg = copy.deepcopy(tiny_config)
    cfg["data"]["train"] = ["pydicom-data:RG3_UNCR"]
    with pytest.raises(ConfigError, match="hold-out"):
        train(cfg, output_dir=tmp_path, progress=False)


@pytest.mark.slow
def test_cli_train_smoke_config(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = cli.main(
        [
            "train",
            "--config",
            str(ROOT / "configs" / "smoke.yaml"),
            "--output",
            str(tmp_path),
            "--set",
            "train.epochs=1",
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    assert "best checkpoint" in capsys.readouterr().out
    assert (tmp_path / "loss_curve.png").stat().st_size > 1000
    assert load_model(tmp_path / "last.safetensors").metadata["config_name"] == "smoke"


def test_cli_reports_config_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {train: [mni152]}\ntrain: {epochs: -1}\n", encoding="utf-8")
    assert cli.main(["train", "--config", str(bad)]) == 2
    assert "train.epochs = -1" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("device", "hide_cuda", "match"),
    [
        ("bogus", False, "device='bogus' is not a device"),
        ("cuda", True, "device='cuda' was asked for but CUDA is not available"),
        ("cuda:1", True, "device='cuda:1' was asked for but CUDA is not available"),
        ("mps", False, "device='mps': training runs on"),
    ],
)
def test_cli_reports_unusable_devices(
    device: str,
    hide_cuda: bool,
    match: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if hide_cuda:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    config = tmp_path / "c.yaml"
    config.write_text("data: {train: [mni152]}\n", encoding="utf-8")
    out = tmp_path / "out"
    code = cli.main(["train", "--config", str(config), "--output", str(out), "--device", device])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("medidenoise train: error: ") and match in err
    assert "'auto', 'cpu', 'cuda' or 'cuda:N'" in err
    assert "Traceback" not in err
    assert not out.exists()  # it failed before writing anything


def test_init_weights_fine_tunes_from_a_checkpoint(run, tiny_config: dict, tmp_path: Path) -> None:
    result, _ = run
    start = load_model(result.best_checkpoint)
    cfg = copy.deepcopy(tiny_config)
    cfg["train"]["init_weights"] = str(result.best_checkpoint)
    cfg["train"]["lr"] = 1e-12  # (almost) no step: the weights stay the starting ones
    tuned = train(cfg, output_dir=tmp_path / "tuned", progress=False)
    # a fresh run (epoch 1), not a resumed one, that started from the given weights
    assert [r["epoch"] for r in tuned.metrics] == [1]
    after = load_model(tuned.last_checkpoint)
    conv = [k for k, v in start.state_dict().items() if v.dtype.is_floating_point and v.ndim == 4]
    assert conv
    for key in conv:
        torch.testing.assert_close(after.state_dict()[key], start.state_dict()[key])
    assert after.metadata["train"]["init_weights"] == str(result.best_checkpoint)


def test_init_weights_must_match_the_model(run, tiny_config: dict, tmp_path: Path) -> None:
    result, _ = run
    cfg = copy.deepcopy(tiny_config)
    cfg["train"]["init_weights"] = str(result.best_checkpoint)
    cfg["model"]["features"] = [4, 8, 16]
    with pytest.raises(ConfigError, match=r"init_weights.*differs from the config's model"):
        train(cfg, output_dir=tmp_path / "other", progress=False)
    cfg["train"]["init_weights"] = str(tmp_path / "missing.safetensors")
    with pytest.raises(ConfigError, match=r"init_weights=.*missing\.safetensors.*not found"):
        train(cfg, output_dir=tmp_path / "other", progress=False)
    cfg["train"]["init_weights"] = "auto"  # two networks, not one to start from
    with pytest.raises(ConfigError, match=r"init_weights='auto'.*'white' or 'correlated'"):
        train(cfg, output_dir=tmp_path / "other", progress=False)


def test_cpu_bf16_and_procedural_data_train_through_the_engines(
    tiny_config: dict, tmp_path: Path
) -> None:
    from medidenoise.engine.engines import CpuBf16Inferer

    cfg = {
        **tiny_config,
        "data": {**tiny_config["data"], "procedural": 0.5, "val_band": 0.25, "val_max_slices": 8},
        "noise": {
            "mixture": [
                {"kind": "correlated", "level": [0.03, 0.08]},
                {"kind": "poisson_gaussian", "level": [0.03, 0.08]},
            ]
        },
        # the NCHW layout of before (channels_last, the default, is what the other tests run)
        "train": {**tiny_config["train"], "cpu_bf16": True, "loss": "l1", "channels_last": False},
    }
    result = train(cfg, output_dir=tmp_path / "bf16", progress=False)
    row = result.metrics[0]
    assert np.isfinite(row["train_loss"]) and row["val_psnr"] > 0
    meta = load_model(result.best_checkpoint).metadata
    assert meta["train"]["cpu_bf16"] is True and meta["train"]["channels_last"] is False
    # validation covers the given volume and the middle band of the training volume's rows
    assert "middle 25% of the rows of 1 training volume" in meta["data"]["split"]
    given, trained = cfg["data"]["val"], cfg["data"]["train"]
    assert meta["data"]["val_volumes"] == [str(p) for p in (*given, *trained)]
    # the inferer really runs the network in bfloat16 and hands float32 to the loss
    seen = []
    net = torch.nn.Conv2d(1, 1, 3, padding=1)
    net.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
    out = CpuBf16Inferer()(torch.rand(1, 1, 8, 8), net)
    assert seen == [torch.bfloat16] and out.dtype == torch.float32


def test_weight_average_warmup_moves_away_from_the_start_quickly() -> None:
    """With ``warmup`` the n-th update's decay is min(decay, (1 + n) / (warmup + n)): adapt's
    average of a fine-tune, where the first steps must not be held back by the base weights."""
    from medidenoise.engine.handlers import WeightAverage

    torch.manual_seed(0)
    net = torch.nn.Conv2d(1, 2, 3)
    average = WeightAverage(net, 0.95, warmup=10)
    reference = [p.detach().clone() for p in net.parameters()]
    for n in range(1, 40):
        with torch.no_grad():
            for p in net.parameters():
                p.add_(0.1 * torch.randn_like(p))
        average.update()
        decay = min(0.95, (1 + n) / (10 + n))
        for r, p in zip(reference, net.parameters(), strict=True):
            r.lerp_(p.detach(), 1.0 - decay)
        if n == 1:  # the first update keeps only 2/11 of the starting weights
            first = [p.clone() for p in average.module.parameters()]
            assert all(torch.allclose(a, r) for a, r in zip(first, reference, strict=True))
    for got, want in zip(average.module.parameters(), reference, strict=True):
        torch.testing.assert_close(got, want)
