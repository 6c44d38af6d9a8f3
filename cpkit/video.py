"""Training the Multi-View Transformer on two-frame clips, and its window
sweep (paper 4.3, Fig. 8 supervised arm, Fig. 14).

AdamW with a linear warm-up and a cosine decay to ``min_lr``, per step, as
in the paper's video recipe (and MultiMAE's). A :class:`DeficitWindow`
says in which epochs frame b is dissociated (taken from another clip of
the batch, the label from either clip with p = 0.5, paper 4.3) or
blurred. The deficit's own random draws come from a second stream, so a
run with a window sees the same clips as one without.

The sliding-window sweep trains one no-deficit **base** run per seed and
keeps its full training state (weights, AdamW moments, both random
streams) at every onset. A window run continues from the state at its
onset: it is the same computation as a run that trained from scratch with
that window (a test checks the two agree), and costs only the epochs from
the onset on.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from cpkit.clips import ClipData
from cpkit.config import check_choice, check_float, check_int
from cpkit.deficits import DeficitWindow, blur, dissociate
from cpkit.errors import ConfigError, TrainingDiverged
from cpkit.metrics.rsv import rsv_from_grid
from cpkit.training import _autocast
from cpkit.transformer import MultiViewTransformer

FRAME_DEFICITS = ("dissociation", "blur")


@dataclass(frozen=True)
class VideoTrainConfig:
    """AdamW, warm-up and cosine (defaults: the quick profile)."""

    lr: float = 2e-3  # peak learning rate, reached after the warm-up
    min_lr: float = 0.0  # end of the cosine
    warmup_epochs: int = 1
    epochs: int = 12
    weight_decay: float = 0.05
    beta2: float = 0.999
    batch_size: int = 128
    eval_batch: int = 500
    last_n: int = 3  # the metric: mean test accuracy of the last n epochs

    def __post_init__(self) -> None:
        check_float("lr", self.lr, minimum=0.0, strict=True)
        check_float("min_lr", self.min_lr, minimum=0.0)
        if self.min_lr > self.lr:
            raise ConfigError(f"min_lr = {self.min_lr:g} exceeds lr")
        check_int("epochs", self.epochs, minimum=1)
        check_int("warmup_epochs", self.warmup_epochs, minimum=0)
        if self.warmup_epochs >= self.epochs:
            raise ConfigError(
                f"warmup_epochs = {self.warmup_epochs} leaves no epoch of "
                f"the {self.epochs} for the cosine"
            )
        check_float("weight_decay", self.weight_decay, minimum=0.0)
        if not 0 <= check_float("beta2", self.beta2) < 1:
            raise ConfigError(f"beta2 = {self.beta2:g} must be in [0, 1)")
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("eval_batch", self.eval_batch, minimum=1)
        check_int("last_n", self.last_n, minimum=1)
        if self.last_n > self.epochs:
            raise ConfigError(
                f"last_n = {self.last_n} exceeds epochs = {self.epochs}"
            )

    def lr_at(self, progress: float) -> float:
        """LR after ``progress`` epochs (fractional): warm-up, cosine."""
        if progress < self.warmup_epochs:
            return self.lr * progress / self.warmup_epochs
        span = self.epochs - self.warmup_epochs
        t = min(1.0, (progress - self.warmup_epochs) / span)
        return self.min_lr + (self.lr - self.min_lr) * 0.5 * (
            1 + math.cos(math.pi * t)
        )


@dataclass
class VideoLog:
    """Per-epoch record of one run (percent accuracies on test clips)."""

    epochs: list[int] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    content_acc: list[float] = field(default_factory=list)
    direction_acc: list[float] = field(default_factory=list)
    deficit: list[bool] = field(default_factory=list)

    def last_mean(self, n: int, name: str = "test_acc") -> float:
        values = getattr(self, name)
        if len(values) < n:
            raise ConfigError(
                f"the run logged {len(values)} epochs, fewer than {n}"
            )
        return float(np.mean(values[-n:]))

    def as_dict(self) -> dict[str, list]:
        return {k: list(v) for k, v in self.__dict__.items()}


@torch.no_grad()
def evaluate_clips(
    model: MultiViewTransformer, data: ClipData, batch_size: int = 500
) -> dict[str, float]:
    """Accuracy (percent) of label, content and direction on test clips."""
    model.eval()
    hits = {"label": 0, "content": 0, "direction": 0}
    n = 0
    gen = torch.Generator().manual_seed(0)
    for a, b, y in data.batches(batch_size, gen, train=False):
        with _autocast(a.device):
            pred = model(a, b).float().argmax(1)
        hits["label"] += int((pred == y).sum())
        for name, p, t in zip(
            ("content", "direction"),
            data.split(pred),
            data.split(y),
            strict=True,
        ):
            hits[name] += int((p == t).sum())
        n += len(y)
    return {k: 100.0 * v / n for k, v in hits.items()}


def _streams(seed: int) -> tuple[torch.Generator, torch.Generator]:
    """The run's clip stream and the deficit's own stream."""
    clips = torch.Generator().manual_seed(seed)
    mixing = torch.Generator().manual_seed((seed + 0x9E3779B97F4A7C15) % 2**63)
    return clips, mixing


def train_clips(
    model: MultiViewTransformer,
    data: ClipData,
    config: VideoTrainConfig,
    seed: int,
    deficit: DeficitWindow | None = None,
    resume: dict | None = None,
    keep_states: Sequence[int] = (),
    progress: Callable[[int, VideoLog], None] | None = None,
) -> tuple[VideoLog, dict[int, dict]]:
    """Train for ``config.epochs`` epochs (or the rest, from ``resume``).

    Returns the log and, for every epoch s in ``keep_states``, the full
    state at the start of epoch s: pass one as ``resume`` to continue
    exactly from there (with another deficit, if wanted).
    """

    def batch_loss(a, b, y, clips):
        return F.cross_entropy(model(a, b).float(), y)

    def score():
        scores = evaluate_clips(model, data, batch_size=config.eval_batch)
        return {
            "test_acc": scores["label"],
            "content_acc": scores["content"],
            "direction_acc": scores["direction"],
        }

    return run_epochs(
        model,
        data,
        config,
        seed,
        batch_loss,
        score,
        VideoLog,
        deficit,
        resume,
        keep_states,
        progress,
    )


def run_epochs(
    model: torch.nn.Module,
    data: ClipData,
    config: VideoTrainConfig,
    seed: int,
    batch_loss: Callable[..., torch.Tensor],
    score: Callable[[], dict[str, float]],
    new_log: Callable[..., object],
    deficit: DeficitWindow | None = None,
    resume: dict | None = None,
    keep_states: Sequence[int] = (),
    progress: Callable[[int, object], None] | None = None,
) -> tuple[object, dict[int, dict]]:
    """The epoch loop shared by supervised training and pre-training.

    ``batch_loss(a, b, y, clips)`` is one batch's loss (``clips``: the
    run's clip stream, for any further draws such as masks); ``score()``
    the end-of-epoch measures, each appended to the log field of its name.
    The deficit touches frame b (and the label) before ``batch_loss``
    sees them, with draws from its own stream.
    """
    deficit = deficit or DeficitWindow()
    if deficit.kind not in ("none", *FRAME_DEFICITS):
        raise ConfigError(f"deficit {deficit.kind!r} is not a frame deficit")
    if deficit.length and deficit.onset + deficit.length > config.epochs:
        raise ConfigError(
            f"deficit window [{deficit.onset}, "
            f"{deficit.onset + deficit.length}) does not fit in "
            f"{config.epochs} epochs"
        )
    device = data.device
    opt = torch.optim.AdamW(
        model.parameters(),
        lr=config.lr,
        betas=(0.9, config.beta2),
        weight_decay=config.weight_decay,
    )
    clips, mixing = _streams(seed)
    log, first = new_log(), 0
    if resume is not None:
        first = resume["next_epoch"]
        if deficit.length and deficit.onset < first:
            raise ConfigError(
                f"a state at epoch {first} cannot take a window from "
                f"epoch {deficit.onset}"
            )
        model.load_state_dict(resume["model"])
        opt.load_state_dict(resume["optimizer"])
        clips.set_state(resume["clips"])
        mixing.set_state(resume["mixing"])
        log = new_log(**copy.deepcopy(resume["log"]))
    wanted = set(keep_states)
    states: dict[int, dict] = {}
    steps = math.ceil(len(data.x_train) / config.batch_size)
    for epoch in range(first, config.epochs):
        if epoch in wanted:
            states[epoch] = {
                "next_epoch": epoch,
                "model": copy.deepcopy(model.state_dict()),
                "optimizer": copy.deepcopy(opt.state_dict()),
                "clips": clips.get_state(),
                "mixing": mixing.get_state(),
                "log": log.as_dict(),
            }
        active = deficit.active(epoch)
        model.train()
        total = torch.zeros((), device=device)
        count = 0
        for step, (a, b, y) in enumerate(
            data.batches(config.batch_size, clips)
        ):
            if active and deficit.kind == "dissociation":
                b, y, _ = dissociate(b, y, mixing)
            elif active and deficit.kind == "blur":
                b = blur(b)
            lr = config.lr_at(epoch + step / steps)
            for group in opt.param_groups:
                group["lr"] = lr
            with _autocast(device):
                loss = batch_loss(a, b, y, clips)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * len(y)
            count += len(y)
        train_loss = total.item() / count
        if not math.isfinite(train_loss):
            raise TrainingDiverged(
                f"training diverged at epoch {epoch} (loss {train_loss}): "
                f"lower lr = {config.lr:g}"
            )
        log.epochs.append(epoch)
        log.lr.append(lr)
        log.train_loss.append(train_loss)
        log.deficit.append(active)
        for name, value in score().items():
            getattr(log, name).append(value)
        if progress is not None:
            progress(epoch, log)
    return log, states


@torch.no_grad()
def transformer_rsv(
    model: MultiViewTransformer, data: ClipData, clips: int = 32
) -> np.ndarray:
    """RSV of the pooled encoder output units, (clips, dim).

    Unit = one channel of the mean of the encoder's output tokens (the
    vector the classifier reads). For the first ``clips`` test clips,
    every frame a is paired with every frame b; SV(A, b_j) is the unit's
    variance over frames a with frame b_j fixed, SV(B, a_j) the converse
    (:func:`cpkit.metrics.rsv.rsv_from_grid`). +1: only frame a moves the
    unit, -1: only frame b. The paper does not define its unit (Fig. 14).
    """
    clips = check_int("clips", clips, minimum=2)
    a, b = data.test[0][:clips], data.test[1][:clips]
    model.eval()
    rows = []
    for i in range(len(a)):
        rows.append(
            model.units(a[i : i + 1].expand_as(b), b).float().cpu().numpy()
        )
    return rsv_from_grid(np.stack(rows))


def summary(log: VideoLog, config: VideoTrainConfig) -> dict[str, float]:
    """Mean test accuracies of the last ``config.last_n`` epochs."""
    n = config.last_n
    return {
        "acc": log.last_mean(n),
        "content": log.last_mean(n, "content_acc"),
        "direction": log.last_mean(n, "direction_acc"),
    }


def drops(base: dict, run: dict) -> dict[str, float]:
    """Base minus run, in points: ``drop`` (label), ``drop_content``,
    ``drop_direction``."""
    return {
        "drop": base["acc"] - run["acc"],
        "drop_content": base["content"] - run["content"],
        "drop_direction": base["direction"] - run["direction"],
    }


def window_sweep(
    new_model: Callable[[int], MultiViewTransformer],
    data: ClipData,
    config: VideoTrainConfig,
    seed: int,
    deficit: str,
    onsets: Sequence[int],
    length: int,
    rsv_clips: int = 32,
) -> dict:
    """One seed's sliding-window sweep against its no-deficit base run.

    Returns ``{"base": {...}, "windows": [{...} per onset]}``; every entry
    has the last-``n`` mean accuracies (label, content, direction), the
    per-epoch curves, the RSV of the final model and its wall time; each
    window entry adds its drops (base minus window, in points).
    """
    check_choice("deficit", deficit, FRAME_DEFICITS)
    length = check_int("window length", length, minimum=1)
    onsets = sorted({check_int("onset", s, minimum=0) for s in onsets})
    if onsets and onsets[-1] + length > config.epochs:
        raise ConfigError(
            f"a window at epoch {onsets[-1]} of length {length} ends after "
            f"the {config.epochs} epochs"
        )
    start = time.perf_counter()
    torch.manual_seed(seed)
    model = new_model(seed)
    log, states = train_clips(model, data, config, seed, keep_states=onsets)
    base = {
        **summary(log, config),
        "log": log.as_dict(),
        "rsv": transformer_rsv(model, data, rsv_clips),
        "seconds": time.perf_counter() - start,
    }
    windows = []
    for onset in onsets:
        start = time.perf_counter()
        branch = new_model(seed)
        window = DeficitWindow(deficit, onset, length, config.epochs)
        wlog, _ = train_clips(
            branch, data, config, seed, window, resume=states.pop(onset)
        )
        scores = summary(wlog, config)
        windows.append(
            {
                "onset": onset,
                **scores,
                **drops(base, scores),
                "log": wlog.as_dict(),
                "rsv": transformer_rsv(branch, data, rsv_clips),
                "seconds": time.perf_counter() - start,
            }
        )
    return {"seed": seed, "base": base, "windows": windows}
