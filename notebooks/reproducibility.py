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
# # Reproducibility: what ran, where, and how to run the paper's scale
#
# The numbers in the chapters were computed when the book was built, by
# the chapter that shows them; the paper-scale numbers beside them come
# from stored runs of the `full` profile. This page collects how: the two
# profiles, what each chapter ran and how long it took on the machine
# that ran it, the software, and the commands that rerun any of it, up to
# the paper's scale on a GPU.

# %% tags=["parameters", "remove-cell", "summary-page"]
profile = "quick"  # the profile this build ran (not used here)
device = "auto"  # unused: this page trains nothing
seed = 0  # unused: this page trains nothing
headlines_dir = "../results/headlines"  # where chapters left their numbers

# %% tags=["remove-cell"]
import platform
from importlib import metadata
from pathlib import Path

from IPython.display import Markdown, display

from cpkit import headlines
from cpkit.cli import chapters
from cpkit.profiles import differences

root = Path.cwd().parent
records = headlines.load(Path(headlines_dir))
order = chapters(root)

# %% [markdown]
# ## Two profiles
#
# Each chapter has two named configurations. **`quick`** is what this
# book is built with: small networks and datasets, short schedules and
# a few seeds, sized for two CPU cores. **`full`** sets the paper's
# models, datasets and schedules; the theory chapters' `full` profiles
# also run on a CPU (their wall times are in the table below), the
# others are meant for a GPU. What differs
# between the two, chapter by chapter (click to open; the chapters' own
# notes explain why the quick values were chosen):

# %% tags=["hide-input"]
PROFILE_OF = {  # chapter -> the profile families it reads
    "sensor_dropping": ["sensor_dropping"],
    "pathway_competition": ["pathways"],
    "matrix_completion": ["matrix_completion"],
    "relative_source_variance": ["rsv"],
    "stereo_blur": ["stereo_blur"],
    "stereo_dissociation": ["stereo_dissociation"],
    "stereo_timing_depth": ["stereo_timing_depth"],
    "video": ["video"],
    "masked": ["masked", "video"],
}


def short(value: object) -> str:
    """A profile value as table text (long tuples abbreviated)."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, tuple) and len(value) > 6:
        return f"{short(value[0])}, {short(value[1])}, …, {short(value[-1])}"
    if isinstance(value, tuple):
        return ", ".join(short(v) for v in value)
    return str(value)


blocks = []
for name, title in order:
    rows = [
        f"<details><summary>{title} (<code>{name}</code>)</summary>",
        "",
        "| setting | quick | full |",
    ]
    rows.append("|---|---|---|")
    for family in PROFILE_OF.get(name, []):
        prefix = "" if family == PROFILE_OF[name][0] else f"{family}: "
        for field, quick, full in differences(family):
            rows.append(
                f"| {prefix}`{field}` | {short(quick)} | {short(full)} |"
            )
    blocks.append("\n".join(rows) + "\n\n</details>")
display(Markdown("\n\n".join(blocks)))

# %% [markdown]
# ## What ran, on what, and how long it took
#
# Read from the records each chapter leaves (by default in
# `results/headlines/`): the wall time of the whole notebook as
# `cpkit notebooks` measured it, the device, the machine, and the commit
# of the code ("modified": the working tree differed from it). The
# `full` rows appear once a paper-scale run has been stored; rows may
# come from different runs and machines.

# %% tags=["hide-input"]
lines = [
    "| chapter | profile | wall time | device | machine | commit | date |",
    "|---|---|---|---|---|---|---|",
]
totals: dict[str, float] = {}
for name, title in order:
    for prof in ("quick", "full"):
        entry = records.get(prof, {}).get(name)
        if entry is None:
            if prof == "quick":
                lines.append(f"| {title} | quick | not run | | | | |")
            continue
        host = entry["host"]
        machine = (
            host["gpu"] or f"{host['cpu']}, {host['cores']} cores"
        ) + f"; {host['os']}"
        totals[prof] = totals.get(prof, 0.0) + entry["seconds"]
        lines.append(
            f"| {title} | {prof} | {entry['seconds'] / 60:.1f} min | "
            f"{entry['device']} | {machine} | {host['commit']} | "
            f"{host['date']} |"
        )
display(Markdown("\n".join(lines)))
display(
    Markdown(
        "Sum of the recorded chapters' wall times (the summary pages and "
        "the HTML build not included): "
        + "; ".join(
            f"{prof} {seconds / 60:.1f} min"
            for prof, seconds in totals.items()
        )
        + "."
        if totals
        else "No chapter has recorded a run yet."
    )
)

# %% [markdown]
# ## Software
#
# The environment is pinned by `requirements/lock-cpu.txt` (`make setup`
# installs exactly that; `make lock` regenerates it). The versions this
# page ran with:

# %% tags=["hide-input"]
packages = (
    "torch",
    "numpy",
    "plotly",
    "ipywidgets",
    "papermill",
    "jupytext",
    "jupyter-book",
    "myst-nb",
)
versions = [f"Python {platform.python_version()}"] + [
    f"{name} {metadata.version(name)}" for name in packages
]
display(Markdown(", ".join(versions) + "."))

# %% [markdown]
# ## Rerunning
#
# **The book as it is.** From a clone: `make book` (set up the pinned
# environment, fetch the offline web assets and the Debian Fashion-MNIST
# package, execute every notebook with papermill, build the HTML), then
# `make test`. Every run is seeded, and on a CPU a run stopped and
# resumed from its checkpoint ends bit-identical to one that never
# stopped (the tests check it).
#
# **One chapter, other settings.** Each notebook's first code cell lists
# its parameters:
#
# ```console
# $ .venv/bin/cpkit notebooks --only stereo_blur -p seeds 5 -p lr0 0.05
# ```
#
# A run with `-p` changes is not recorded on the landing page, which
# shows profiles only. `--results-dir DIR` keeps every finished training
# run, so a notebook run again, or a later chapter that needs the same
# runs, loads them instead of training again.
#
# **The paper's scale on a GPU.** Install a CUDA build of PyTorch and run
# the `full` profile:
#
# ```console
# $ make setup TORCH_INDEX_URL=<a CUDA wheel index for torch 2.13.0>
# $ CPKIT_CIFAR10=/data/cifar-10-python.tar.gz \
#     make notebooks PROFILE=full DEVICE=cuda
# $ git add results/headlines/full && git commit -m "full-profile results"
# $ make html
# ```
#
# The stereo chapters need the CIFAR-10 python tarball (the library checks
# its md5 sums); the video and masked chapters train ViT-S-sized
# transformers on 28-pixel moving digits. Each chapter's record lands in
# `results/headlines/full/<chapter>.json` (small, written by the run,
# never edited by hand); committed, it appears on the landing page beside
# the quick numbers on every later build. How long the `full` profile
# takes on a given GPU has not been measured yet: no GPU was available to
# this project so far.
