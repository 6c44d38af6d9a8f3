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
# # Dissociating the views: one "sensor" fed unrelated images
#
# The paper's second deficit (its Figs. 5-right and 6), the analogue of
# strabismus: during the deficit, view b shows **another image** of the
# batch, and each sample's label is that of the image in view a or the one
# in view b with probability 1/2. The two views are no longer about the
# same thing, so there is nothing to fuse. The network is the
# **multi-head** Split-ResNet-18: besides the fused head `both` it has
# single-view heads `a` and `b` on the same features. During the deficit
# only the single-view heads are trained; outside it only `both`, on
# paired views and true labels.
#
# Two loss variants exist (paper-spec D2). The released code picks one
# single-view head **per batch at random** and trains it on the mixed
# labels (`dissociation_loss="code"`, the default); the paper's text
# trains each head on the samples whose label its view shows (`"paper"`).
#
# **The paper's claim.** Accuracy falls from 93.9 % ($k = 0$) to 91.6 %
# ($k = 180$), and the units of the fused representation **polarise**:
# after a long dissociation almost every unit responds to one view only,
# half to each (RSV at ±1, Fig. 6), and they stay that way after the views
# are paired again. The protocol and the controls are those of the blur
# chapter: the paper's absolute-epoch LR, the LR restarted at $k$, a sham
# main run without deficit, and a constant LR.

# %% tags=["parameters"]
profile = "quick"  # "quick" (small ResNet, MNIST, CPU) or "full" (paper)
device = "auto"  # where the networks train
seed = 0  # first seed; the profile's number of seeds follow it
seeds = None  # number of seeds (None: the profile's)
source = None  # mnist5k, fashion_mnist, cifar10, digits (None: profile)
cifar_path = None  # cifar-10-python.tar.gz or its folder (for cifar10)
results_dir = None  # folder that keeps finished runs (None: memory only)
view_size = None  # columns per view (None: half, as the paper's 16 of 32)
lr0 = None  # initial learning rate (None: the profile's)
dissociation_loss = None  # "code" or "paper" (None: the profile's)
augment = None  # False with weight_decay 0.0: the paper's Fig. 13
weight_decay = None  # None: the profile's (5e-4)
headlines_dir = "../results/headlines"  # stored records (closing table)
precision = None  # "bf16": autocast on a CPU too (None: bf16 on CUDA)
torch_compile = None  # True: torch.compile the training step

# %%
import time

chapter_start = time.perf_counter()

from IPython.display import Markdown, display
from myst_nb import glue

from cpkit.config import check_int, resolve_device, seed_everything
from cpkit.figures import provenance, show
from cpkit.headlines import beside_full, record
from cpkit.models import count_parameters
from cpkit.profiles import get_profile
from cpkit.removal_report import (
    Protocol,
    RemovalStudy,
    beyond_noise,
    fmt,
    mean_sd,
    paper_abs_rsv,
    views_figure,
)

cfg = get_profile(
    "stereo_dissociation",
    profile,
    seeds=seeds,
    precision=precision,
    torch_compile=torch_compile,
    source=source,
    cifar_path=cifar_path,
    view_size=view_size,
    lr0=lr0,
    dissociation_loss=dissociation_loss,
    augment=augment,
    weight_decay=weight_decay,
)
seed = check_int("seed", seed, minimum=0)
torch_device = resolve_device(device)
seed_everything(seed)
model_spec, data_spec, config, constant_config = cfg.specs()
runner = cfg.runner(torch_device, results_dir)
data = runner.data
seed_list = list(range(seed, seed + cfg.seeds))
ks, control_ks = list(cfg.removal_epochs), list(cfg.control_epochs)
E = cfg.main_epochs
n_params = count_parameters(runner.new_model(seed))
print(data.describe())
print(f"{model_spec}; {n_params:,} parameters")
print(config, f"fused head at branch start: {cfg.both_head}")

# %% [markdown]
# ## The two views
#
# One test image as the two pathways see it, and view b during the
# deficit, when it shows another image.

# %% tags=["hide-input"]
fig = views_figure(data, "dissociation")
provenance(
    fig, f"profile {profile}; {data.describe()}; examples, nothing trained"
)
show(fig)

# %% [markdown]
# ## The protocol and its controls
#
# For every seed: the main run (dissociated for {glue:text}`main_epochs:d`
# epochs, checkpoints at $k \in$ {glue:text}`ks`), one branch per $k$
# with {glue:text}`clean_epochs:d` clean epochs at the absolute-epoch LR,
# the same with the LR restarted at $k$ ($k \in$ {glue:text}`control_ks`),
# the sham main run with restarted branches, and the whole protocol at a
# constant LR of {glue:text}`constant_lr:g`. A branch starts its fused
# head {glue:text}`both_head` (see the note at the end).

