"""The CPU network of issue 29 (fast_unet): forward time per 512 x 512 slice and 2-pixel patterns.

Speed: the network with random weights (timing only), BatchNorm folded as the Denoiser runs
it, on ``--threads`` torch threads, in float32 channels-last (how the Denoiser runs it on a
CPU without bfloat16), float32 NCHW, bfloat16 autocast everywhere, mixed precision (the
Denoiser's path on a CPU with bfloat16: the half-resolution body in bfloat16, the head float32)
and ONNX Runtime (float32, when installed); the shipped
``white`` U-Net the same way, and BM3D (told the level) on the same noisy slice, both in the
same run. Each network variant is timed in turn within a round (a busy machine slows all
alike); the medians over rounds are reported, with the ratio to BM3D.

Patterns: on a flat 256 x 256 image with white noise (std 0.05 of the range, level given),
``medidenoise.evaluation.pattern_metrics`` of fast_unet and of ``unshuffle_unet`` (its head is
a pixel shuffle), untrained and after ``--steps`` Adam steps on procedural images under
Gaussian noise: the row, column and checkerboard amplitudes each network adds, in units of
the input's noise std.

    python benchmarks/bench_cpu_net.py [--rounds 5] [--threads 2] [--steps 150] [--no-write]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import _common
import numpy as np
import torch

from medidenoise.engine.procedural import procedural_image
from medidenoise.evaluation import pattern_metrics
from medidenoise.inference._network import mixed_precision, optimise_for_inference
from medidenoise.models import build_model

CPU_NET = {"arch": "fast_unet", "features": [64, 96, 128, 192], "noise_level_input": True}
SHUFFLE_NET = {"arch": "unshuffle_unet", "features": [48, 96, 192], "noise_level_input": True}


def _onnx_session(net: torch.nn.Module, x: torch.Tensor, threads: int):
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    path = Path(tempfile.mkdtemp()) / "net.onnx"
    torch.onnx.export(net, (x.contiguous(),), str(path), dynamo=False, opset_version=17)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    # ONNX Runtime's idle threads spin-wait after a run; timed in turn with torch, they
    # would take the cores from the next variant (torch's times read ~1.5x too slow)
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: x.contiguous().numpy()}
    return lambda: session.run(None, feed)


def speed(rounds: int, threads: int) -> list[str]:
    from medidenoise.models.checkpoint import load_model
    from medidenoise.models.classical import denoise_bm3d

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    clean = procedural_image("phantom", 512, rng)
    noisy = (clean + rng.normal(0, 0.05, clean.shape)).astype(np.float32)
    x = torch.from_numpy(np.stack([noisy, np.full_like(noisy, 0.05)]))[None]
    cpu = torch.device("cpu")
    fast = optimise_for_inference(build_model(CPU_NET).eval(), cpu)
    white = optimise_for_inference(load_model("white").eval(), cpu)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    nchw = optimise_for_inference(build_model(CPU_NET).eval(), cpu)
    nchw = nchw.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]

    def autocast(net: torch.nn.Module):
        def run() -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                net(x_cl)

        return run

    # the Denoiser's path where the CPU has bfloat16 (precision="auto"): the half-resolution
    # body in bfloat16, the full-resolution head float32 (mixed_precision)
    fast_mixed = mixed_precision(optimise_for_inference(build_model(CPU_NET).eval(), cpu))
    white_mixed = mixed_precision(optimise_for_inference(load_model("white").eval(), cpu))
    variants = {
        "fast_unet fp32, channels-last": lambda: fast(x_cl),
        "fast_unet fp32, NCHW": lambda: nchw(x),
        "fast_unet bf16 autocast, channels-last": autocast(fast),
        "white (shipped U-Net) fp32, channels-last": lambda: white(x_cl),
        "white (shipped U-Net) bf16 autocast": autocast(white),
    }
    if torch.cpu._is_avx512_bf16_supported():
        variants["fast_unet mixed precision (the Denoiser's path)"] = autocast(fast_mixed)
        variants["white (shipped U-Net) mixed precision (the Denoiser's path)"] = autocast(
            white_mixed
        )
    session = _onnx_session(build_model(CPU_NET).eval(), x, threads)
    if session is not None:
        variants["fast_unet ONNX Runtime fp32"] = session
    times: dict[str, list[float]] = {k: [] for k in variants}
    with torch.inference_mode():
        for r in range(rounds + 1):  # the first round warms up
            for name, fn in variants.items():
                t0 = time.perf_counter()
                fn()
                if r:
                    times[name].append(time.perf_counter() - t0)
    bm3d = []
    for _ in range(max(1, rounds // 3)):
        t0 = time.perf_counter()
        denoise_bm3d(noisy, 0.05)
        bm3d.append(time.perf_counter() - t0)
    ref = statistics.median(bm3d)
    rows = [
        f"| {name} | {1000 * statistics.median(t):.0f} ms | {ref / statistics.median(t):.0f}x |"
        for name, t in times.items()
    ]
    rows.append(
        f"| BM3D (bm3d package, level given), {len(bm3d)} runs | {1000 * ref:.0f} ms | 1x |"
    )
    return [
        f"Speed: {rounds} rounds (median; BM3D {len(bm3d)} runs), {threads} torch threads, "
        "random weights, BatchNorm folded.",
        "",
        "| variant | ms per 512 x 512 slice | faster than BM3D |",
        "| --- | --- | --- |",
        *rows,
    ]


def _brief_training(net: torch.nn.Module, steps: int) -> None:
    """Adam on procedural 64 x 64 patches under Gaussian noise (levels 0.01-0.15)."""
    g = np.random.default_rng(5)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()
    for _ in range(steps):
        kinds = ("vibrant_leaves", "dead_leaves", "phantom")
        clean = np.stack([procedural_image(kinds[k % 3], 64, g) for k in range(8)])[:, None]
        sigma = g.uniform(0.01, 0.15, (8, 1, 1, 1)).astype(np.float32)
        noisy = clean + sigma * g.standard_normal(clean.shape).astype(np.float32)
        x = torch.from_numpy(np.concatenate([noisy, np.broadcast_to(sigma, noisy.shape)], 1))
        loss = (net(x.float()) - torch.from_numpy(clean)).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()


def patterns(steps: int) -> list[str]:
    rng = np.random.default_rng(3)
    flat = (0.5 + rng.normal(0, 0.05, (256, 256))).astype(np.float32)
    x = torch.from_numpy(np.stack([flat, np.full_like(flat, 0.05)]))[None]
    rows = []
    for label, cfg in (
        ("fast_unet (bilinear head)", CPU_NET),
        ("unshuffle_unet (shuffle)", SHUFFLE_NET),
    ):
        torch.manual_seed(0)
        net = build_model(cfg).eval()
        for stage in ("untrained", f"{steps} steps"):
            if stage != "untrained":
                _brief_training(net, steps)
            with torch.no_grad():
                out = net(x)[0, 0].numpy()
            m = pattern_metrics(out, flat, mask=np.ones_like(flat, dtype=bool))
            rows.append(
                f"| {label} | {stage} | {m.row_alternation_std:+.4f} | "
                f"{m.column_alternation_std:+.4f} | {m.checkerboard_std:+.4f} | "
                f"{m.nyquist_share:.4f} |"
            )
    return [
        "Patterns on a flat 256 x 256 image, white noise std 0.05 (level given); amplitudes in "
        "units of the input's noise std; 'steps': Adam, batch 8 of 64 x 64 procedural patches.",
        "",
        "| network | weights | row alternation | column alternation | checkerboard "
        "| Nyquist share |",
        "| --- | --- | --- | --- | --- | --- |",
        *rows,
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    lines = [
        "### The CPU network (fast_unet, issue 29): speed and 2-pixel patterns (bench_cpu_net)",
        "",
        f"Command: `{_common.command_line()}`. Machine: {_common.machine(args.threads)}.",
        "",
        *speed(args.rounds, args.threads),
        "",
        *patterns(args.steps),
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        _common.write_section_block(
            "## Issue 29: the CPU network, more training data, the resumable recipe",
            "<!-- bench_cpu_net:start -->",
            "<!-- bench_cpu_net:end -->",
            text,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
