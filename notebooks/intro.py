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
# # Critical periods for multisensory integration
#
# This book reproduces, explains and lets you rerun *Critical Learning
# Periods for Multisensory Integration in Deep Networks* by Kleinman,
# Achille and Soatto {cite}`kleinman2023critical`.
#
# **The question.** A network that receives two sources of information
# (two "sensors": the left and right halves of an image, two frames of a
# video) should learn to combine them. Does it matter *when* during
# training both sources are available? {doc}`../book/two_sources` draws
# the kinds of information two sources can carry.
#
# **The paper's answer.** Yes. A temporary deficit in one sensor early in
# training (blurring it, or feeding the two sensors unrelated inputs)
# permanently stops a deep network from fusing the two, while the same
# deficit late in training does almost nothing. Deep (not shallow) linear
# networks already show the competition between sensors that underlies
# this; and networks pre-trained to reconstruct one sensor from the other
# are resilient to it.
#
# %% tags=["parameters", "remove-cell", "summary-page"]
profile = "quick"  # the profile this build ran: its records are summarised
device = "auto"  # unused: this page trains nothing
seed = 0  # unused: this page trains nothing
headlines_dir = "../results/headlines"  # where chapters left their numbers

# %% tags=["remove-cell"]
# ruff: noqa: E501 (the chapter table below is Markdown, one row per line)
from pathlib import Path

from IPython.display import Markdown, display

from cpkit import headlines
from cpkit.cli import chapters

root = Path.cwd().parent
records = headlines.load(Path(headlines_dir))
order = chapters(root)


def ours(chapter: str, key: str) -> str:
    """A headline of this build's profile as text ("not run" if none)."""
    entry = records.get(profile, {}).get(chapter)
    found = [h for h in (entry or {}).get("headlines", []) if h["key"] == key]
    if not found:
        return "(not run)"
    h = found[0]
    return headlines.number(h["ours"], h["spread"], h["unit"])


def seed_count(chapter: str) -> str:
    """How many seeds this build's record of a chapter has."""
    entry = records.get(profile, {}).get(chapter)
    return str(len(entry["seeds"] or [])) if entry else "(not run)"


# %% tags=["remove-input"]
display(
    Markdown(
        f"**What this book finds, in short** (this build's `{profile}` "
        "profile; the table below has the details and the paper's "
        "numbers):\n\n"
        "- *Linear theory.* Dropping one sensor delays a deep network's "
        "weight from another sensor by "
        f"{ours('sensor_dropping', 'delay_deep')} and a shallow one's by "
        f"{ours('sensor_dropping', 'delay_shallow')}.\n"
        "- *Blur, the paper's protocol.* The longest deficit costs "
        f"{ours('stereo_blur', 'protocol_drop')}; with the learning rate "
        "restarted at removal and a sham run's drop subtracted, "
        f"{ours('stereo_blur', 'remaining_drop')} remain.\n"
        "- *Dissociation.* "
        f"{ours('stereo_dissociation', 'protocol_drop')} with the paper's "
        "protocol, "
        f"{ours('stereo_dissociation', 'remaining_drop')} after the "
        "controls.\n"
        "- *Video, supervised.* A dissociation window at the first onset "
        f"costs {ours('video', 'supervised_first')}, at the last "
        f"{ours('video', 'supervised_last')}.\n"
        "- *Masked pre-training.* A window at the first onset costs "
        f"{ours('masked', 'masked_first')}, at the last "
        f"{ours('masked', 'masked_last')}; the pre-trained no-deficit model "
        f"reads the motion in {ours('masked', 'fused_seeds')} of "
        f"{seed_count('masked')} seeds, and a drop can only be read where "
        "it does (see the chapter)."
    )
)

# %% [markdown]
# ## What this book shows, in our numbers
#
# Each chapter ends by recording a few numbers it stands on, and
# `cpkit notebooks` files them with the run's wall time, machine and
# commit; the table reads them back. "ours, quick" is the last recorded
# run of the `quick` profile (normally the build you are reading), "ours,
# full" a stored run of the paper-scale `full` profile
# (`results/headlines/full/`, versioned with the code; the theory
# chapters' were run on a CPU, the others need a GPU and have not been
# run). Means are over seeds, ± one standard deviation; "beyond 2 SE"
# marks a mean more than twice its standard error from zero, a rough
# screen with three seeds, not a significance test. Drops are in
# accuracy points, positive when the deficit costs accuracy.

