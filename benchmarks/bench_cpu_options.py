"""channels_last and torch.compile on the CPU, for training steps and for inference.

Issue 11 asks which of bfloat16 autocast, channels_last memory format and
``torch.compile`` make the shipped U-Net faster on these CPUs (avx512_bf16) without
costing more than 0.05 dB. bfloat16 is measured in ``bench_precision.py`` (and shipped:
``precision="auto"``, ``train.cpu_bf16``); this script measures the other two on top of it:

* **training step** (forward, L1 loss, backward, Adam) of the white-route U-Net, batch 16 of
  96 x 96 patches with the noise-level channel, under bfloat16 autocast as the trainer runs
  it: as it is, in channels_last, compiled (``torch.compile``, default inductor backend),
  and both;
* **inference** of the shipped ``white`` network on one 512 x 512 slice (noise-level
  channel included), in the shipped mixed precision: as it is, channels_last, compiled,
  both; and the largest PSNR change against "as it is" on the hold-out crops (Gaussian
  0.05), which must stay under 0.05 dB.

Every variant is timed round by round, interleaved, in one process (median of
``--repeats`` rounds); compile time is reported apart. Stop any training run first
(``kill -STOP``) or the figures say nothing.

    python benchmarks/bench_cpu_options.py [--repeats 7] [--threads 2] [--no-write]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import _common
import numpy as np
import torch

from medidenoise.engine import build_loss
from medidenoise.evaluation.inputs import holdout_paths, load_images
from medidenoise.evaluation.metrics import psnr
from medidenoise.inference._network import mixed_precision, optimise_for_inference
from medidenoise.models import load_model

BATCH, PATCH, SLICE = 16, 96, 512
#: training: the network's layout (and whether the batches are converted too), compiled or not
TRAIN_VARIANTS = (
    "NCHW (before)",
    "channels_last",
    "channels_last, batches too",
    "compiled",
    "channels_last + compiled",
)
#: inference: run_network's BatchNorm-folded copy (channels_last: what ships), the same in
#: NCHW, and the shipped one compiled
INFER_VARIANTS = ("shipped (BN folded, channels_last)", "BN folded, NCHW", "shipped + compiled")


def _prepare(net: torch.nn.Module, variant: str) -> tuple[torch.nn.Module, bool]:
    """``variant``'s network and whether its inputs are converted to channels_last."""
    if "NCHW" in variant:
        net = net.to(memory_format=torch.contiguous_format)
    elif "channels_last" in variant:
        net = net.to(memory_format=torch.channels_last)
    if "compiled" in variant:
        net = torch.compile(net)  # type: ignore[assignment]
    return net, "batches too" in variant


