"""The quick book's execution time, notebook by notebook and in all.

Runs the book's notebooks exactly as ``make notebooks`` does (``cpkit
notebooks --profile quick --jobs J``), but into a temporary folder, so the
book's executed notebooks and headline records are left alone. Prints
each notebook's wall time, the batch's wall time from start to end, and
its ratio to our goal for the quick profile: the whole book in 15 minutes
on two CPU cores.

The stored record also orders later batches: ``cpkit notebooks --jobs``
starts the longest chapters first, by the latest times it knows.

    .venv/bin/python benchmarks/quick_book.py [--jobs 2] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cpkit import bench
from cpkit.cli import toc_notebooks
from cpkit.config import check_int, resolve_device
from cpkit.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
GOAL_SECONDS = 15 * 60


def run(device, jobs: int, only: list[str] | None) -> dict:
    """One batch through the ``cpkit notebooks`` command; its times."""
    with tempfile.TemporaryDirectory(prefix="cpkit-quick-book-") as tmp:
        times = Path(tmp) / "times.json"
        command = [
            sys.executable,
            "-m",
            "cpkit",
            "notebooks",
            "--root",
            str(ROOT),
            "--profile",
            "quick",
            "--device",
            device.type,
            "--jobs",
            str(jobs),
            "--output-dir",
            str(Path(tmp) / "executed"),
            "--headlines-dir",
            str(Path(tmp) / "headlines"),
            "--times",
            str(times),
        ]
        if only:
            command += ["--only", *only]
        start = time.perf_counter()
        done = subprocess.run(command, check=False)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise ConfigError(
                f"the batch failed (exit {done.returncode}; its output is "
                "above): nothing measured"
            )
        notebooks = json.loads(times.read_text())
        # how the chapters ran, as their headline records say
        hosts = [
            json.loads(path.read_text())["host"]
            for path in (Path(tmp) / "headlines").glob("*/*.json")
        ]
    return {
        "profile": "quick",
        # as many at once as ran (no more than there were chapters)
        "jobs": max((h.get("jobs") or 1 for h in hosts), default=jobs),
        "threads_per_chapter": sorted(
            {h.get("threads") for h in hosts}, key=str
        ),
        "only": only,
        "notebooks": notebooks,
        "sum_seconds": round(sum(notebooks.values()), 1),
        "total_seconds": round(wall, 1),
        "goal_seconds": GOAL_SECONDS,
        "ratio_to_goal": round(wall / GOAL_SECONDS, 2),
    }


def report(results: dict) -> None:
    width = max(len(name) for name in results["notebooks"])
    for name, seconds in results["notebooks"].items():
        print(f"{name:<{width}}  {seconds:7.1f} s")
    print(
        f"{'sum of the notebooks':<{width}}  {results['sum_seconds']:7.1f} s"
    )
    print(
        f"batch wall time ({results['jobs']} at a time): "
        f"{results['total_seconds'] / 60:.1f} min = "
        f"{results['ratio_to_goal']:.2f}x the 15-minute goal"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", nargs="+", help="notebook names")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--results-dir", help="default results/benchmarks")
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    device = resolve_device(args.device)
    check_int("--jobs", args.jobs, minimum=1)
    names = [source.stem for source in toc_notebooks(ROOT)]
    unknown = sorted(set(args.only or ()) - set(names))
    if unknown:
        raise ConfigError(
            f"--only {', '.join(unknown)}: not in _toc.yml; notebooks: "
            f"{', '.join(names)}"
        )
    # only the whole book, as make book runs it, replaces the record
    at_defaults = args.jobs == 2 and not args.only
    out = None
    if not args.no_save:
        out = bench.destination(
            "quick_book", device, args.results_dir, at_defaults
        )
    started = bench.host(device)
    results = run(device, args.jobs, args.only)
    report(results)
    if not args.no_save:
        bench.save(
            out,
            "quick_book",
            results,
            device,
            started,
            "not the whole book at --jobs 2",
        )


if __name__ == "__main__":
    bench.run_script(main, "quick_book")