# %% tags=["hide-input"]
display(Markdown(headlines.compare_table(records, order)))
lines = ["How each row was obtained:", ""]
for name, title in order:
    for prof in ("quick", "full"):
        entry = records.get(prof, {}).get(name)
        if entry is not None:
            lines.append(f"- *{title}* ({prof}): {headlines.run_text(entry)}")
display(Markdown("\n".join(lines)))

# %% [markdown]
# ## Chapter by chapter
#
# | chapter | paper | what it runs |
# |---|---|---|
# | {doc}`sensor_dropping` | Fig. 2 | the closed form beside the values of the paper's own script and real gradient descent |
# | {doc}`pathway_competition` | follow-up paper | the ODE of two competing pathways beside gradient descent; a gate on one pathway slid over training, at several depths; a task whose best solution needs both sensors (our extension) |
# | {doc}`matrix_completion` | follow-up paper | a small version of the follow-up's experiment, at two numbers of observed entries |
# | {doc}`relative_source_variance` | Fig. 3 | the correct closed form and the published (slipped) one side by side; the estimator checked on a model with a known answer |
# | {doc}`stereo_blur` | Figs. 4, 5-left, 9, 10, 15, 16-left | the deficit-removal protocol on a small Split-ResNet-18 beside three controls (LR restarted at removal, a sham run, a constant LR); accuracy, RSV histograms, a linear probe and usable information, with the paper's digitized curves overlaid |
# | {doc}`stereo_dissociation` | Figs. 5-right, 6, 13, 16-centre | the same protocol and controls with view b fed other images; polarisation of the units as mean \|RSV\| |
# | {doc}`stereo_timing_depth` | Fig. 5-centre; Fig. 8's axis | a dissociation window slid over training, each against a sham branch; blur removal in All-CNNs with 1, 2 and 3 blocks |
# | {doc}`video` | Figs. 8 (supervised arm), 14 | moving digits whose motion only the pair of frames shows; a small Multi-View Transformer; a dissociation window at several onsets, and once with a longer budget |
# | {doc}`masked` | Figs. 7, 8 (masked arm), 14 | masked cross-view pre-training with a window at several onsets, each encoder fine-tuned, beside the supervised arm and a no-pre-training control |
#
# ## Where we differ from the paper
#
# - **Scale.** The book is built with the `quick` profile, sized for a
#   CPU: small digit images and moving-digit clips, narrow networks,
#   schedules of a few epochs, a few seeds ({doc}`reproducibility` lists
#   every setting). The paper trains on CIFAR-10 (180 + 179 epochs) and
#   Kinetics-400 (120 supervised or 800 pre-training epochs). The `full`
#   profiles set the paper's models and schedules.
# - **Controls.** At a small scale a late branch trains at a tiny learning
#   rate for few steps, so an accuracy drop can mean lost plasticity. The
#   stereo chapters add an LR restart and a sham run to every protocol.
# - **Video.** No chapter trains on Kinetics: the clips are moving
#   digits whose direction of motion can only be read from both frames.
#   A loader for Kinetics-layout folders exists and is shown on real
#   clips.
# - **Conventions.** RSV keeps the sign of the paper's Eq. 5 (+1: only
#   view a); where the paper's histograms are overlaid they are flipped
#   into it. Each chapter ends with a note on where its setup differs.
#
# ## How to read and rerun this book
#
# Each chapter is a notebook that was executed when the book was built;
# its figures are interactive (hover, zoom, and sliders that step through
# precomputed settings), and the grey line under each figure title says
# what was run, on what, and how long it took. From a clone of the
# repository, `make book` sets everything up and rebuilds this book, and
# `make test` runs the tests. One chapter with other parameters:
#
# ```console
# $ .venv/bin/cpkit notebooks --only pathway_competition -p depth 6
# $ make html          # to see the result in the book
# ```
#
# The executed notebook replaces `notebooks/<chapter>.ipynb` (the copy
# the book is built from) only if every cell succeeded; a failed run is
# kept as `notebooks/<chapter>.failed.ipynb` and the book keeps the last
# good one. A run with `-p` changes is not recorded in the table above.
# {doc}`reproducibility` lists the profiles, what each chapter ran and
# how long it took, and how to run the paper's scale on a GPU.
