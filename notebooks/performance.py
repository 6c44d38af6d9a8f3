# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Performance: how long the book and the paper's scale take
#
# Two questions: how long this book takes to build on a laptop-sized CPU,
# and how long the paper's experiments take at their own scale. The
# answers come from three sources: the wall times this build's chapters
# recorded, the benchmark scripts in `benchmarks/` (each times two ways
# of doing the same work side by side in one process and stores what it
# measured in `results/benchmarks/`), and a small measurement taken while
# this page ran. Every table names the machine it came from.

# %% tags=["parameters", "remove-cell", "summary-page"]
profile = "quick"  # the profile whose chapter times are shown
device = "auto"  # unused: the page's own measurement runs on the CPU
seed = 0  # unused: this page trains nothing
headlines_dir = "../results/headlines"  # where chapters left their times
benchmarks_dir = "../results/benchmarks"  # the benchmarks' stored results

# %% tags=["remove-cell"]
from datetime import datetime
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import torch
from IPython.display import Markdown, display

from cpkit import bench, headlines
from cpkit.cli import chapters
from cpkit.config import check_choice
from cpkit.figures import provenance, show
from cpkit.models import SplitResNet18
from cpkit.profiles import PROFILES, get_profile

check_choice("profile", profile, PROFILES)
root = Path.cwd().parent
records = headlines.load(Path(headlines_dir)).get(profile, {})
stored = {
    (r["benchmark"], bench.kind(torch.device(r["device"]))): r
    for r in bench.load_all(Path(benchmarks_dir))
}


def hardware(record: dict) -> str:
    """The processor a record was measured on."""
    host = record["host"]
    return host["gpu"] or f"{host['cpu']}, {host['cores']} cores"


def machine(record: dict) -> str:
    """The hardware and software a record was measured with."""
    host = record["host"]
    return (
        f"{hardware(record)}; torch {host['torch']}; commit "
        f"{host['commit']}; {host['date']}"
    )


def build_summary(timed: list, total: float, missing: list) -> str:
    """The sum of the chapter times and, when the chapters came from one
    batch, its wall time and how many ran at once."""
    text = (
        f"Sum over the {len(timed)} recorded chapters: "
        f"**{total / 60:.1f} min**"
    )
    hosts = [entry["host"] for _, _, entry in timed]
    batches = {h.get("batch_started") for h in hosts}
    complete = all(h.get("finished") and h.get("jobs") for h in hosts)
    if len(batches) == 1 and None not in batches and complete:
        started = datetime.fromisoformat(batches.pop())
        ended = max(datetime.fromisoformat(h["finished"]) for h in hosts)
        jobs, threads = hosts[0]["jobs"], hosts[0].get("threads")
        at_once = (
            f"{jobs} at a time"
            + (
                f", {threads} thread{'s' * (threads > 1)} each"
                if threads
                else ""
            )
            + ", so the sum exceeds the wall time"
            if jobs > 1
            else "one at a time"
        )
        text += (
            f". They ran in one batch ({at_once}): "
            f"**{(ended - started).total_seconds() / 60:.1f} min** of wall "
            "time from its start to the last chapter's end"
        )
    else:
        text += " (not all from one recorded batch: no common wall time)"
    text += "; the summary pages and the HTML build come on top."
    if missing:
        text += f" Not recorded in this build: {', '.join(missing)}."
    return text


# %% [markdown]
# ## This build, chapter by chapter
#
# The wall time of each notebook of this build as `cpkit notebooks`
# measured it (papermill's execution of the whole notebook, training
# included), read from the chapters' records. With `--jobs N` (the
# Makefile runs the quick profile with two) several chapters run at once,
# each in its own process with its share of the cores, and each time
# below is that chapter's own wall time on a shared machine. Our goal for
# the `quick` profile is the whole book in 15 minutes on two CPU cores.