# %%
glue("main_epochs", E, display=False)
glue("ks", ", ".join(map(str, ks)), display=False)
glue("control_ks", ", ".join(map(str, control_ks)), display=False)
glue("clean_epochs", cfg.clean_epochs, display=False)
glue("constant_lr", cfg.constant_lr, display=False)
glue(
    "both_head",
    "as the mean of the two single-view heads"
    if cfg.both_head == "mean_of_views"
    else "as the main run left it",
    display=False,
)
head = cfg.both_head
PROTOCOLS = {
    "paper's protocol": Protocol("dissociation", tuple(ks), both_head=head),
    "LR restart": Protocol(
        "dissociation", tuple(control_ks), "restart", both_head=head
    ),
    "sham + LR restart": Protocol("none", tuple(control_ks), "restart"),
    "constant LR": Protocol(
        "dissociation",
        tuple(control_ks),
        config=constant_config,
        both_head=head,
    ),
}
study = RemovalStudy.run(runner, PROTOCOLS, seed_list, cfg.clean_epochs)
total_seconds = sum(study.seconds.values())
for name, seconds in study.seconds.items():
    print(f"{name}: {seconds:.0f} s")

# %% [markdown]
# ## Final accuracy against the length of the deficit
#
# Each branch relative to the $k = 0$ branch of the same protocol and
# seed, against the deficit length as a fraction of the main run; the
# paper's Fig. 5-right ($k/180$) and the mean of its four runs (Fig.
# 16-centre) on the same scale. Error bars: sample standard deviation over
# seeds.

# %% tags=["hide-input"]
fig = study.accuracy_figure(
    [
        ("fig5_right_dissociation", 180, "paper Fig. 5-right"),
        ("fig13_dissociation_noaug_wd0", 180, "paper Fig. 13 (no aug, wd 0)"),
    ],
    "Accuracy after the views are paired again, relative to k = 0",
)
provenance(
    fig,
    f"profile {profile}; {data.source}, {len(data.x_train)} train images; "
    f"{model_spec.arch} width {model_spec.width:g}, multi-head; loss "
    f"variant {config.dissociation_loss}; main run {E} epochs, "
    f"{cfg.clean_epochs} clean epochs per branch; lr0 {cfg.lr0:g}, decay "
    f"{cfg.decay:.3g}/epoch; seeds {seed_list}; {total_seconds:.0f} s on "
    f"{torch_device}",
)
show(fig)
display(
    Markdown(
        study.accuracy_table(
            [
                ("paper Fig. 5-right (k = 180)", "fig5_right_dissociation", 1),
                (
                    "paper Fig. 16-centre, mean",
                    "fig16_center_dissociation_4seed_mean",
                    4,
                ),
            ]
        )
    )
)

# %% [markdown]
# **What survives the controls** (the drop with the LR restarted minus the
# sham's, paired by seed):

# %% tags=["hide-input"]
summary, remaining, remaining_sd = study.controls_summary(
    "paper's protocol", "LR restart", "sham + LR restart", "constant LR"
)
display(Markdown(summary))

# %% [markdown]
# ## Do the units polarise? RSV histograms
#
# RSV of every unit before the classifier of each final branch, measured
# as in the blur chapter (BN re-estimated on clean training views; the
# last {glue:text}`n_cond:d` test images as conditioning set). **+1: the
# unit responds only to view a, −1: only to view b.** The paper's
# signature of dissociation is symmetric: units pile up at **both** poles,
# so the signed mean stays near 0 while the mean of |RSV| grows. Outline:
# the paper's Fig. 6 panel nearest in relative length.

# %% tags=["hide-input"]
glue("n_cond", cfg.n_conditioning, display=False)
panels = {n: f"Indep.Path:{n}epochs" for n in (0, 40, 120, 180)}
fig = study.rsv_slider(
    ["paper's protocol", "LR restart", "sham + LR restart"], "Fig6", panels
)
provenance(
    fig,
    f"profile {profile}; {cfg.n_conditioning} conditioning images × "
    f"{len(data.x_test)} test images; 39 bins on [−1.15, 1.15]; "
    f"missing bars: that control was not run at this k; seeds {seed_list}; "
    f"the final branches of the runs above ({total_seconds:.0f} s on "
    f"{torch_device})",
)
show(fig)
display(
    Markdown(
        study.rsv_table(
            [
                ("paper Fig. 6, 0 of 180", "Fig6", "Indep.Path:0epochs"),
                ("paper Fig. 6, 180 of 180", "Fig6", "Indep.Path:180epochs"),
            ]
        )
    )
)
paper_abs = [paper_abs_rsv("Fig6", f"Indep.Path:{n}epochs") for n in (0, 180)]
moved = {
    name: study.shift(name, "rsv_abs_mean")
    for name in ("paper's protocol", "LR restart", "sham + LR restart")
}
display(
    Markdown(
        f"Change of the mean |RSV| from k = 0 to k = {E}, paired by seed "
        "(positive: more polarised): "
        + "; ".join(f"{n}: {fmt(m, sign=True)}" for n, m in moved.items())
        + f". In the paper's Fig. 6 it grows from {paper_abs[0]:.2f} to "
        f"{paper_abs[1]:.2f} over 180 epochs."
    )
)

