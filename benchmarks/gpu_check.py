"""What one GPU does with the paper's scale: the device check (< 8 min).

Run on a machine with one CUDA GPU and no network:

    .venv/bin/python benchmarks/gpu_check.py [--results-dir DIR]

Sections, in order (``--sections`` picks some):

1. ``throughput``: Split-ResNet-18 (width 1, 32 x 32 x 3) training steps
   at batch 128 and 512, in float32, in bf16 with channels-last, and in
   bf16 with channels-last under ``torch.compile``.
2. ``peak``: the measured bf16 matmul rate of this GPU and the fraction
   of it our fastest training step reaches (3 x forward FLOPs per image).
3. ``epochs``: two real epochs of our training loop on 50,000 training
   and 10,000 test images of CIFAR-10's shape (synthetic pixels), with
   the stereo full profile's settings, and from the second epoch the
   projected wall time of the paper's full blur protocol (main run and
   branches: 180 + 10 x 179 epochs per seed).
4. ``reference``: :mod:`benchmarks.reference_pipeline` on this GPU.
5. ``sweeps``: :mod:`benchmarks.batched_sweeps` on this GPU.

No section starts after ``--budget`` seconds (default 390, so that the
last one ends well inside 8 minutes); skipped sections are listed, and
``--sections NAME ... --results-dir results/benchmarks`` runs them later
into the stored record. A smoke run or a choice of sections is stored
only where ``--results-dir`` says.
Everything printed is also stored (``results/benchmarks/gpu/``) for the
book's performance page. ``--smoke`` runs every section tiny on any
device (the test suite does), to check the script, not the hardware.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

from cpkit import bench
from cpkit.config import check_float, resolve_device
from cpkit.deficits import DeficitWindow
from cpkit.errors import ConfigError
from cpkit.models import SplitResNet18
from cpkit.profiles import get_profile
from cpkit.training import train
from cpkit.twoview import TwoViewData

sys.path.insert(0, str(Path(__file__).resolve().parent))
import batched_sweeps  # noqa: E402
import reference_pipeline  # noqa: E402

SECTIONS = ("throughput", "peak", "epochs", "reference", "sweeps")


def full_protocol_epochs() -> tuple[int, int]:
    """(epochs of one seed's blur protocol, seeds) of the full profile."""
    p = get_profile("stereo_blur", "full")
    return p.main_epochs + len(p.removal_epochs) * p.clean_epochs, p.seeds


def throughput(args, device, out: dict) -> None:
    shape = (3, args.size, args.size)
    rows = {}
    variants = {
        "float32": dict(),
        "bf16, channels-last": dict(bf16=True, channels_last=True),
    }
    if not args.smoke:
        variants["bf16, channels-last, compiled"] = dict(
            bf16=True, channels_last=True, compiled=True
        )
    for batch in (128, 512):
        for name, options in variants.items():
            torch.manual_seed(0)
            model = SplitResNet18(3, 10, width=args.width).to(device)
            started = time.perf_counter()
            rate = bench.step_rate(
                model, shape, device, batch, args.steps, **options
            )
            rows[f"batch {batch}, {name}"] = rate
            print(
                f"  batch {batch:3d}, {name:32s} {rate:10,.0f} images/s "
                f"({time.perf_counter() - started:.0f} s with warm-up)",
                flush=True,
            )
    out["throughput"] = rows


def peak(args, device, out: dict) -> None:
    flops = bench.forward_flops(
        SplitResNet18(3, 10, width=args.width).to(device),
        (3, args.size, args.size),
    )
    peak = bench.matmul_peak(device, n=args.matmul_n)
    best = max(out.get("throughput", {}).values(), default=None)
    out["peak"] = {
        "bf16_matmul_flops": peak,
        "forward_flops_per_image": flops,
        "best_training_images_per_s": best,
        "fraction_of_peak": None if best is None else 3 * flops * best / peak,
    }
    print(f"  bf16 matmul: {peak / 1e12:,.1f} TFLOP/s measured")
    print(f"  Split-ResNet-18 forward: {flops / 1e9:.3f} GFLOP per image")
    if best is not None:
        print(
            f"  fastest training step: {3 * flops * best / 1e12:,.1f} "
            f"TFLOP/s, {out['peak']['fraction_of_peak']:.1%} of that peak"
        )


def epochs(args, device, out: dict) -> None:
    profile = get_profile("stereo_blur", "full")
    _, _, config, _ = profile.specs()
    n_train, n_test = args.train_images, args.train_images // 5
    gen = torch.Generator().manual_seed(0)
    data = TwoViewData(
        "synthetic",
        torch.randn(n_train, 3, args.size, args.size, generator=gen),
        torch.randint(0, 10, (n_train,), generator=gen),
        torch.randn(n_test, 3, args.size, args.size, generator=gen),
        torch.randint(0, 10, (n_test,), generator=gen),
        view_size=args.size // 2,
        pad=args.size // 8,
        flip=True,
    )
    data = dataclasses.replace(
        data,
        **{
            k: getattr(data, k).to(device)
            for k in ("x_train", "y_train", "x_test", "y_test")
        },
    )
    variants = {"as the full profile runs": config}
    if not args.smoke:
        variants["compiled"] = dataclasses.replace(config, compile=True)
    times: dict[str, list[float]] = {}
    for name, variant in variants.items():
        torch.manual_seed(0)
        model = SplitResNet18(3, 10, width=args.width).to(device)
        times[name] = []
        for epoch in range(2):
            window = DeficitWindow("blur", epoch, 1, epoch + 1)
            bench.synchronize(device)
            started = time.perf_counter()
            train(model, data, variant, range(epoch, epoch + 1), gen, window)
            bench.synchronize(device)
            times[name].append(time.perf_counter() - started)
            print(f"  {name}, epoch {epoch}: {times[name][-1]:.1f} s")
    per_seed, seeds = full_protocol_epochs()
    # from each variant's second epoch (the first includes warm-up and,
    # compiled, the compilation)
    hours = {name: t[-1] * per_seed / 3600 for name, t in times.items()}
    out["epochs"] = {
        "train_images": n_train,
        "test_images": n_test,
        "seconds": times,
        "protocol_epochs_per_seed": per_seed,
        "seeds": seeds,
        "projected_hours_per_seed": hours,
    }
    for name, h in hours.items():
        print(
            f"  the paper's blur protocol ({per_seed} epochs of {n_train:,} "
            f"images), {name}: {h:.2f} h per seed, {h * seeds:.2f} h for "
            f"{seeds} seeds",
            flush=True,
        )


def reference(args, device, out: dict) -> None:
    ref_args = argparse.Namespace(
        images=args.reference_images,
        test_images=args.reference_images // 5,
        width=args.width,
        image_size=args.size,
        workers=3,
    )
    runs = reference_pipeline.contenders(
        ref_args, device, compiled=not args.smoke
    )
    for run in runs.values():
        run()
    seconds = bench.alternate(runs, 1 if args.smoke else 2, device)
    base = seconds["reference (paper's kind)"]
    out["reference"] = {
        "settings": {**vars(ref_args), "rounds": 1 if args.smoke else 2},
        "images": ref_args.images,
        "seconds_per_epoch": seconds,
        "ratio_to_reference": {k: base / s for k, s in seconds.items()},
    }
    for name, s in seconds.items():
        print(f"  {name:26s} {s:7.2f} s/epoch  x{base / s:.2f}")


def sweeps(args, device, out: dict) -> None:
    rows = batched_sweeps.run(
        device, runs=args.sweep_runs, post_steps=args.sweep_steps, rounds=1
    )
    out["sweeps"] = rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument(
        "--budget",
        type=float,
        default=390.0,
        help="seconds after which no new section starts (default 390)",
    )
    parser.add_argument("--results-dir", help="default results/benchmarks")
    args = parser.parse_args()
    device = resolve_device(args.device)
    if device.type != "cuda" and not args.smoke:
        raise ConfigError(
            f"needs a CUDA GPU (got {device}); --smoke runs it "
            "tiny on this device to check the script"
        )
    check_float("--budget", args.budget, minimum=0.0, strict=True)
    # in the script's order: the peak needs the throughput before it
    sections = [s for s in SECTIONS if s in (args.sections or SECTIONS)]
    # a smoke run, or only some sections, never replaces the stored
    # record of a full check unless a folder is given; there, sections
    # run again replace their own part of a record of the same kind
    out_path = bench.destination(
        "gpu_check",
        device,
        args.results_dir,
        keep=not (args.smoke or args.sections),
    )
    scale = dict(
        width=1.0,
        size=32,
        steps=20,
        matmul_n=8192,
        train_images=50_000,
        reference_images=12_800,
        sweep_runs=32,
        sweep_steps=500,
    )
    if args.smoke:
        scale = dict(
            width=1 / 16,
            size=16,
            steps=1,
            matmul_n=256,
            train_images=256,
            reference_images=128,
            sweep_runs=2,
            sweep_steps=20,
        )
    for key, value in scale.items():
        setattr(args, key, value)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else ""
    print(f"device: {device} {name}; torch {torch.__version__}")
    out: dict = {"smoke": args.smoke, "gpu": name, "skipped": []}
    if args.sections and out_path is not None and out_path.is_file():
        earlier = json.loads(out_path.read_text()).get("results", {})
        if earlier.get("smoke") == args.smoke:
            out = earlier
            out["skipped"] = [
                s for s in out.get("skipped", []) if s not in sections
            ]
    host = bench.host(device)
    started = time.perf_counter()
    for section in sections:
        elapsed = time.perf_counter() - started
        if elapsed > args.budget:
            # keep within the device time: later sections are cheaper to
            # rerun alone (--sections) than the whole script
            print(f"[{elapsed:5.0f} s] {section}: skipped, past --budget")
            out["skipped"].append(section)
            continue
        print(f"[{elapsed:5.0f} s] {section}", flush=True)
        globals()[section](args, device, out)
    out["seconds"] = time.perf_counter() - started
    print(f"[{out['seconds']:5.0f} s] done")
    bench.save(
        out_path,
        "gpu_check",
        out,
        device,
        host,
        "a smoke run or a choice of sections",
    )


if __name__ == "__main__":
    bench.run_script(main, "gpu_check")
