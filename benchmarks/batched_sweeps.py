"""Batched sweeps of deep linear networks against a loop of single runs.

Two chapters train a sweep of small linear networks as one batched model.
This script times, side by side in one process, the same K runs

- as one batched call, and
- as a Python loop of K calls with one run each,

checks that both give the same results, and prints the ratio:

- matrix completion (``critical_period_sweep``): one run per deficit
  length, factors of shape (runs, n, n); the deficit phase is shared (one
  run up to the longest deficit, with checkpoints), the task phase
  batched. Two sweeps: K equal lengths, and K lengths spread as the
  chapter uses them (the loop pays every run's own deficit);
- pathway competition (``simulate_ode``): one deficit window per onset,
  the mode dynamics of a depth-4 two-pathway network integrated for all
  onsets at once, as the chapter's sliding-window figure does.

Rounds alternate loop and batch; the fastest round of each counts.

    .venv/bin/python benchmarks/batched_sweeps.py [--runs 32] [--device cpu]
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import torch

from cpkit import bench
from cpkit.config import check_int, resolve_device
from cpkit.profiles import get_profile
from cpkit.theory import pathways as pw
from cpkit.theory.matrix_completion import critical_period_sweep


def compare(batch, loop, rounds: int) -> dict:
    """Fastest-round seconds of ``batch()`` and ``loop()`` (after one
    untimed call of each, alternating which goes first), and the largest
    relative difference of what they return."""
    batched, looped = batch(), loop()  # warm-up, and the results compared
    gap = float(np.abs(batched - looped).max() / np.abs(looped).max())
    seconds = bench.alternate(
        {"loop": loop, "batch": batch}, rounds, torch.device("cpu")
    )
    return {**seconds, "gap": gap, "ratio": seconds["loop"] / seconds["batch"]}


def completion(cfg, steps: list[int], device, rounds: int) -> dict:
    """Matrix completion: one run per deficit length."""

    def batch() -> np.ndarray:
        return critical_period_sweep(cfg, steps, device=device)["test_error"]

    def loop() -> np.ndarray:
        return np.concatenate(
            [
                critical_period_sweep(cfg, [s], device=device)["test_error"]
                for s in steps
            ]
        )

    return compare(batch, loop, rounds)


def onsets(runs: int, rounds: int) -> dict:
    """Pathway competition: one deficit window per onset (mode ODE)."""
    profile = get_profile("pathways", "quick")
    profile = dataclasses.replace(profile, n_onsets=runs)
    task = pw.shared_input_task((profile.sigma,))
    run = pw.PathwayRun(
        depth=profile.depth,
        init_scale=profile.init_scale,
        total_time=profile.total_time,
        dt=profile.dt,
    )
    starts = np.array(profile.onsets)
    windows = np.stack([starts, np.full_like(starts, profile.deficit_length)])
    windows = windows.T

    def batch() -> np.ndarray:
        return pw.simulate_ode(task, run, windows=windows)[1][-1]

    def loop() -> np.ndarray:
        return np.concatenate(
            [
                pw.simulate_ode(task, run, windows=windows[k : k + 1])[1][-1]
                for k in range(runs)
            ]
        )

    return compare(batch, loop, rounds)


def run(
    device: torch.device,
    runs: int = 32,
    depth: int = 3,
    post_steps: int = 500,
    rounds: int = 2,
) -> dict:
    """Time both sweeps, print a line each; returns their figures."""
    profile = get_profile("matrix_completion", "quick")
    cfg = profile.run_config(depth)
    cfg = dataclasses.replace(cfg, post_steps=post_steps)
    print(
        f"deep matrix completion, n = {cfg.n}, depth {cfg.depth}, "
        f"{cfg.post_steps} task steps per run, K = {runs} runs, {device} "
        f"({torch.get_num_threads()} threads)"
    )
    sweeps = {
        "equal deficit lengths (200 steps each)": [200] * runs,
        "the chapter's kind: lengths 0 ... 1000": [
            int(s) for s in np.linspace(0, 1000, runs)
        ],
    }
    out = {}
    for name, steps in sweeps.items():
        r = completion(cfg, steps, device, rounds)
        out[name] = r
        print(
            f"{name}: loop {r['loop']:.2f} s, batched {r['batch']:.2f} s, "
            f"ratio {r['ratio']:.1f}x; largest relative "
            f"difference of the final errors {r['gap']:.1e}"
        )
    name = "pathway competition: window onsets (mode ODE, depth 4)"
    r = onsets(runs, rounds)
    out[name] = r
    print(
        f"{name}, K = {runs} onsets, NumPy on the CPU: loop "
        f"{r['loop']:.2f} s, batched {r['batch']:.2f} s, ratio "
        f"{r['ratio']:.1f}x; largest relative difference of the final "
        f"pathway values {r['gap']:.1e}"
    )
    return {"runs": runs, "depth": depth, "post_steps": post_steps, **out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=32, help="K (>= 2)")
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--post-steps", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--results-dir", help="default results/benchmarks")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    device = resolve_device(args.device)
    at_defaults = bench.check_settings(
        args,
        {"runs": 32, "depth": 3, "post_steps": 500, "rounds": 2},
        ("runs", "depth", "post_steps", "rounds"),
    )
    check_int("--runs", args.runs, minimum=2)  # a sweep, and two onsets
    out = None
    if not args.no_save:
        out = bench.destination(
            "batched_sweeps", device, args.results_dir, at_defaults
        )
    started = bench.host(device)
    results = run(device, args.runs, args.depth, args.post_steps, args.rounds)
    if not args.no_save:
        bench.save(
            out,
            "batched_sweeps",
            results,
            device,
            started,
            "the settings differ from the defaults",
        )


if __name__ == "__main__":
    bench.run_script(main, "batched_sweeps")