# %% tags=["hide-input"]
order = chapters(root)
timed = [
    (title, records[name]["seconds"], records[name])
    for name, title in order
    if name in records
]
missing = [title for name, title in order if name not in records]
if timed:
    total = sum(seconds for _, seconds, _ in timed)
    hosts = {hardware(entry) for _, _, entry in timed}
    fig = go.Figure(
        go.Bar(
            x=[seconds / 60 for _, seconds, _ in timed],
            y=[title for title, _, _ in timed],
            orientation="h",
            marker_color="#4c78a8",
            hovertemplate="%{y}: %{x:.1f} min<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Wall time per chapter, profile {profile}",
        xaxis_title="minutes",
        yaxis={"autorange": "reversed"},
        height=120 + 32 * len(timed),
        template="plotly_white",
    )
    provenance(
        fig,
        f"profile {profile}; the chapters' latest records; "
        f"{total:.0f} s on {'; '.join(sorted(hosts))}",
    )
    show(fig)
    display(Markdown(build_summary(timed, total, missing)))
else:
    display(Markdown(f"No chapter has recorded a `{profile}` run yet."))

# %% [markdown]
# ## The whole quick book, as stored
#
# `benchmarks/quick_book.py` runs every notebook as `make book` does
# (`cpkit notebooks --profile quick --jobs 2`) into a temporary folder and
# stores each notebook's time and the batch's wall time from start to end.
# The stored record is the measurement that the goal is judged by (this
# build's own times above may come from a busier machine), and it tells a
# fresh checkout which chapters to start first.


# %% tags=["hide-input"]
def quick_book_table(record: dict) -> str:
    """The stored quick-book batch: per notebook, in all, and the goal."""
    r = record["results"]
    wall, goal = r["total_seconds"], r["goal_seconds"]
    rows = [
        f"**{machine(record)}**; "
        + (f"{r['jobs']} chapters" if r["jobs"] > 1 else "one chapter")
        + " at a time.",
        "",
        "| notebook | wall time (s) |",
        "|---|---|",
    ]
    rows += [
        f"| `{name}` | {sec:.0f} |" for name, sec in r["notebooks"].items()
    ]
    rows.append(f"| **batch, start to end** | **{wall:.0f}** |")
    summed = (
        "the sum of the notebooks' own times is "
        f"{r['sum_seconds'] / 60:.1f} min"
    )
    if r["only"]:
        # a part of the book says nothing about the goal
        rows += [
            "",
            f"Only part of the book ran ({', '.join(r['only'])}): "
            f"**{wall / 60:.1f} min** ({summed}); the goal is for the "
            "whole book.",
        ]
        return "\n".join(rows)
    verdict = "within" if wall <= goal else f"{wall / goal:.1f}× over"
    rows += [
        "",
        f"The batch took **{wall / 60:.1f} min**, {verdict} the goal of "
        f"{goal / 60:.0f} min ({summed}).",
    ]
    return "\n".join(rows)


book_record = stored.get(("quick_book", "cpu"))
if book_record is not None:
    display(Markdown(quick_book_table(book_record)))
else:
    display(Markdown("No quick-book batch is stored yet."))

# %% [markdown]
# ## Our training pipeline against the paper's kind
#
# `benchmarks/reference_pipeline.py` times one epoch of the blur
# experiment's main run (view b blurred, batch 128) on a Split-ResNet-18
# two ways, alternately, on the same images and initial weights:
#
# - **reference**: a pipeline we wrote to behave like the paper's
#   released code: every image is padded, cropped, flipped and blurred
#   one at a time with Pillow in `DataLoader` worker processes, training
#   runs in float32, and after the epoch a BN "dry run" passes over the
#   whole training loader again before the test pass;
# - **ours**: `cpkit.training.train` as the blur chapter's `full` profile
#   runs it: the normalised images stay on the device, augmentation, blur
#   and views are made for whole batches there, and BN statistics are
#   re-estimated after every epoch too (like the paper, but on the clean
#   training images, in large batches). It runs in float32, in bf16
#   autocast, and in bf16 under `torch.compile`.
#
# The images are synthetic (a step costs the same whatever the pixels);
# each contender's fastest round counts. Its defaults are the paper's
# network (width 1) on 32-pixel images with the paper's three workers;
# each table says what was run.


# %% tags=["hide-input"]
def pipeline_table(where: str, results: dict, record: dict) -> str:
    """The side-by-side epochs of one device, and what they say."""
    s = results["settings"]
    ratio = results["ratio_to_reference"]
    rows = [
        f"**On a {where.upper()}** ({machine(record)}; device "
        f"`{record['device']}`, {record['threads']} threads): width "
        f"{s['width']:g}, {s['image_size']} px, {s['images']} training "
        f"and {s['test_images']} test images per epoch, {s['workers']} "
        f"loader workers, best of {s.get('rounds', 2)} rounds.",
        "",
        "| pipeline | s per epoch | training images / s | × reference |",
        "|---|---|---|---|",
    ]
    for name, seconds in results["seconds_per_epoch"].items():
        rows.append(
            f"| {name} | {seconds:.2f} | "
            f"{results['images_per_second'][name]:,.1f} | "
            f"{ratio[name]:.2f} |"
        )
    fp32, bf16 = ratio.get("ours, fp32"), ratio.get("ours, bf16")
    if fp32 is not None and bf16 is not None:
        same = abs(fp32 - 1) < 0.25
        rows += [
            "",
            f"In float32, like the reference, ours ran at {fp32:.2f}× its "
            "speed: "
            + (
                "the per-sample data work is not what limits an epoch "
                "here, the network's arithmetic is. "
                if same
                else "the difference is the pipeline itself. "
            )
            + f"bf16 autocast made ours {bf16:.2f}× the reference"
            + (
                f", and compiling it {ratio['ours, bf16, compiled']:.2f}×"
                if "ours, bf16, compiled" in ratio
                else ""
            )
            + ": a gain of arithmetic, open to any pipeline on hardware "
            "with bf16 units.",
        ]
    return "\n".join(rows)


gpu_check = stored.get(("gpu_check", "gpu"))
if gpu_check is not None and gpu_check["results"].get("smoke"):
    gpu_check = None  # a smoke run checks the script, not the GPU
for where in ("cpu", "gpu"):
    record = stored.get(("reference_pipeline", where))
    if record is not None:
        display(Markdown(pipeline_table(where, record["results"], record)))
    elif where == "gpu" and gpu_check and "reference" in gpu_check["results"]:
        ref = gpu_check["results"]["reference"]
        results = {
            "settings": ref["settings"],
            "seconds_per_epoch": ref["seconds_per_epoch"],
            "images_per_second": {
                k: ref["images"] / v
                for k, v in ref["seconds_per_epoch"].items()
            },
            "ratio_to_reference": ref["ratio_to_reference"],
        }
        display(Markdown(pipeline_table("gpu", results, gpu_check)))
    elif where == "gpu":
        display(
            Markdown(
                "**On a GPU:** not measured yet (no GPU has been available "
                "to this project); `benchmarks/gpu_check.py` measures it."
            )
        )

# %% [markdown]
# On a GPU the balance should change: the network runs far faster, and a
# pipeline that prepares images one at a time on the host can starve it;
# that is where holding the data on the device should matter most.

# %% [markdown]
# ## Where the quick book's time goes
#
# How a training step of the quick stereo network splits into a fixed
# part and a part per image, measured while this page ran, on this
# machine:

# %% tags=["hide-input"]
quick = get_profile("stereo_blur", "quick")
cpu = torch.device("cpu")
rates = {}
for batch in (32, 128, 512):
    torch.manual_seed(0)
    quick_model = SplitResNet18(1, 10, width=quick.width)
    size = quick.image_size
    rates[batch] = bench.step_rate(quick_model, (1, size, size), cpu, batch, 8)
lines = [
    f"Split-ResNet-18 at width {quick.width:.4g} of the paper's channels, "
    f"{quick.image_size}-pixel single-channel images (the quick profile):",
    "",
    "| batch | training images / s | ms per step |",
    "|---|---|---|",
]
for batch, rate in rates.items():
    lines.append(f"| {batch} | {rate:,.0f} | {1000 * batch / rate:.1f} |")
display(Markdown("\n".join(lines)))
sizes = np.array(list(rates))
step_ms = 1000 * sizes / np.array(list(rates.values()))
per_image, fixed = np.polyfit(sizes, step_ms, 1)
share = fixed / (fixed + 128 * per_image)
if per_image <= 0 or fixed < 0:
    # a negative part is noise, most often another busy process
    display(
        Markdown(
            "These times do not fit a step that grows with the batch "
            f"(fitted: {fixed:.0f} ms plus {per_image:.2f} ms per image): "
            "they are too noisy to split, most likely because the machine "
            "was busy; rebuild this page on an idle machine."
        )
    )
else:
    display(
        Markdown(
            "A straight line through these times puts a step at "
            f"{fixed:.0f} ms plus {per_image:.2f} ms per image: at the "
            f"paper's batch of 128, {share:.0%} of each step does not "
            "depend on the images. "
            + (
                "Most of a step is work per image, so the quick book's "
                "time is set by how many images its runs see: the seeds, "
                "controls and schedules each chapter needs to tell an "
                "effect from noise."
                if share < 0.5
                else "Most of a step is a fixed cost, so batching more runs "
                "into one model would pay off."
            )
            + " (Larger batches would cut the fixed part but change the "
            "optimisation the chapters reproduce.)"
        )
    )

# %% [markdown]
# ## Batched sweeps of deep linear networks
#
# The matrix-completion chapter trains one run per deficit length as a
# single batched model (factors of shape runs × n × n, the deficit phase
# computed once and shared); the pathway chapter integrates the dynamics
# of every window onset at once. `benchmarks/batched_sweeps.py` times the
# same K runs as one batched call and as a Python loop of K calls, and
# checks that both give the same numbers.

# %% tags=["hide-input"]
for where in ("cpu", "gpu"):
    record = stored.get(("batched_sweeps", where))
    if record is None:
        continue
    r = record["results"]
    lines = [
        f"**On a {where.upper()}** ({machine(record)}): K = {r['runs']} "
        f"runs each; matrix completion at depth {r['depth']} with "
        f"{r['post_steps']} task steps per run.",
        "",
        "| sweep | loop (s) | batched (s) | speed-up | largest relative "
        "difference |",
        "|---|---|---|---|---|",
    ]
    for name, row in r.items():
        if isinstance(row, dict):
            lines.append(
                f"| {name} | {row['loop']:.2f} | {row['batch']:.2f} | "
                f"{row['ratio']:.1f}× | {row['gap']:.1e} |"
            )
    display(Markdown("\n".join(lines)))
if not any(k[0] == "batched_sweeps" for k in stored):
    display(Markdown("No stored measurement yet: run `make bench`."))

# %% [markdown]
# ## The paper's scale on one GPU
#
# `benchmarks/gpu_check.py` is the device check: in under eight minutes
# on one GPU it measures Split-ResNet-18 training throughput at batch 128
# and 512 (float32; bf16 with channels-last; the same compiled), the
# GPU's own bf16 matrix-multiply rate and the fraction of it our fastest
# step reaches, two real epochs of our loop on 50,000 CIFAR-sized images,
# the projected wall time of the paper's full blur protocol from them,
# and the two benchmarks above on the GPU.

# %% tags=["hide-input"]
if gpu_check is None:
    display(
        Markdown(
            "Not measured yet: no GPU has been available to this project. "
            "On a machine with one, `make gpu-check` stores its results in "
            "`results/benchmarks/gpu/`, and this page shows them on the "
            "next build."
        )
    )
else:
    r = gpu_check["results"]
    lines = [f"Measured on {machine(gpu_check)}."]
    if r.get("throughput"):
        lines += ["", "| Split-ResNet-18 training | images / s |", "|---|---|"]
        for name, rate in r["throughput"].items():
            lines.append(f"| {name} | {rate:,.0f} |")
    peak = r.get("peak")
    if peak:
        text = (
            f"bf16 matrix multiply: {peak['bf16_matmul_flops'] / 1e12:,.0f} "
            "TFLOP/s measured"
        )
        if peak.get("fraction_of_peak") is not None:
            text += (
                f"; our fastest training step reaches "
                f"{peak['fraction_of_peak']:.1%} of it "
                f"({peak['forward_flops_per_image'] / 1e9:.2f} GFLOP forward "
                "per image, three times that per training image)"
            )
        lines += ["", text + "."]
    epochs = r.get("epochs")
    if epochs:
        lines += [
            "",
            "The paper's blur protocol (main run and branches, "
            f"{epochs['protocol_epochs_per_seed']:,} epochs of "
            f"{epochs['train_images']:,} images per seed; the chapter's "
            "controls come on top), projected from a measured epoch:",
            "",
        ]
        for name, hours in epochs["projected_hours_per_seed"].items():
            lines.append(
                f"- {name}: **{hours:.2f} h per seed**, "
                f"{hours * epochs['seeds']:.1f} h for {epochs['seeds']} seeds"
            )
    sweeps = r.get("sweeps")
    if sweeps:
        lines += ["", "Batched sweeps on this GPU (K runs, loop vs batch):"]
        lines += [
            f"- {name}: {row['ratio']:.1f}×"
            for name, row in sweeps.items()
            if isinstance(row, dict)
        ]
    if r.get("skipped"):
        lines += ["", f"Skipped (time budget): {', '.join(r['skipped'])}."]
    display(Markdown("\n".join(lines)))

# %% [markdown]
# ## Measuring it yourself
#
# ```console
# $ make bench                     # both benchmarks on this machine
# $ .venv/bin/python benchmarks/gpu_check.py        # on a CUDA GPU
# $ .venv/bin/python benchmarks/reference_pipeline.py --device cuda
# ```
#
# Each prints its figures and ratios and stores them in
# `results/benchmarks/<cpu|gpu>/`; commit that folder to put them on this
# page. Training options that trade exactness for speed are parameters of
# the stereo chapters: `precision` (`auto`: bf16 on CUDA only; `bf16`;
# `fp32`) and `torch_compile` (`torch.compile` the training step), for example
# `cpkit notebooks --only stereo_blur -p precision bf16 -p torch_compile True`.
