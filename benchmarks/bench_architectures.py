"""Forward time of candidate networks per 512 x 512 slice, fp32 and bfloat16, on CPU.

Random weights (timing only), BatchNorm folded and channels_last as the Denoiser
runs them, 2 torch threads; every candidate is timed in turn within each round
(so a busy machine slows all alike) and the median over rounds is reported with
the ratio to the shipped default's architecture in fp32 measured in the same run.

    python benchmarks/bench_architectures.py [--rounds 7] [--threads 2] [--no-write]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import _common
import torch

from medidenoise.inference._network import optimise_for_inference
from medidenoise.models import build_model

CANDIDATES = {
    "unet 16-128 (shipped default)": {
        "arch": "unet",
        "features": [16, 32, 64, 128],
        "residual": True,
    },
    "unet 32-256": {"arch": "unet", "features": [32, 64, 128, 256], "residual": True},
    "unshuffle_unet 32-128": {"arch": "unshuffle_unet", "features": [32, 64, 128]},
    "unshuffle_unet 48-192": {"arch": "unshuffle_unet", "features": [48, 96, 192]},
    "unshuffle_unet 64-256": {"arch": "unshuffle_unet", "features": [64, 128, 256]},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device("cpu")
    nets, params = {}, {}
    for name, cfg in CANDIDATES.items():
        net = build_model({**cfg, "noise_level_input": True}).eval()
        params[name] = sum(p.numel() for p in net.parameters())
        nets[name] = optimise_for_inference(net, device)
    x = torch.rand(1, 2, 512, 512).contiguous(memory_format=torch.channels_last)
    times: dict[tuple[str, str], list[float]] = {}
    with torch.inference_mode():
        for _ in range(args.rounds + 1):  # the first round warms up
            for name, net in nets.items():
                for precision in ("fp32", "bf16"):
                    t0 = time.perf_counter()
                    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                        net(x)
                    times.setdefault((name, precision), []).append(time.perf_counter() - t0)
    ref = statistics.median(times[(next(iter(CANDIDATES)), "fp32")][1:])
    rows = []
    for name in CANDIDATES:
        cells = []
        for precision in ("fp32", "bf16"):
            ms = 1000 * statistics.median(times[(name, precision)][1:])
            cells.append(f"{ms:.0f} ms ({ms / 1000 / ref:.2f}x)")
        rows.append(f"| {name} | {params[name] / 1e6:.2f} M | {cells[0]} | {cells[1]} |")
    text = "\n".join(
        [
            "### Network forward time per 512 x 512 slice (bench_architectures)",
            "",
            f"Command: `{_common.command_line()}`. Machine: {_common.machine(args.threads)}. "
            f"Median of {args.rounds} interleaved rounds; ratio to the shipped default's "
            "architecture in fp32 in the same run.",
            "",
            "| network | weights | fp32 | bf16 autocast |",
            "| --- | --- | --- | --- |",
            *rows,
        ]
    )
    print(text)
    if not args.no_write:
        _common.update_block("bench_architectures", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
