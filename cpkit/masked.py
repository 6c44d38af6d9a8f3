"""Masked cross-view reconstruction (paper 4.4, Fig. 7; MultiMAE-style).

A fraction ``1 - mask_ratio`` of the tokens of both views is visible; how
the visible tokens are split between the two views is drawn per sample
from a Dirichlet(alpha) distribution, as MultiMAE does, so that some
samples show mostly one view and must rebuild the other from it. The
shared encoder of :class:`~cpkit.transformer.MultiViewTransformer` reads
the visible tokens only; a light decoder puts a learned mask token at
every hidden place and predicts the pixels of the hidden patches of both
views. The loss is the mean squared error on hidden patches only, each
patch normalised by its own mean and variance (MAE's normalised pixels).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn

from cpkit.clips import ClipData
from cpkit.config import check_choice, check_float, check_int
from cpkit.deficits import DeficitWindow
from cpkit.errors import ConfigError
from cpkit.training import _autocast
from cpkit.transformer import (
    Block,
    MultiViewTransformer,
    TransformerSpec,
    patchify,
    unpatchify,
)
from cpkit.video import (
    FRAME_DEFICITS,
    VideoLog,
    VideoTrainConfig,
    drops,
    run_epochs,
    summary,
    train_clips,
    transformer_rsv,
)


def visible_counts(
    batch: int,
    visible: int,
    per_view: int,
    alpha: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """(batch, 2) visible tokens per view, each row summing to ``visible``.

    The share of view a is drawn from Dirichlet(alpha, alpha) (a Beta);
    counts are rounded, then moved so that neither view shows more tokens
    than it has.
    """
    visible = check_int("visible tokens", visible, minimum=1)
    if visible > 2 * per_view:
        raise ConfigError(
            f"{visible} visible tokens exceed the {2 * per_view} of both views"
        )
    alpha = check_float("alpha", alpha, minimum=0.0, strict=True)
    # a two-way Dirichlet share is a Beta draw; numpy's, seeded from the
    # run's generator so that the masks follow the run's seed
    seed = int(torch.randint(2**62, (1,), generator=generator))
    share = np.random.default_rng(seed).beta(alpha, alpha, size=batch)
    a = torch.from_numpy(np.round(share * visible)).long()
    a = a.clamp(min=max(0, visible - per_view), max=min(per_view, visible))
    return torch.stack([a, visible - a], 1)


def sample_masks(
    batch: int,
    per_view: int,
    mask_ratio: float,
    alpha: float,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Which tokens each sample shows: (keep index (B, k), hidden (B, 2n)).

    ``keep`` lists the visible tokens of both views (view a's indices
    0..n-1, view b's n..2n-1), k = round((1 - mask_ratio) * 2n) of them;
    ``hidden`` is True for every token the encoder does not see.
    """
    if not 0 <= check_float("mask_ratio", mask_ratio) < 1:
        raise ConfigError(f"mask_ratio = {mask_ratio:g} must be in [0, 1)")
    visible = max(1, round((1 - mask_ratio) * 2 * per_view))
    counts = visible_counts(batch, visible, per_view, alpha, generator)
    # a random order of each view's tokens; the first count of each stay
    noise = torch.rand(batch, 2, per_view, generator=generator)
    order = noise.argsort(-1)
    rank = torch.arange(per_view)[None, None, :]
    chosen = rank < counts[:, :, None]  # (B, 2, n) in the random order
    keep_mask = torch.zeros(batch, 2, per_view, dtype=torch.bool)
    keep_mask.scatter_(2, order, chosen)
    keep_mask = keep_mask.reshape(batch, 2 * per_view)
    # visible indices first, in token order (a stable sort on ~keep)
    keep = (~keep_mask).long().argsort(dim=1, stable=True)[:, :visible]
    return keep, ~keep_mask


def normalised_patches(x: torch.Tensor, patch: int) -> torch.Tensor:
    """Patches of ``x`` with each patch's mean 0 and variance 1."""
    p = patchify(x, patch)
    mean = p.mean(-1, keepdim=True)
    var = p.var(-1, keepdim=True, unbiased=False)
    return (p - mean) / (var + 1e-6).sqrt()


def masked_loss(
    prediction: torch.Tensor, target: torch.Tensor, hidden: torch.Tensor
) -> torch.Tensor:
    """Mean squared error over the hidden patches only.

    ``prediction``, ``target``: (B, 2n, patch pixels); ``hidden``: (B, 2n)
    booleans. Visible patches do not count, whatever is predicted there.
    """
    per_patch = (prediction - target).pow(2).mean(-1)
    weight = hidden.float()
    return (per_patch * weight).sum() / weight.sum().clamp(min=1.0)


