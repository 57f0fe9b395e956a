"""Every network the factory builds compiles with TorchScript and exports (issue 15).

A new architecture added to ``ARCHITECTURES`` is covered here without editing this file:
``medidenoise export`` must work for whatever network a checkpoint's config builds.
"""

from __future__ import annotations

import pytest
import torch

from medidenoise.errors import ConfigError
from medidenoise.export import build_pipeline
from medidenoise.export._jit import quiet_jit, script_pipeline
from medidenoise.models import ARCHITECTURES, build_model

# two builds per architecture: compiling is slow (seconds each on 2 cores)
VARIANTS = [
    {},
    {"context_slices": 3, "noise_level_input": True, "norm": "instance", "residual": True},
]


def _build(arch: str, extra: dict) -> torch.nn.Module:
    cfg = {"arch": arch, **extra}
    try:
        return build_model(cfg).eval()
    except ConfigError:  # e.g. residual is refused by the CAE (it ends in a sigmoid)
        cfg.pop("residual", None)
        return build_model(cfg).eval()


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: ",".join(v) or "defaults")
@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_network_scripts_and_matches_eager(arch: str, variant: dict) -> None:
    torch.manual_seed(0)
    net = _build(arch, variant)
    with quiet_jit():
        scripted = torch.jit.script(net)
    c_in = net.context_slices + int(net.noise_level_input)
    m = net.size_multiple
    x = torch.rand(2, c_in, 2 * m, 3 * m)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), net(x))


@pytest.mark.slow
@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_pipeline_of_every_architecture_scripts(arch: str) -> None:
    torch.manual_seed(0)
    pipeline = build_pipeline(build_model({"arch": arch, "noise_level_input": True}))
    scripted = script_pipeline(pipeline)
    image = torch.rand(3, 21, 26) * 1000
    with torch.no_grad():
        torch.testing.assert_close(scripted(image, 30.0), pipeline(image, 30.0))
        torch.testing.assert_close(scripted(image), pipeline(image))