# %% [markdown]
# ## What the fused representation still holds
#
# A fresh linear probe on the frozen, pooled fused features of clean
# images, beside the network's own fused head and the single-view
# accuracies (other view zeroed at test time).

# %% tags=["hide-input"]
display(Markdown(study.probe_table()))
display(Markdown(study.probe_summary("paper's protocol")))
probe = study.shift("paper's protocol", "probe")

# %% [markdown]
# ## Explore the runs
#
# In Jupyter the controls list every seed's numbers for one protocol and
# deficit length; in the static book they show the saved selection.

# %%
study.explorer("paper's protocol")

# %% [markdown]
# ```{note}
# **Where we differ from the paper.** The paper trains the multi-head
# Split-ResNet-18 on CIFAR-10 with lr0 0.05 decaying by 0.97 per absolute
# epoch, a 180-epoch main run and 179-epoch branches; Fig. 6's weight
# decay and augmentation are not stated (we take 5e-4 and augmentation on,
# which its Fig. 13 caption implies; Fig. 13 itself is `-p augment False
# -p weight_decay 0.0`). The `full` profile runs that, with 4 seeds. The
# `quick` profile shares the blur chapter's scale (MNIST-5k at 16 × 16,
# width 1/16, 8-epoch schedules, 3 seeds) and one more change: a branch
# starts its fused head as the **mean of the two single-view heads**. The
# fused head is never trained during the deficit, and a late branch of a
# compressed schedule has too small a learning rate to fit it from
# scratch, which would measure only that (in our pilot runs, 93.7 % →
# 21.8 %). With 179 epochs the paper's branches do not have that problem;
# the `full` profile keeps the head as the main run left it, as the
# paper's code does. The linear probe is independent of that choice.
# ```
#
# ## What this shows
#
# Computed from the runs above, for this profile's scale only:

# %% tags=["hide-input"]
protocol_drop = mean_sd(study.paired_drop("paper's protocol", E))
abs_restart = study.shift("LR restart", "rsv_abs_mean")
abs_sham = study.shift("sham + LR restart", "rsv_abs_mean")
gap = study.gap("LR restart", "sham + LR restart", "rsv_abs_mean")
clear = beyond_noise(gap)
if clear and gap.mean() > 0:
    polarised = (
        "beyond twice its standard error, toward the poles as in Fig. 6, "
        f"where mean |RSV| grows by {paper_abs[1] - paper_abs[0]:.2f}"
    )
elif clear:
    polarised = "beyond the noise, but away from the poles"
else:
    polarised = "not beyond twice its standard error over seeds"
display(
    Markdown(
        "- **Accuracy.** The paper's protocol: "
        f"{fmt(protocol_drop, sign=True)} points after {E} dissociated "
        "epochs; with the LR restarted and "
        f"the sham subtracted: {remaining:+.2f} ± {remaining_sd:.2f}.\n"
        f"- **Polarisation.** With the LR restarted, mean |RSV| changes "
        f"{fmt(abs_restart, sign=True)} after the dissociation against "
        f"{fmt(abs_sham, sign=True)} after the sham; the difference, paired "
        f"by seed, is {fmt(mean_sd(gap), sign=True)}: {polarised}.\n"
        f"- **Probe.** {fmt(probe, sign=True)} points between k = 0 and "
        f"k = {E} in the paper's protocol.\n"
        f"- **Scale.** {E}-epoch schedules on {len(data.x_train):,} "
        f"{data.image_size}-pixel images, {n_params:,} parameters; the "
        "paper's scale is the `full` profile's, for a GPU."
    )
)

# %%
chapter_seconds = time.perf_counter() - chapter_start
print(f"chapter computed in {chapter_seconds:.1f} s ({profile} profile)")

# %% tags=["remove-cell"]
# this chapter's headline numbers, for the landing page (cpkit.headlines)
entry = record(
    "stereo_dissociation",
    study.headlines(
        "dissociated",
        "fig5_right_dissociation",
        (
            "rsv_abs_mean",
            "mean |RSV| change (polarisation)",
            paper_abs[1] - paper_abs[0],
        ),
    ),
    profile=profile,
    data=data.describe(),
    seeds=seed_list,
    device=torch_device,
)

# %% [markdown]
# ## At the paper's scale
#
# The numbers this chapter stands on, from the run above, beside those of
# a stored run of the `full` profile (the paper's scale) where there is
# one:

# %% tags=["remove-input"]
display(Markdown(beside_full(entry, headlines_dir)))