def _layout(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def _training_steps() -> dict[str, Callable[[], None]]:
    """One training step per variant, each on its own copy of the network and optimiser."""
    steps = {}
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(BATCH, 2, PATCH, PATCH, generator=gen)
    y = torch.rand(BATCH, 1, PATCH, PATCH, generator=gen)
    loss_fn = build_loss("l1")
    for variant in TRAIN_VARIANTS:
        net, cl = _prepare(load_model("white").train(), variant)
        opt = torch.optim.Adam(net.parameters(), lr=1e-5)
        xv, yv = _layout(x, cl), _layout(y, cl)

        def step(net=net, opt=opt, xv=xv, yv=yv) -> None:
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = net(xv)
            loss_fn(out.float(), yv).backward()
            opt.step()

        steps[variant] = step
    return steps


def _inference_nets() -> dict[str, torch.nn.Module]:
    cpu = torch.device("cpu")
    nets = {}
    for variant in INFER_VARIANTS:
        net = mixed_precision(optimise_for_inference(load_model("white"), cpu))
        nets[variant] = _prepare(net, variant)[0]
    return nets


def _infer(net: torch.nn.Module, x: torch.Tensor, variant: str) -> torch.Tensor:
    """What run_network does with one batch: a channels_last input (except for the NCHW
    variant), bfloat16 autocast."""
    layout = torch.contiguous_format if "NCHW" in variant else torch.channels_last
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        return net(x.contiguous(memory_format=layout)).float().contiguous()


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    """Measure, print and (unless --no-write) record the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    steps = _training_steps()
    first_step = {v: _timed(s) for v, s in steps.items()}  # compiles the compiled ones
    for s in steps.values():
        s()  # one more warm-up each
    train_t: dict[str, list[float]] = {v: [] for v in TRAIN_VARIANTS}
    for _ in range(args.repeats):
        for v, s in steps.items():
            train_t[v].append(_timed(s))

    nets = _inference_nets()
    gen = torch.Generator().manual_seed(1)
    x = torch.cat(
        [torch.rand(1, 1, SLICE, SLICE, generator=gen), torch.full((1, 1, SLICE, SLICE), 0.05)], 1
    )
    first_inf = {v: _timed(lambda v=v: _infer(nets[v], x, v)) for v in INFER_VARIANTS}
    infer_t: dict[str, list[float]] = {v: [] for v in INFER_VARIANTS}
    for _ in range(args.repeats):
        for v in INFER_VARIANTS:
            infer_t[v].append(_timed(lambda v=v: _infer(nets[v], x, v)))

    # quality: each variant's output on the hold-out crops under Gaussian 0.05
    images = load_images(holdout_paths(), crop=256)
    worst = dict.fromkeys(INFER_VARIANTS, 0.0)
    for i, image in enumerate(images):
        clean = image.array.astype(np.float32)
        noisy = clean + np.random.default_rng(300 + i).normal(0, 0.05, clean.shape)
        inp = torch.from_numpy(
            np.stack([noisy, np.full_like(noisy, 0.05)])[None].astype(np.float32)
        )
        ref = None
        for v in INFER_VARIANTS:
            out = _infer(nets[v], inp, v)[0, 0].numpy()
            score = psnr(clean, out, data_range=1.0)
            ref = score if ref is None else ref
            worst[v] = max(worst[v], abs(score - ref))

    base_train = statistics.median(train_t[TRAIN_VARIANTS[0]])
    base_inf = statistics.median(infer_t[INFER_VARIANTS[0]])
    rows = [
        "| training variant | step (ms) | x before | first step (s) |",
        "|---|---|---|---|",
    ]
    for v in TRAIN_VARIANTS:
        tr = statistics.median(train_t[v])
        rows.append(f"| {v} | {tr * 1e3:.0f} | {tr / base_train:.2f} | {first_step[v]:.1f} |")
    rows += [
        "",
        "| inference variant | 512 x 512 (ms) | x shipped | largest PSNR change (dB) "
        "| first call (s) |",
        "|---|---|---|---|---|",
    ]
    for v in INFER_VARIANTS:
        inf = statistics.median(infer_t[v])
        rows.append(
            f"| {v} | {inf * 1e3:.1f} | {inf / base_inf:.2f} | {worst[v]:.3f} "
            f"| {first_inf[v]:.1f} |"
        )
    text = "\n".join(
        [
            "### channels_last and torch.compile on the CPU (bench_cpu_options)",
            "",
            f"Command: `{_common.command_line()}`. Machine: {_common.machine()}. "
            f"{args.threads} threads, median of {args.repeats} interleaved rounds, "
            "every variant under bfloat16 autocast as shipped (training: the trainer's "
            f"`cpu_bf16`, batch {BATCH} of {PATCH} x {PATCH}; inference: the `white` network in "
            '`precision="auto"`\'s mixed precision, one slice). PSNR change: hold-out 256 x 256 '
            "crops, Gaussian 0.05, against the shipped variant. First calls include compiling "
            "(inductor's cache in /tmp makes later processes' first calls shorter).",
            "",
            *rows,
        ]
    )
    print(text)
    if not args.no_write:
        _common.update_block("bench_cpu_options", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
