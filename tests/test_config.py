"""Experiment configs: every shipped file loads; bad ones fail with clear messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from medidenoise.config import ExperimentConfig, apply_overrides, load_config, validate_config
from medidenoise.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
MINIMAL = {"data": {"train": ["mni152"]}}


def test_configs_folder_is_not_empty() -> None:
    assert len(CONFIGS) >= 3


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_loads(path: Path) -> None:
    cfg = load_config(path)
    assert isinstance(cfg, ExperimentConfig)
    assert cfg.base_dir == str(path.parent.resolve())


def test_cae_seed_is_the_classic_baseline() -> None:
    cfg = load_config(ROOT / "configs" / "cae_seed.yaml")
    assert cfg.model.arch == "cae" and cfg.model.features == [32, 64, 128]
    assert cfg.train.loss == "mse" and cfg.train.lr == 1e-3
    assert cfg.train.batch_size == 32 and cfg.train.epochs == 50
    assert [(c.kind, c.level_range) for c in cfg.noise.mixture] == [("gaussian", (0.1, 0.1))]
    assert cfg.train.early_stopping_patience > 0


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_yaml_syntax_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(_write(tmp_path, "data: {train: [a\n"))


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, "data: {train: [mni152]}\ntrain: {epoch: 3}\n")
    with pytest.raises(ConfigError, match=r"train\.epoch = 3: unknown key"):
        load_config(path)


def test_unknown_key_lists_the_allowed_keys_of_its_section(tmp_path: Path) -> None:
    path = _write(tmp_path, "data: {train: [mni152]}\ntrain: {epoch: 3}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "did you mean 'epochs'?" in message
    assert "allowed keys in train: epochs, batch_size, patches_per_epoch, lr," in message
    # keys of the other sections are not offered
    assert "patch_size" not in message


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({**MINIMAL, "modle": {}}, r"modle = \{\}: unknown key.*top level: name, .*model, data"),
        (
            {**MINIMAL, "noise": {"mixture": [{"kind": "gaussian", "level": 0.1, "sigma": 1}]}},
            r"noise\.mixture\.0\.sigma = 1: unknown key; allowed keys in noise\.mixture\.0: "
            r"kind, level, weight, draw$",
        ),
    ],
)
def test_unknown_keys_anywhere_list_their_section(data: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        validate_config(data)


def test_validation_data_must_not_be_training_data() -> None:
    data = {"data": {"train": ["mni152", "scans/a.nii.gz"], "val": ["./scans//a.nii.gz"]}}
    with pytest.raises(
        ConfigError, match=r"data\.val names '\./scans//a\.nii\.gz'.*never be trained"
    ):
        validate_config(data)
    with pytest.raises(ConfigError, match=r"data\.val names 'mni152'"):
        validate_config({"data": {"train": ["mni152"], "val": ["mni152"]}})
    ok = validate_config({"data": {"train": ["scans/a.nii.gz"], "val": ["scans/b.nii.gz"]}})
    assert ok.data.val == ["scans/b.nii.gz"]


def test_out_of_range_value_names_key_value_and_bound(tmp_path: Path) -> None:
    path = _write(tmp_path, "data: {train: [mni152]}\ntrain: {lr: 5}\n")
    with pytest.raises(ConfigError, match=r"train\.lr = 5: .*less than or equal to 1"):
        load_config(path)


def test_bad_choice_lists_allowed_values() -> None:
    with pytest.raises(ConfigError, match=r"model\.norm = 'group'.*'batch', 'instance' or 'none'"):
        validate_config({**MINIMAL, "model": {"norm": "group"}})


def test_missing_required_section() -> None:
    with pytest.raises(ConfigError, match=r"data: Field required"):
        validate_config({})


@pytest.mark.parametrize(
    ("section", "match"),
    [
        ({"model": {"context_slices": 2}}, "context_slices must be odd"),
        ({"model": {"arch": "cae", "residual": True}}, "U-Net option"),
        ({"model": {"arch": "unet", "features": [16]}}, "at least 2 levels"),
        ({"train": {"loss": {"mse": 1, "perceptual": 1}}}, "perceptual"),
        ({"noise": {"mixture": [{"kind": "gaussian", "level": [0.2, 0.1]}]}}, "low <= high"),
        ({"noise": {"mixture": [{"kind": "poisson", "level": 0}]}}, "photon count"),
        ({"noise": {"mixture": []}}, "at least 1 item"),
        (
            {"noise": {"mixture": [{"kind": "gaussian", "level": 0.1}] * 2}},
            "may appear once",
        ),
    ],
)
def test_invalid_sections(section: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        validate_config({**MINIMAL, **section})


def test_code_in_config_is_refused() -> None:
    with pytest.raises(ConfigError, match="code, configs are data"):
        validate_config({**MINIMAL, "model": {"_target_": "os.system"}})
    with pytest.raises(ConfigError, match="not evaluated"):
        validate_config({"data": {"train": ["$__import__('os')"]}})


def test_overrides_parse_yaml_values(tmp_path: Path) -> None:
    path = _write(tmp_path, "data: {train: [mni152]}\n")
    cfg = load_config(
        path,
        ["train.epochs=3", "model.features=[8, 16]", "train.loss={mse: 0.5, ssim: 0.5}"],
    )
    assert cfg.train.epochs == 3
    assert cfg.model.features == [8, 16]
    assert cfg.train.loss == {"mse": 0.5, "ssim": 0.5}


def test_bad_overrides() -> None:
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        apply_overrides({}, ["train.epochs"])
    with pytest.raises(ConfigError, match="not a section"):
        apply_overrides({"seed": 1}, ["seed.x=2"])
    with pytest.raises(ConfigError, match=r"train\.epochs = 'many'"):
        validate_config(apply_overrides(MINIMAL, ["train.epochs=many"]))


def test_overrides_do_not_modify_input() -> None:
    data = {"data": {"train": ["a"]}}
    apply_overrides(data, ["data.patch_size=32"])
    assert data == {"data": {"train": ["a"]}}


def test_default_features_follow_the_architecture() -> None:
    assert validate_config({**MINIMAL, "model": {"arch": "cae"}}).model.features == [32, 64, 128]
    assert validate_config(MINIMAL).model.features == [32, 64, 128, 256]
