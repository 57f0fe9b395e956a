"""What bfloat16 inference on the CPU costs in PSNR and gains in time (issue 11, point 5).

These CPUs have avx512_bf16, where bfloat16 autocast about halves a forward pass
(BENCHMARKS.md, "Network forward time"). Three ways to run the same model: float32
(``Denoiser(precision="float32")``), the shipped mixed precision (``precision="auto"``: a
U-Net's inner levels in bfloat16, its full-resolution ends in float32) and bfloat16 autocast
over the whole network. This scores every cell of ``compare_models.py`` (hold-out crops and
whole images, white and correlated noise) all three ways, same noise draws, and times one
512x512 slice each way in the same run (interleaved, median of ``--repeats``). The rule of
the issue: a faster mode may cost no more than 0.05 dB in any cell.

    python benchmarks/bench_precision.py [--model auto] [--repeats 7] [--no-whole]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import statistics
import sys
import time
from collections.abc import Iterator

import _common
import numpy as np
import torch
from compare_models import _cells

from medidenoise import Denoiser
from medidenoise.evaluation.inputs import holdout_paths, load_images
from medidenoise.evaluation.metrics import psnr
from medidenoise.inference import _network
from medidenoise.inference._methods import Routed

RULE_DB = 0.05


@contextlib.contextmanager
def _bf16() -> Iterator[None]:
    """Run the network under CPU bfloat16 autocast for the duration."""
    original = _network._autocast

    def autocast(device: torch.device, bf16: bool = False) -> contextlib.AbstractContextManager:
        if device.type == "cpu":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return original(device, bf16)

    _network._autocast = autocast  # type: ignore[assignment]
    try:
        yield
    finally:
        _network._autocast = original  # type: ignore[assignment]


def _unwrapped(net: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``net`` with the float32 islands of ``mixed_precision`` taken out."""
    net = copy.deepcopy(net)  # the loaded networks are shared (cached)
    for parent in list(net.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, _network._Float32):
                setattr(parent, name, child.module)
    return net


def _modes(model: str) -> dict[str, Denoiser]:
    everywhere = Denoiser(model, device="cpu", precision="float32")  # run under _bf16()
    if isinstance(everywhere.model, Routed):
        nets = {k: _unwrapped(v) for k, v in everywhere.model.networks.items()}
        everywhere.model = Routed(nets, everywhere.model.names)
    elif isinstance(everywhere.model, torch.nn.Module):
        everywhere.model = _unwrapped(everywhere.model)
    return {
        "float32": Denoiser(model, device="cpu", precision="float32"),
        "mixed": Denoiser(model, device="cpu"),  # the default
        "bfloat16": everywhere,
    }


def _run(name: str, den: Denoiser, image: np.ndarray, level: float) -> np.ndarray:
    if name == "bfloat16":
        with _bf16():
            return den(image, noise_level=level)
    return den(image, noise_level=level)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="auto")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-whole", dest="whole", action="store_false")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    modes = _modes(args.model)
    worst = dict.fromkeys(modes, 0.0)
    print(
        "| images | cell | float32 | mixed (shipped) | bfloat16 everywhere |\n|---|---|---|---|---|"
    )
    for crop in [256] + ([0] if args.whole else []):
        where = f"{crop}px crop" if crop else "whole"
        for label, clean, noisy, oracle in _cells(load_images(holdout_paths(), crop=crop)):
            score = {
                name: psnr(clean, _run(name, den, noisy, oracle), data_range=1.0)  # type: ignore[arg-type]
                for name, den in modes.items()
            }
            for name in modes:
                worst[name] = min(worst[name], score[name] - score["float32"])
            cells = " | ".join(
                f"{score[n]:.3f} ({score[n] - score['float32']:+.3f})"
                for n in ("mixed", "bfloat16")
            )
            print(f"| {where} | {label} | {score['float32']:.3f} | {cells} |", flush=True)
    slice_ = load_images(holdout_paths(), crop=512)[2].array
    times: dict[str, list[float]] = {name: [] for name in modes}
    for name, den in modes.items():
        _run(name, den, slice_, 0.05)  # warm-up
    for _ in range(args.repeats):
        for name, den in modes.items():
            start = time.perf_counter()
            _run(name, den, slice_, 0.05)
            times[name].append(time.perf_counter() - start)
    ms = {name: 1000 * statistics.median(t) for name, t in times.items()}
    print(
        f"\n512x512 slice, median of {args.repeats}, interleaved: "
        + ", ".join(f"{n} {ms[n]:.0f} ms ({ms[n] / ms['float32']:.2f}x)" for n in modes)
        + ".\nWorst cell against float32: "
        + ", ".join(
            f"{n} {worst[n]:+.3f} dB ({'within' if worst[n] >= -RULE_DB else 'OUTSIDE'} the "
            f"{RULE_DB} dB rule)"
            for n in ("mixed", "bfloat16")
        )
        + f".\nCommand: `{_common.command_line()}`. Machine: {_common.machine()}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
