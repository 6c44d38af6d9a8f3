"""Training throughput of the stereo networks, and one full-profile epoch.

Measures, side by side in one run on the chosen device, images per second
of SGD steps (batch 128) for the quick profile's network and the paper's
Split-ResNet-18 (width 1, 32 x 32 x 3), then extrapolates the time of one
full-profile epoch: 50,000 training images, the BN re-estimation pass
and the 10,000-image evaluation. On CUDA it also compares bf16 autocast
with channels-last against plain float32.

    .venv/bin/python benchmarks/stereo_throughput.py [--device cuda]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from cpkit.config import resolve_device
from cpkit.models import SplitResNet18


def images_per_second(
    model: torch.nn.Module,
    shape: tuple[int, int, int],
    device: torch.device,
    steps: int,
    fast: bool,
    train: bool = True,
) -> float:
    """Images/s of training steps (or forward passes) on random data."""
    batch = 128 if train else 500
    x = torch.randn(batch, *shape, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    if fast:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    use_bf16 = fast and device.type == "cuda"
    autocast = torch.autocast(
        device.type, dtype=torch.bfloat16, enabled=use_bf16
    )

    def step() -> None:
        with autocast:
            if train:
                loss = F.cross_entropy(model(x, x).float(), y)
            else:
                with torch.no_grad():
                    model(x, x)
        if train:
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    model.train(train)
    for _ in range(2):  # warm-up
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    device = resolve_device(args.device)
    gpu = device.type == "cuda"
    steps = args.steps * (10 if gpu else 1)
    quick = SplitResNet18(1, 10, width=1 / 16).to(device)
    full = SplitResNet18(3, 10, width=1.0).to(device)
    q = images_per_second(quick, (1, 16, 16), device, steps, fast=False)
    f = images_per_second(full, (3, 32, 32), device, steps, fast=False)
    f_eval = images_per_second(
        full, (3, 32, 32), device, steps, fast=False, train=False
    )
    print(f"device: {device} ({torch.get_num_threads()} CPU threads)")
    print(f"quick network (width 1/16, 16 px): {q:,.0f} images/s training")
    print(f"paper's network (width 1, 32 px):  {f:,.0f} images/s training")
    print(f"ratio quick / paper per image: {q / f:.1f}")
    fast = fast_eval = None
    if gpu:
        fast = images_per_second(full, (3, 32, 32), device, steps, fast=True)
        fast_eval = images_per_second(
            full, (3, 32, 32), device, steps, fast=True, train=False
        )
        print(f"paper's network, bf16 + channels-last: {fast:,.0f} images/s")
        print(f"ratio bf16 + channels-last / float32: {fast / f:.2f}")
    train_rate = fast or f
    eval_rate = fast_eval or f_eval
    epoch = 50_000 / train_rate + (50_000 + 10_000) / eval_rate
    print(
        f"one full-profile epoch (50k steps' images + BN pass + 10k test): "
        f"{epoch:,.0f} s; the paper's protocol (180 + 10 x 179 epochs): "
        f"{epoch * 1970 / 3600:,.1f} h per seed; a chapter with its "
        f"controls (about 4,120 epochs): {epoch * 4120 / 3600:,.1f} h"
    )


if __name__ == "__main__":
    main()
