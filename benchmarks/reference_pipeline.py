"""Split-ResNet-18 epochs: cpkit's pipeline against the paper's kind.

Times, side by side in one process, one epoch of the blur main run (view
b blurred, batch 128, SGD with the paper's settings, a BN re-estimation
pass and a test pass after the epoch) done two ways on the same model
and the same images:

- reference: :mod:`cpkit.baseline`, which feeds the network the way the
  paper's released code does (per-sample Pillow transforms, DataLoader
  workers, float32, a BN dry run over the augmented training loader);
- ours: :func:`cpkit.training.train` (data held on the device, batched
  augmentation and blur) with the stereo blur chapter's full-profile
  settings, which, like the paper's blur runs, re-estimate BN after every
  epoch (on the clean training images, batched on the device); in
  float32, in bf16 autocast (on CUDA also channels-last), and in bf16
  under ``torch.compile`` (``--no-compile`` leaves it out).

Rounds alternate the contenders; the fastest round of each counts. The
images are synthetic uint8 32 x 32 x 3 frames (what a step costs does
not depend on the pixels). Prints images per second of whole epochs and
the ratios, and stores them (see :mod:`cpkit.bench`).

    .venv/bin/python benchmarks/reference_pipeline.py [--device cuda]
"""

from __future__ import annotations

import argparse
import dataclasses
import warnings

import numpy as np
import torch

from cpkit import bench
from cpkit.baseline import PaperStyleViews, loader, paper_style_epoch
from cpkit.config import check_int, resolve_device
from cpkit.deficits import DeficitWindow
from cpkit.errors import ConfigError
from cpkit.models import SplitResNet18
from cpkit.profiles import get_profile
from cpkit.training import train
from cpkit.twoview import CIFAR10_MEAN, CIFAR10_STD, TwoViewData
from cpkit.views import to_tensor

# the paper's 3 workers on a machine with fewer cores: torch warns; we know
warnings.filterwarnings("ignore", message="This DataLoader will create")


def contenders(args, device: torch.device, compiled: bool = True) -> dict:
    """The epoch functions to time, each with its own model copy.

    ``compiled`` adds ours in bf16 under ``torch.compile`` (compiled in
    the warm-up round).
    """
    rng = np.random.default_rng(0)
    size = args.image_size
    train_images = rng.integers(0, 256, (args.images, size, size, 3), np.uint8)
    test_images = rng.integers(0, 256, (args.test_images, size, size, 3))
    test_images = test_images.astype(np.uint8)
    train_labels = rng.integers(0, 10, args.images)
    test_labels = rng.integers(0, 10, args.test_images)

    torch.manual_seed(0)
    template = SplitResNet18(3, 10, width=args.width)

    def fresh() -> torch.nn.Module:
        model = SplitResNet18(3, 10, width=args.width)
        model.load_state_dict(template.state_dict())
        return model.to(device)

    # the reference: per-sample Pillow transforms, worker processes
    def views(images, labels, train):
        return PaperStyleViews(
            images, labels, CIFAR10_MEAN, CIFAR10_STD, train, blur=train
        )

    ref_model = fresh()
    ref_opt = torch.optim.SGD(
        ref_model.parameters(), lr=0.075, momentum=0.9, weight_decay=5e-4
    )
    ref_train = loader(
        views(train_images, train_labels, True), 128, args.workers
    )
    ref_test = loader(
        views(test_images, test_labels, False), 100, args.workers
    )

    def reference() -> None:
        paper_style_epoch(ref_model, ref_opt, ref_train, ref_test, device)

    # ours: the same images normalised once and held on the device
    x_train, mean, std = to_tensor(train_images, CIFAR10_MEAN, CIFAR10_STD)
    x_test, _, _ = to_tensor(test_images, mean, std)
    data = TwoViewData(
        "synthetic",
        x_train.to(device),
        torch.as_tensor(train_labels).to(device),
        x_test.to(device),
        torch.as_tensor(test_labels).to(device),
        view_size=size // 2,
        pad=4,
        flip=True,
    )
    blur_epoch = DeficitWindow("blur", 0, 1, 1)
    out = {"reference (paper's kind)": reference}
    _, _, full, _ = get_profile("stereo_blur", "full").specs()
    variants = {"fp32": {"precision": "fp32"}, "bf16": {"precision": "bf16"}}
    if compiled:
        variants["bf16, compiled"] = {"precision": "bf16", "compile": True}
    for name, options in variants.items():
        model = fresh()
        config = dataclasses.replace(full, **options)
        generator = torch.Generator().manual_seed(0)

        def ours(model=model, config=config, generator=generator) -> None:
            train(model, data, config, range(0, 1), generator, blur_epoch)

        out[f"ours, {name}"] = ours
    return out


def check(args, device: torch.device) -> bool:
    """Validate the flags (one line each); whether they are the defaults."""
    gpu = device.type == "cuda"
    if args.images is None:
        args.images = 25_600 if gpu else 512
    if args.test_images is None:
        args.test_images = max(1, args.images // 5)
    at_defaults = bench.check_settings(
        args,
        {
            "images": 25_600 if gpu else 512,
            "test_images": 5_120 if gpu else 102,
            "width": 1.0,
            "image_size": 32,
            "workers": 3,
            "rounds": 2,
            "no_compile": False,
        },
        ("images", "test_images", "width", "image_size", "rounds"),
    )
    check_int("--workers", args.workers, minimum=0)
    if args.image_size < 8 or args.image_size % 4:
        raise ConfigError(
            f"--image-size = {args.image_size}: need a multiple of 4, at "
            "least 8 (the blur goes down by 4; each view is half)"
        )
    return at_defaults


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--images", type=int, help="training images/epoch (CPU 512, GPU 25600)"
    )
    parser.add_argument("--test-images", type=int, help="default images/5")
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=3, help="paper: 3")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--results-dir", help="default results/benchmarks")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    device = resolve_device(args.device)
    at_defaults = check(args, device)
    out = None
    if not args.no_save:
        out = bench.destination(
            "reference_pipeline", device, args.results_dir, at_defaults
        )
    started = bench.host(device)
    print(
        f"Split-ResNet-18 (width {args.width:g}), {args.image_size} px, "
        f"batch 128, blur on view b; one epoch = {args.images} training "
        f"images (+ the reference's BN pass) + {args.test_images} test "
        f"images; {device} "
        f"({torch.get_num_threads()} threads), reference with "
        f"{args.workers} loader workers"
    )
    runs = contenders(args, device, compiled=not args.no_compile)
    for run in runs.values():  # warm-up: allocators, kernels, workers
        run()
    seconds = bench.alternate(runs, args.rounds, device)
    rates = {name: args.images / s for name, s in seconds.items()}
    reference = rates["reference (paper's kind)"]
    for name, rate in rates.items():
        print(
            f"{name:26s} {seconds[name]:8.2f} s/epoch {rate:9,.0f} "
            f"images/s  x{rate / reference:.2f}"
        )
    if args.no_save:
        return
    settings = {
        k: v
        for k, v in vars(args).items()
        if k not in ("no_save", "results_dir")
    }
    results = {
        "settings": settings,
        "seconds_per_epoch": seconds,
        "images_per_second": rates,
        "ratio_to_reference": {k: v / reference for k, v in rates.items()},
    }
    bench.save(
        out,
        "reference_pipeline",
        results,
        device,
        started,
        "the settings differ from the defaults",
    )


if __name__ == "__main__":
    bench.run_script(main, "reference_pipeline")