@dataclass(frozen=True)
class MaskedSpec:
    """Masking and decoder sizes (MultiMAE defaults, scaled down)."""

    mask_ratio: float = 0.75
    alpha: float = 1.0  # Dirichlet concentration of the view split
    decoder_dim: int = 64
    decoder_depth: int = 1
    decoder_heads: int = 4
    norm_pixels: bool = True  # targets: per-patch normalised (MAE) or raw

    def __post_init__(self) -> None:
        if not 0 <= check_float("mask_ratio", self.mask_ratio) < 1:
            raise ConfigError(
                f"mask_ratio = {self.mask_ratio:g} must be in [0, 1)"
            )
        check_float("alpha", self.alpha, minimum=0.0, strict=True)
        check_int("decoder_dim", self.decoder_dim, minimum=1)
        check_int("decoder_depth", self.decoder_depth, minimum=1)
        check_int("decoder_heads", self.decoder_heads, minimum=1)
        if self.decoder_dim % self.decoder_heads:
            raise ConfigError(
                f"decoder_heads = {self.decoder_heads} does not divide "
                f"decoder_dim = {self.decoder_dim}"
            )


class MaskedCrossView(nn.Module):
    """A Multi-View Transformer encoder with a reconstruction decoder."""

    def __init__(
        self, spec: TransformerSpec, masked: MaskedSpec = MaskedSpec()
    ) -> None:
        super().__init__()
        self.masked = masked
        self.encoder = MultiViewTransformer(spec)
        n, d = spec.tokens_per_view, masked.decoder_dim
        self.to_decoder = nn.Linear(spec.dim, d)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, d))
        self.decoder_pos = nn.Parameter(torch.randn(1, 2 * n, d) * 0.02)
        decoder_spec = TransformerSpec(
            image_size=spec.image_size,
            channels=spec.channels,
            patch=spec.patch,
            dim=d,
            depth=masked.decoder_depth,
            heads=masked.decoder_heads,
            mlp_ratio=spec.mlp_ratio,
            classes=2,
            cross_bias=0.0,
        )
        self.decoder = nn.ModuleList(
            Block(decoder_spec) for _ in range(masked.decoder_depth)
        )
        self.decoder_norm = nn.LayerNorm(d)
        self.to_pixels = nn.Linear(d, spec.patch * spec.patch * spec.channels)

    def encode_visible(
        self, x_a: torch.Tensor, x_b: torch.Tensor, keep: torch.Tensor
    ) -> torch.Tensor:
        """Encoder output (B, k, dim) of the kept tokens only."""
        enc = self.encoder
        tokens = torch.cat([enc.tokens(x_a, "a"), enc.tokens(x_b, "b")], 1)
        index = keep.to(tokens.device)
        x = torch.gather(
            tokens, 1, index[:, :, None].expand(-1, -1, tokens.shape[-1])
        )
        for block in enc.blocks:
            full = block.attention_bias(tokens.shape[1])  # (H, 2n, 2n)
            bias = full[:, index[:, :, None], index[:, None, :]]
            x = block(x, bias.permute(1, 0, 2, 3))
        return enc.norm(x)

    def forward(
        self, x_a: torch.Tensor, x_b: torch.Tensor, keep: torch.Tensor
    ) -> torch.Tensor:
        """Predicted pixels of every patch of both views (B, 2n, p*p*c)."""
        latent = self.to_decoder(self.encode_visible(x_a, x_b, keep))
        b, k, d = latent.shape
        total = self.decoder_pos.shape[1]
        full = self.mask_token.expand(b, total, d).clone()
        index = keep.to(latent.device)[:, :, None].expand(-1, -1, d)
        full = full.scatter(1, index, latent) + self.decoder_pos
        for block in self.decoder:
            full = block(full)
        return self.to_pixels(self.decoder_norm(full))

    def loss(
        self,
        x_a: torch.Tensor,
        x_b: torch.Tensor,
        generator: torch.Generator,
    ) -> torch.Tensor:
        """One masked cross-view reconstruction loss for a batch."""
        keep, hidden = self.draw_masks(x_a.shape[0], generator)
        prediction = self(x_a, x_b, keep)
        return masked_loss(
            prediction.float(),
            self.targets(x_a, x_b),
            hidden.to(x_a.device),
        )

    def draw_masks(
        self, batch: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:func:`sample_masks` with this model's ratio and split."""
        return sample_masks(
            batch,
            self.encoder.spec.tokens_per_view,
            self.masked.mask_ratio,
            self.masked.alpha,
            generator,
        )

    def targets(self, x_a: torch.Tensor, x_b: torch.Tensor) -> torch.Tensor:
        """What the decoder must predict: the patches of both views
        (B, 2n, patch pixels), normalised unless ``norm_pixels`` is off."""
        patch = self.encoder.spec.patch
        pixels = normalised_patches if self.masked.norm_pixels else patchify
        return torch.cat([pixels(x_a, patch), pixels(x_b, patch)], 1)


def load_encoder(
    model: MultiViewTransformer, pretrained: MaskedCrossView
) -> list[str]:
    """Copy every encoder weight into ``model``; return the names copied.

    The classifier head is the only part of ``model`` left as it was; a
    shape mismatch is a one-line error.
    """
    source = pretrained.encoder.state_dict()
    target = model.state_dict()
    copied = []
    for name, value in source.items():
        if name.startswith("head."):
            continue
        if name not in target or target[name].shape != value.shape:
            raise ConfigError(
                f"pre-trained weight {name} does not fit the model"
            )
        target[name] = value.clone()
        copied.append(name)
    model.load_state_dict(target)
    return copied


# --- pre-training, fine-tuning and the window sweep ------------------------


@dataclass
class PretrainLog:
    """Per-epoch record of a pre-training run (reconstruction losses)."""

    epochs: list[int] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    deficit: list[bool] = field(default_factory=list)

    def as_dict(self) -> dict[str, list]:
        return {k: list(v) for k, v in self.__dict__.items()}


@torch.no_grad()
def reconstruction_loss(
    model: MaskedCrossView,
    data: ClipData,
    batch_size: int = 500,
    zero: bool = False,
) -> float:
    """Masked loss on the test clips, with the same masks every time.

    ``zero=True`` scores a prediction of 0 everywhere instead (the mean
    of a normalised patch): the loss a model that learned nothing gets.
    """
    model.eval()
    gen = torch.Generator().manual_seed(0)
    total, n = 0.0, 0
    for a, b, _ in data.batches(batch_size, gen, train=False):
        if zero:
            _, hidden = model.draw_masks(len(a), gen)
            target = model.targets(a, b)
            loss = masked_loss(
                torch.zeros_like(target), target, hidden.to(a.device)
            )
        else:
            with _autocast(a.device):
                loss = model.loss(a, b, gen)
        total += float(loss) * len(a)
        n += len(a)
    return total / n


def pretrain(
    model: MaskedCrossView,
    data: ClipData,
    config: VideoTrainConfig,
    seed: int,
    deficit: DeficitWindow | None = None,
    resume: dict | None = None,
    keep_states: Sequence[int] = (),
) -> tuple[PretrainLog, dict[int, dict]]:
    """Masked cross-view pre-training, no labels (paper 4.4).

    The same loop, schedule and frame deficits as supervised training
    (:func:`cpkit.video.run_epochs`); the masks come from the clip
    stream, so a run with a window draws the same clips and masks as one
    without.
    """

    def batch_loss(a, b, y, clips):
        return model.loss(a, b, clips)

    def score():
        return {"test_loss": reconstruction_loss(model, data)}

    return run_epochs(
        model,
        data,
        config,
        seed,
        batch_loss,
        score,
        PretrainLog,
        deficit,
        resume,
        keep_states,
    )


def finetune(
    pretrained: MaskedCrossView,
    new_model: Callable[[int], MultiViewTransformer],
    data: ClipData,
    config: VideoTrainConfig,
    seed: int,
) -> tuple[MultiViewTransformer, VideoLog]:
    """A fresh classifier with the pre-trained encoder, trained with
    labels on all tokens; the head is the only new part."""
    model = new_model(seed)
    load_encoder(model, pretrained)
    log, _ = train_clips(model, data, config, seed)
    return model, log


@torch.no_grad()
def reconstructions(
    model: MaskedCrossView, data: ClipData, clips: int = 3, seed: int = 0
) -> dict[str, torch.Tensor]:
    """Fig. 7 for the first test clips: (clips, 2 views, 3, H, W) images.

    ``masked``: the input with hidden patches tinted; ``predicted``: the
    decoder's patches put back in pixel units with the original patch's
    mean and spread, visible patches pasted in as MultiMAE shows them;
    ``original``: the frames.
    """
    clips = check_int("clips", clips, minimum=1)
    model.eval()
    spec = model.encoder.spec
    a, b = data.test[0][:clips], data.test[1][:clips]
    keep, hidden = model.draw_masks(
        len(a), torch.Generator().manual_seed(seed)
    )
    prediction = model(a, b, keep).float()
    views = torch.cat(
        [patchify(a, spec.patch), patchify(b, spec.patch)], 1
    ).float()
    mean = views.mean(-1, keepdim=True)
    spread = (views.var(-1, keepdim=True, unbiased=False) + 1e-6).sqrt()
    hidden = hidden.to(views.device)[:, :, None]
    predicted = torch.where(hidden, prediction * spread + mean, views)
    tint = torch.tensor([0.20, 0.25, 0.45], device=views.device)
    n, grid = spec.tokens_per_view, spec.image_size // spec.patch

    def images(patches: torch.Tensor, tinted: bool) -> torch.Tensor:
        out = []
        for view in range(2):
            part = patches[:, view * n : (view + 1) * n]
            x = unpatchify(part, spec.patch, spec.channels, grid)
            x = x.clamp(0, 1).expand(-1, 3, -1, -1).clone()
            if tinted:
                gone = unpatchify(
                    hidden[:, view * n : (view + 1) * n]
                    .expand_as(part)
                    .float(),
                    spec.patch,
                    spec.channels,
                    grid,
                )[:, :1].bool()
                x = torch.where(gone, tint[None, :, None, None], x)
            out.append(x)
        return torch.stack(out, 1).cpu()

    return {
        "masked": images(views, tinted=True),
        "predicted": images(predicted, tinted=False),
        "original": images(views, tinted=False),
    }


def masked_sweep(
    new_pretrainer: Callable[[int], MaskedCrossView],
    new_model: Callable[[int], MultiViewTransformer],
    data: ClipData,
    pre_config: VideoTrainConfig,
    fine_config: VideoTrainConfig,
    seed: int,
    deficit: str,
    onsets: Sequence[int],
    length: int,
    rsv_clips: int = 32,
    recon_clips: int = 3,
) -> dict:
    """One seed's window sweep over masked pre-training (Fig. 8, masked).

    A no-deficit pre-training run keeps its full state at every onset;
    each window run continues from there with the deficit, and every
    pre-trained encoder, base and windows alike, is fine-tuned with the
    same seed and budget. ``scratch`` is the control: the fine-tuning
    budget from a random encoder, which says what pre-training adds.
    Drops are base minus window after fine-tuning, in points.
    """
    check_choice("deficit", deficit, FRAME_DEFICITS)
    length = check_int("window length", length, minimum=1)
    onsets = sorted({check_int("onset", s, minimum=0) for s in onsets})
    if onsets and onsets[-1] + length > pre_config.epochs:
        raise ConfigError(
            f"a window at epoch {onsets[-1]} of length {length} ends after "
            f"the {pre_config.epochs} pre-training epochs"
        )

    def tuned(pre: MaskedCrossView, pre_log: PretrainLog) -> dict:
        model, log = finetune(pre, new_model, data, fine_config, seed)
        return {
            **summary(log, fine_config),
            "log": log.as_dict(),
            "pretrain_log": pre_log.as_dict(),
            "rsv_before": transformer_rsv(pre.encoder, data, rsv_clips),
            "rsv": transformer_rsv(model, data, rsv_clips),
        }

    start = time.perf_counter()
    pre = new_pretrainer(seed)
    pre_log, states = pretrain(pre, data, pre_config, seed, keep_states=onsets)
    base = {
        **tuned(pre, pre_log),
        "recon": reconstructions(pre, data, recon_clips),
        "zero_loss": reconstruction_loss(pre, data, zero=True),
        "seconds": time.perf_counter() - start,
    }
    start = time.perf_counter()
    model = new_model(seed)
    log, _ = train_clips(model, data, fine_config, seed)
    scratch = {
        **summary(log, fine_config),
        "log": log.as_dict(),
        "seconds": time.perf_counter() - start,
    }
    windows = []
    for onset in onsets:
        start = time.perf_counter()
        branch = new_pretrainer(seed)
        window = DeficitWindow(deficit, onset, length, pre_config.epochs)
        branch_log, _ = pretrain(
            branch, data, pre_config, seed, window, resume=states.pop(onset)
        )
        entry = tuned(branch, branch_log)
        windows.append(
            {
                "onset": onset,
                **entry,
                **drops(base, entry),
                "seconds": time.perf_counter() - start,
            }
        )
    return {"seed": seed, "base": base, "scratch": scratch, "windows": windows}
